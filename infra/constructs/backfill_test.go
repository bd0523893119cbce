//go:build !unit

package constructs

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/backfill"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	handler "github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
)

// deps are the constructs a backfill needs, as the stack wires them.
type backfillDeps struct {
	lake    *lake.Lake
	catalog *catalog.Catalog
	alerts  *alerts.Alerts
}

func newBackfillDeps(stack awscdk.Stack) *backfillDeps {
	d := &backfillDeps{lake: lake.NewLake(stack, "Lake", nil)}
	d.catalog = catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: d.lake})
	d.alerts = alerts.NewAlerts(stack, "Alerts", nil)
	return d
}

func (d *backfillDeps) props() *backfill.BackfillProps {
	return &backfill.BackfillProps{
		Catalog: d.catalog, Lake: d.lake, Alerts: d.alerts, KPIs: kpis, TimeZone: businessZone, Root: moduleRoot,
	}
}

type synthesizedBackfill struct {
	tp *cdktest.Template
	b  *backfill.Backfill
	*backfillDeps
	queue, dlq, fn, fnRole string
	// enqueuer is a role given GrantEnqueue.
	enqueuer string
}

func synthBackfill(change func(*backfill.BackfillProps)) (*synthesizedBackfill, error) {
	s := &synthesizedBackfill{}
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		s.backfillDeps = newBackfillDeps(stack)
		p := s.props()
		if change != nil {
			change(p)
		}
		s.b = backfill.NewBackfill(stack, "Backfill", p)
		operator := awsiam.NewRole(stack, jsii.String("Operator"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewAccountRootPrincipal(),
		})
		s.b.GrantEnqueue(operator)
		tp, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s.tp = tp
		s.queue = tp.LogicalID(s.b.Queue.QueueUrl())
		s.dlq = tp.LogicalID(s.b.DeadLetterQueue.QueueUrl())
		s.fn = tp.LogicalID(s.b.Worker.Function.FunctionName())
		s.fnRole = tp.LogicalID(s.b.Worker.Role.RoleName())
		s.enqueuer = tp.LogicalID(operator.RoleName())
	})
	return s, err
}

var configuredBackfill = sync.OnceValues(func() (*synthesizedBackfill, error) {
	return synthBackfill(func(p *backfill.BackfillProps) {
		p.MaxConcurrency = 7
		p.MaxMessageAge = 30 * time.Hour
	})
})

var defaultBackfill = sync.OnceValues(func() (*synthesizedBackfill, error) { return synthBackfill(nil) })

func TestBackfill_QueuesAreEncryptedAndKeepJobsFourteenDays(t *testing.T) {
	s := must(t, configuredBackfill)
	for name, q := range map[string]string{"queue": s.queue, "dead-letter queue": s.dlq} {
		t.Run(name, func(t *testing.T) {
			props := s.tp.Properties(t, q)
			if diff := cmp.Diff(map[string]any{"SqsManagedSseEnabled": true, "MessageRetentionPeriod": float64(14 * 24 * 3600)},
				map[string]any{"SqsManagedSseEnabled": props["SqsManagedSseEnabled"], "MessageRetentionPeriod": props["MessageRetentionPeriod"]}); diff != "" {
				t.Errorf("encryption and retention (-want +got):\n%s", diff)
			}
			if props["FifoQueue"] != nil || props["QueueName"] != nil {
				t.Errorf("queue %s: want a standard queue with a generated name", pretty(props))
			}
		})
	}
}

// Both queues deny any request that does not use TLS.
func TestBackfill_QueuesAcceptTLSOnly(t *testing.T) {
	s := must(t, configuredBackfill)
	for name, q := range map[string]string{"queue": s.queue, "dead-letter queue": s.dlq} {
		t.Run(name, func(t *testing.T) {
			want := map[string]any{
				"Effect":    "Deny",
				"Principal": map[string]any{"AWS": "*"},
				"Action":    "sqs:*",
				"Resource":  map[string]any{"Fn::GetAtt": []any{q, "Arn"}},
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}
			for _, pol := range s.tp.Resources("AWS::SQS::QueuePolicy") {
				props, _ := pol["Properties"].(map[string]any)
				if diff := cmp.Diff([]any{map[string]any{"Ref": q}}, props["Queues"]); diff != "" {
					continue
				}
				doc, _ := props["PolicyDocument"].(map[string]any)
				statements, _ := doc["Statement"].([]any)
				for _, st := range statements {
					if cmp.Equal(want, st) {
						return
					}
				}
				t.Fatalf("queue policy of %s has no TLS-only statement %s:\n%s", q, pretty(want), pretty(doc))
			}
			t.Errorf("no queue policy on %s", q)
		})
	}
}

