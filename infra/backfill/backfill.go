// Package backfill builds the re-aggregation of past days: the operator CLI puts one job per
// business day on an SQS queue, and a worker Lambda, at most MaxConcurrency at once, runs each
// day's KPIs through the same handler and CTAS runner as the daily workflow. Jobs that keep
// failing, and malformed jobs at once, land in a dead-letter queue; alarms on that queue and on
// the age of the oldest waiting job go to the alert topic.
//
// Choices, and why:
//   - Both queues use SQS-managed encryption (SSE-SQS), not the lake key: a job holds only a
//     request id, a date and KPI names, and with SSE-SQS enqueuing needs sqs:SendMessage alone,
//     so an operator (or the CLI's role) needs no use of the lake key.
//   - The worker's timeout is Lambda's maximum, 15 minutes (one job runs the KPIs of a day one
//     after the other; what one invocation cannot finish it sends on to the queue as a
//     continuation, so it needs sqs:SendMessage there), and the queue's visibility timeout is 6
//     times that, 90 minutes, as Lambda recommends for SQS event sources. The worker does not wait for it: it leases the message it
//     works (ChangeMessageVisibility, handler.DefaultLease of 2 minutes at a time, renewed while
//     it lives), so the job of a worker that died comes back within 2 minutes, and it gives a
//     failed job back after handler.DefaultRetryDelay (1 minute, doubling with each failed
//     delivery). It needs sqs:ChangeMessageVisibility on the queue, which the event source's
//     grant includes.
//   - A job received MaxReceiveCount (3) times without success moves to the dead-letter queue;
//     the worker sends a job no retry can fix there itself, at once, with its reason attached: a
//     malformed job, a query Athena ran and failed.
//   - Both queues keep messages 14 days, SQS's maximum: a long backfill at low concurrency may
//     wait days, and a dead letter waits for an operator.
//   - The queues hold only jobs that the CLI can enqueue again, so they follow CDK's default
//     removal (deleted with the stack) rather than RemovalPolicy, which applies to the logs.
package backfill

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/internal/cw"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/names"
	aggregatehandler "github.com/kpilake/kpilake/lambdas/aggregate"
	handler "github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
)

// Fixed settings of the queues and the worker (see the package documentation).
const (
	// FunctionTimeout is the worker's timeout: Lambda's maximum.
	FunctionTimeout = 15 * time.Minute
	// VisibilityTimeout hides a received job from other workers: 6 times FunctionTimeout.
	VisibilityTimeout = 6 * FunctionTimeout
	// MaxReceiveCount is how many times a job is received before it moves to the dead-letter
	// queue.
	MaxReceiveCount = 3
	// RetentionPeriod is how long both queues keep a message: SQS's maximum.
	RetentionPeriod = 14 * 24 * time.Hour
	// BatchSize is how many jobs (days) one invocation works.
	BatchSize = 1
	// AlarmPeriod is the period over which the alarms take the metrics' maximum.
	AlarmPeriod = 5 * time.Minute
	// workerMemoryMB matches the aggregate function: the worker runs the same handler.
	workerMemoryMB = 512
)

// Defaults and bounds of BackfillProps.
const (
	// MinMaxConcurrency and MaxMaxConcurrency bound an SQS event source mapping's maximum
	// concurrency.
	MinMaxConcurrency = 2
	MaxMaxConcurrency = 1000
	// DefaultMaxConcurrency is the least SQS allows, the gentlest on the Athena quota.
	DefaultMaxConcurrency = MinMaxConcurrency
	// DefaultMaxMessageAge is the oldest job's age at which the queue alarms.
	DefaultMaxMessageAge = 72 * time.Hour
	// MinMaxMessageAge keeps the alarm above the noise of a busy queue.
	MinMaxMessageAge = time.Hour
	// MaxMaxMessageAge leaves a day between the alarm and the end of RetentionPeriod, when SQS
	// deletes a job that no worker took.
	MaxMaxMessageAge = RetentionPeriod - 24*time.Hour
)

