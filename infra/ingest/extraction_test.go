//go:build !unit

package ingest_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/salt"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/layout"
)

// moduleRoot is the module's root relative to this package: where lambdas/ lives.
const moduleRoot = "../.."

// businessZone is the business time zone of every test extraction.
const businessZone = "Asia/Tokyo"

// secretKeyArn is a placeholder customer-managed key of the source's secret.
const secretKeyArn = "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func tableNames(src config.Source) []any {
	var names []any
	for _, t := range src.Tables {
		names = append(names, t.Name)
	}
	return names
}

// extractionDeps are the constructs an extraction needs, as the stack wires them.
type extractionDeps struct {
	lake    *lake.Lake
	crawler *catalog.Crawler
	alerts  *alerts.Alerts
	plan    *golambda.Function
	salt    *salt.Salt
}

func newExtractionDeps(stack awscdk.Stack, source string) *extractionDeps {
	d := &extractionDeps{lake: lake.NewLake(stack, "Lake", nil)}
	cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: d.lake})
	d.crawler = catalog.NewCrawler(stack, "Crawler", &catalog.CrawlerProps{
		Catalog: cat, Prefixes: []string{layout.SourcePrefix(source)}, TablePrefix: layout.CrawlerTablePrefix(source),
	})
	d.alerts = alerts.NewAlerts(stack, "Alerts", nil)
	d.plan = golambda.NewFunction(stack, "Plan", &golambda.FunctionProps{
		Entry:       filepath.Join(moduleRoot, "lambdas", "cmd", "plan"),
		Environment: map[string]string{contract.EnvTimeZone: businessZone},
	})
	d.salt = salt.New(stack, "Salt", nil)
	return d
}

func (d *extractionDeps) props(src config.Source) *ingest.DatabaseExtractionProps {
	return &ingest.DatabaseExtractionProps{
		Source: src, Lake: d.lake, Crawler: d.crawler, Alerts: d.alerts, Plan: d.plan, Salt: d.salt,
		TimeZone: businessZone, Root: moduleRoot,
	}
}

// extractionStack is one synthesized extraction with what the tests look up in it.
type extractionStack struct {
	tp  *cdktest.Template
	src config.Source
	x   *ingest.DatabaseExtraction
	*extractionDeps
	// Logical IDs of the function, its role, the state machine and its role.
	fn, fnRole, sm, smRole string
	// def is the workflow's definition, references rendered by cdktest.Placeholder.
	def map[string]any
}

func synthExtraction(src config.Source) (*extractionStack, error) {
	s := &extractionStack{src: src}
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		s.extractionDeps = newExtractionDeps(stack, src.Name)
		s.x = ingest.NewDatabaseExtraction(stack, "Extraction", s.props(src))
		tp, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s.tp = tp
		s.fn = tp.LogicalID(s.x.Function.Function.FunctionName())
		s.fnRole = tp.LogicalID(s.x.Function.Role.RoleName())
		s.sm = tp.LogicalID(s.x.StateMachine.StateMachineArn())
		s.smRole = tp.LogicalID(s.x.StateMachine.Role().RoleName())
		if s.def, err = tp.StateMachineDefinition(s.sm); err != nil {
			panic(err)
		}
	})
	return s, err
}

// keyedExtraction sets every option, including a customer-managed key on the source's secret.
var keyedExtraction = sync.OnceValues(func() (*extractionStack, error) {
	src := cdktest.SalesSource()
	src.SecretKeyArn = secretKeyArn
	return synthExtraction(src)
})

// defaultExtraction leaves the optional source fields empty.
var defaultExtraction = sync.OnceValues(func() (*extractionStack, error) {
	src := cdktest.SalesSource()
	src.Schedule, src.MaxConcurrency, src.MemoryMB, src.StoredTimeZone = "", 0, 0, ""
	return synthExtraction(src)
})

func mustExtraction(t *testing.T, get func() (*extractionStack, error)) *extractionStack {
	t.Helper()
	s, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// state returns one state of the workflow (nested in a Map's ItemProcessor when path has two
// names), or fails the test.
func (s *extractionStack) state(t *testing.T, path ...string) map[string]any {
	t.Helper()
	states, _ := s.def["States"].(map[string]any)
	var st map[string]any
	for i, name := range path {
		st, _ = states[name].(map[string]any)
		if st == nil {
			t.Fatalf("workflow has no state %s; definition:\n%s", strings.Join(path[:i+1], "/"), pretty(s.def))
		}
		proc, _ := st["ItemProcessor"].(map[string]any)
		states, _ = proc["States"].(map[string]any)
	}
	return st
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// decodeJSON turns a JSON literal into the values a decoded template holds.
func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return v
}

func sortedLines(lines []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(lines)))
}

