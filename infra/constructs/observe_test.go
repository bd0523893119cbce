//go:build !unit

package constructs

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/backfill"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/limits"
	"github.com/kpilake/kpilake/infra/observe"
	"github.com/kpilake/kpilake/lambdas/metrics"
)

// observedKPIs are the KPIs that Observe watches.
var observedKPIs = []string{"active_users", "engagement_score"}

// env is the environment that Observe names in its alarms.
const env = "staging"

// entry is any Go main package: the functions' code does not matter to these tests.
var entry = filepath.Join(moduleRoot, "lambdas", "cmd", "plan")

// synthesized is a stack with every kind of resource Observe watches, and Observe.
type synthesizedObserve struct {
	tp *cdktest.Template
	o  *observe.Observe
	// Logical IDs.
	topic, extraction, aggregation, plan, worker, failedRule, succeededRule, stream, scheduleDLQ, startDLQ string
	backfillQueue, backfillDLQ, backfillDLQAlarm, backfillAgeAlarm                                         string
	streamFailingAlarm, streamLateAlarm                                                                    string
}

func synthObserve(change func(*observe.ObserveProps)) (*synthesizedObserve, error) {
	s := &synthesizedObserve{}
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		lk := lake.NewLake(stack, "Lake", nil)
		cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lk})
		al := alerts.NewAlerts(stack, "Alerts", nil)
		flow := func(id string) awsstepfunctions.StateMachine {
			return awsstepfunctions.NewStateMachine(stack, jsii.String(id), &awsstepfunctions.StateMachineProps{
				DefinitionBody: awsstepfunctions.DefinitionBody_FromChainable(awsstepfunctions.NewPass(stack, jsii.String(id+"Pass"), nil)),
			})
		}
		extraction, aggregation := flow("Extraction"), flow("Aggregation")
		plan := golambda.NewFunction(stack, "Plan", &golambda.FunctionProps{Entry: entry})
		rule := func(id, state string) awsevents.Rule {
			return awsevents.NewRule(stack, jsii.String(id), &awsevents.RuleProps{EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings("aws.glue"), Detail: &map[string]any{"state": []string{state}},
			}})
		}
		failed, succeeded := rule("CrawlerFailed", "Failed"), rule("CrawlerSucceeded", "Succeeded")
		stream := ingest.NewLogStream(stack, "LogStream", &ingest.LogStreamProps{Lake: lk, Name: "web_access", BufferInterval: 120 * time.Second, Alerts: al})
		scheduleDLQ := awssqs.NewQueue(stack, jsii.String("ScheduleDLQ"), nil)
		startDLQ := awssqs.NewQueue(stack, jsii.String("StartDLQ"), nil)
		bf := backfill.NewBackfill(stack, "Backfill", &backfill.BackfillProps{
			Catalog: cat, Lake: lk, Alerts: al, KPIs: observedKPIs, TimeZone: businessZone, Root: moduleRoot, WorkerEntry: entry,
		})
		p := &observe.ObserveProps{
			Environment: env,
			TimeZone:    businessZone,
			Alerts:      al,
			Workflows: []observe.Workflow{
				{Name: "Extraction-social", StateMachine: extraction}, {Name: "Aggregation", StateMachine: aggregation},
			},
			Functions: []observe.Function{
				{Name: "Plan", Function: plan}, {Name: "BackfillWorker", Function: bf.Worker},
			},
			CrawlerFailedRule:    failed,
			CrawlerSucceededRule: succeeded,
			LogStreams:           []observe.LogStream{{Name: "web_access", Stream: stream}},
			KPIs:                 observedKPIs,
			Extractions:          []observe.Extraction{sourceTables{"social", []string{"users", "posts"}}},
			Backfill:             bf,
			DeadLetterQueues: []observe.Queue{
				{Name: "ExtractionSchedule-social", Queue: scheduleDLQ, Holds: "schedule invocations", Remedy: "so the day's extraction did not run."},
				{Name: "AggregationStart", Queue: startDLQ, Holds: "crawler events"},
			},
			FreshnessLag:          30 * time.Hour,
			LambdaErrorsThreshold: 3,
		}
		if change != nil {
			change(p)
		}
		s.o = observe.NewObserve(stack, "Observe", p)
		tp, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s.tp = tp
		s.topic = tp.LogicalID(al.Topic.TopicArn())
		s.extraction = tp.LogicalID(extraction.StateMachineArn())
		s.aggregation = tp.LogicalID(aggregation.StateMachineArn())
		s.plan = tp.LogicalID(plan.Function.FunctionName())
		s.worker = tp.LogicalID(bf.Worker.Function.FunctionName())
		s.failedRule = tp.LogicalID(failed.RuleName())
		s.succeededRule = tp.LogicalID(succeeded.RuleName())
		s.stream = tp.LogicalID(stream.Name())
		s.scheduleDLQ = tp.LogicalID(scheduleDLQ.QueueUrl())
		s.startDLQ = tp.LogicalID(startDLQ.QueueUrl())
		s.backfillQueue = tp.LogicalID(bf.Queue.QueueUrl())
		s.backfillDLQ = tp.LogicalID(bf.DeadLetterQueue.QueueUrl())
		s.backfillDLQAlarm = alarmID(tp, bf.DeadLetterAlarm)
		s.backfillAgeAlarm = alarmID(tp, bf.MessageAgeAlarm)
		s.streamFailingAlarm = alarmID(tp, stream.DeliveryFailingAlarm)
		s.streamLateAlarm = alarmID(tp, stream.DeliveryLateAlarm)
	})
	return s, err
}