// BackfillProps configures a Backfill.
type BackfillProps struct {
	// Catalog whose database and workgroup the queries use. Required.
	Catalog *catalog.Catalog
	// Lake whose raw zone is read and whose aggregated zone is written. Required.
	Lake *lake.Lake
	// Alerts receives the alarms. Required.
	Alerts *alerts.Alerts
	// KPIs are the catalog names of every KPI a job may rebuild; the worker may write only these
	// KPIs' prefixes and tables. Required, at least one.
	KPIs []string
	// TimeZone of the business day, IANA name. Required.
	TimeZone string
	// StateKeys are the primary keys of the environment's incremental tables
	// (config.Environment.StateKeys), with which the worker builds the state nodes. Default: none.
	StateKeys aggregatehandler.StateKeys
	// EarliestDay is the first day a job may name, YYYY-MM-DD. Default: "" (the worker's
	// default, handler.DefaultEarliestDay).
	EarliestDay string
	// MaxConcurrency bounds the workers running at once (the event source mapping's maximum
	// concurrency), so that the backfill stays below the Athena query quota's headroom.
	// Between MinMaxConcurrency (2) and MaxMaxConcurrency (1000). Default: DefaultMaxConcurrency (2).
	MaxConcurrency int
	// MaxMessageAge is the age of the oldest waiting job at which the queue alarms: the workers
	// are stuck or far behind. Between MinMaxMessageAge (1 hour) and MaxMaxMessageAge (13 days).
	// Default: DefaultMaxMessageAge (72 hours).
	MaxMessageAge time.Duration
	// Root is the module's root directory (where lambdas/ lives). Default: ".".
	Root string
	// WorkerEntry is the worker's main package directory.
	// Default: filepath.Join(Root, "lambdas/cmd/backfill").
	WorkerEntry string
	// LogRetention of the worker's logs. Default: three months.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of the worker's log group. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

func (p *BackfillProps) validate() error {
	var errs []error
	for _, req := range []struct {
		name    string
		missing bool
	}{
		{"Catalog", p.Catalog == nil}, {"Lake", p.Lake == nil}, {"Alerts", p.Alerts == nil},
	} {
		if req.missing {
			errs = append(errs, fmt.Errorf("%s is required", req.name))
		}
	}
	if len(p.KPIs) == 0 {
		errs = append(errs, errors.New("KPIs: give the catalog's KPI names (queries.Catalog.Names()); the worker may write only their prefixes"))
	}
	for i, k := range p.KPIs {
		if err := layout.ValidateName("KPI", k); err != nil {
			errs = append(errs, fmt.Errorf("KPIs[%d]: %w", i, err))
		} else if slices.Index(p.KPIs, k) != i {
			errs = append(errs, fmt.Errorf("KPIs[%d] %q is given twice", i, k))
		}
	}
	if p.TimeZone == "" {
		errs = append(errs, errors.New(`TimeZone is required; give the business time zone's IANA name, such as "Asia/Tokyo"`))
	} else if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
		errs = append(errs, fmt.Errorf("TimeZone %q is not an IANA time zone such as \"Asia/Tokyo\"", p.TimeZone))
	}
	if p.MaxConcurrency != 0 && (p.MaxConcurrency < MinMaxConcurrency || p.MaxConcurrency > MaxMaxConcurrency) {
		errs = append(errs, fmt.Errorf("MaxConcurrency is %d; an SQS event source accepts %d to %d (keep it within the Athena quota's headroom), or 0 for the default (%d)",
			p.MaxConcurrency, MinMaxConcurrency, MaxMaxConcurrency, DefaultMaxConcurrency))
	}
	if p.MaxMessageAge != 0 && (p.MaxMessageAge < MinMaxMessageAge || p.MaxMessageAge > MaxMaxMessageAge) {
		errs = append(errs, fmt.Errorf("MaxMessageAge is %v; give %v to %v (the queue deletes a job after %v, and the alarm must leave time to react), or 0 for the default (%v)",
			p.MaxMessageAge, MinMaxMessageAge, MaxMaxMessageAge, RetentionPeriod, DefaultMaxMessageAge))
	} else if p.MaxMessageAge%time.Second != 0 {
		errs = append(errs, fmt.Errorf("MaxMessageAge is %v; give whole seconds (the metric counts seconds)", p.MaxMessageAge))
	}
	switch p.RemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	return errors.Join(errs...)
}