func TestDatabaseExtraction_FunctionRunsOnArm64AL2023InTheSourcesSubnets(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	s.tp.HasProperties(t, s.fn, map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"Timeout":       15 * 60,
		"MemorySize":    2048,
		"TracingConfig": map[string]any{"Mode": "Active"},
		"VpcConfig": map[string]any{
			"SubnetIds":        []any{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
			"SecurityGroupIds": []any{"sg-0123456789abcdef0"},
		},
	})
}

// config.Source documents MemoryMB's default as 1024, and the construct takes a config.Source
// built in Go as well as one parsed from cdk.json.
func TestDatabaseExtraction_FunctionDefaultsToTheSourcesDocumentedMemory(t *testing.T) {
	s := mustExtraction(t, defaultExtraction)
	s.tp.HasProperties(t, s.fn, map[string]any{"MemorySize": 1024, "Timeout": 15 * 60})
}

func TestDatabaseExtraction_FunctionEnvironmentDescribesTheSource(t *testing.T) {
	for name, get := range map[string]func() (*extractionStack, error){"every option": keyedExtraction, "defaults": defaultExtraction} {
		t.Run(name, func(t *testing.T) {
			s := mustExtraction(t, get)
			env, _ := s.tp.Properties(t, s.fn)["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			raw, ok := vars[contract.EnvSource].(string)
			if !ok {
				t.Fatalf("%s is %v, want the source spec as a JSON string", contract.EnvSource, vars[contract.EnvSource])
			}
			// What the function's main does at cold start.
			spec, err := extract.ParseSourceSpec([]byte(raw))
			if err != nil {
				t.Fatalf("the function would not start: %s does not parse: %v\n%s", contract.EnvSource, err, raw)
			}
			if diff := cmp.Diff(ingest.SourceSpec(s.src, businessZone), spec); diff != "" {
				t.Errorf("%s (-want +got):\n%s", contract.EnvSource, diff)
			}
			delete(vars, contract.EnvSource)
			want := map[string]any{
				contract.EnvRawBucket:     s.tp.Resolve(s.lake.Raw.BucketName()),
				contract.EnvSecretARN:     s.src.SecretArn,
				contract.EnvSaltSecretARN: s.tp.Resolve(s.salt.SecretArn()),
			}
			if diff := cmp.Diff(want, vars); diff != "" {
				t.Errorf("other environment variables (-want +got):\n%s", diff)
			}
		})
	}
}

// functionPermissions are what the extraction function may do whatever the source's secret key.
func (s *extractionStack) functionPermissions() []string {
	tp := s.tp
	rawArn := tp.Resolve(s.lake.Raw.BucketArn())
	objects := map[string]any{"Fn::Join": []any{"", []any{rawArn, "/sales_db/*"}}}
	rawKey := tp.Resolve(s.lake.RawKey.KeyArn())
	salt := tp.Resolve(s.salt.SecretArn())
	logs := tp.Resolve(s.x.Function.LogGroup.LogGroupArn())
	want := []string{
		cdktest.Permission("Allow", "s3:PutObject", objects, nil),
		cdktest.Permission("Allow", "s3:AbortMultipartUpload", objects, nil),
		cdktest.Permission("Allow", "s3:ListBucket", rawArn, map[string]any{"StringLike": map[string]any{"s3:prefix": "sales_db/*"}}),
		cdktest.Permission("Allow", "kms:Decrypt", rawKey, nil),
		cdktest.Permission("Allow", "kms:GenerateDataKey", rawKey, nil),
		cdktest.Permission("Allow", "secretsmanager:GetSecretValue", s.src.SecretArn, nil),
		cdktest.Permission("Allow", "secretsmanager:GetSecretValue", salt, nil),
		cdktest.Permission("Allow", "secretsmanager:DescribeSecret", salt, nil),
		// The salt's key decrypts only through Secrets Manager: the key's policy no longer names
		// its readers (a source's role in a nested stack would make a cycle), their own policy does.
		cdktest.Permission("Allow", "kms:Decrypt", tp.Resolve(s.salt.Key.KeyArn()),
			map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}}),
		cdktest.Permission("Allow", "logs:CreateLogStream", logs, nil),
		cdktest.Permission("Allow", "logs:PutLogEvents", logs, nil),
		cdktest.Permission("Allow", "xray:PutTraceSegments", "*", nil),
		cdktest.Permission("Allow", "xray:PutTelemetryRecords", "*", nil),
	}
	for _, a := range golambda.VPCActions {
		want = append(want, cdktest.Permission("Allow", a, "*", nil))
	}
	return want
}

