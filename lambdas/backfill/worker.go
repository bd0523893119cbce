package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Aggregator aggregates one KPI for one day; *aggregate.Handler is one, so the backfill runs the
// same rendering and CTAS runner as the daily workflow.
type Aggregator interface {
	Handle(ctx context.Context, req aggregate.Request) (ctas.Result, error)
}

var _ Aggregator = (*aggregate.Handler)(nil)

// Queue is the SQS calls the worker makes: it changes the visibility of the messages it works
// and sends the continuations of jobs (on the backfill queue), and sends jobs no retry can fix to
// the dead-letter queue. *sqs.Client is one.
type Queue interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// Message attributes the worker sets on a job it moves to the dead-letter queue.
const (
	// AttrError is the reason, at most 1024 bytes.
	AttrError = "kpilake-error"
	// AttrErrorKind says why no retry was made: one of KindMalformed, KindQueryFailed,
	// KindInputError.
	AttrErrorKind         = "kpilake-error-kind"
	AttrOriginalMessageID = "kpilake-original-message-id"
)

// Kinds of jobs the worker dead-letters itself (AttrErrorKind).
const (
	// KindMalformed is a job that is not one (bad JSON, a bad date, an unknown KPI): it fails
	// again as it is, whatever is fixed.
	KindMalformed = "malformed"
	// KindQueryFailed is a KPI query that Athena ran and failed (or whose output does not fit the
	// KPI table): fix the query or the data, then redrive the job.
	KindQueryFailed = "query-failed"
	// KindInputError is a KPI the aggregate handler could not render for the day.
	KindInputError = "input-error"
)

// Defaults and bounds of Config.
const (
	// DefaultLease is how long a message stays invisible past the worker's last heartbeat: how
	// soon the job of a worker that died is delivered again.
	DefaultLease = 2 * time.Minute
	// MinLease leaves the heartbeat (every quarter of the lease) time for its call.
	MinLease = 4 * time.Second
	// MaxLease stays below the function's timeout, so that the lease, not the queue's visibility
	// timeout, decides when the job of a dead worker comes back.
	MaxLease = 10 * time.Minute
	// DefaultRetryDelay is how long a job that failed its first delivery waits for the next one;
	// each later failed delivery doubles it.
	DefaultRetryDelay = time.Minute
	// MaxRetryDelay bounds the retry delay.
	MaxRetryDelay = 15 * time.Minute
	// DefaultStopMargin is how long before its time runs out (the invocation's deadline, the
	// lease's expiry) the worker stops a job: the CTAS runner's stop of the query and its
	// cleanup are two calls of at most 10 s each, and the continuation is one send.
	DefaultStopMargin = 20 * time.Second
	// sendTimeout bounds the send of a continuation, SDK retries included; it is within the
	// stop margin.
	sendTimeout = 10 * time.Second
)

// Config is what a Worker needs besides its catalog, aggregator and queue client.
type Config struct {
	// QueueURL is the backfill queue's URL, whose messages the worker leases. Required.
	QueueURL string
	// DeadLetterQueueURL is where the worker sends jobs no retry can fix. Required.
	DeadLetterQueueURL string
	// Lease is how long a message stays invisible past each heartbeat (every quarter of the
	// lease): the job of a worker that died is delivered again at most this long after. Whole
	// seconds, between MinLease and MaxLease. Default: DefaultLease (2 minutes).
	Lease time.Duration
	// RetryDelay is how long a job reported as failed waits before SQS delivers it again,
	// doubled for every earlier failed delivery, at most MaxRetryDelay. Whole seconds, at most
	// MaxRetryDelay. Default: DefaultRetryDelay (1 minute).
	RetryDelay time.Duration
	// StopMargin is how long before the invocation's deadline, and before the lease on its
	// message could run out, the worker stops a job: time to stop the running query, clean up and
	// send the rest of the job on (or give it back) while the message is still its own. Less than
	// a quarter of the lease, so that the lease's heartbeat tries three times before it stops a
	// job. Default: DefaultStopMargin (20 s), or a sixth of the lease if that is shorter.
	StopMargin time.Duration
	// TimeZone is the business time zone: a job for a day that is not over in it yet (today, or
	// any later day) is malformed. Default: the zone where days end last (UTC+14), which refuses
	// no day that is over anywhere.
	TimeZone *time.Location
	// EarliestDay is the first day a job may name (the environment's backfill.earliestDay); an
	// earlier one is malformed. Default: DefaultEarliestDay.
	EarliestDay layout.Day
	// Now is the clock that says which days are over. Default: time.Now.
	Now func() time.Time
	// Logger receives the worker's JSON log lines. Default: none.
	Logger *slog.Logger
}