func TestBackfill_QueueMovesAJobToTheDeadLetterQueueAfterThreeReceives(t *testing.T) {
	s := must(t, configuredBackfill)
	s.tp.HasProperties(t, s.queue, map[string]any{
		"RedrivePolicy": map[string]any{
			"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{s.dlq, "Arn"}},
			"maxReceiveCount":     3,
		},
	})
	if got := s.tp.Properties(t, s.dlq)["RedrivePolicy"]; got != nil {
		t.Errorf("dead-letter queue has a redrive policy %v; dead letters wait for an operator", got)
	}
}

// Lambda recommends a visibility timeout of at least 6 times the function's timeout, so that a
// job is not delivered again while a worker still runs it.
func TestBackfill_VisibilityTimeoutIsSixTimesTheWorkerTimeout(t *testing.T) {
	s := must(t, configuredBackfill)
	timeout, _ := s.tp.Properties(t, s.fn)["Timeout"].(float64)
	visibility, _ := s.tp.Properties(t, s.queue)["VisibilityTimeout"].(float64)
	if timeout != 15*60 {
		t.Errorf("worker Timeout = %v s, want 900 (a job runs every KPI of a day)", timeout)
	}
	if visibility < 6*timeout || visibility != 90*60 {
		t.Errorf("queue VisibilityTimeout = %v s, want 6 x the worker's %v s = 5400", visibility, timeout)
	}
	if backfill.VisibilityTimeout < 6*backfill.FunctionTimeout {
		t.Errorf("VisibilityTimeout %v < 6 x FunctionTimeout %v", backfill.VisibilityTimeout, backfill.FunctionTimeout)
	}
}

func TestBackfill_WorkerTakesOneJobAtATimeWithBoundedConcurrencyAndPartialFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		get  func() (*synthesizedBackfill, error)
		want int
	}{"configured": {configuredBackfill, 7}, "default": {defaultBackfill, backfill.DefaultMaxConcurrency}} {
		t.Run(name, func(t *testing.T) {
			s := must(t, tc.get)
			mappings := s.tp.Resources("AWS::Lambda::EventSourceMapping")
			if len(mappings) != 1 {
				t.Fatalf("event source mappings %s, want one", pretty(mappings))
			}
			for id := range mappings {
				s.tp.HasProperties(t, id, map[string]any{
					"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{s.queue, "Arn"}},
					"FunctionName":          map[string]any{"Ref": s.fn},
					"BatchSize":             1,
					"ScalingConfig":         map[string]any{"MaximumConcurrency": tc.want},
					"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
				})
				if w := s.tp.Properties(t, id)["MaximumBatchingWindowInSeconds"]; w != nil {
					t.Errorf("MaximumBatchingWindowInSeconds = %v; a job should start at once", w)
				}
			}
		})
	}
}

func TestBackfill_WorkerRunsOnArm64AL2023WithTheAggregateEnvironment(t *testing.T) {
	s := must(t, configuredBackfill)
	s.tp.HasProperties(t, s.fn, map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"MemorySize":    512,
		"TracingConfig": map[string]any{"Mode": "Active"},
	})
	env, _ := s.tp.Properties(t, s.fn)["Environment"].(map[string]any)
	if diff := cmp.Diff(map[string]any{
		contract.EnvDatabase:                   s.catalog.DatabaseName,
		contract.EnvWorkgroup:                  s.catalog.AggregationWorkgroupName,
		contract.EnvAggregatedBucket:           s.tp.Resolve(s.lake.Aggregated.BucketName()),
		contract.EnvResultLocation:             s.tp.Resolve(s.catalog.ResultsLocation),
		contract.EnvResultKMSKey:               s.tp.Resolve(s.lake.Key.KeyArn()),
		contract.EnvTimeZone:                   businessZone,
		contract.EnvRawBucket:                  s.tp.Resolve(s.lake.Raw.BucketName()),
		contract.EnvStateKeys:                  "{}",
		contract.EnvBackfillQueueURL:           map[string]any{"Ref": s.queue},
		contract.EnvBackfillDeadLetterQueueURL: map[string]any{"Ref": s.dlq},
	}, env["Variables"]); diff != "" {
		t.Errorf("worker environment (-want +got):\n%s", diff)
	}
}

