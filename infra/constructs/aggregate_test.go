//go:build !unit

package constructs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	handler "github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// deps are the constructs a workflow needs, as the stack wires them.
type workflowDeps struct {
	lake     *lake.Lake
	catalog  *catalog.Catalog
	crawlers []*catalog.Crawler
	alerts   *alerts.Alerts
	plan     *golambda.Function
}

func newWorkflowDeps(stack awscdk.Stack) *workflowDeps {
	d := &workflowDeps{lake: lake.NewLake(stack, "Lake", nil)}
	d.catalog = catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: d.lake})
	for _, src := range []string{"social", "app_logs"} {
		d.crawlers = append(d.crawlers, catalog.NewCrawler(stack, "Crawler_"+src, &catalog.CrawlerProps{
			Catalog: d.catalog, Prefixes: []string{layout.SourcePrefix(src)}, TablePrefix: layout.CrawlerTablePrefix(src),
		}))
	}
	d.alerts = alerts.NewAlerts(stack, "Alerts", nil)
	d.plan = golambda.NewFunction(stack, "Plan", &golambda.FunctionProps{
		Entry:       filepath.Join(moduleRoot, "lambdas", "cmd", "plan"),
		Environment: map[string]string{contract.EnvTimeZone: businessZone},
	})
	return d
}

func (d *workflowDeps) props() *aggregate.WorkflowProps {
	p := &aggregate.WorkflowProps{
		Catalog: d.catalog, Lake: d.lake, Crawlers: d.crawlers, Alerts: d.alerts, Plan: d.plan,
		KPIs: kpis, TimeZone: businessZone, Root: moduleRoot,
	}
	// Until lambdas/cmd/aggregate lands, any Go main builds an asset; the construct's default
	// entry is what the tests check whenever it exists.
	if _, err := os.Stat(filepath.Join(moduleRoot, "lambdas", "cmd", "aggregate", "main.go")); err != nil {
		p.AggregateEntry = filepath.Join(moduleRoot, "lambdas", "cmd", "plan")
	}
	return p
}

type synthesizedWorkflow struct {
	tp *cdktest.Template
	w  *aggregate.Workflow
	*workflowDeps
	fn, fnRole, sm, smRole string
	def                    map[string]any
}

func synthWorkflow(change func(*aggregate.WorkflowProps)) (*synthesizedWorkflow, error) {
	s := &synthesizedWorkflow{}
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		s.workflowDeps = newWorkflowDeps(stack)
		p := s.props()
		if change != nil {
			change(p)
		}
		s.w = aggregate.NewWorkflow(stack, "Aggregate", p)
		tp, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s.tp = tp
		s.fn = tp.LogicalID(s.w.Function.Function.FunctionName())
		s.fnRole = tp.LogicalID(s.w.Function.Role.RoleName())
		s.sm = tp.LogicalID(s.w.StateMachine.StateMachineArn())
		s.smRole = tp.LogicalID(s.w.StateMachine.Role().RoleName())
		if s.def, err = tp.StateMachineDefinition(s.sm); err != nil {
			panic(err)
		}
	})
	return s, err
}

var configuredWorkflow = sync.OnceValues(func() (*synthesizedWorkflow, error) {
	return synthWorkflow(func(p *aggregate.WorkflowProps) {
		p.MaxConcurrency = 3
		p.StateKeys = handler.StateKeys{{Source: "social", Table: "posts"}: {"id"}}
	})
})

var defaultWorkflow = sync.OnceValues(func() (*synthesizedWorkflow, error) { return synthWorkflow(nil) })

// state returns a state of the definition, nested in Map item processors along path.
func (s *synthesizedWorkflow) state(t *testing.T, path ...string) map[string]any {
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

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return v
}

func TestWorkflow_FunctionRunsOnArm64AL2023For15Minutes(t *testing.T) {
	s := must(t, configuredWorkflow)
	s.tp.HasProperties(t, s.fn, map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Timeout":       15 * 60,
		"TracingConfig": map[string]any{"Mode": "Active"},
	})
	env, _ := s.tp.Properties(t, s.fn)["Environment"].(map[string]any)
	if diff := cmp.Diff(map[string]any{
		contract.EnvDatabase:         s.catalog.DatabaseName,
		contract.EnvWorkgroup:        s.catalog.AggregationWorkgroupName,
		contract.EnvAggregatedBucket: s.tp.Resolve(s.lake.Aggregated.BucketName()),
		contract.EnvResultLocation:   s.tp.Resolve(s.catalog.ResultsLocation),
		contract.EnvResultKMSKey:     s.tp.Resolve(s.lake.Key.KeyArn()),
		contract.EnvTimeZone:         businessZone,
		contract.EnvRawBucket:        s.tp.Resolve(s.lake.Raw.BucketName()),
		contract.EnvStateKeys:        `{"social.posts":["id"]}`,
	}, env["Variables"]); diff != "" {
		t.Errorf("function environment (-want +got):\n%s", diff)
	}
}