// alarmID is the logical ID of an alarm (whose Ref is its name).
func alarmID(tp *cdktest.Template, a awscloudwatch.Alarm) string {
	return tp.LogicalID(a.AlarmName())
}

var full = sync.OnceValues(func() (*synthesizedObserve, error) { return synthObserve(nil) })

func dims(kv ...any) []any {
	var out []any
	for i := 0; i < len(kv); i += 2 {
		out = append(out, map[string]any{"Name": kv[i], "Value": kv[i+1]})
	}
	return out
}

// plainAlarm is the exact shape of a single-metric alarm of Observe.
type plainAlarm struct {
	namespace, metric, stat string
	dimensions              []any
	period, threshold       float64
	comparison, missing     string
}

func (s *synthesizedObserve) checkPlainAlarm(t *testing.T, a awscloudwatch.Alarm, want plainAlarm) {
	t.Helper()
	id := alarmID(s.tp, a)
	props := s.tp.Properties(t, id)
	got := map[string]any{}
	for _, k := range []string{"Namespace", "MetricName", "Statistic", "Dimensions", "Period", "Threshold", "ComparisonOperator",
		"EvaluationPeriods", "DatapointsToAlarm", "TreatMissingData", "AlarmActions", "OKActions", "AlarmName", "Metrics"} {
		if v, ok := props[k]; ok {
			got[k] = v
		}
	}
	w := map[string]any{
		"Namespace": want.namespace, "MetricName": want.metric, "Statistic": want.stat, "Dimensions": want.dimensions,
		"Period": want.period, "Threshold": want.threshold, "ComparisonOperator": want.comparison,
		"EvaluationPeriods": float64(1), "DatapointsToAlarm": float64(1), "TreatMissingData": want.missing,
		"AlarmActions": []any{ref(s.topic)},
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("alarm %s (-want +got):\n%s", id, diff)
	}
	desc, _ := props["AlarmDescription"].(string)
	if !strings.HasPrefix(desc, "kpilake "+env+": ") || len(desc) < 100 {
		t.Errorf("alarm %s: description %q should start with %q and say what happened and what to do", id, desc, "kpilake "+env+": ")
	}
}

func TestObserve_AlarmsOnFailedAndTimedOutExecutionsOfEveryWorkflow(t *testing.T) {
	s := must(t, full)
	for name, sm := range map[string]string{"Extraction-social": s.extraction, "Aggregation": s.aggregation} {
		t.Run(name, func(t *testing.T) {
			for metric, a := range map[string]awscloudwatch.Alarm{
				"ExecutionsFailed": s.o.ExecutionsFailed[name], "ExecutionsTimedOut": s.o.ExecutionsTimedOut[name],
			} {
				if a == nil {
					t.Fatalf("no %s alarm", metric)
				}
				s.checkPlainAlarm(t, a, plainAlarm{
					namespace: "AWS/States", metric: metric, stat: "Sum", dimensions: dims("StateMachineArn", ref(sm)),
					period: 300, threshold: 1, comparison: "GreaterThanOrEqualToThreshold", missing: "notBreaching",
				})
			}
		})
	}
}

func TestObserve_AlarmsOnErrorsAndThrottlesOfEveryFunction(t *testing.T) {
	s := must(t, full)
	for name, fn := range map[string]string{"Plan": s.plan, "BackfillWorker": s.worker} {
		t.Run(name, func(t *testing.T) {
			s.checkPlainAlarm(t, s.o.Errors[name], plainAlarm{
				namespace: "AWS/Lambda", metric: "Errors", stat: "Sum", dimensions: dims("FunctionName", ref(fn)),
				period: 300, threshold: 3, comparison: "GreaterThanOrEqualToThreshold", missing: "notBreaching",
			})
			s.checkPlainAlarm(t, s.o.Throttles[name], plainAlarm{
				namespace: "AWS/Lambda", metric: "Throttles", stat: "Sum", dimensions: dims("FunctionName", ref(fn)),
				period: 300, threshold: 1, comparison: "GreaterThanOrEqualToThreshold", missing: "notBreaching",
			})
		})
	}
}