func TestDatabaseExtraction_FunctionWritesOnlyItsSourcePrefixAndReadsOnlyItsSecrets(t *testing.T) {
	s := mustExtraction(t, defaultExtraction)
	got := s.tp.Permissions(s.fnRole)
	if diff := cmp.Diff(sortedLines(s.functionPermissions()), sortedLines(got)); diff != "" {
		t.Errorf("permissions of the extraction function (-want +got):\n%s", diff)
	}
}

func TestDatabaseExtraction_FunctionDecryptsTheSecretsKeyOnlyThroughSecretsManager(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	want := append(s.functionPermissions(), cdktest.Permission("Allow", "kms:Decrypt", secretKeyArn,
		map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}}))
	got := s.tp.Permissions(s.fnRole)
	if diff := cmp.Diff(sortedLines(want), sortedLines(got)); diff != "" {
		t.Errorf("permissions of the extraction function (-want +got):\n%s", diff)
	}
}

func TestDatabaseExtraction_WorkflowIsStandardTracedAndLogsEverything(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	props := s.tp.Properties(t, s.sm)
	s.tp.HasProperties(t, s.sm, map[string]any{
		"StateMachineType":     "STANDARD",
		"TracingConfiguration": map[string]any{"Enabled": true},
		"LoggingConfiguration": map[string]any{"Level": "ALL", "IncludeExecutionData": true},
	})
	logging, _ := props["LoggingConfiguration"].(map[string]any)
	dests, _ := logging["Destinations"].([]any)
	if len(dests) != 1 {
		t.Fatalf("LoggingConfiguration.Destinations = %v, want one log group", dests)
	}
	arn, _ := dests[0].(map[string]any)["CloudWatchLogsLogGroup"].(map[string]any)["LogGroupArn"].(map[string]any)
	att, _ := arn["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" {
		t.Fatalf("workflow logs go to %v, want the ARN of a log group of the stack", arn)
	}
	group, _ := att[0].(string)
	s.tp.HasResource(t, group, map[string]any{
		"Type":       "AWS::Logs::LogGroup",
		"Properties": map[string]any{"RetentionInDays": 90},
	})
	if fnLogs := s.tp.LogicalID(s.x.Function.LogGroup.LogGroupName()); group == fnLogs {
		t.Errorf("workflow logs share the function's log group %s", group)
	}
	if v, _ := s.def["TimeoutSeconds"].(float64); v <= 0 {
		t.Errorf("workflow TimeoutSeconds = %v, want a bound (a stuck execution must end and alert)", s.def["TimeoutSeconds"])
	}
	if _, ok := s.def["QueryLanguage"]; ok {
		t.Errorf("workflow sets QueryLanguage %v; keep JSONPath so that it runs locally", s.def["QueryLanguage"])
	}
}

func TestDatabaseExtraction_WorkflowPlansTheDayThenExtractsTheGivenOrEveryTable(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	if s.def["StartAt"] != "PlanDay" {
		t.Errorf("StartAt = %v, want PlanDay", s.def["StartAt"])
	}
	planDay := s.state(t, "PlanDay")
	cdktest.Check(t, "PlanDay", func() {
		want := map[string]any{
			"Type":           "Task",
			"Resource":       "arn:aws:states:::lambda:invoke",
			"Parameters":     map[string]any{"FunctionName": s.tp.Placeholder(s.plan.Function.FunctionArn()), "Payload.$": "$"},
			"ResultSelector": map[string]any{"date.$": "$.Payload.date"},
			"ResultPath":     "$.plan",
			"Next":           "ForceGiven",
		}
		for k, v := range want {
			if diff := cmp.Diff(v, planDay[k]); diff != "" {
				t.Errorf("PlanDay.%s (-want +got):\n%s", k, diff)
			}
		}
	})
	// force defaults to false and must be a boolean (extract.Request.Force).
	if diff := cmp.Diff(decodeJSON(t, `{
		"Type": "Choice",
		"Choices": [
			{"Not": {"Variable": "$.force", "IsPresent": true}, "Next": "NotForced"},
			{"Variable": "$.force", "IsBoolean": true, "Next": "TablesGiven"}
		],
		"Default": "ForceNotBoolean"
	}`), s.state(t, "ForceGiven")); diff != "" {
		t.Errorf("ForceGiven (-want +got):\n%s", diff)
	}
	notForced := s.state(t, "NotForced")
	if notForced["Type"] != "Pass" || notForced["Result"] != false || notForced["ResultPath"] != "$.force" || notForced["Next"] != "TablesGiven" {
		t.Errorf("NotForced = %s, want a Pass that sets $.force to false and goes to TablesGiven", pretty(notForced))
	}
	bad := s.state(t, "ForceNotBoolean")
	if bad["Type"] != "Pass" || bad["ResultPath"] != "$.failure" || bad["Next"] != "NotifyFailure" {
		t.Errorf("ForceNotBoolean = %s, want a Pass that sets $.failure and goes to NotifyFailure", pretty(bad))
	}
	if diff := cmp.Diff(decodeJSON(t, `{
		"Type": "Choice",
		"Choices": [{"Variable": "$.tables", "IsPresent": true, "Next": "ExtractTables"}],
		"Default": "AllTables"
	}`), s.state(t, "TablesGiven")); diff != "" {
		t.Errorf("TablesGiven (-want +got):\n%s", diff)
	}
	all := s.state(t, "AllTables")
	if all["Type"] != "Pass" || all["ResultPath"] != "$.tables" || all["Next"] != "ExtractTables" {
		t.Errorf("AllTables = %s, want a Pass that sets $.tables and goes to ExtractTables", pretty(all))
	}
	if diff := cmp.Diff(tableNames(s.src), all["Result"]); diff != "" {
		t.Errorf("AllTables.Result (-want +got), want every configured table:\n%s", diff)
	}
}

func TestDatabaseExtraction_WorkflowExtractsTablesInParallelUpToTheSourcesBound(t *testing.T) {
	for name, tc := range map[string]struct {
		get  func() (*extractionStack, error)
		want int
	}{
		"configured": {keyedExtraction, 3},
		"default":    {defaultExtraction, ingest.DefaultTableConcurrency},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustExtraction(t, tc.get)
			m := s.state(t, "ExtractTables")
			if m["Type"] != "Map" || m["MaxConcurrency"] != float64(tc.want) {
				t.Errorf("ExtractTables is a %v with MaxConcurrency %v, want a Map with %d", m["Type"], m["MaxConcurrency"], tc.want)
			}
			for k, want := range map[string]any{
				"ItemsPath":    "$.tables",
				"ItemSelector": map[string]any{"source": "sales_db", "table.$": "$$.Map.Item.Value", "date.$": "$.plan.date", "force.$": "$.force"},
				"ResultPath":   "$.extracted",
				"Next":         "StartCrawler",
			} {
				if diff := cmp.Diff(want, m[k]); diff != "" {
					t.Errorf("ExtractTables.%s (-want +got):\n%s", k, diff)
				}
			}
			extractTable := s.state(t, "ExtractTables", "ExtractTable")
			params, _ := extractTable["Parameters"].(map[string]any)
			if diff := cmp.Diff(map[string]any{
				"FunctionName": s.tp.Placeholder(s.x.Function.Function.FunctionArn()),
				"Payload.$":    "$",
			}, params); diff != "" {
				t.Errorf("ExtractTable.Parameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDatabaseExtraction_WorkflowFailsAtOnceOnInputErrorsAndRetriesTheRest(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	retry, _ := s.state(t, "ExtractTables", "ExtractTable")["Retry"].([]any)
	if len(retry) != 3 {
		t.Fatalf("ExtractTable has %d retriers, want 3 (input errors, Lambda service errors, everything else):\n%s", len(retry), pretty(retry))
	}
	errorsOf := func(r any) []any { l, _ := r.(map[string]any)["ErrorEquals"].([]any); return l }
	field := func(r any, k string) float64 { v, _ := r.(map[string]any)[k].(float64); return v }

	// A retrier matches in order, so the one that never retries must come before States.ALL.
	var input []any
	for _, e := range ingest.InputErrors {
		input = append(input, e)
	}
	if diff := cmp.Diff(input, errorsOf(retry[0])); diff != "" || field(retry[0], "MaxAttempts") != 0 {
		t.Errorf("first retrier = %s, want %v with MaxAttempts 0", pretty(retry[0]), ingest.InputErrors)
	}
	for _, e := range []string{"Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"} {
		if !slices.Contains(errorsOf(retry[1]), any(e)) {
			t.Errorf("second retrier %s does not retry %s", pretty(retry[1]), e)
		}
	}
	if field(retry[1], "MaxAttempts") < 2 || field(retry[1], "BackoffRate") < 1.5 {
		t.Errorf("second retrier %s: want at least 2 attempts with exponential backoff", pretty(retry[1]))
	}
	last := retry[2]
	if diff := cmp.Diff([]any{"States.ALL"}, errorsOf(last)); diff != "" {
		t.Errorf("last retrier ErrorEquals (-want +got):\n%s", diff)
	}
	if field(last, "MaxAttempts") < 1 || field(last, "BackoffRate") < 1.5 || field(last, "IntervalSeconds") < 1 ||
		last.(map[string]any)["JitterStrategy"] != "FULL" {
		t.Errorf("last retrier %s: want retries with jittered exponential backoff", pretty(last))
	}
}

func TestDatabaseExtraction_WorkflowStartsTheCrawlerWaitingWhileItRuns(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	crawl := s.state(t, "StartCrawler")
	for k, want := range map[string]any{
		"Type":       "Task",
		"Resource":   "arn:aws:states:::aws-sdk:glue:startCrawler",
		"Parameters": map[string]any{"Name": s.tp.Placeholder(s.crawler.Name())},
		"ResultPath": nil,
		"Next":       "Done",
	} {
		if diff := cmp.Diff(want, crawl[k]); diff != "" {
			t.Errorf("StartCrawler.%s (-want +got):\n%s", k, diff)
		}
	}
	retry, _ := crawl["Retry"].([]any)
	if len(retry) == 0 {
		t.Fatal("StartCrawler has no retrier")
	}
	running, _ := retry[0].(map[string]any)
	if diff := cmp.Diff([]any{"Glue.CrawlerRunningException"}, running["ErrorEquals"]); diff != "" {
		t.Errorf("StartCrawler's first retrier ErrorEquals (-want +got):\n%s", diff)
	}
	// A crawl over a day's new folders takes minutes; the workflow must wait that long.
	interval, _ := running["IntervalSeconds"].(float64)
	attempts, _ := running["MaxAttempts"].(float64)
	if interval*attempts < 10*60 {
		t.Errorf("StartCrawler waits %v s x %v attempts for a running crawler; want at least 10 minutes", interval, attempts)
	}
	if diff := cmp.Diff(map[string]any{"Type": "Succeed"}, s.state(t, "Done")); diff != "" {
		t.Errorf("Done (-want +got):\n%s", diff)
	}
}

func TestDatabaseExtraction_WorkflowAlertsOnEveryFailure(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	states, _ := s.def["States"].(map[string]any)
	wantCatch := []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "ResultPath": "$.failure", "Next": "NotifyFailure"}}
	caught := 0
	for name, v := range states {
		st, _ := v.(map[string]any)
		if name == "NotifyFailure" || (st["Type"] != "Task" && st["Type"] != "Map" && st["Type"] != "Parallel") {
			continue
		}
		caught++
		if diff := cmp.Diff(wantCatch, st["Catch"]); diff != "" {
			t.Errorf("%s.Catch (-want +got):\n%s", name, diff)
		}
	}
	if caught != 3 {
		t.Errorf("%d states can fail, want 3 (PlanDay, ExtractTables, StartCrawler)", caught)
	}
	notify := s.state(t, "NotifyFailure")
	if diff := cmp.Diff(map[string]any{
		"Type":     "Task",
		"Resource": "arn:aws:states:::sns:publish",
		"Parameters": map[string]any{
			"TopicArn": s.tp.Placeholder(s.alerts.Topic.TopicArn()),
			"Subject":  "kpilake: extraction of sales_db failed",
			"Message": map[string]any{
				"source":      "sales_db",
				"execution.$": "$$.Execution.Id",
				"error.$":     "$.failure.Error",
				"cause.$":     "$.failure.Cause",
			},
		},
		"ResultPath": nil,
		"Next":       "Failed",
	}, notify); diff != "" {
		t.Errorf("NotifyFailure (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"Type": "Fail", "Error": "ExtractionFailed", "CausePath": "$.failure.Cause"},
		s.state(t, "Failed")); diff != "" {
		t.Errorf("Failed (-want +got):\n%s", diff)
	}
}

func TestDatabaseExtraction_WorkflowRoleInvokesPublishesAndCrawlsOnlyItsOwn(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	tp := s.tp
	var want []string
	for _, fn := range []*golambda.Function{s.plan, s.x.Function} {
		arn := tp.Resolve(fn.Function.FunctionArn())
		want = append(want,
			cdktest.Permission("Allow", "lambda:InvokeFunction", arn, nil),
			cdktest.Permission("Allow", "lambda:InvokeFunction", map[string]any{"Fn::Join": []any{"", []any{arn, ":*"}}}, nil))
	}
	want = append(want,
		cdktest.Permission("Allow", "glue:startCrawler", tp.Resolve(s.crawler.Arn()), nil),
		cdktest.Permission("Allow", "sns:Publish", tp.Resolve(s.alerts.Topic.TopicArn()), nil),
		// The topic is encrypted with a customer-managed key: publishing needs it.
		cdktest.Permission("Allow", "kms:Decrypt", tp.Resolve(s.alerts.Key.KeyArn()), nil),
		cdktest.Permission("Allow", "kms:GenerateDataKey*", tp.Resolve(s.alerts.Key.KeyArn()), nil),
	)
	for _, a := range []string{
		"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
		"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
		"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
	} {
		want = append(want, cdktest.Permission("Allow", a, "*", nil))
	}
	if diff := cmp.Diff(sortedLines(want), sortedLines(tp.Permissions(s.smRole))); diff != "" {
		t.Errorf("permissions of the workflow (-want +got):\n%s", diff)
	}
}

func TestDatabaseExtraction_ScheduleStartsEveryTableDailyInTheBusinessZone(t *testing.T) {
	for name, tc := range map[string]struct {
		get      func() (*extractionStack, error)
		schedule string
	}{
		"configured": {keyedExtraction, "cron(15 3 * * ? *)"},
		"default":    {defaultExtraction, config.DefaultSchedule},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustExtraction(t, tc.get)
			tp := s.tp
			id := tp.LogicalID(s.x.Schedule.ScheduleName())
			dlq := tp.Resolve(s.x.ScheduleDeadLetters.QueueArn())
			tp.HasProperties(t, id, map[string]any{
				"ScheduleExpression":         tc.schedule,
				"ScheduleExpressionTimezone": businessZone,
				"FlexibleTimeWindow":         map[string]any{"Mode": "OFF"},
				"State":                      "ENABLED",
				"Target": map[string]any{
					"Arn":              tp.Resolve(s.x.StateMachine.StateMachineArn()),
					"DeadLetterConfig": map[string]any{"Arn": dlq},
				},
			})
			target, _ := tp.Properties(t, id)["Target"].(map[string]any)
			input, _ := target["Input"].(string)
			var got map[string]any
			if err := json.Unmarshal([]byte(input), &got); err != nil {
				t.Fatalf("schedule Input %q is not JSON: %v", input, err)
			}
			want := map[string]any{"tables": tableNames(s.src), "time": "<aws.scheduler.scheduled-time>"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("schedule Input (-want +got):\n%s", diff)
			}
			roleArn, _ := target["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)
			if len(roleArn) != 2 {
				t.Fatalf("schedule target RoleArn = %v, want a role of the stack", target["RoleArn"])
			}
			role, _ := roleArn[0].(string)
			wantPerms := []string{
				cdktest.Permission("Allow", "states:StartExecution", tp.Resolve(s.x.StateMachine.StateMachineArn()), nil),
				cdktest.Permission("Allow", "sqs:SendMessage", dlq, nil),
			}
			if diff := cmp.Diff(sortedLines(wantPerms), sortedLines(tp.Permissions(role))); diff != "" {
				t.Errorf("permissions of the schedule's role (-want +got):\n%s", diff)
			}
			tp.HasProperties(t, tp.LogicalID(s.x.ScheduleDeadLetters.QueueUrl()), map[string]any{
				"SqsManagedSseEnabled":   true,
				"MessageRetentionPeriod": 14 * 24 * 3600,
			})
		})
	}
}

func TestDatabaseExtraction_AlertsWhenAnExecutionTimesOutOrIsAborted(t *testing.T) {
	s := mustExtraction(t, keyedExtraction)
	rules := s.tp.Resources("AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("%d EventBridge rules, want 1", len(rules))
	}
	for id := range rules {
		s.tp.HasProperties(t, id, map[string]any{
			"State": "ENABLED",
			"EventPattern": map[string]any{
				"source":      []any{"aws.states"},
				"detail-type": []any{"Step Functions Execution Status Change"},
				"detail": map[string]any{
					"status":          []any{"TIMED_OUT", "ABORTED"},
					"stateMachineArn": []any{s.tp.Resolve(s.x.StateMachine.StateMachineArn())},
				},
			},
		})
		targets, _ := s.tp.Properties(t, id)["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("rule targets = %v, want the alert topic", targets)
		}
		target, _ := targets[0].(map[string]any)
		if diff := cmp.Diff(s.tp.Resolve(s.alerts.Topic.TopicArn()), target["Arn"]); diff != "" {
			t.Errorf("rule target (-want +got):\n%s", diff)
		}
		transformer, _ := target["InputTransformer"].(map[string]any)
		msg, _ := transformer["InputTemplate"].(string)
		for _, w := range []string{"sales_db", "<detail-status>", "<detail-executionArn>"} {
			if !strings.Contains(msg, w) {
				t.Errorf("alert message %q lacks %s", msg, w)
			}
		}
		if diff := cmp.Diff(map[string]any{"detail-status": "$.detail.status", "detail-executionArn": "$.detail.executionArn"},
			transformer["InputPathsMap"]); diff != "" {
			t.Errorf("alert message fields (-want +got):\n%s", diff)
		}
	}
}

// extractionFailure is one invalid set of props and the words its error must contain.
type extractionFailure struct {
	name   string
	change func(*ingest.DatabaseExtractionProps)
	want   []string
}

func checkExtractionFailures(t *testing.T, cases []extractionFailure) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			var props *ingest.DatabaseExtractionProps
			cdktest.Setup(t, func() { props = newExtractionDeps(stack, "sales_db").props(cdktest.SalesSource()) })
			tc.change(props)
			err := cdktest.Recover(func() { ingest.NewDatabaseExtraction(stack, "Extraction", props) })
			cdktest.WantError(t, "NewDatabaseExtraction", err, tc.want...)
		})
	}
}