// The worker runs the aggregate handler, so it needs exactly the aggregate function's grant, plus
// consuming the queue and sending (only sending) to the dead-letter queue.
func TestBackfill_WorkerMayAggregateItsKPIsConsumeTheQueueAndOnlySendDeadLetters(t *testing.T) {
	s := must(t, configuredBackfill)
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
	res := func(v *string) any { return tp.Resolve(v) }
	add(aggregate.AthenaActions, "arn:aws:athena:ap-northeast-1:123456789012:workgroup/"+s.catalog.AggregationWorkgroupName)
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
	add([]string{"s3:GetObject"}, objects(raw, ""))
	add([]string{"s3:ListBucket", "s3:GetBucketLocation"}, raw)
	// Every KPI's folder: the aggregated zone holds nothing else (layout.KPIsPrefix).
	add([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"}, objects(agg, layout.KPIsPrefix))
	add([]string{"s3:ListBucket"}, agg)
	add([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}, objects(results, "athena/"))
	want = append(want, cdktest.Permission("Allow", "s3:ListBucket", results, map[string]any{"StringLike": map[string]any{"s3:prefix": "athena/*"}}))
	add([]string{"s3:GetBucketLocation"}, agg, results)
	add([]string{"kms:Decrypt", "kms:GenerateDataKey"}, res(s.lake.Key.KeyArn()))
	add([]string{"kms:Decrypt"}, res(s.lake.RawKey.KeyArn()))
	add([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, res(s.b.Worker.LogGroup.LogGroupArn()))
	add([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "*")

	// The event source's grant; the worker's lease (lambdas/backfill) needs sqs:ChangeMessageVisibility.
	add([]string{"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
		res(s.b.Queue.QueueArn()))
	// A job no retry can fix goes to the dead-letter queue; the rest of a job one invocation could
	// not finish goes on to the queue (lambdas/backfill's continuations).
	add([]string{"sqs:SendMessage"}, res(s.b.DeadLetterQueue.QueueArn()), res(s.b.Queue.QueueArn()))
	if diff := cmp.Diff(sortedLines(want), sortedLines(tp.Permissions(s.fnRole))); diff != "" {
		t.Errorf("permissions of the worker (-want +got):\n%s", diff)
	}
}

func TestBackfill_GrantEnqueueAllowsSendingToTheQueueOnly(t *testing.T) {
	s := must(t, configuredBackfill)
	q := s.tp.Resolve(s.b.Queue.QueueArn())
	var want []string
	for _, a := range []string{"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"} {
		want = append(want, cdktest.Permission("Allow", a, q, nil))
	}
	if diff := cmp.Diff(sortedLines(want), sortedLines(s.tp.Permissions(s.enqueuer))); diff != "" {
		t.Errorf("permissions of an enqueuer (-want +got):\n%s", diff)
	}
}

func TestBackfill_AlarmsOnDeadLettersAndOnOldJobsToTheAlertTopic(t *testing.T) {
	for name, tc := range map[string]struct {
		get    func() (*synthesizedBackfill, error)
		maxAge time.Duration
	}{"configured": {configuredBackfill, 30 * time.Hour}, "default": {defaultBackfill, 72 * time.Hour}} {
		t.Run(name, func(t *testing.T) {
			s := must(t, tc.get)
			tp := s.tp
			topic := tp.Resolve(s.alerts.Topic.TopicArn())
			alarm := func(queue, metric string, threshold float64) map[string]any {
				return map[string]any{
					"Namespace":          "AWS/SQS",
					"MetricName":         metric,
					"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{queue, "QueueName"}}}},
					"Statistic":          "Maximum",
					"Period":             300,
					"EvaluationPeriods":  1,
					"Threshold":          threshold,
					"ComparisonOperator": "GreaterThanOrEqualToThreshold",
					"TreatMissingData":   "notBreaching",
					"AlarmActions":       []any{topic},
				}
			}
			dl := tp.LogicalID(s.b.DeadLetterAlarm.AlarmName())
			tp.HasProperties(t, dl, alarm(s.dlq, "ApproximateNumberOfMessagesVisible", 1))
			age := tp.LogicalID(s.b.MessageAgeAlarm.AlarmName())
			tp.HasProperties(t, age, alarm(s.queue, "ApproximateAgeOfOldestMessage", tc.maxAge.Seconds()))
			for id, words := range map[string][]string{
				dl:  {"dead-letter queue", "failed 3 times", handler.AttrError},
				age: {"oldest backfill job", "14 days"},
			} {
				desc, _ := tp.Properties(t, id)["AlarmDescription"].(string)
				for _, w := range words {
					if !strings.Contains(desc, w) {
						t.Errorf("alarm %s description %q does not mention %q", id, desc, w)
					}
				}
			}
			if n := len(tp.Resources("AWS::CloudWatch::Alarm")); n != 2 {
				t.Errorf("%d alarms, want 2", n)
			}
		})
	}
}

func TestNewBackfill_FailsIf(t *testing.T) {
	id := `backfill.NewBackfill "Backfill"`
	for _, tc := range []struct {
		name   string
		change func(*backfill.BackfillProps)
		want   []string
	}{
		{"no catalog", func(p *backfill.BackfillProps) { p.Catalog = nil }, []string{id, "Catalog is required"}},
		{"no lake", func(p *backfill.BackfillProps) { p.Lake = nil }, []string{"Lake is required"}},
		{"no alerts", func(p *backfill.BackfillProps) { p.Alerts = nil }, []string{"Alerts is required"}},
		{"no KPIs", func(p *backfill.BackfillProps) { p.KPIs = nil }, []string{"KPIs: give the catalog's KPI names"}},
		{"bad KPI name", func(p *backfill.BackfillProps) { p.KPIs = []string{"Active-Users"} }, []string{"KPIs[0]", "Active-Users", "snake_case"}},
		{"KPI twice", func(p *backfill.BackfillProps) { p.KPIs = []string{"a", "b", "a"} }, []string{`KPIs[2] "a" is given twice`}},
		{"no time zone", func(p *backfill.BackfillProps) { p.TimeZone = "" }, []string{"TimeZone is required", `"Asia/Tokyo"`}},
		{"unknown time zone", func(p *backfill.BackfillProps) { p.TimeZone = "Tokyo" }, []string{`TimeZone "Tokyo" is not an IANA time zone`}},
		{"concurrency of one", func(p *backfill.BackfillProps) { p.MaxConcurrency = 1 }, []string{"MaxConcurrency is 1", "2 to 1000", "Athena"}},
		{"negative concurrency", func(p *backfill.BackfillProps) { p.MaxConcurrency = -3 }, []string{"MaxConcurrency is -3"}},
		{"concurrency above SQS's limit", func(p *backfill.BackfillProps) { p.MaxConcurrency = 1001 }, []string{"MaxConcurrency is 1001"}},
		{"message age under an hour", func(p *backfill.BackfillProps) { p.MaxMessageAge = 59 * time.Minute }, []string{"MaxMessageAge is 59m0s", "1h0m0s to 312h0m0s"}},
		{"message age past the last day of retention", func(p *backfill.BackfillProps) { p.MaxMessageAge = 313 * time.Hour },
			[]string{"MaxMessageAge is 313h0m0s", "deletes a job after 336h0m0s"}},
		{"message age in fractions of a second", func(p *backfill.BackfillProps) { p.MaxMessageAge = 2*time.Hour + time.Millisecond },
			[]string{"MaxMessageAge is 2h0m0.001s", "whole seconds"}},
		{"snapshot removal", func(p *backfill.BackfillProps) { p.RemovalPolicy = awscdk.RemovalPolicy_SNAPSHOT }, []string{"RemovalPolicy", "not supported"}},
		{"every problem at once", func(p *backfill.BackfillProps) {
			*p = backfill.BackfillProps{MaxConcurrency: 1, MaxMessageAge: time.Minute}
		}, []string{"Catalog is required", "Lake is required", "Alerts is required", "KPIs", "TimeZone is required", "MaxConcurrency is 1", "MaxMessageAge is 1m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			var p *backfill.BackfillProps
			cdktest.Setup(t, func() { p = newBackfillDeps(stack).props() })
			tc.change(p)
			err := cdktest.Recover(func() { backfill.NewBackfill(stack, "Backfill", p) })
			cdktest.WantError(t, "NewBackfill", err, tc.want...)
		})
	}
	t.Run("nil props", func(t *testing.T) {
		err := cdktest.Recover(func() { backfill.NewBackfill(cdktest.TestStack(t), "Backfill", nil) })
		if err == nil || !strings.Contains(err.Error(), "Catalog is required") {
			t.Errorf("NewBackfill(nil) = %v, want a validation error", err)
		}
	})
}

// The boundaries of the props are accepted.
func TestNewBackfill_AcceptsBoundaryValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*backfill.BackfillProps)
	}{
		{"least concurrency and age", func(p *backfill.BackfillProps) { p.MaxConcurrency = 2; p.MaxMessageAge = time.Hour }},
		{"most concurrency and age", func(p *backfill.BackfillProps) { p.MaxConcurrency = 1000; p.MaxMessageAge = 312 * time.Hour }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			var p *backfill.BackfillProps
			cdktest.Setup(t, func() { p = newBackfillDeps(stack).props() })
			tc.change(p)
			if err := cdktest.Recover(func() { backfill.NewBackfill(stack, "Backfill", p) }); err != nil {
				t.Errorf("NewBackfill: %v", err)
			}
		})
	}
}

// The backfill suppresses the findings of its own resources: alone in a stack, it leaves no
// AwsSolutions finding.
func TestNewBackfill_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() {
		backfill.NewBackfill(stack, "Backfill", newBackfillDeps(stack).props())
	})
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Backfill/") {
		t.Error(f)
	}
}