// The Lambdas' metric records carry the Environment dimension only when the variable is set.
func TestObserve_AlarmsOnTheCrawlerFailureRulesMatches(t *testing.T) {
	s := must(t, full)
	s.checkPlainAlarm(t, s.o.CrawlerFailed, plainAlarm{
		namespace: "AWS/Events", metric: "MatchedEvents", stat: "Sum", dimensions: dims("RuleName", ref(s.failedRule)),
		period: 300, threshold: 1, comparison: "GreaterThanOrEqualToThreshold", missing: "notBreaching",
	})
}

func TestObserve_AlarmsOnEveryOtherDeadLetterQueue(t *testing.T) {
	s := must(t, full)
	for name, q := range map[string]string{"ExtractionSchedule-social": s.scheduleDLQ, "AggregationStart": s.startDLQ} {
		s.checkPlainAlarm(t, s.o.DeadLetters[name], plainAlarm{
			namespace: "AWS/SQS", metric: "ApproximateNumberOfMessagesVisible", stat: "Maximum",
			dimensions: dims("QueueName", getAtt(q, "QueueName")),
			period:     300, threshold: 1, comparison: "GreaterThanOrEqualToThreshold", missing: "notBreaching",
		})
	}
	if _, ok := s.o.DeadLetters["Backfill"]; ok {
		t.Error("the backfill's dead-letter queue has its own alarm (backfill.Backfill.DeadLetterAlarm); Observe must not add another")
	}
	for name, want := range map[string]string{
		"ExtractionSchedule-social": "dead-letter queue ExtractionSchedule-social holds schedule invocations, so the day's extraction did not run.",
		"AggregationStart":          "dead-letter queue AggregationStart holds crawler events, so a day was not processed. Read the message",
	} {
		desc, _ := s.tp.Properties(t, s.tp.LogicalID(s.o.DeadLetters[name].AlarmName()))["AlarmDescription"].(string)
		if !strings.Contains(desc, want) {
			t.Errorf("alarm of %s says %q, want it to say %q", name, desc, want)
		}
	}
}

// hasProps checks the properties of want in props, and only those.
func hasProps(t *testing.T, what string, props, want map[string]any) {
	t.Helper()
	got := map[string]any{}
	for key := range want {
		got[key] = props[key]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// One alarm watches every KPI's freshness: a Metrics Insights query of the hourly sweep's
// NewestDayAge grouped by KPI, each KPI a contributor that CloudWatch evaluates apart and names in
// the alarm's reason; it fires when the newest day a KPI serves ended more than the lag ago (two
// hours running, so that one late sweep is not an alarm), and when the sweep reports nothing.
func TestObserve_AlarmsWhenAKPIIsNotFresh(t *testing.T) {
	s := must(t, full)
	if s.o.Freshness == nil {
		t.Fatal("no freshness alarm")
	}
	props := s.tp.Properties(t, alarmID(s.tp, s.o.Freshness))
	want := map[string]any{
		"ComparisonOperator": "GreaterThanThreshold",
		"Threshold":          float64(30 * 3600),
		"EvaluationPeriods":  float64(2),
		"DatapointsToAlarm":  float64(2),
		"TreatMissingData":   "breaching",
		"AlarmActions":       []any{ref(s.topic)},
		"Metrics": []any{map[string]any{
			"Id":         "expr_1",
			"Expression": `SELECT MAX(NewestDayAge) FROM SCHEMA("KpiLake", Environment, KPI) WHERE Environment = '` + env + `' GROUP BY KPI`,
			"Label":      "newest day's age (s), per KPI",
			"Period":     float64(3600),
			"ReturnData": true,
		}},
	}
	hasProps(t, "freshness alarm", props, want)
	for _, single := range []string{"MetricName", "Namespace", "Statistic", "Period", "Dimensions", "OKActions"} {
		if v, ok := props[single]; ok {
			t.Errorf("freshness alarm has %s %v; want only the query", single, v)
		}
	}
	desc, _ := props["AlarmDescription"].(string)
	for _, want := range []string{"A KPI is stale", "names the KPIs", "sweep", "waiting_for", "kpilake backfill --env", "naming the KPIs it waits for", "a backfill of older days does not clear it"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description %q should say %q: how it names the KPIs, where a deferral shows, how to publish the day by hand, what does not clear it", desc, want)
		}
	}
	if len(desc) > 1024 {
		t.Errorf("description is %d characters; CloudWatch takes at most 1024", len(desc))
	}
}

// A crawl's plan that finds a day of a KPI with inputs older than the lag and no publication
// that reflects them alarms at once; an hour without a crawl says nothing. One alarm covers every
// KPI: a Metrics Insights query grouped by KPI, whose every KPI is a contributor that CloudWatch
// names in the alarm's reason, so that 500 KPIs are one alarm, not 500.
func TestObserve_AlarmsWhenAKPIHasAGap(t *testing.T) {
	s := must(t, full)
	if s.o.Gap == nil {
		t.Fatal("no gap alarm")
	}
	props := s.tp.Properties(t, alarmID(s.tp, s.o.Gap))
	want := map[string]any{
		"ComparisonOperator": "GreaterThanThreshold",
		"Threshold":          float64(30 * 3600),
		"EvaluationPeriods":  float64(1),
		"DatapointsToAlarm":  float64(1),
		"TreatMissingData":   "notBreaching",
		"AlarmActions":       []any{ref(s.topic)},
		"Metrics": []any{map[string]any{
			"Id":         "expr_1",
			"Expression": `SELECT MAX(UnpublishedDayAge) FROM SCHEMA("KpiLake", Environment, KPI) WHERE Environment = '` + env + `' GROUP BY KPI`,
			"Label":      "oldest unpublished input (s), per KPI",
			"Period":     float64(3600),
			"ReturnData": true,
		}},
	}
	hasProps(t, "gap alarm", props, want)
	desc, _ := props["AlarmDescription"].(string)
	for _, want := range []string{"A KPI has a gap", "30 hours", "names the KPIs", `"unpublished days"`, "README"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description %q should say %q", desc, want)
		}
	}
}