func TestNewDatabaseExtraction_FailsIf(t *testing.T) {
	id := `ingest.NewDatabaseExtraction "Extraction"`
	checkExtractionFailures(t, []extractionFailure{
		{"no lake", func(p *ingest.DatabaseExtractionProps) { p.Lake = nil }, []string{id, "Lake is required"}},
		{"no crawler", func(p *ingest.DatabaseExtractionProps) { p.Crawler = nil }, []string{id, "Crawler is required"}},
		{"no alerts", func(p *ingest.DatabaseExtractionProps) { p.Alerts = nil }, []string{id, "Alerts is required"}},
		{"no plan", func(p *ingest.DatabaseExtractionProps) { p.Plan = nil }, []string{id, "Plan is required"}},
		{"no salt", func(p *ingest.DatabaseExtractionProps) { p.Salt = nil }, []string{id, "Salt is required"}},
		{"no time zone", func(p *ingest.DatabaseExtractionProps) { p.TimeZone = "" }, []string{id, "TimeZone is required", `"Asia/Tokyo"`}},
		{"no tables", func(p *ingest.DatabaseExtractionProps) { p.Source.Tables = nil }, []string{id, "Source.Tables: give at least one table"}},
		{"no subnets", func(p *ingest.DatabaseExtractionProps) { p.Source.SubnetIDs = nil }, []string{id, "Source.SubnetIDs and Source.SecurityGroupIDs are required"}},
		{"no security groups", func(p *ingest.DatabaseExtractionProps) { p.Source.SecurityGroupIDs = nil }, []string{id, "Source.SubnetIDs and Source.SecurityGroupIDs are required"}},
		{"no secret", func(p *ingest.DatabaseExtractionProps) { p.Source.SecretArn = "" }, []string{id, "Source.SecretArn is required"}},
		{"bad source name", func(p *ingest.DatabaseExtractionProps) { p.Source.Name = "Sales-DB" }, []string{id, "Source.Name", "Sales-DB"}},
		{"negative concurrency", func(p *ingest.DatabaseExtractionProps) { p.Source.MaxConcurrency = -1 }, []string{id, "Source.MaxConcurrency is -1"}},
		{"schedule that is not cron", func(p *ingest.DatabaseExtractionProps) { p.Source.Schedule = "rate(1 day)" }, []string{`Source.Schedule "rate(1 day)"`, "cron(...)"}},
		{"every problem at once", func(p *ingest.DatabaseExtractionProps) {
			*p = ingest.DatabaseExtractionProps{Source: config.Source{Name: "sales_db"}}
		}, []string{id, "Lake is required", "Crawler is required", "Alerts is required", "Plan is required", "Salt is required",
			"TimeZone is required", "Source.Tables", "Source.SubnetIDs", "Source.SecretArn"}},
	})
	t.Run("nil props", func(t *testing.T) {
		stack := cdktest.TestStack(t)
		err := cdktest.Recover(func() { ingest.NewDatabaseExtraction(stack, "Extraction", nil) })
		if err == nil || !strings.Contains(err.Error(), "Lake is required") {
			t.Errorf("NewDatabaseExtraction(nil props) = %v, want a validation error", err)
		}
	})
}