// DefaultEarliestDay is the first day a job may name when the environment sets none.
var DefaultEarliestDay, _ = layout.ParseDay("2000-01-01")

func (c *Config) validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, fmt.Errorf("backfill worker: no queue URL; set %s to the backfill queue's URL", contract.EnvBackfillQueueURL))
	}
	if c.DeadLetterQueueURL == "" {
		errs = append(errs, fmt.Errorf("backfill worker: no dead-letter queue; set %s to its URL", contract.EnvBackfillDeadLetterQueueURL))
	}
	if c.Lease != 0 && (c.Lease < MinLease || c.Lease > MaxLease || c.Lease%time.Second != 0) {
		errs = append(errs, fmt.Errorf("backfill worker: Lease is %s; give whole seconds from %s to %s, or 0 for %s",
			c.Lease, MinLease, MaxLease, DefaultLease))
	}
	if c.RetryDelay != 0 && (c.RetryDelay < time.Second || c.RetryDelay > MaxRetryDelay || c.RetryDelay%time.Second != 0) {
		errs = append(errs, fmt.Errorf("backfill worker: RetryDelay is %s; give whole seconds from 1s to %s, or 0 for %s",
			c.RetryDelay, MaxRetryDelay, DefaultRetryDelay))
	}
	lease := c.Lease
	if lease == 0 {
		lease = DefaultLease
	}
	if c.StopMargin < 0 || c.StopMargin != 0 && c.StopMargin >= lease/4 {
		errs = append(errs, fmt.Errorf("backfill worker: StopMargin is %s; give a positive duration under a quarter of the lease (%s), or 0 for the default",
			c.StopMargin, lease/4))
	}
	return errors.Join(errs...)
}

// Worker works backfill jobs delivered by an SQS event source mapping with
// ReportBatchItemFailures.
//
// It runs a job's KPIs one after the other in dependency order while the invocation has time.
// StopMargin before the deadline it stops the KPI in flight (or, sooner, does not start one that
// would likely not fit) and hands the rest on: it sends a continuation (the same request and day,
// the KPIs not yet published, planned in dependency waves again) to the queue and acknowledges
// the message only once that send succeeded, so no job needs more than one invocation and none is
// lost between two. A crash between the send and the acknowledgement
// runs some KPIs twice, which the CTAS runner's publish protocol makes harmless (one partition
// per KPI and day). An invocation that publishes no KPI is a failed delivery, not a hand-on:
// a job that can never progress still reaches the dead-letter queue.
//
// It leases each message it works: a heartbeat keeps it invisible Lease at a time
// (ChangeMessageVisibility), so that the job of a worker that dies comes back within a Lease
// instead of the queue's visibility timeout (six times the function's timeout). A job that fails
// for a cause that may pass (throttling, an AWS error, the invocation's deadline) is reported as
// failed and given back after RetryDelay, doubling with each failed delivery; SQS moves it to the
// dead-letter queue after the queue's maxReceiveCount. A job no retry can fix (malformed, a query
// Athena failed, a KPI that does not render) goes to the dead-letter queue at once, with its
// reason.
type Worker struct {
	kpis       *queries.Catalog
	agg        Aggregator
	queue      Queue
	queueURL   string
	dlqURL     string
	lease      time.Duration
	retry      time.Duration
	stopMargin time.Duration
	zone       *time.Location
	earliest   layout.Day
	now        func() time.Time
	log        *slog.Logger
}

// NewWorker returns a worker over the catalog kpis that aggregates through agg and calls SQS
// with queue.
func NewWorker(kpis *queries.Catalog, agg Aggregator, queue Queue, cfg Config) (*Worker, error) {
	var errs []error
	if kpis == nil {
		errs = append(errs, errors.New("backfill worker: the KPI catalog is nil"))
	}
	if agg == nil {
		errs = append(errs, errors.New("backfill worker: the aggregator is nil"))
	}
	if queue == nil {
		errs = append(errs, errors.New("backfill worker: the SQS client is nil"))
	}
	errs = append(errs, cfg.validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w := &Worker{kpis: kpis, agg: agg, queue: queue, queueURL: cfg.QueueURL, dlqURL: cfg.DeadLetterQueueURL,
		lease: cfg.Lease, retry: cfg.RetryDelay, stopMargin: cfg.StopMargin, zone: cfg.TimeZone,
		earliest: cfg.EarliestDay, now: cfg.Now, log: cfg.Logger}
	if w.zone == nil {
		w.zone = time.FixedZone("UTC+14", 14*60*60)
	}
	if w.earliest.IsZero() {
		w.earliest = DefaultEarliestDay
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.lease == 0 {
		w.lease = DefaultLease
	}
	if w.stopMargin == 0 {
		w.stopMargin = min(DefaultStopMargin, w.lease/6)
	}
	if w.retry == 0 {
		w.retry = DefaultRetryDelay
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w, nil
}

// Handle works every record of the batch and reports the ones to redeliver.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ls := w.hold(ctx, ev.Records)
	defer ls.end()
	var resp events.SQSEventResponse
	for _, l := range ls.all {
		if err := w.work(ctx, l); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: l.rec.MessageId})
		}
	}
	return resp, nil
}