// Backfill is the backfill queue, its dead-letter queue, the worker and their alarms. A job is
// one message, lambdas/backfill.Job: {"request_id": "...", "date": "2026-11-24", "kpis": [...]}.
type Backfill struct {
	constructs.Construct
	// Queue receives the jobs; the worker consumes it.
	Queue awssqs.Queue
	// DeadLetterQueue keeps jobs that failed MaxReceiveCount times and malformed jobs.
	DeadLetterQueue awssqs.Queue
	// Worker runs every KPI of one job's day.
	Worker *golambda.Function
	// EventSourceMapping connects Queue to Worker.
	EventSourceMapping awslambda.EventSourceMapping
	// DeadLetterAlarm fires when any job waits in DeadLetterQueue.
	DeadLetterAlarm awscloudwatch.Alarm
	// MessageAgeAlarm fires when the oldest job in Queue has waited MaxMessageAge.
	MessageAgeAlarm awscloudwatch.Alarm
}

// NewBackfill creates the queues, the worker with its event source, and the alarms.
func NewBackfill(scope constructs.Construct, id string, props *BackfillProps) *Backfill {
	if props == nil {
		props = &BackfillProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("backfill.NewBackfill %q: %w", id, err))
	}
	p := *props
	if p.Root == "" {
		p.Root = "."
	}
	if p.WorkerEntry == "" {
		p.WorkerEntry = filepath.Join(p.Root, "lambdas", "cmd", "backfill")
	}
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = DefaultMaxConcurrency
	}
	if p.MaxMessageAge == 0 {
		p.MaxMessageAge = DefaultMaxMessageAge
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	node := constructs.NewConstruct(scope, &id)
	b := &Backfill{Construct: node}

	b.DeadLetterQueue = awssqs.NewQueue(node, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: seconds(RetentionPeriod),
	})
	b.Queue = awssqs.NewQueue(node, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		RetentionPeriod:   seconds(RetentionPeriod),
		VisibilityTimeout: seconds(VisibilityTimeout),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           b.DeadLetterQueue,
			MaxReceiveCount: jsii.Number(MaxReceiveCount),
		},
	})

	b.Worker = aggregate.NewRunner(node, "Worker", &aggregate.RunnerProps{
		Catalog: p.Catalog, Lake: p.Lake, TimeZone: p.TimeZone, StateKeys: p.StateKeys,
		Environment:   workerEnvironment(p, *b.Queue.QueueUrl(), *b.DeadLetterQueue.QueueUrl()),
		Entry:         p.WorkerEntry,
		Description:   "kpilake: backfill worker; runs every KPI of one business day from the backfill queue",
		Timeout:       seconds(FunctionTimeout),
		MemoryMB:      workerMemoryMB,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
		Invocation:    golambda.SQSEventSource,
	})
	// A job no retry can fix goes to the dead-letter queue at once, and the KPIs of a day that one
	// invocation could not finish go on to the queue as a continuation; SQS-managed encryption
	// needs no key.
	b.Worker.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(*b.DeadLetterQueue.QueueArn(), *b.Queue.QueueArn()),
	}))

	// The mapping that an SqsEventSource makes, under the ID it gives, but with the queue's ID
	// counted from the stack: the same mapping whether the app or a pipeline's stage holds it.
	b.EventSourceMapping = b.Worker.Function.AddEventSourceMapping(jsii.String("SqsEventSource:"+names.UniqueID(b.Queue)), &awslambda.EventSourceMappingOptions{
		EventSourceArn:          b.Queue.QueueArn(),
		BatchSize:               jsii.Number(BatchSize),
		MaxConcurrency:          jsii.Number(p.MaxConcurrency),
		ReportBatchItemFailures: jsii.Bool(true),
	})
	b.Queue.GrantConsumeMessages(b.Worker.Function)
	nag.DeadLetterQueue(b.DeadLetterQueue)
	nag.Suppress(b.EventSourceMapping, fmt.Sprintf("An SQS event source mapping supports no on-failure destination (stream and Kafka sources do); "+
		"a failed job goes to the backfill dead-letter queue by the queue's redrive policy (%d receives) or is moved there by the worker.", MaxReceiveCount),
		nag.Rule("LambdaEventSourceMappingDestination", nag.Serverless)...)

	b.alarms(node, p)
	return b
}