// The temporary tables the function may create are those the CTAS runner names.
func TestWorkflow_TempTablePrefixMatchesTheRunner(t *testing.T) {
	d, _ := layout.ParseDay("2026-11-24")
	for _, k := range kpis {
		name := ctas.TempTableName(k, d, layout.NewRunID(time.Now()))
		if !strings.HasPrefix(name, layout.TempTablePrefix) {
			t.Errorf("ctas.TempTableName(%q) = %q, outside the granted %s*", k, name, layout.TempTablePrefix)
		}
	}
}

// Every Glue call of the CTAS runner (lambdas/ctas) is allowed on some resource.
func TestWorkflow_GlueActionsCoverTheRunnersCalls(t *testing.T) {
	granted := slices.Concat(aggregate.GlueReadActions, aggregate.GlueKPITableActions, aggregate.GlueTempTableActions)
	for _, op := range []string{"GetTable", "GetTables", "CreateTable", "DeleteTable", "GetPartition", "CreatePartition", "UpdatePartition"} {
		if !slices.Contains(granted, "glue:"+op) {
			t.Errorf("the runner calls Glue %s, which no action list grants", op)
		}
	}
}

// Athena fails a CTAS with external_location in a workgroup that enforces its settings; moto does
// not, so this is the guard: the function's workgroup lets the runner set the location, and keeps
// the cutoff, the metrics and encrypted results as its defaults.
func TestWorkflow_FunctionRunsInAWorkgroupThatAllowsExternalLocation(t *testing.T) {
	s := must(t, configuredWorkflow)
	env, _ := s.tp.Properties(t, s.fn)["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	byName := map[any]map[string]any{}
	for _, wg := range s.tp.Resources("AWS::Athena::WorkGroup") {
		props, _ := wg["Properties"].(map[string]any)
		byName[props["Name"]] = props
	}
	props, ok := byName[vars[contract.EnvWorkgroup]]
	if !ok {
		t.Fatalf("%s is %v, not the name of a workgroup of the stack", contract.EnvWorkgroup, vars[contract.EnvWorkgroup])
	}
	conf, _ := props["WorkGroupConfiguration"].(map[string]any)
	results, _ := conf["ResultConfiguration"].(map[string]any)
	if conf["EnforceWorkGroupConfiguration"] != false || conf["PublishCloudWatchMetricsEnabled"] != true ||
		conf["BytesScannedCutoffPerQuery"] != float64(catalog.DefaultBytesScannedCutoffPerQuery) ||
		!cmp.Equal(results["EncryptionConfiguration"], map[string]any{"EncryptionOption": "SSE_KMS", "KmsKey": vars[contract.EnvResultKMSKey]}) ||
		!cmp.Equal(results["OutputLocation"], vars[contract.EnvResultLocation]) {
		t.Errorf("workgroup %v: want it not to enforce its settings, with metrics, the default cutoff and the function's "+
			"result settings as defaults; got %s", vars[contract.EnvWorkgroup], pretty(props))
	}
	if vars[contract.EnvWorkgroup] == s.catalog.WorkgroupName {
		t.Errorf("the function runs in the analysts' workgroup %s", s.catalog.WorkgroupName)
	}
}

func TestWorkflow_FunctionMayQueryTheWorkgroupAndWriteOnlyItsKPIs(t *testing.T) {
	s := must(t, configuredWorkflow)
	tp := s.tp
	db := s.catalog.DatabaseName
	var want []string
	add := func(actions []string, resources ...any) {
		for _, a := range actions {
			for _, r := range resources {
				want = append(want, cdktest.Permission("Allow", a, r, nil))
			}
		}
	}
	// Only the aggregation workgroup: the analysts' one enforces its settings, which CTAS cannot run in.
	workgroup := "arn:aws:athena:ap-northeast-1:123456789012:workgroup/" + s.catalog.AggregationWorkgroupName
	add(aggregate.AthenaActions, workgroup)
	res := func(v *string) any { return tp.Resolve(v) }
	add(aggregate.GlueReadActions, res(s.catalog.CatalogArn()), res(s.catalog.DatabaseArn()), res(s.catalog.TablesArn("")))
	// KPI and temporary tables by their reserved prefixes: one statement for any number of KPIs.
	kpiTables := []any{res(s.catalog.CatalogArn()), res(s.catalog.DatabaseArn()),
		"arn:aws:glue:ap-northeast-1:123456789012:table/" + db + "/" + layout.KPITablePrefix + "*"}
	tempTables := []any{res(s.catalog.CatalogArn()), res(s.catalog.DatabaseArn()), res(s.catalog.TablesArn(layout.TempTablePrefix))}
	add(aggregate.GlueKPITableActions, kpiTables...)
	add(aggregate.GlueTempTableActions, tempTables...)

	objects := func(bucket any, prefix string) any {
		return map[string]any{"Fn::Join": []any{"", []any{bucket, "/" + prefix + "*"}}}
	}
	raw, agg, results := res(s.lake.Raw.BucketArn()), res(s.lake.Aggregated.BucketArn()), res(s.lake.QueryResults.BucketArn())
	key := res(s.lake.Key.KeyArn())
	add([]string{"s3:GetObject"}, objects(raw, ""))
	add([]string{"s3:ListBucket", "s3:GetBucketLocation"}, raw)
	// Every KPI's folder: the aggregated zone holds nothing else (layout.KPIsPrefix).
	add([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"}, objects(agg, layout.KPIsPrefix))
	add([]string{"s3:ListBucket"}, agg)
	add([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}, objects(results, "athena/"))
	want = append(want, cdktest.Permission("Allow", "s3:ListBucket", results, map[string]any{"StringLike": map[string]any{"s3:prefix": "athena/*"}}))
	add([]string{"s3:GetBucketLocation"}, agg, results)
	add([]string{"kms:Decrypt", "kms:GenerateDataKey"}, key)
	// The raw zone has its own key; the CTAS reads raw data, so it decrypts with it.
	add([]string{"kms:Decrypt"}, res(s.lake.RawKey.KeyArn()))
	logs := res(s.w.Function.LogGroup.LogGroupArn())
	add([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, logs)
	add([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "*")
	if diff := cmp.Diff(sortedLines(want), sortedLines(tp.Permissions(s.fnRole))); diff != "" {
		t.Errorf("permissions of the aggregate function (-want +got):\n%s", diff)
	}
}

func TestWorkflow_StateMachineIsStandardTracedAndLogsEverything(t *testing.T) {
	s := must(t, configuredWorkflow)
	s.tp.HasProperties(t, s.sm, map[string]any{
		"StateMachineType":     "STANDARD",
		"TracingConfiguration": map[string]any{"Enabled": true},
		"LoggingConfiguration": map[string]any{"Level": "ALL", "IncludeExecutionData": true},
	})
	if v, _ := s.def["TimeoutSeconds"].(float64); v <= 0 {
		t.Errorf("TimeoutSeconds = %v, want a bound", s.def["TimeoutSeconds"])
	}
	if _, ok := s.def["QueryLanguage"]; ok {
		t.Errorf("QueryLanguage %v; keep JSONPath so that it runs locally", s.def["QueryLanguage"])
	}
}

func TestWorkflow_PlansThenRunsWavesInOrderAndTheirKPIsInParallel(t *testing.T) {
	for name, tc := range map[string]struct {
		get  func() (*synthesizedWorkflow, error)
		want int
	}{"configured": {configuredWorkflow, 3}, "default": {defaultWorkflow, aggregate.DefaultMaxConcurrency}} {
		t.Run(name, func(t *testing.T) {
			s := must(t, tc.get)
			if s.def["StartAt"] != "PlanRun" {
				t.Errorf("StartAt = %v, want PlanRun", s.def["StartAt"])
			}
			planRun := s.state(t, "PlanRun")
			for k, want := range map[string]any{
				"Resource":       "arn:aws:states:::lambda:invoke",
				"Parameters":     map[string]any{"FunctionName": s.tp.Placeholder(s.plan.Function.FunctionArn()), "Payload.$": "$"},
				"ResultSelector": map[string]any{"trigger.$": "$.Payload.trigger", "crawled.$": "$.Payload.crawled", "days.$": "$.Payload.days", "sets.$": "$.Payload.sets"},
				"ResultPath":     "$.plan",
				"Next":           "AggregateDays",
			} {
				if diff := cmp.Diff(want, planRun[k]); diff != "" {
					t.Errorf("PlanRun.%s (-want +got):\n%s", k, diff)
				}
			}
			days := s.state(t, "AggregateDays")
			for k, want := range map[string]any{
				"Type":           "Map",
				"MaxConcurrency": float64(1),
				"ItemsPath":      "$.plan.days",
				"ItemSelector": map[string]any{"date.$": "$$.Map.Item.Value.date", "waves.$": "States.ArrayGetItem($.plan.sets, $$.Map.Item.Value.set)",
					"trigger.$": "$.plan.trigger", "crawled.$": "$.plan.crawled"},
				"ResultPath": "$.aggregated",
				"Next":       "Done",
			} {
				if diff := cmp.Diff(want, days[k]); diff != "" {
					t.Errorf("AggregateDays.%s (-want +got):\n%s", k, diff)
				}
			}
			waves := s.state(t, "AggregateDays", "AggregateWaves")
			for k, want := range map[string]any{
				"Type":           "Map",
				"MaxConcurrency": float64(1),
				"ItemsPath":      "$.waves",
				"ItemSelector":   map[string]any{"kpis.$": "$$.Map.Item.Value", "date.$": "$.date", "trigger.$": "$.trigger", "crawled.$": "$.crawled"},
				// A day's output is its date: its KPIs' results, carried in $.aggregated to the
				// end of the run, would pass Step Functions' 256 KB with 25 KPIs over 32 days.
				"ResultPath": nil,
				"OutputPath": "$.date",
			} {
				if _, ok := waves[k]; !ok && k == "ResultPath" {
					t.Errorf("AggregateWaves has no ResultPath; want null (the results discarded)")
				}
				if diff := cmp.Diff(want, waves[k]); diff != "" {
					t.Errorf("AggregateWaves.%s (-want +got):\n%s", k, diff)
				}
			}
			wave := s.state(t, "AggregateDays", "AggregateWaves", "AggregateWave")
			for k, want := range map[string]any{
				"Type":           "Map",
				"MaxConcurrency": float64(tc.want),
				"ItemsPath":      "$.kpis",
				"ItemSelector":   map[string]any{"kpi.$": "$$.Map.Item.Value", "date.$": "$.date", "trigger.$": "$.trigger", "crawled.$": "$.crawled"},
			} {
				if diff := cmp.Diff(want, wave[k]); diff != "" {
					t.Errorf("AggregateWave.%s (-want +got):\n%s", k, diff)
				}
			}
			task := s.state(t, "AggregateDays", "AggregateWaves", "AggregateWave", "AggregateKPI")
			if diff := cmp.Diff(map[string]any{
				"FunctionName": s.tp.Placeholder(s.w.Function.Function.FunctionArn()),
				"Payload":      map[string]any{"kpi.$": "$.kpi", "date.$": "$.date", "trigger.$": "$.trigger", "crawled.$": "$.crawled"},
			}, task["Parameters"]); diff != "" {
				t.Errorf("AggregateKPI.Parameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorkflow_RetriesThrottlingLongAndNeverRetriesFailedQueries(t *testing.T) {
	s := must(t, configuredWorkflow)
	retry, _ := s.state(t, "AggregateDays", "AggregateWaves", "AggregateWave", "AggregateKPI")["Retry"].([]any)
	want := decodeJSON(t, `[
		{"ErrorEquals": ["InputError", "QueryFailed"], "MaxAttempts": 0},
		{"ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
		                 "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException"],
		 "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2, "JitterStrategy": "FULL"},
		{"ErrorEquals": ["AthenaThrottled"], "IntervalSeconds": 10, "MaxAttempts": 6, "BackoffRate": 2, "JitterStrategy": "FULL"},
		{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 2, "JitterStrategy": "FULL"}
	]`)
	if diff := cmp.Diff(want, any(retry)); diff != "" {
		t.Errorf("AggregateKPI.Retry (-want +got):\n%s", diff)
	}
	planRetry, _ := s.state(t, "PlanRun")["Retry"].([]any)
	if len(planRetry) != 1 || !slices.Contains(planRetry[0].(map[string]any)["ErrorEquals"].([]any), any("Lambda.ServiceException")) {
		t.Errorf("PlanRun.Retry = %s, want Lambda service errors only (a bad trigger does not get better)", pretty(planRetry))
	}
}

func TestWorkflow_AlertsOnceOnEveryFailureWithTheKPIWhereKnown(t *testing.T) {
	s := must(t, configuredWorkflow)
	topic := s.tp.Placeholder(s.alerts.Topic.TopicArn())
	catch := func(next string) any {
		return map[string]any{"ErrorEquals": []any{"States.ALL"}, "ResultPath": "$.failure", "Next": next}
	}
	if diff := cmp.Diff([]any{catch("NotifyPlanFailure")}, s.state(t, "PlanRun")["Catch"]); diff != "" {
		t.Errorf("PlanRun.Catch (-want +got):\n%s", diff)
	}
	// A KPI's branch has published already: the waves' catch must not publish it again, nor the
	// days' catch a day's.
	if diff := cmp.Diff([]any{
		map[string]any{"ErrorEquals": []any{"KPIFailed"}, "ResultPath": "$.failure", "Next": "DayFailed"},
		catch("NotifyFailure"),
	}, s.state(t, "AggregateDays", "AggregateWaves")["Catch"]); diff != "" {
		t.Errorf("AggregateWaves.Catch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{
		map[string]any{"ErrorEquals": []any{"KPIFailed"}, "ResultPath": "$.failure", "Next": "Failed"},
		catch("NotifyRunFailure"),
	}, s.state(t, "AggregateDays")["Catch"]); diff != "" {
		t.Errorf("AggregateDays.Catch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{catch("NotifyKPIFailure")}, s.state(t, "AggregateDays", "AggregateWaves", "AggregateWave", "AggregateKPI")["Catch"]); diff != "" {
		t.Errorf("AggregateKPI.Catch (-want +got):\n%s", diff)
	}
	notify := func(next string, fields map[string]any) map[string]any {
		msg := map[string]any{"execution.$": "$$.Execution.Id", "error.$": "$.failure.Error", "cause.$": "$.failure.Cause"}
		for k, v := range fields {
			msg[k] = v
		}
		return map[string]any{
			"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": nil, "Next": next,
			"Parameters": map[string]any{"TopicArn": topic, "Subject": "kpilake: KPI aggregation failed", "Message": msg},
		}
	}
	for _, tc := range []struct {
		path []string
		want map[string]any
	}{
		{[]string{"NotifyPlanFailure"}, notify("Failed", map[string]any{"stage": "plan"})},
		{[]string{"NotifyRunFailure"}, notify("Failed", nil)},
		{[]string{"AggregateDays", "NotifyFailure"}, notify("DayFailed", map[string]any{"date.$": "$.date"})},
		{[]string{"AggregateDays", "AggregateWaves", "AggregateWave", "NotifyKPIFailure"}, notify("KPIFailed", map[string]any{"kpi.$": "$.kpi", "date.$": "$.date"})},
	} {
		if diff := cmp.Diff(tc.want, s.state(t, tc.path...)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", strings.Join(tc.path, "/"), diff)
		}
	}
	if diff := cmp.Diff(map[string]any{"Type": "Fail", "Error": "KPIFailed", "CausePath": "$.failure.Cause"},
		s.state(t, "AggregateDays", "AggregateWaves", "AggregateWave", "KPIFailed")); diff != "" {
		t.Errorf("KPIFailed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"Type": "Fail", "Error": "KPIFailed", "CausePath": "$.failure.Cause"},
		s.state(t, "AggregateDays", "DayFailed")); diff != "" {
		t.Errorf("DayFailed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"Type": "Fail", "Error": "AggregationFailed", "CausePath": "$.failure.Cause"},
		s.state(t, "Failed")); diff != "" {
		t.Errorf("Failed (-want +got):\n%s", diff)
	}
}

func TestWorkflow_StateMachineRoleInvokesItsFunctionsAndPublishesAlerts(t *testing.T) {
	s := must(t, configuredWorkflow)
	tp := s.tp
	var want []string
	for _, fn := range []*golambda.Function{s.plan, s.w.Function} {
		arn := tp.Resolve(fn.Function.FunctionArn())
		want = append(want,
			cdktest.Permission("Allow", "lambda:InvokeFunction", arn, nil),
			cdktest.Permission("Allow", "lambda:InvokeFunction", map[string]any{"Fn::Join": []any{"", []any{arn, ":*"}}}, nil))
	}
	want = append(want,
		cdktest.Permission("Allow", "sns:Publish", tp.Resolve(s.alerts.Topic.TopicArn()), nil),
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
		t.Errorf("permissions of the state machine (-want +got):\n%s", diff)
	}
}

func (s *synthesizedWorkflow) crawlerNames() []any {
	var names []any
	for _, c := range s.crawlers {
		names = append(names, s.tp.Resolve(c.Name()))
	}
	return names
}

func TestWorkflow_CrawlerSuccessStartsTheWorkflowWithRetriesAndADeadLetterQueue(t *testing.T) {
	s := must(t, configuredWorkflow)
	tp := s.tp
	id := tp.LogicalID(s.w.SucceededRule.RuleName())
	tp.HasProperties(t, id, map[string]any{
		"State": "ENABLED",
		"EventPattern": map[string]any{
			"source":      []any{"aws.glue"},
			"detail-type": []any{"Glue Crawler State Change"},
			"detail":      map[string]any{"state": []any{"Succeeded"}, "crawlerName": s.crawlerNames()},
		},
	})
	targets, _ := tp.Properties(t, id)["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets %v, want the state machine", targets)
	}
	target, _ := targets[0].(map[string]any)
	dlq := tp.Resolve(s.w.DeadLetters.QueueArn())
	for k, want := range map[string]any{
		"Arn":              tp.Resolve(s.w.StateMachine.StateMachineArn()),
		"DeadLetterConfig": map[string]any{"Arn": dlq},
		"RetryPolicy":      map[string]any{"MaximumRetryAttempts": float64(8), "MaximumEventAgeInSeconds": float64(6 * 3600)},
	} {
		if diff := cmp.Diff(want, target[k]); diff != "" {
			t.Errorf("target %s (-want +got):\n%s", k, diff)
		}
	}
	if target["Input"] != nil || target["InputPath"] != nil || target["InputTransformer"] != nil {
		t.Errorf("target %s changes the input; the plan step reads the event itself", pretty(target))
	}
	roleArn, _ := target["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)
	if len(roleArn) != 2 {
		t.Fatalf("target RoleArn = %v, want a role of the stack", target["RoleArn"])
	}
	if diff := cmp.Diff([]string{cdktest.Permission("Allow", "states:StartExecution", tp.Resolve(s.w.StateMachine.StateMachineArn()), nil)},
		tp.Permissions(roleArn[0].(string))); diff != "" {
		t.Errorf("permissions of the rule's role (-want +got):\n%s", diff)
	}
	q := tp.LogicalID(s.w.DeadLetters.QueueUrl())
	tp.HasProperties(t, q, map[string]any{"SqsManagedSseEnabled": true, "MessageRetentionPeriod": 14 * 24 * 3600})
	// TLS only, and EventBridge may send to it.
	for _, pol := range tp.Resources("AWS::SQS::QueuePolicy") {
		doc, _ := json.Marshal(pol)
		if !strings.Contains(string(doc), q) {
			continue
		}
		for _, w := range []string{`"aws:SecureTransport":"false"`, `"Effect":"Deny"`, `"events.amazonaws.com"`, `"sqs:SendMessage"`} {
			if !strings.Contains(string(doc), w) {
				t.Errorf("dead-letter queue policy lacks %s:\n%s", w, doc)
			}
		}
		return
	}
	t.Errorf("no queue policy on the dead-letter queue %s", q)
}

func TestWorkflow_CrawlerFailureAlertsWithAReadableMessage(t *testing.T) {
	s := must(t, configuredWorkflow)
	tp := s.tp
	id := tp.LogicalID(s.w.FailedRule.RuleName())
	tp.HasProperties(t, id, map[string]any{
		"EventPattern": map[string]any{
			"source":      []any{"aws.glue"},
			"detail-type": []any{"Glue Crawler State Change"},
			"detail":      map[string]any{"state": []any{"Failed"}, "crawlerName": s.crawlerNames()},
		},
	})
	targets, _ := tp.Properties(t, id)["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets %v, want the alert topic", targets)
	}
	target, _ := targets[0].(map[string]any)
	if diff := cmp.Diff(tp.Resolve(s.alerts.Topic.TopicArn()), target["Arn"]); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	transformer, _ := target["InputTransformer"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"detail-crawlerName": "$.detail.crawlerName", "time": "$.time", "detail-errorMessage": "$.detail.errorMessage"},
		transformer["InputPathsMap"]); diff != "" {
		t.Errorf("message fields (-want +got):\n%s", diff)
	}
	if msg, _ := transformer["InputTemplate"].(string); !strings.Contains(msg, "crawler <detail-crawlerName> failed at <time>") {
		t.Errorf("message %q does not say which crawler failed and when", msg)
	}
}

func TestWorkflow_AlertsWhenAnExecutionTimesOutOrIsAborted(t *testing.T) {
	s := must(t, configuredWorkflow)
	tp := s.tp
	found := false
	for id, r := range tp.Resources("AWS::Events::Rule") {
		props, _ := r["Properties"].(map[string]any)
		pattern, _ := props["EventPattern"].(map[string]any)
		if diff := cmp.Diff([]any{"aws.states"}, pattern["source"]); diff != "" {
			continue
		}
		found = true
		tp.HasProperties(t, id, map[string]any{"EventPattern": map[string]any{
			"detail-type": []any{"Step Functions Execution Status Change"},
			"detail": map[string]any{
				"status":          []any{"TIMED_OUT", "ABORTED"},
				"stateMachineArn": []any{tp.Resolve(s.w.StateMachine.StateMachineArn())},
			},
		}})
		targets, _ := props["Targets"].([]any)
		if len(targets) != 1 || targets[0].(map[string]any)["Arn"] == nil {
			t.Errorf("targets %v, want the alert topic", targets)
		}
	}
	if !found {
		t.Error("no rule on the workflow's TIMED_OUT/ABORTED executions")
	}
}

func TestNewWorkflow_FailsIf(t *testing.T) {
	id := `aggregate.NewWorkflow "Aggregate"`
	for _, tc := range []struct {
		name   string
		change func(*aggregate.WorkflowProps)
		want   []string
	}{
		{"no catalog", func(p *aggregate.WorkflowProps) { p.Catalog = nil }, []string{id, "Catalog is required"}},
		{"no lake", func(p *aggregate.WorkflowProps) { p.Lake = nil }, []string{"Lake is required"}},
		{"no alerts", func(p *aggregate.WorkflowProps) { p.Alerts = nil }, []string{"Alerts is required"}},
		{"no plan", func(p *aggregate.WorkflowProps) { p.Plan = nil }, []string{"Plan is required"}},
		{"no crawlers", func(p *aggregate.WorkflowProps) { p.Crawlers = nil }, []string{"Crawlers: give at least one crawler"}},
		{"nil crawler", func(p *aggregate.WorkflowProps) { p.Crawlers = append(p.Crawlers, nil) }, []string{"Crawlers[2] is nil"}},
		{"crawler twice", func(p *aggregate.WorkflowProps) { p.Crawlers = append(p.Crawlers, p.Crawlers[0]) }, []string{"Crawlers[2] is given twice"}},
		{"crawler not built by catalog.NewCrawler", func(p *aggregate.WorkflowProps) { p.Crawlers = []*catalog.Crawler{{}} },
			[]string{"Crawlers[0] has no Prefixes", "catalog.NewCrawler"}},
		{"no KPIs", func(p *aggregate.WorkflowProps) { p.KPIs = nil }, []string{"KPIs: give the catalog's KPI names"}},
		{"bad KPI name", func(p *aggregate.WorkflowProps) { p.KPIs = []string{"Active-Users"} }, []string{"KPIs[0]", "Active-Users", "snake_case"}},
		{"KPI twice", func(p *aggregate.WorkflowProps) { p.KPIs = []string{"a", "b", "a"} }, []string{`KPIs[2] "a" is given twice`}},
		{"no time zone", func(p *aggregate.WorkflowProps) { p.TimeZone = "" }, []string{"TimeZone is required", `"Asia/Tokyo"`}},
		{"unknown time zone", func(p *aggregate.WorkflowProps) { p.TimeZone = "Tokyo" }, []string{`TimeZone "Tokyo" is not an IANA time zone`}},
		{"negative concurrency", func(p *aggregate.WorkflowProps) { p.MaxConcurrency = -1 }, []string{"MaxConcurrency is -1"}},
		{"lookback beyond the bound", func(p *aggregate.WorkflowProps) { p.LookbackDays = 93 }, []string{"LookbackDays is 93", "1 to 92 days"}},
		{"negative lookback", func(p *aggregate.WorkflowProps) { p.LookbackDays = -1 }, []string{"LookbackDays is -1"}},
		{"snapshot removal", func(p *aggregate.WorkflowProps) { p.RemovalPolicy = awscdk.RemovalPolicy_SNAPSHOT }, []string{"RemovalPolicy", "not supported"}},
		{"every problem at once", func(p *aggregate.WorkflowProps) { *p = aggregate.WorkflowProps{MaxConcurrency: -2} },
			[]string{"Catalog is required", "Lake is required", "Alerts is required", "Plan is required", "Crawlers", "KPIs", "TimeZone is required", "MaxConcurrency is -2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			var p *aggregate.WorkflowProps
			cdktest.Setup(t, func() { p = newWorkflowDeps(stack).props() })
			tc.change(p)
			err := cdktest.Recover(func() { aggregate.NewWorkflow(stack, "Aggregate", p) })
			cdktest.WantError(t, "NewWorkflow", err, tc.want...)
		})
	}
	t.Run("nil props", func(t *testing.T) {
		err := cdktest.Recover(func() { aggregate.NewWorkflow(cdktest.TestStack(t), "Aggregate", nil) })
		if err == nil || !strings.Contains(err.Error(), "Catalog is required") {
			t.Errorf("NewWorkflow(nil) = %v, want a validation error", err)
		}
	})
}

// The plan function learns which raw prefixes each crawler catalogues from the crawlers that
// start the workflow, so that a crawler's event aggregates only the KPIs that read them.
func TestWorkflow_TellsThePlanWhatEachCrawlerCatalogues(t *testing.T) {
	s := must(t, defaultWorkflow)
	id := s.tp.LogicalID(s.plan.Function.FunctionName())
	env, _ := s.tp.Properties(t, id)["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if vars[contract.EnvTimeZone] != businessZone {
		t.Errorf("%s = %v, want %s", contract.EnvTimeZone, vars[contract.EnvTimeZone], businessZone)
	}
	// Render the crawlers' names, which CloudFormation resolves, as their logical IDs.
	var value strings.Builder
	switch v := vars[contract.EnvCrawlers].(type) {
	case map[string]any:
		join, _ := v["Fn::Join"].([]any)
		parts, _ := join[1].([]any)
		for _, part := range parts {
			if str, ok := part.(string); ok {
				value.WriteString(str)
			} else {
				ref, _ := part.(map[string]any)["Ref"].(string)
				value.WriteString("REF:" + ref)
			}
		}
	default:
		t.Fatalf("%s = %v, want the crawlers' names joined into JSON", contract.EnvCrawlers, vars[contract.EnvCrawlers])
	}
	got, err := plan.ParseCrawlers(value.String())
	if err != nil {
		t.Fatalf("the plan function would refuse %s: %v", contract.EnvCrawlers, err)
	}
	want := plan.Crawlers{}
	for i, src := range []string{"social", "app_logs"} {
		want["REF:"+s.tp.LogicalID(s.crawlers[i].Name())] = []string{src + "/"}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", contract.EnvCrawlers, diff)
	}
}

// The plan function reads the lake it is told about, and may only list the raw tables' folders
// and read the KPI tables' partitions.
func TestWorkflow_ThePlanReadsOnlyTheRawTablesFoldersAndTheKPIPartitions(t *testing.T) {
	s := must(t, func() (*synthesizedWorkflow, error) {
		return synthWorkflow(func(p *aggregate.WorkflowProps) {
			p.RawTables = []queries.SourceTable{{Source: "social", Table: "posts"}, queries.LogStream("web_access")}
			p.LookbackDays = 7
		})
	})
	id := s.tp.LogicalID(s.plan.Function.FunctionName())
	env, _ := s.tp.Properties(t, id)["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if vars[contract.EnvDatabase] != s.catalog.DatabaseName || vars[contract.EnvLookbackDays] != "7" ||
		cmp.Diff(map[string]any{"Ref": s.tp.LogicalID(s.lake.Raw.BucketName())}, vars[contract.EnvRawBucket]) != "" {
		t.Errorf("plan environment %v, want the database %s, the raw bucket and a lookback of 7", vars, s.catalog.DatabaseName)
	}
	raw := map[string]any{"Fn::GetAtt": []any{s.tp.LogicalID(s.lake.Raw.BucketName()), "Arn"}}
	var want []string
	want = append(want, cdktest.Permission("Allow", "s3:ListBucket", raw,
		map[string]any{"StringLike": map[string]any{"s3:prefix": []any{"app_logs/web_access/*", "social/posts/*"}}}))
	// Every KPI table by its reserved prefix: one statement for any number of KPIs.
	for _, arn := range []*string{s.catalog.CatalogArn(), s.catalog.DatabaseArn(), s.catalog.TablesArn(layout.KPITablePrefix)} {
		want = append(want, cdktest.Permission("Allow", "glue:GetPartitions", s.tp.Resolve(arn), nil))
	}
	var got []string
	for _, line := range s.tp.Permissions(s.tp.LogicalID(s.plan.Role.RoleName())) {
		if strings.Contains(line, "glue:") || strings.Contains(line, "s3:") || strings.Contains(line, "kms:") {
			got = append(got, line)
		}
	}
	if diff := cmp.Diff(sortedLines(want), sortedLines(got)); diff != "" {
		t.Errorf("plan role on the lake (-want +got):\n%s", diff)
	}
}

// The workflow suppresses the findings of its own resources and of its grants to the plan
// function: alone in a stack, it leaves no AwsSolutions finding.
func TestNewWorkflow_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() {
		d := newWorkflowDeps(stack)
		aggregate.NewWorkflow(stack, "Aggregation", d.props())
	})
	for _, under := range []string{"/Aggregation/", "/Plan/"} {
		for _, f := range cdktest.AwsSolutionsFindings(t, stack, under) {
			t.Error(f)
		}
	}
}
