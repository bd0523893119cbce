// Package observe builds what the people who run kpilake watch: CloudWatch alarms on every
// failure and on the freshness of every KPI, all sent to the environment's encrypted alert topic,
// and one CloudWatch dashboard per environment.
//
// The alarms, and why each is set as it is:
//   - Workflows (each source's extraction, the aggregation): ExecutionsFailed >= 1 and
//     ExecutionsTimedOut >= 1, Sum over 5 minutes. A failure inside a workflow is also published
//     by the workflow itself, with its reason; the alarm is the signal that survives a broken
//     publish step and shows on the dashboard.
//   - Go functions: Errors >= the configured threshold and Throttles >= 1, Sum over 5 minutes.
//   - Crawler failures: a Glue crawler publishes no CloudWatch metric, so no alarm can watch the
//     crawler itself. A failed crawl is an EventBridge event that the aggregation's crawler-failure
//     rule already turns into an alert naming the crawler and its error; this alarm counts that
//     rule's matched events (AWS/Events MatchedEvents >= 1), so a failure also shows as an alarm
//     state, and reaches the topic even if the rule's own delivery fails.
//   - Dead-letter queues other than the backfill's (whose alarms the backfill construct owns, as a
//     log stream owns its delivery alarms: ingest.LogStreamProps.Alerts): a
//     message there is a schedule or crawler event that could not start its workflow, so a day is
//     not processed, or an alert that a rule could not publish; ApproximateNumberOfMessagesVisible
//     >= 1.
//   - Freshness and gaps: one alarm each for every KPI, on a Metrics Insights query grouped by
//     KPI (KPIQuery), which names the KPIs in alarm in its reason.
//
// Every alarm except freshness treats missing data as not breaching: these metrics exist only
// while something runs, and nothing running is not a failure. Freshness treats missing data as
// breaching: a sweep that reports nothing is exactly what it must catch. A KPI that has published
// nothing is stale (the sweep counts its age from 1970), so, right after a new environment is
// deployed and until its first daily run publishes, the freshness alarm is in ALARM.
//
// The kpilake metrics carry the Environment dimension that the alarms and the dashboard select
// only from functions built under an environment's name (golambda.SetMetricsEnvironment, which an
// environment's stack calls); Observe reads the functions and changes none.
package observe

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/backfill"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// Defaults and bounds of ObserveProps.
const (
	// DefaultFreshnessLag is how long after the end of its business day a KPI's day must be
	// published: the daily run publishes it within a few hours, so 36 hours leaves a failed run
	// half a day to be fixed before anyone is woken.
	DefaultFreshnessLag = 36 * time.Hour
	// MinFreshnessLag is more than a day: a day is published once a day, so a shorter lag would
	// alarm between two daily runs.
	MinFreshnessLag = 25 * time.Hour
	// MaxFreshnessLag is the longest CloudWatch evaluates an alarm of hourly periods: 7 days.
	MaxFreshnessLag = 7 * 24 * time.Hour
	// DefaultLambdaErrorsThreshold is how many errors of one function in AlarmPeriod alarm.
	DefaultLambdaErrorsThreshold = 1
)

// Periods of the alarms.
const (
	// AlarmPeriod is the period of the failure alarms: workflows, functions, crawler failures
	// and dead letters.
	AlarmPeriod = 5 * time.Minute
	// FreshnessPeriod is the period of the freshness alarms; their evaluation periods are the
	// lag in hours.
	FreshnessPeriod = time.Hour
)

// EventBridge's CloudWatch namespace and metric, statistics and the dashboard's periods.
const (
	eventsNamespace      = "AWS/Events"
	eventsMatched        = "MatchedEvents"
	eventsRuleName       = "RuleName"
	statSum              = "Sum"
	statMaximum          = "Maximum"
	statAverage          = "Average"
	dashboardRunPeriod   = 24 * time.Hour
	dashboardQueuePeriod = 5 * time.Minute
	dashboardRange       = 7 * 24 * time.Hour
)

// Workflow is a state machine whose failed and timed-out executions alarm.
type Workflow struct {
	// Name tells the workflow apart in construct ids, labels and descriptions, such as
	// "Extraction-social". Required.
	Name string
	// StateMachine is the workflow. Required.
	StateMachine awsstepfunctions.IStateMachine
}