// workerEnvironment is what the worker reads besides the aggregate handler's environment: its
// queues and the earliest day a job may name.
func workerEnvironment(p BackfillProps, queueURL, deadLetterQueueURL string) map[string]string {
	env := map[string]string{}
	env[contract.EnvBackfillQueueURL] = queueURL
	env[contract.EnvBackfillDeadLetterQueueURL] = deadLetterQueueURL
	if p.EarliestDay != "" {
		env[contract.EnvBackfillEarliestDay] = p.EarliestDay
	}
	return env
}

func (b *Backfill) alarms(node constructs.Construct, p BackfillProps) {
	notify := awscloudwatchactions.NewSnsAction(p.Alerts.Topic)
	b.DeadLetterAlarm = awscloudwatch.NewAlarm(node, jsii.String("DeadLetterAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("kpilake: backfill jobs are in the dead-letter queue (malformed, a query Athena failed, or failed %d times). "+
			"A job the worker moved itself carries its reason in the message attribute %s (and %s: malformed, query-failed, input-error); "+
			"the worker's logs name the failed KPI and error. Fix the cause, then move the jobs back to the backfill queue.",
			MaxReceiveCount, handler.AttrError, handler.AttrErrorKind)),
		Metric:             b.MetricDeadLetters(&awscloudwatch.MetricOptions{Period: seconds(AlarmPeriod)}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		// SQS publishes no metrics for an idle queue: nothing to see is fine.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	b.DeadLetterAlarm.AddAlarmAction(notify)

	hours := p.MaxMessageAge.Hours()
	b.MessageAgeAlarm = awscloudwatch.NewAlarm(node, jsii.String("MessageAgeAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("kpilake: the oldest backfill job has waited %g hours or more; the workers are stuck or far behind. "+
			"Check the worker's logs and its event source mapping; the queue deletes a job after %g days.", hours, RetentionPeriod.Hours()/24)),
		Metric:             b.MetricOldestJobAge(&awscloudwatch.MetricOptions{Period: seconds(AlarmPeriod)}),
		Threshold:          jsii.Number(p.MaxMessageAge.Seconds()),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	b.MessageAgeAlarm.AddAlarmAction(notify)
}

// MetricJobsWaiting is the number of jobs waiting in the queue (Maximum unless opts says).
func (b *Backfill) MetricJobsWaiting(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return b.Queue.MetricApproximateNumberOfMessagesVisible(cw.WithStatistic(opts, "Maximum"))
}

// MetricJobsInProgress is the number of jobs that workers hold (Maximum unless opts says).
func (b *Backfill) MetricJobsInProgress(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return b.Queue.MetricApproximateNumberOfMessagesNotVisible(cw.WithStatistic(opts, "Maximum"))
}

// MetricJobsDone is the number of jobs finished and deleted (Sum unless opts says).
func (b *Backfill) MetricJobsDone(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return b.Queue.MetricNumberOfMessagesDeleted(cw.WithStatistic(opts, "Sum"))
}

// MetricOldestJobAge is the age in seconds of the oldest waiting job (Maximum unless opts says).
func (b *Backfill) MetricOldestJobAge(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return b.Queue.MetricApproximateAgeOfOldestMessage(cw.WithStatistic(opts, "Maximum"))
}

// MetricDeadLetters is the number of jobs in the dead-letter queue (Maximum unless opts says).
func (b *Backfill) MetricDeadLetters(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return b.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(cw.WithStatistic(opts, "Maximum"))
}

// GrantEnqueue lets grantee put jobs on the backfill queue, as the operator CLI does.
func (b *Backfill) GrantEnqueue(grantee awsiam.IGrantable) awsiam.Grant {
	return b.Queue.GrantSendMessages(grantee)
}

func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}