// work runs one job under its lease; an error means "deliver it again". A failed job is given
// back after its retry delay.
func (w *Worker) work(ctx context.Context, l *lease) error {
	rec := l.rec
	receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	jctx, done, err := l.start(ctx)
	if err == nil {
		err = w.run(jctx, rec, receives)
		done()
	}
	if err != nil {
		l.release(ctx, w, w.retryDelay(receives))
	}
	return err
}

// run runs one job; an error means "deliver it again". ctx ends when the lease is lost; its
// deadline is the invocation's.
func (w *Worker) run(ctx context.Context, rec events.SQSMessage, receives int) error {
	start := time.Now()
	job, day, waves, err := ParseJob([]byte(rec.Body), w.kpis)
	log := w.log.With("message_id", rec.MessageId, "request_id", job.RequestID, "date", job.Date,
		"receive_count", receives, "continuation", job.Continuation)
	if err == nil {
		err = w.checkDay(day)
	}
	var bad *MalformedError
	if errors.As(err, &bad) {
		return w.reject(ctx, log, rec, KindMalformed, err)
	}
	// The job's time ends the stop margin before the invocation's: time to stop its query and
	// send the rest on.
	jctx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		jctx, cancel = context.WithDeadline(ctx, d.Add(-w.stopMargin))
		defer cancel()
	}
	kpis := slices.Concat(waves...)
	done := 0
	var stopped error
	var longest time.Duration // of the KPIs published in this invocation
	for _, kpi := range kpis {
		if stopped = context.Cause(jctx); stopped != nil {
			break
		}
		// A query the deadline would stop wastes the quota and the worker; once a KPI is
		// published, the rest goes on early instead, when a KPI as long as the longest so far
		// would not fit.
		if d, ok := jctx.Deadline(); ok && done > 0 && time.Until(d) < longest {
			stopped = fmt.Errorf("%w: %s left, the longest KPI so far took %s", errTooLittleTime, time.Until(d).Round(time.Second), longest.Round(time.Second))
			break
		}
		began := time.Now()
		res, err := w.agg.Handle(jctx, aggregate.Request{KPI: kpi, Date: day.String()})
		if kind := permanent(err); kind != "" {
			return w.reject(ctx, log.With("kpi", kpi, "kpis_done", kpis[:done]), rec, kind, fmt.Errorf("kpi %s: %w", kpi, err))
		}
		if err != nil {
			log.WarnContext(ctx, "backfill KPI not published", "kpi", kpi, "err", err, "error_type", fmt.Sprintf("%T", err))
			stopped = fmt.Errorf("kpi %s: %w", kpi, err)
			break
		}
		log.InfoContext(ctx, "backfill KPI published", "kpi", kpi, "query_id", res.QueryID, "location", res.Location)
		longest = max(longest, time.Since(began))
		done++
	}
	if stopped == nil {
		log.InfoContext(ctx, "backfill job done", "kpis", kpis, "duration_ms", time.Since(start).Milliseconds())
		return nil
	}
	// The job's own deadline, or the runner's stop ahead of it, is no failure: the rest goes on at once.
	outOfTime := jctx.Err() != nil && ctx.Err() == nil || errors.Is(stopped, ctas.ErrDeadline) || errors.Is(stopped, errTooLittleTime)
	return w.handOn(ctx, log.With("kpis_done", kpis[:done], "kpis_left", kpis[done:], "err", stopped),
		job, kpis[done:], done > 0, outOfTime, stopped)
}