// Function is a Go Lambda function whose errors and throttles alarm.
type Function struct {
	// Name tells the function apart, such as "Plan". Required.
	Name string
	// Function is the function. Required.
	Function *golambda.Function
}

// LogStream is a Firehose log stream, shown by its records in and its oldest record; its own
// alarms (ingest.LogStreamProps.Alerts) join the dashboard's alarm status.
type LogStream struct {
	// Name is the stream's name in the configuration, such as "web_access". Required.
	Name string
	// Stream is the delivery stream. Required.
	Stream *ingest.LogStream
}

// Extraction is a source's daily export (ingest.DatabaseExtraction), shown by the rows and bytes
// it exported of each table.
type Extraction interface {
	// Tables are the tables the extraction exports.
	Tables() []string
	// MetricRowsExtracted and MetricBytesExtracted measure one of Tables.
	MetricRowsExtracted(table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricBytesExtracted(table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
}

// Queue is a dead-letter queue that alarms when it holds a message.
type Queue struct {
	// Name tells the queue apart, such as "AggregationStart". Required.
	Name string
	// Queue is the dead-letter queue. Required.
	Queue awssqs.IQueue
	// Holds says what a message in the queue is, for the alarm's description, such as "crawler
	// events that could not start the aggregation". Required.
	Holds string
	// Remedy ends the alarm's description after what the queue holds: what a message means and
	// what to do about it, such as "so nobody was told of that failure. Read the message ...".
	// Default: a day was not processed; fix the cause, start the workflow for that day by hand,
	// then delete the message.
	Remedy string
}

// ObserveProps configures Observe.
type ObserveProps struct {
	// Environment is the environment's name: the Environment dimension of the kpilake metrics
	// (lambdas/metrics) that the alarms and the dashboard select; the functions record it when
	// built under golambda.SetMetricsEnvironment with the same name. Required.
	Environment string
	// TimeZone of the business day, IANA name; a day is fresh until lag hours after it ends
	// there. Required.
	TimeZone string
	// Alerts receives every alarm. Required.
	Alerts *alerts.Alerts
	// Workflows alarm when an execution fails or times out. Default: none.
	Workflows []Workflow
	// Functions alarm on errors and throttles. Default: none.
	Functions []Function
	// CrawlerFailedRule is the rule that matches failed crawls (aggregate.Workflow.FailedRule);
	// its matched events alarm. Default: nil, no alarm.
	CrawlerFailedRule awsevents.IRule
	// CrawlerSucceededRule is the rule that matches successful crawls; the dashboard counts its
	// events beside the failures. Default: nil.
	CrawlerSucceededRule awsevents.IRule
	// LogStreams are shown by their records and delivery delay. Default: none.
	LogStreams []LogStream
	// KPIs are the catalog's KPI names: each alarms when it is not fresh. Default: none.
	KPIs []string
	// Extractions are shown by the rows and bytes of each of their tables per day. Default: none.
	Extractions []Extraction
	// Backfill is shown by its progress and dead letters; its own alarms join the dashboard's
	// alarm status. Default: nil.
	Backfill *backfill.Backfill
	// DeadLetterQueues (other than the backfill's) alarm when they hold a message. Default: none.
	DeadLetterQueues []Queue
	// FreshnessLag: a KPI alarms when for this long no run has published a day that ended (in
	// TimeZone) at most this long before. Whole hours, between MinFreshnessLag (25 hours) and
	// MaxFreshnessLag (7 days). Default: DefaultFreshnessLag (36 hours).
	FreshnessLag time.Duration
	// LambdaErrorsThreshold is how many errors of one function in AlarmPeriod (5 minutes) alarm.
	// Default: DefaultLambdaErrorsThreshold (1).
	LambdaErrorsThreshold int
	// NotifyOnRecovery also sends each alarm's return to OK to the alert topic. Default: false.
	NotifyOnRecovery bool
}

// nameRE is what a Workflow, Function or Queue name may be: it becomes part of construct ids.
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

func (p *ObserveProps) validate() error {
	var errs []error
	if p.Alerts == nil {
		errs = append(errs, errors.New("Alerts is required; pass the environment's *alerts.Alerts, whose topic receives the alarms"))
	}
	if p.Environment == "" {
		errs = append(errs, errors.New(`Environment is required; give the environment's name (such as "prod"), the Environment dimension of the kpilake metrics`))
	} else if strings.ContainsFunc(p.Environment, func(r rune) bool { return r < ' ' || r > '~' }) {
		errs = append(errs, fmt.Errorf("Environment %q must be printable ASCII, such as \"prod\"", p.Environment))
	}
	if p.TimeZone == "" {
		errs = append(errs, errors.New(`TimeZone is required; give the business time zone's IANA name, such as "Asia/Tokyo"`))
	} else if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
		errs = append(errs, fmt.Errorf("TimeZone %q is not an IANA time zone such as \"Asia/Tokyo\"", p.TimeZone))
	}
	names := func(field string, n int, name func(int) string, missing func(int) string) {
		seen := map[string]int{}
		for i := range n {
			nm := name(i)
			switch j, dup := seen[nm]; {
			case !nameRE.MatchString(nm):
				errs = append(errs, fmt.Errorf("%s[%d].Name %q: use letters, digits, - and _, starting with a letter, at most 64 characters (such as \"Extraction-social\")", field, i, nm))
			case dup:
				errs = append(errs, fmt.Errorf("%s[%d].Name %q is already used by %s[%d]; give each a unique name", field, i, nm, field, j))
			default:
				seen[nm] = i
			}
			if m := missing(i); m != "" {
				errs = append(errs, fmt.Errorf("%s[%d].%s is required", field, i, m))
			}
		}
	}
	names("Workflows", len(p.Workflows), func(i int) string { return p.Workflows[i].Name }, func(i int) string {
		return when(p.Workflows[i].StateMachine == nil, "StateMachine")
	})
	names("Functions", len(p.Functions), func(i int) string { return p.Functions[i].Name }, func(i int) string {
		return when(p.Functions[i].Function == nil, "Function")
	})
	names("DeadLetterQueues", len(p.DeadLetterQueues), func(i int) string { return p.DeadLetterQueues[i].Name }, func(i int) string {
		return when(p.DeadLetterQueues[i].Queue == nil, "Queue") + when(p.DeadLetterQueues[i].Holds == "", "Holds")
	})
	for i, s := range p.LogStreams {
		if err := layout.ValidateName("log stream", s.Name); err != nil {
			errs = append(errs, fmt.Errorf("LogStreams[%d].Name: %w", i, err))
		} else if slices.IndexFunc(p.LogStreams, func(o LogStream) bool { return o.Name == s.Name }) != i {
			errs = append(errs, fmt.Errorf("LogStreams[%d].Name %q is given twice", i, s.Name))
		}
		if s.Stream == nil {
			errs = append(errs, fmt.Errorf("LogStreams[%d].Stream is required", i))
		}
	}
	for i, k := range p.KPIs {
		if err := layout.ValidateName("KPI", k); err != nil {
			errs = append(errs, fmt.Errorf("KPIs[%d]: %w", i, err))
		} else if slices.Index(p.KPIs, k) != i {
			errs = append(errs, fmt.Errorf("KPIs[%d] %q is given twice", i, k))
		}
	}
	for i, x := range p.Extractions {
		if v := reflect.ValueOf(x); x == nil || v.Kind() == reflect.Pointer && v.IsNil() {
			errs = append(errs, fmt.Errorf("Extractions[%d] is nil; give the source's *ingest.DatabaseExtraction", i))
		}
	}
	if lag := p.FreshnessLag; lag != 0 && (lag < MinFreshnessLag || lag > MaxFreshnessLag || lag%time.Hour != 0) {
		errs = append(errs, fmt.Errorf("FreshnessLag is %v; give whole hours from %v (a day is published once a day) to %v (the longest CloudWatch evaluates), or 0 for the default (%v)",
			lag, MinFreshnessLag, MaxFreshnessLag, DefaultFreshnessLag))
	}
	if p.LambdaErrorsThreshold < 0 {
		errs = append(errs, fmt.Errorf("LambdaErrorsThreshold is %d; give the errors per 5 minutes that alarm (1 or more), or 0 for the default (%d)",
			p.LambdaErrorsThreshold, DefaultLambdaErrorsThreshold))
	}
	return errors.Join(errs...)
}

func when(missing bool, field string) string {
	if missing {
		return field
	}
	return ""
}

// Observe is the alarms and the dashboard of one environment.
type Observe struct {
	constructs.Construct
	// Alarms is every alarm created here, in creation order (the backfill's own are not in it).
	Alarms []awscloudwatch.Alarm
	// ExecutionsFailed and ExecutionsTimedOut alarm per workflow, by Workflow.Name.
	ExecutionsFailed   map[string]awscloudwatch.Alarm
	ExecutionsTimedOut map[string]awscloudwatch.Alarm
	// Errors and Throttles alarm per function, by Function.Name.
	Errors    map[string]awscloudwatch.Alarm
	Throttles map[string]awscloudwatch.Alarm
	// CrawlerFailed alarms on the crawler-failure rule's matched events (nil without the rule).
	CrawlerFailed awscloudwatch.Alarm
	// DeadLetters alarm per dead-letter queue, by Queue.Name.
	DeadLetters map[string]awscloudwatch.Alarm
	// Freshness alarms when a KPI's newest day ended more than the lag ago, for every KPI at
	// once (KPIQuery over metrics.NewestDayAge); nil without KPIs.
	Freshness awscloudwatch.Alarm
	// Gap alarms when a day with inputs stays unpublished past the lag, for every KPI at once
	// (KPIQuery over metrics.UnpublishedDayAge); nil without KPIs.
	Gap awscloudwatch.Alarm
	// Dashboard is the environment's dashboard.
	Dashboard awscloudwatch.Dashboard

	props ObserveProps
}

// NewObserve creates the alarms and the dashboard, and sets the Environment variable of the
// functions.
func NewObserve(scope constructs.Construct, id string, props *ObserveProps) *Observe {
	if props == nil {
		props = &ObserveProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("observe.NewObserve %q: %w", id, err))
	}
	p := *props
	if p.FreshnessLag == 0 {
		p.FreshnessLag = DefaultFreshnessLag
	}
	if p.LambdaErrorsThreshold == 0 {
		p.LambdaErrorsThreshold = DefaultLambdaErrorsThreshold
	}
	o := &Observe{
		Construct:          constructs.NewConstruct(scope, &id),
		ExecutionsFailed:   map[string]awscloudwatch.Alarm{},
		ExecutionsTimedOut: map[string]awscloudwatch.Alarm{},
		Errors:             map[string]awscloudwatch.Alarm{},
		Throttles:          map[string]awscloudwatch.Alarm{},
		DeadLetters:        map[string]awscloudwatch.Alarm{},
		props:              p,
	}
	o.workflowAlarms()
	o.functionAlarms()
	o.crawlerAlarm()
	o.deadLetterAlarms()
	o.freshnessAlarms()
	o.gapAlarms()
	o.dashboard()
	return o
}