// A source that the function would refuse at cold start (extract.ParseSourceSpec) must fail synth
// instead of every daily run: the construct takes a config.Source from Go code too, not only
// from the validated cdk.json.
func TestNewDatabaseExtraction_FailsIfTheFunctionWouldRefuseTheSource(t *testing.T) {
	id := `ingest.NewDatabaseExtraction "Extraction"`
	checkExtractionFailures(t, []extractionFailure{
		{"time zone that is not IANA", func(p *ingest.DatabaseExtractionProps) { p.TimeZone = "Tokyo" }, []string{id, "TimeZone", `"Tokyo"`}},
		{"no engine", func(p *ingest.DatabaseExtractionProps) { p.Source.Engine = "" }, []string{id, "Engine"}},
		{"incremental table without its column", func(p *ingest.DatabaseExtractionProps) {
			p.Source.Tables = []config.Table{{Name: "orders", Mode: config.Incremental}}
		}, []string{id, "orders", "TimestampColumn"}},
	})
}

// The extraction suppresses the findings of its own resources: alone in a stack, it leaves no
// AwsSolutions finding.
func TestNewDatabaseExtraction_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() {
		src := cdktest.SalesSource()
		ingest.NewDatabaseExtraction(stack, "Extraction", newExtractionDeps(stack, src.Name).props(src))
	})
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Extraction/") {
		t.Error(f)
	}
}