func TestObserve_CreatesOneAlarmPerCheckAndNoOther(t *testing.T) {
	s := must(t, full)
	// 2 workflows x 2, 2 functions x 2, crawler, 2 dead-letter queues, one freshness and one
	// gap alarm for every KPI.
	const want = 4 + 4 + 1 + 2 + 1 + 1
	if got := len(s.o.Alarms); got != want {
		t.Errorf("Observe created %d alarms, want %d", got, want)
	}
	// Plus the log stream's and the backfill's own two each.
	if got := len(s.tp.Resources("AWS::CloudWatch::Alarm")); got != want+4 {
		t.Errorf("template has %d alarms, want %d", got, want+4)
	}
	for id, res := range s.tp.Resources("AWS::CloudWatch::Alarm") {
		props, _ := res["Properties"].(map[string]any)
		if props["AlarmName"] != nil {
			t.Errorf("alarm %s has a physical name %v; let CloudFormation name it", id, props["AlarmName"])
		}
	}
}

func TestObserve_NotifiesRecoveryWhenAsked(t *testing.T) {
	s, err := synthObserve(func(p *observe.ObserveProps) { p.NotifyOnRecovery = true })
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.o.Alarms {
		id := alarmID(s.tp, a)
		if diff := cmp.Diff([]any{ref(s.topic)}, s.tp.Properties(t, id)["OKActions"]); diff != "" {
			t.Errorf("alarm %s OKActions (-want +got):\n%s", id, diff)
		}
	}
}