// handOn sends left, the KPIs a stopped job has not published, on to the queue as the job's
// continuation, and returns nil once it is there (the message may be deleted). It returns the
// error that stopped the job, for another delivery of the message, when the lease is lost (the
// message is or will be another delivery's), when the invocation published nothing (progress is
// what a hand-on must show; otherwise the delivery counts towards the dead-letter queue), or when
// the send failed. The continuation of a failure that may pass waits the retry delay; that of a
// job out of time does not wait.
func (w *Worker) handOn(ctx context.Context, log *slog.Logger, job Job, left []string, progressed, outOfTime bool, stopped error) error {
	switch {
	case errors.Is(context.Cause(ctx), ErrLeaseLost):
		log.ErrorContext(ctx, "backfill job stopped: its lease is lost; SQS will deliver it again")
		return stopped
	case !progressed:
		log.ErrorContext(ctx, "backfill job stopped before it published a KPI; SQS will deliver it again")
		return stopped
	}
	var delay time.Duration
	if !outOfTime {
		delay = w.retry
	}
	next := Job{RequestID: job.RequestID, Date: job.Date, KPIs: left, Continuation: job.Continuation + 1}
	id, err := w.send(ctx, next, delay)
	if err != nil {
		log.ErrorContext(ctx, "backfill job stopped and its rest not sent on; SQS will deliver it again", "send_err", err)
		return errors.Join(stopped, err)
	}
	log.InfoContext(ctx, "backfill job handed on: the KPIs left go on in a continuation",
		"continuation_message_id", id, "delay_seconds", int(delay/time.Second), "out_of_time", outOfTime)
	return nil
}

// send puts job on the backfill queue, visible after delay (whole seconds), and returns its
// message id. It has sendTimeout, even if ctx's deadline is nearer.
func (w *Worker) send(ctx context.Context, job Job, delay time.Duration) (string, error) {
	body, err := job.Body()
	if err != nil {
		return "", err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	out, err := w.queue.SendMessage(sctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(w.queueURL),
		MessageBody:  aws.String(body),
		DelaySeconds: int32(math.Ceil(delay.Seconds())),
	})
	if err != nil {
		return "", fmt.Errorf("send the continuation of the job for %s to %s: %w", job.Date, w.queueURL, err)
	}
	return aws.ToString(out.MessageId), nil
}

// errTooLittleTime stops a job whose next KPI would likely not finish before the job's deadline.
var errTooLittleTime = errors.New("too little time left for the next KPI")

// permanent is the kind of a failure no retry can fix, or "" for one that may pass.
func permanent(err error) string {
	var failed *aggregate.QueryFailed
	var input *aggregate.InputError
	switch {
	case errors.As(err, &failed):
		return KindQueryFailed
	case errors.As(err, &input):
		return KindInputError
	}
	return ""
}

// reject sends a job no retry can fix to the dead-letter queue; if that fails, the job is
// reported for redelivery, and SQS's redrive moves it in the end.
func (w *Worker) reject(ctx context.Context, log *slog.Logger, rec events.SQSMessage, kind string, reason error) error {
	log = log.With("error_kind", kind, "err", reason)
	if err := w.deadLetter(ctx, rec, kind, reason); err != nil {
		log.ErrorContext(ctx, "backfill job cannot succeed and was not moved to the dead-letter queue; SQS will deliver it again",
			"dlq_err", err)
		return err
	}
	log.ErrorContext(ctx, "backfill job cannot succeed; moved to the dead-letter queue without retries")
	return nil
}

// maxAttrError bounds the reason attached to a dead-lettered job, in bytes.
const maxAttrError = 1024

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence: SQS refuses an
// attribute that is not valid Unicode, and the reason quotes the job (an unknown KPI name, say).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// deadLetter sends the record's body to the dead-letter queue with the reason attached.
func (w *Worker) deadLetter(ctx context.Context, rec events.SQSMessage, kind string, reason error) error {
	msg := truncate(reason.Error(), maxAttrError)
	_, err := w.queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(w.dlqURL),
		MessageBody: aws.String(rec.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			AttrError:             {DataType: aws.String("String"), StringValue: aws.String(msg)},
			AttrErrorKind:         {DataType: aws.String("String"), StringValue: aws.String(kind)},
			AttrOriginalMessageID: {DataType: aws.String("String"), StringValue: aws.String(rec.MessageId)},
		},
	})
	if err != nil {
		return fmt.Errorf("send %s job %s to the dead-letter queue: %w", kind, rec.MessageId, err)
	}
	return nil
}

// checkDay refuses a day outside the environment's: before its earliest day, or not over yet in
// the business zone. Such a job is valid JSON that fails again as it is (0000-01-01 and 9999-12-31
// would publish partitions).
func (w *Worker) checkDay(day layout.Day) error {
	if day.Before(w.earliest) {
		return &MalformedError{fmt.Errorf(`field "date": %s is before backfill.earliestDay %s; backfill from that day on, or lower backfill.earliestDay in cdk.json`, day, w.earliest)}
	}
	last := layout.DayOf(w.now(), w.zone).AddDays(-1)
	if last.Before(day) {
		return &MalformedError{fmt.Errorf(`field "date": %s is not over yet in %s; the last day to backfill is %s`, day, w.zone, last)}
	}
	return nil
}