// metricLine is a metric as a dashboard line: namespace, name, sorted dimensions, statistic,
// period in seconds and label.
func metricLine(m awscloudwatch.Metric) string {
	var dims []string
	for k, v := range *m.Dimensions() {
		dims = append(dims, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(dims)
	return fmt.Sprintf("%s %s %s %s %gs %s", *m.Namespace(), *m.MetricName(), strings.Join(dims, " "), *m.Statistic(),
		*m.Period().ToSeconds(nil), *m.Label())
}

// The extraction measures each of its tables with the metrics its function records
// (lambdas/extract: metrics.RowsExtracted and BytesExtracted per Source and Table), in the
// environment the function records them in.
func TestDatabaseExtraction_MeasuresEachTable(t *testing.T) {
	src := cdktest.SalesSource()
	table := src.Tables[0].Name
	daily := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Days(jsii.Number(1)), Label: jsii.String("rows")}
	for _, tc := range []struct {
		name        string
		environment string // "": built under no environment's name
		metric      func(x *ingest.DatabaseExtraction) awscloudwatch.Metric
		want        string
	}{
		{"rows in an environment", "staging", func(x *ingest.DatabaseExtraction) awscloudwatch.Metric { return x.MetricRowsExtracted(table, nil) },
			fmt.Sprintf("KpiLake RowsExtracted Environment=staging Source=%s Table=%s Sum 300s %s.%s", src.Name, table, src.Name, table)},
		{"bytes in an environment", "staging", func(x *ingest.DatabaseExtraction) awscloudwatch.Metric { return x.MetricBytesExtracted(table, nil) },
			fmt.Sprintf("KpiLake BytesExtracted Environment=staging Source=%s Table=%s Sum 300s %s.%s", src.Name, table, src.Name, table)},
		{"no environment", "", func(x *ingest.DatabaseExtraction) awscloudwatch.Metric { return x.MetricRowsExtracted(table, nil) },
			fmt.Sprintf("KpiLake RowsExtracted Source=%s Table=%s Sum 300s %s.%s", src.Name, table, src.Name, table)},
		{"the caller's period and label", "staging", func(x *ingest.DatabaseExtraction) awscloudwatch.Metric { return x.MetricRowsExtracted(table, daily) },
			fmt.Sprintf("KpiLake RowsExtracted Environment=staging Source=%s Table=%s Sum 86400s rows", src.Name, table)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			cdktest.Setup(t, func() {
				stack := cdktest.NewStack("Test")
				if tc.environment != "" {
					golambda.SetMetricsEnvironment(stack, tc.environment)
				}
				x := ingest.NewDatabaseExtraction(stack, "Extraction", newExtractionDeps(stack, src.Name).props(src))
				if diff := cmp.Diff(tableNames(src), toAny(x.Tables())); diff != "" {
					t.Errorf("Tables (-want +got):\n%s", diff)
				}
				got = metricLine(tc.metric(x))
			})
			if got != tc.want {
				t.Errorf("metric\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDatabaseExtraction_MeasuresOnlyItsTables(t *testing.T) {
	src := cdktest.SalesSource()
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		x := ingest.NewDatabaseExtraction(stack, "Extraction", newExtractionDeps(stack, src.Name).props(src))
		x.MetricRowsExtracted("no_such_table", nil)
	})
	if err == nil || !strings.Contains(err.Error(), `no table "no_such_table" to measure`) {
		t.Errorf("measuring a table the source does not have: got %v, want an error naming the table", err)
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