// alarm is one alarm's settings.
type alarm struct {
	id, description string
	metric          awscloudwatch.IMetric
	threshold       float64
	comparison      awscloudwatch.ComparisonOperator
	// periods is both EvaluationPeriods and DatapointsToAlarm: every period must breach.
	periods int
	missing awscloudwatch.TreatMissingData
}

func (o *Observe) alarm(a alarm) awscloudwatch.Alarm {
	al := awscloudwatch.NewAlarm(o.Construct, jsii.String(a.id), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(fmt.Sprintf("kpilake %s: %s", o.props.Environment, a.description)),
		Metric:             a.metric,
		Threshold:          jsii.Number(a.threshold),
		ComparisonOperator: a.comparison,
		EvaluationPeriods:  jsii.Number(a.periods),
		DatapointsToAlarm:  jsii.Number(a.periods),
		TreatMissingData:   a.missing,
	})
	notify := awscloudwatchactions.NewSnsAction(o.props.Alerts.Topic)
	al.AddAlarmAction(notify)
	if o.props.NotifyOnRecovery {
		al.AddOkAction(notify)
	}
	o.Alarms = append(o.Alarms, al)
	return al
}

func (o *Observe) workflowAlarms() {
	for _, w := range o.props.Workflows {
		opts := metricOptions(statSum, AlarmPeriod)
		o.ExecutionsFailed[w.Name] = o.alarm(alarm{
			id: w.Name + "-ExecutionsFailed",
			description: fmt.Sprintf("an execution of workflow %s failed. Its alert on this topic names the failed step and the cause; "+
				"find the execution in the Step Functions console, fix the cause, then start the workflow again for the day: {\"date\": \"YYYY-MM-DD\"}.", w.Name),
			metric:     w.StateMachine.MetricFailed(opts),
			threshold:  1,
			comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			periods:    1,
			missing:    awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		o.ExecutionsTimedOut[w.Name] = o.alarm(alarm{
			id: w.Name + "-ExecutionsTimedOut",
			description: fmt.Sprintf("an execution of workflow %s timed out: a step hung or waited too long (Athena or database slow, quota full). "+
				"Look at the execution's last steps in the Step Functions console, then start the workflow again for the day: {\"date\": \"YYYY-MM-DD\"}.", w.Name),
			metric:     w.StateMachine.MetricTimedOut(opts),
			threshold:  1,
			comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			periods:    1,
			missing:    awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
}

func (o *Observe) functionAlarms() {
	for _, f := range o.props.Functions {
		opts := metricOptions(statSum, AlarmPeriod)
		o.Errors[f.Name] = o.alarm(alarm{
			id: f.Name + "-Errors",
			description: fmt.Sprintf("function %s failed %d or more times in 5 minutes. Its JSON logs (level ERROR) say why; "+
				"the workflows retry transient errors, so check whether a workflow failed as well.", f.Name, o.props.LambdaErrorsThreshold),
			metric:     f.Function.Function.MetricErrors(opts),
			threshold:  float64(o.props.LambdaErrorsThreshold),
			comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			periods:    1,
			missing:    awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		o.Throttles[f.Name] = o.alarm(alarm{
			id: f.Name + "-Throttles",
			description: fmt.Sprintf("Lambda throttled function %s: the account's concurrency is exhausted or the function's reserved concurrency is too low. "+
				"Check the account's ConcurrentExecutions and raise the quota, or lower the backfill's maxConcurrency.", f.Name),
			metric:     f.Function.Function.MetricThrottles(opts),
			threshold:  1,
			comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			periods:    1,
			missing:    awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
}

func (o *Observe) crawlerAlarm() {
	r := o.props.CrawlerFailedRule
	if r == nil {
		return
	}
	o.CrawlerFailed = o.alarm(alarm{
		id: "CrawlerFailed",
		description: "a Glue crawler failed, so the day's KPIs were not aggregated. The crawler-failure alert on this topic names the crawler and its error; " +
			"see the crawler's log group (/aws-glue/crawlers-role/...), fix the cause, then start the crawler again: a successful crawl starts the aggregation.",
		metric:     ruleMatches(r, statSum, AlarmPeriod, ""),
		threshold:  1,
		comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		periods:    1,
		missing:    awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}

func (o *Observe) deadLetterAlarms() {
	for _, q := range o.props.DeadLetterQueues {
		remedy := q.Remedy
		if remedy == "" {
			remedy = "so a day was not processed. Read the message (its attributes carry the error), " +
				"fix the cause, then start the workflow for that day by hand and delete the message."
		}
		o.DeadLetters[q.Name] = o.alarm(alarm{
			id:          q.Name + "-DeadLetters",
			description: fmt.Sprintf("dead-letter queue %s holds %s, %s", q.Name, q.Holds, remedy),
			metric:      q.Queue.MetricApproximateNumberOfMessagesVisible(metricOptions(statMaximum, AlarmPeriod)),
			threshold:   1,
			comparison:  awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			periods:     1,
			missing:     awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
}

// freshnessAlarms alarm when the newest day that some KPI serves ended more than the lag ago in
// the business zone, two hourly sweeps running (metrics.NewestDayAge, which the hourly sweep
// records per KPI; a KPI that has published nothing counts from 1970). One alarm covers every
// KPI: a Metrics Insights query grouped by KPI (KPIQuery), each KPI a contributor that
// CloudWatch evaluates apart and names in the alarm's state reason. No data at all (the sweep
// did not run) alarms too. A backfill of older days does not clear it: only a newer day does.
func (o *Observe) freshnessAlarms() {
	if len(o.props.KPIs) == 0 {
		return
	}
	hours := int(o.props.FreshnessLag.Hours())
	o.Freshness = o.alarmOnEveryKPI("Freshness", metrics.NewestDayAge, "newest day's age (s), per KPI", 2, awscloudwatch.TreatMissingData_BREACHING,
		fmt.Sprintf("A KPI is stale: the newest day it published ended (%s) more than %d hours ago. The alarm's reason names the KPIs (KPI=<name>); "+
			"no data at all means the hourly sweep did not run. Check the daily run (extraction, crawler, aggregation) for that day and its alerts. "+
			"An aggregation that found an input of the KPI missing for the day lists it as waiting_for in the KPI's result and publishes nothing; "+
			"the crawl that brings it publishes the day. If it will not come, publish the day from what there is: "+
			"kpilake backfill --env %s --from DAY --to DAY --kpi NAMES --yes, naming the KPIs it waits for (their dependents follow), or the KPI itself "+
			"when it waits only for raw tables. Once a newer day is published the alarm clears; a backfill of older days does not clear it.",
			o.props.TimeZone, hours, o.props.Environment))
}

// alarmOnEveryKPI alarms when metric's hourly Maximum of some KPI exceeds the lag for periods
// hours running: one alarm on a Metrics Insights query grouped by KPI (KPIQuery), each KPI a
// contributor that CloudWatch evaluates apart and names in the alarm's state reason.
func (o *Observe) alarmOnEveryKPI(id, metric, label string, periods int, missing awscloudwatch.TreatMissingData, description string) awscloudwatch.Alarm {
	return o.alarm(alarm{
		id:          id,
		description: description,
		metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(KPIQuery("MAX", metric, o.props.Environment, "")),
			Period:     duration(FreshnessPeriod),
			Label:      jsii.String(label),
		}),
		threshold:  o.props.FreshnessLag.Seconds(),
		comparison: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		periods:    periods,
		missing:    missing,
	})
}

// KPIQuery is a Metrics Insights query of metric per KPI of the environment, aggregated with fn
// (MAX, SUM), one time series per KPI, followed by tail (such as an ORDER BY and a LIMIT).
func KPIQuery(fn, metric, environment, tail string) string {
	q := fmt.Sprintf(`SELECT %s(%s) FROM SCHEMA("%s", %s, %s) WHERE %s = '%s' GROUP BY %s`,
		fn, metric, metrics.Namespace, metrics.DimEnvironment, metrics.DimKPI, metrics.DimEnvironment, environment, metrics.DimKPI)
	if tail != "" {
		q += " " + tail
	}
	return q
}

// gapAlarms alarm when a crawl's plan finds a day of a KPI whose inputs changed more than the
// lag ago and that no publication reflects (metrics.UnpublishedDayAge): a day missed in the
// middle, which the freshness alarm, watching the newest day only, does not see. The plan records
// the metric at each crawl that concerns the KPI, so an hour without a crawl is no news (not
// breaching); a pipeline that stopped is the freshness alarm's. One alarm covers every KPI: a
// Metrics Insights query grouped by KPI (KPIQuery), each KPI a contributor of its own that
// CloudWatch evaluates apart and names in the alarm's state reason, so that the alarm count does
// not grow with the KPIs (CloudWatch evaluates up to 500 contributors per query).
func (o *Observe) gapAlarms() {
	if len(o.props.KPIs) == 0 {
		return
	}
	hours := int(o.props.FreshnessLag.Hours())
	o.Gap = o.alarmOnEveryKPI("Gap", metrics.UnpublishedDayAge, "oldest unpublished input (s), per KPI", 1, awscloudwatch.TreatMissingData_NOT_BREACHING,
		fmt.Sprintf("A KPI has a gap: a day whose inputs changed more than %d hours ago has no publication that reflects them. "+
			"The alarm's reason names the KPIs (KPI=<name>). The plan function's log line \"unpublished days\" for each names the days. "+
			"See the README, Aggregation: \"A day that stays unpublished\".", hours))
}

func ruleMatches(r awsevents.IRule, stat string, period time.Duration, label string) awscloudwatch.Metric {
	props := &awscloudwatch.MetricProps{
		Namespace:     jsii.String(eventsNamespace),
		MetricName:    jsii.String(eventsMatched),
		DimensionsMap: &map[string]*string{eventsRuleName: r.RuleName()},
		Statistic:     jsii.String(stat),
		Period:        duration(period),
	}
	if label != "" {
		props.Label = jsii.String(label)
	}
	return awscloudwatch.NewMetric(props)
}

func metricOptions(stat string, period time.Duration) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: duration(period)}
}

func labelled(stat string, period time.Duration, label string) *awscloudwatch.MetricOptions {
	opts := metricOptions(stat, period)
	opts.Label = jsii.String(label)
	return opts
}

func duration(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}