func TestObserve_AppliesDefaults(t *testing.T) {
	s, err := synthObserve(func(p *observe.ObserveProps) {
		p.FreshnessLag = 0
		p.LambdaErrorsThreshold = 0
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(a awscloudwatch.Alarm, key string, want float64) {
		t.Helper()
		id := alarmID(s.tp, a)
		if got := s.tp.Properties(t, id)[key]; got != want {
			t.Errorf("alarm %s %s = %v, want %v", id, key, got, want)
		}
	}
	check(s.o.Freshness, "Threshold", observe.DefaultFreshnessLag.Seconds())
	check(s.o.Gap, "Threshold", observe.DefaultFreshnessLag.Seconds())
	check(s.o.Errors["Plan"], "Threshold", observe.DefaultLambdaErrorsThreshold)
}

func TestObserve_FailsOnInvalidProps(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *observe.ObserveProps)
		want   []string
	}{
		{"no alerts", func(p *observe.ObserveProps) { p.Alerts = nil }, []string{"Alerts is required"}},
		{"no environment", func(p *observe.ObserveProps) { p.Environment = "" }, []string{"Environment is required", `"prod"`}},
		{"environment with a newline", func(p *observe.ObserveProps) { p.Environment = "a\nb" }, []string{"printable ASCII"}},
		{"no time zone", func(p *observe.ObserveProps) { p.TimeZone = "" }, []string{"TimeZone is required", "Asia/Tokyo"}},
		{"unknown time zone", func(p *observe.ObserveProps) { p.TimeZone = "Asia/Tokio" }, []string{`TimeZone "Asia/Tokio" is not an IANA time zone`}},
		{"workflow without a name", func(p *observe.ObserveProps) { p.Workflows[1].Name = "" }, []string{`Workflows[1].Name ""`, "starting with a letter"}},
		{"workflow name with a slash", func(p *observe.ObserveProps) { p.Workflows[0].Name = "a/b" }, []string{`Workflows[0].Name "a/b"`}},
		{"workflows sharing a name", func(p *observe.ObserveProps) { p.Workflows[1].Name = p.Workflows[0].Name },
			[]string{`Workflows[1].Name "Extraction-social" is already used by Workflows[0]`}},
		{"workflow without a state machine", func(p *observe.ObserveProps) { p.Workflows[0].StateMachine = nil },
			[]string{"Workflows[0].StateMachine is required"}},
		{"function without a function", func(p *observe.ObserveProps) { p.Functions[1].Function = nil }, []string{"Functions[1].Function is required"}},
		{"functions sharing a name", func(p *observe.ObserveProps) { p.Functions[1].Name = "Plan" }, []string{`Functions[1].Name "Plan" is already used by Functions[0]`}},
		{"queue without what it holds", func(p *observe.ObserveProps) { p.DeadLetterQueues[0].Holds = "" }, []string{"DeadLetterQueues[0].Holds is required"}},
		{"log stream name not snake_case", func(p *observe.ObserveProps) { p.LogStreams[0].Name = "Web" }, []string{"LogStreams[0].Name", "not snake_case"}},
		{"log stream without a stream", func(p *observe.ObserveProps) { p.LogStreams[0].Stream = nil }, []string{"LogStreams[0].Stream is required"}},
		{"KPI not snake_case", func(p *observe.ObserveProps) { p.KPIs = []string{"ActiveUsers"} }, []string{"KPIs[0]", "not snake_case"}},
		{"KPI given twice", func(p *observe.ObserveProps) { p.KPIs = []string{"a", "a"} }, []string{`KPIs[1] "a" is given twice`}},
		{"nil extraction", func(p *observe.ObserveProps) { p.Extractions = append(p.Extractions, nil) }, []string{"Extractions[1] is nil"}},
		{"nil extraction pointer", func(p *observe.ObserveProps) {
			p.Extractions = append(p.Extractions, (*ingest.DatabaseExtraction)(nil))
		}, []string{"Extractions[1] is nil"}},
		{"lag of a day", func(p *observe.ObserveProps) { p.FreshnessLag = 24 * time.Hour },
			[]string{"FreshnessLag is 24h0m0s", "from 25h0m0s (a day is published once a day) to 168h0m0s"}},
		{"lag beyond a week", func(p *observe.ObserveProps) { p.FreshnessLag = 169 * time.Hour }, []string{"FreshnessLag is 169h0m0s", "168h0m0s"}},
		{"lag in part hours", func(p *observe.ObserveProps) { p.FreshnessLag = 30*time.Hour + time.Minute }, []string{"FreshnessLag is 30h1m0s", "whole hours"}},
		{"negative errors threshold", func(p *observe.ObserveProps) { p.LambdaErrorsThreshold = -1 }, []string{"LambdaErrorsThreshold is -1", "1 or more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := synthObserve(tt.change)
			if err == nil {
				t.Fatal("NewObserve succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, `observe.NewObserve "Observe"`) {
				t.Errorf("error %q does not name the construct", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestObserve_ReportsEveryProblemAtOnce(t *testing.T) {
	err := cdktest.Recover(func() {
		observe.NewObserve(cdktest.NewStack("Test"), "Observe", &observe.ObserveProps{FreshnessLag: time.Hour, LambdaErrorsThreshold: -1})
	})
	if err == nil {
		t.Fatal("NewObserve succeeded, want an error")
	}
	for _, w := range []string{"Alerts is required", "Environment is required", "TimeZone is required", "FreshnessLag is 1h0m0s", "LambdaErrorsThreshold is -1"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// body is the dashboard's DashboardBody with its Fn::Join resolved: a Ref becomes "${Id}", a
// GetAtt "${Id.Attr}".
func body(t *testing.T, s *synthesizedObserve) map[string]any {
	t.Helper()
	id := s.tp.LogicalID(s.o.Dashboard.DashboardName())
	props := s.tp.Properties(t, id)
	if props["DashboardName"] != nil {
		t.Errorf("dashboard has a physical name %v; let CloudFormation name it", props["DashboardName"])
	}
	var parts []any
	switch v := props["DashboardBody"].(type) {
	case string:
		parts = []any{v}
	case map[string]any:
		join, _ := v["Fn::Join"].([]any)
		if len(join) != 2 {
			t.Fatalf("DashboardBody is not an Fn::Join: %v", v)
		}
		parts, _ = join[1].([]any)
	}
	var b strings.Builder
	for _, part := range parts {
		switch v := part.(type) {
		case string:
			b.WriteString(v)
		case map[string]any:
			if r, ok := v["Ref"].(string); ok {
				b.WriteString("${" + r + "}")
			} else if g, ok := v["Fn::GetAtt"].([]any); ok {
				b.WriteString(fmt.Sprintf("${%s.%s}", g[0], g[1]))
			} else {
				t.Fatalf("unexpected intrinsic in DashboardBody: %v", v)
			}
		}
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil {
		t.Fatalf("DashboardBody is not JSON once resolved: %v\n%s", err, b.String())
	}
	return out
}

type widget struct {
	Type                string
	X, Y, Width, Height float64
	Properties          map[string]any
}

func widgets(t *testing.T, s *synthesizedObserve) []widget {
	t.Helper()
	raw, _ := json.Marshal(body(t, s)["widgets"])
	var ws []widget
	if err := json.Unmarshal(raw, &ws); err != nil {
		t.Fatal(err)
	}
	return ws
}

func find(t *testing.T, ws []widget, title string) widget {
	t.Helper()
	for _, w := range ws {
		if w.Properties["title"] == title {
			return w
		}
	}
	t.Fatalf("dashboard has no widget %q", title)
	return widget{}
}

// metricLines renders each metric line of a graph as one string: "Namespace MetricName Dim=Value
// ... {options}", or "expr: <expression> {options}".
func metricLines(w widget) []string {
	var out []string
	for _, m := range w.Properties["metrics"].([]any) {
		parts := m.([]any)
		opts, _ := parts[len(parts)-1].(map[string]any)
		var fields []string
		if len(parts) == 1 {
			fields = append(fields, "expr: "+fmt.Sprint(opts["expression"]))
		} else {
			fields = append(fields, fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
			for i := 2; i+1 < len(parts); i += 2 {
				fields = append(fields, fmt.Sprintf("%v=%v", parts[i], parts[i+1]))
			}
		}
		var keys []string
		for k := range opts {
			if k != "expression" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		var o []string
		for _, k := range keys {
			o = append(o, fmt.Sprintf("%s:%v", k, opts[k]))
		}
		out = append(out, strings.Join(fields, " ")+" {"+strings.Join(o, " ")+"}")
	}
	return out
}

func TestDashboard_HasTheWidgetsInOrder(t *testing.T) {
	s := must(t, full)
	var got []string
	for _, w := range widgets(t, s) {
		title, _ := w.Properties["title"].(string)
		got = append(got, w.Type+" "+title)
	}
	want := []string{
		"text ",
		"alarm " + observe.TitleAlarms,
		"metric " + observe.TitleRunsPrefix + "Extraction-social",
		"metric " + observe.TitleRunsPrefix + "Aggregation",
		"metric " + observe.TitleCrawls,
		"metric " + observe.TitleFreshness,
		"metric " + observe.TitleBytesScanned,
		"metric " + observe.TitleEngineTime,
		"metric " + observe.TitleRowsExtracted,
		"metric " + observe.TitleBytesExtracted,
		"metric " + observe.TitleLogStreams,
		"metric " + observe.TitleBackfill,
		"metric " + observe.TitleDeadLetters,
		"metric " + observe.TitleLambdaErrors,
		"metric " + observe.TitleLambdaThrottles,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("widgets (-want +got):\n%s", diff)
	}
	b := body(t, s)
	if b["start"] != "-P7D" || b["periodOverride"] != "inherit" {
		t.Errorf("dashboard start %v, periodOverride %v; want -P7D and inherit (daily graphs stay daily)", b["start"], b["periodOverride"])
	}
	for _, w := range widgets(t, s) {
		if w.X+w.Width > 24 {
			t.Errorf("widget %v overflows the 24-unit grid: x %v width %v", w.Properties["title"], w.X, w.Width)
		}
	}
}

func TestDashboard_ShowsTheStatusOfEveryAlarm(t *testing.T) {
	s := must(t, full)
	w := find(t, widgets(t, s), observe.TitleAlarms)
	var want []any
	for _, a := range s.o.Alarms {
		want = append(want, "${"+alarmID(s.tp, a)+".Arn}")
	}
	want = append(want, "${"+s.streamFailingAlarm+".Arn}", "${"+s.streamLateAlarm+".Arn}",
		"${"+s.backfillDLQAlarm+".Arn}", "${"+s.backfillAgeAlarm+".Arn}")
	if diff := cmp.Diff(want, w.Properties["alarms"]); diff != "" {
		t.Errorf("alarm status widget (-want +got):\n%s", diff)
	}
}

func TestDashboard_ShowsTheDailyRuns(t *testing.T) {
	s := must(t, full)
	ws := widgets(t, s)
	for name, sm := range map[string]string{"Extraction-social": s.extraction, "Aggregation": s.aggregation} {
		want := []string{
			"AWS/States ExecutionsStarted StateMachineArn=${" + sm + "} {label:started period:86400 stat:Sum}",
			"AWS/States ExecutionsSucceeded StateMachineArn=${" + sm + "} {label:succeeded period:86400 stat:Sum}",
			"AWS/States ExecutionsFailed StateMachineArn=${" + sm + "} {label:failed period:86400 stat:Sum}",
			"AWS/States ExecutionsTimedOut StateMachineArn=${" + sm + "} {label:timed out period:86400 stat:Sum}",
		}
		if diff := cmp.Diff(want, metricLines(find(t, ws, observe.TitleRunsPrefix+name))); diff != "" {
			t.Errorf("%s run status (-want +got):\n%s", name, diff)
		}
	}
	want := []string{
		"AWS/Events MatchedEvents RuleName=${" + s.succeededRule + "} {label:succeeded period:86400 stat:Sum}",
		"AWS/Events MatchedEvents RuleName=${" + s.failedRule + "} {label:failed period:86400 stat:Sum}",
	}
	if diff := cmp.Diff(want, metricLines(find(t, ws, observe.TitleCrawls))); diff != "" {
		t.Errorf("crawls (-want +got):\n%s", diff)
	}
}

// The KPI widgets are Metrics Insights queries grouped by KPI, the top ones of each measure first:
// one widget each, whatever the number of KPIs. Freshness shows what its alarm compares with the
// lag (the annotation).
func TestDashboard_ShowsFreshnessAgainstTheLagAndTheTopKPIs(t *testing.T) {
	s := must(t, full)
	ws := widgets(t, s)
	query := func(fn, metric string) string {
		return fmt.Sprintf(`SELECT %s(%s) FROM SCHEMA("KpiLake", Environment, KPI) WHERE Environment = '%s' GROUP BY KPI ORDER BY %s() DESC LIMIT %d`,
			fn, metric, env, fn, observe.TopKPIs)
	}
	for title, want := range map[string]string{
		observe.TitleFreshness:    "expr: " + query("MAX", metrics.NewestDayAge) + " {label:newest day's age (s) period:3600}",
		observe.TitleBytesScanned: "expr: " + query("SUM", metrics.BytesScanned) + " {label:bytes scanned period:86400}",
		observe.TitleEngineTime:   "expr: " + query("MAX", metrics.QueryEngineTime) + " {label:engine time (ms) period:86400}",
	} {
		if diff := cmp.Diff([]string{want}, metricLines(find(t, ws, title))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", title, diff)
		}
	}
	wantAnnotations := map[string]any{"horizontal": []any{map[string]any{
		"value": float64(30 * 3600), "label": "lag: alarm after 30 hours", "color": "#d62728", "yAxis": "left",
	}}}
	if diff := cmp.Diff(wantAnnotations, find(t, ws, observe.TitleFreshness).Properties["annotations"]); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

// sourceTables is a source's extraction as the dashboard sees it: the metrics it gives name their
// source and table (ingest.DatabaseExtraction's carry the kpilake namespace and environment:
// TestDatabaseExtraction_MeasuresEachTable).
type sourceTables struct {
	source string
	tables []string
}

func (x sourceTables) Tables() []string { return x.tables }

func (x sourceTables) MetricRowsExtracted(table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return x.metric("Rows", table, opts)
}

func (x sourceTables) MetricBytesExtracted(table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return x.metric("Bytes", table, opts)
}

func (x sourceTables) metric(name, table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("Extraction"), MetricName: jsii.String(name), Label: jsii.String(x.source + "." + table),
		DimensionsMap: &map[string]*string{"Source": jsii.String(x.source), "Table": jsii.String(table)},
	}).With(opts)
}

// The extraction widgets show each table of each extraction, a day per point.
func TestDashboard_ShowsExtractionPerTable(t *testing.T) {
	s := must(t, full)
	ws := widgets(t, s)
	var rows, bytes []string
	for _, tb := range []string{"users", "posts"} {
		rows = append(rows, fmt.Sprintf("Extraction Rows Source=social Table=%s {label:social.%s period:86400 stat:Sum}", tb, tb))
		bytes = append(bytes, fmt.Sprintf("Extraction Bytes Source=social Table=%s {label:social.%s period:86400 stat:Sum}", tb, tb))
	}
	for title, want := range map[string][]string{observe.TitleRowsExtracted: rows, observe.TitleBytesExtracted: bytes} {
		if diff := cmp.Diff(want, metricLines(find(t, ws, title))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", title, diff)
		}
	}
}

func TestDashboard_ShowsLogStreamsBackfillAndDeadLetters(t *testing.T) {
	s := must(t, full)
	ws := widgets(t, s)
	stream := "DeliveryStreamName=${" + s.stream + "}"
	for title, want := range map[string][]string{
		observe.TitleLogStreams: {
			"AWS/Firehose IncomingRecords " + stream + " {label:web_access records in period:3600 stat:Sum}",
			"AWS/Firehose DeliveryToS3.DataFreshness " + stream + " {label:web_access oldest record (s) stat:Maximum yAxis:right}",
		},
		observe.TitleBackfill: {
			"AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${" + s.backfillQueue + ".QueueName} {label:waiting stat:Maximum}",
			"AWS/SQS ApproximateNumberOfMessagesNotVisible QueueName=${" + s.backfillQueue + ".QueueName} {label:in progress stat:Maximum}",
			"AWS/SQS NumberOfMessagesDeleted QueueName=${" + s.backfillQueue + ".QueueName} {label:done stat:Sum}",
		},
		observe.TitleDeadLetters: {
			"AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${" + s.backfillDLQ + ".QueueName} {label:Backfill stat:Maximum}",
			"AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${" + s.scheduleDLQ + ".QueueName} {label:ExtractionSchedule-social stat:Maximum}",
			"AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${" + s.startDLQ + ".QueueName} {label:AggregationStart stat:Maximum}",
		},
		observe.TitleLambdaErrors: {
			"AWS/Lambda Errors FunctionName=${" + s.plan + "} {label:Plan period:3600 stat:Sum}",
			"AWS/Lambda Errors FunctionName=${" + s.worker + "} {label:BackfillWorker period:3600 stat:Sum}",
		},
		observe.TitleLambdaThrottles: {
			"AWS/Lambda Throttles FunctionName=${" + s.plan + "} {label:Plan period:3600 stat:Sum}",
			"AWS/Lambda Throttles FunctionName=${" + s.worker + "} {label:BackfillWorker period:3600 stat:Sum}",
		},
	} {
		if diff := cmp.Diff(want, metricLines(find(t, ws, title))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", title, diff)
		}
	}
}

// With nothing to watch, Observe creates no alarm and a dashboard of its header only.
func TestObserve_LeavesOutWhatHasNothingToShow(t *testing.T) {
	var o *observe.Observe
	var tp *cdktest.Template
	cdktest.Setup(t, func() {
		stack := cdktest.NewStack("Test")
		o = observe.NewObserve(stack, "Observe", &observe.ObserveProps{
			Environment: env, TimeZone: "UTC", Alerts: alerts.NewAlerts(stack, "Alerts", nil),
		})
		var err error
		if tp, err = cdktest.Synth(stack); err != nil {
			panic(err)
		}
	})
	if n := len(tp.Resources("AWS::CloudWatch::Alarm")); n != 0 || len(o.Alarms) != 0 {
		t.Errorf("%d alarms, want none", n)
	}
	ws := widgets(t, &synthesizedObserve{tp: tp, o: o})
	if len(ws) != 1 || ws[0].Type != "text" {
		t.Errorf("widgets %+v, want the header only", ws)
	}
	if md, _ := ws[0].Properties["markdown"].(string); !strings.Contains(md, "kpilake "+env) || !strings.Contains(md, "36 hours") {
		t.Errorf("header %q should name the environment and the default lag", md)
	}
}

var partSuffix = regexp.MustCompile(` \([0-9]+/[0-9]+\)$`)

// A growing environment keeps a dashboard CloudWatch accepts: the alarm status widget splits at
// 100 alarms and the KPI and table graphs at 100 lines (a freshness line is 4 metrics), each part
// titled "<title> (i/n)", and every KPI and table keeps its line.
func TestDashboard_SplitsWidgetsPastCloudWatchsCapacity(t *testing.T) {
	var many []string
	for i := range 205 {
		many = append(many, fmt.Sprintf("kpi_%03d", i))
	}
	var sources []observe.Extraction
	for i := range 8 { // 150 tables: 7 sources of 20, one of 10
		x := sourceTables{source: fmt.Sprintf("src_%02d", i)}
		for j := range min(20, 150-20*i) {
			x.tables = append(x.tables, fmt.Sprintf("t_%02d", j))
		}
		sources = append(sources, x)
	}
	s, err := synthObserve(func(p *observe.ObserveProps) { p.KPIs, p.Extractions = many, sources })
	if err != nil {
		t.Fatal(err)
	}
	ws := widgets(t, s)
	count := map[string]int{} // title without its part -> lines (or alarms) over the parts
	parts := map[string]int{}
	for _, w := range ws {
		title, _ := w.Properties["title"].(string)
		base := partSuffix.ReplaceAllString(title, "")
		alarms, _ := w.Properties["alarms"].([]any)
		lines, _ := w.Properties["metrics"].([]any)
		if len(alarms) > 100 || len(lines) > 500 {
			t.Errorf("widget %q has %d alarms and %d metrics; CloudWatch takes 100 and 500", title, len(alarms), len(lines))
		}
		count[base] += len(alarms)
		if w.Type == "metric" {
			count[base] += len(lines)
		}
		parts[base]++
	}
	alarms := len(s.o.Alarms) + 4 // and the log stream's and the backfill's two each
	for title, want := range map[string][2]int{
		observe.TitleAlarms: {alarms, (alarms + 99) / 100},
		// One query each, whatever the KPIs.
		observe.TitleFreshness:      {1, 1},
		observe.TitleBytesScanned:   {1, 1},
		observe.TitleEngineTime:     {1, 1},
		observe.TitleRowsExtracted:  {150, 2},
		observe.TitleBytesExtracted: {150, 2},
	} {
		if count[title] != want[0] || parts[title] != want[1] {
			t.Errorf("%q: %d lines in %d widgets, want %d in %d", title, count[title], parts[title], want[0], want[1])
		}
	}
	raw, _ := json.Marshal(s.tp.JSON)
	if ps, err := limits.CheckTemplate("Test", raw, limits.Fixes{}); err != nil || len(ps) != 0 {
		t.Errorf("limits.CheckTemplate = %v, %v; want no problem", ps, err)
	}
}

// Observe suppresses the findings of its own resources: alone in a stack, it leaves no
// AwsSolutions finding.
func TestNewObserve_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() {
		observe.NewObserve(stack, "Observe", &observe.ObserveProps{
			Environment: env, TimeZone: businessZone, Alerts: alerts.NewAlerts(stack, "Alerts", nil), KPIs: kpis,
		})
	})
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Observe/") {
		t.Error(f)
	}
}
