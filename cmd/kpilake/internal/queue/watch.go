package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// AttributesGetter reads queue attributes; *sqs.Client is one.
type AttributesGetter interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ AttributesGetter = (*sqs.Client)(nil)

// Counts are the approximate message counts of the backfill queue and its dead-letter queue.
type Counts struct {
	// Visible jobs wait for a worker.
	Visible int
	// InFlight jobs are being worked (received, not yet deleted).
	InFlight int
	// Delayed jobs are not yet visible.
	Delayed int
	// DeadLetters are jobs that failed: moved to the dead-letter queue.
	DeadLetters int
}

// Pending is the jobs still on the queue: waiting, delayed or in flight.
func (c Counts) Pending() int { return c.Visible + c.InFlight + c.Delayed }

// ReadCounts reads both queues' counts.
func ReadCounts(ctx context.Context, api AttributesGetter, queueURL, dlqURL string) (Counts, error) {
	q, err := attributes(ctx, api, queueURL,
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)
	if err != nil {
		return Counts{}, err
	}
	d, err := attributes(ctx, api, dlqURL, sqstypes.QueueAttributeNameApproximateNumberOfMessages)
	if err != nil {
		return Counts{}, err
	}
	return Counts{
		Visible:     q[0],
		InFlight:    q[1],
		Delayed:     q[2],
		DeadLetters: d[0],
	}, nil
}

func attributes(ctx context.Context, api AttributesGetter, url string, names ...sqstypes.QueueAttributeName) ([]int, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		return nil, fmt.Errorf("read the attributes of queue %s: %w", url, err)
	}
	vals := make([]int, len(names))
	for i, n := range names {
		s, ok := out.Attributes[string(n)]
		if !ok {
			continue // an attribute SQS does not report is zero
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("queue %s: attribute %s is %q, not a count", url, n, s)
		}
		vals[i] = v
	}
	return vals, nil
}

// Progress is the state of a backfill as the queues show it.
type Progress struct {
	// Total is the jobs watched: those sent, or those seen when watching without a count.
	Total int
	// Done jobs left the queue without failing.
	Done int
	// Queued jobs wait for a worker (visible or delayed).
	Queued int
	// InFlight jobs are being worked.
	InFlight int
	// Failed jobs are in the dead-letter queue.
	Failed int
	// Elapsed is the time since the watch began.
	Elapsed time.Duration
	// ETA is the time left at the drain rate seen so far; negative while unknown.
	ETA time.Duration
	// Drained says the queue has stayed empty for the settle time: the watch is over.
	Drained bool
}

// Renderer shows progress: a live bar on a terminal, lines otherwise.
type Renderer interface {
	// Update shows p; the watch calls it after every poll.
	Update(p Progress) error
	// Finish shows the final state; the watch calls it once, when the queue drained.
	Finish(p Progress) error
}

// Watcher polls the queues until the backfill queue drains.
type Watcher struct {
	// SQS reads the queue attributes. Required.
	SQS AttributesGetter
	// QueueURL and DLQURL are the backfill queue and its dead-letter queue. Required.
	QueueURL, DLQURL string
	// Interval is the time between polls. Default: 10s.
	Interval time.Duration
	// Settle is how long the queue must stay empty before the watch ends: SQS's counts are
	// approximate and lag behind. Default: 30s.
	Settle time.Duration
	// Now and Sleep are the clock. Default: time.Now and Sleep.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Watch is what a watch counts.
//
// A job is a business day: the worker hands the KPIs that one invocation could not finish on as a
// continuation, sent before its original is deleted, so for a moment a job may be two messages.
// The watch counts a rise in the messages as more jobs only once two polls in a row show it, and
// never takes a job back from done.
type Watch struct {
	// Total is the number of jobs expected (sent by this run, plus those already pending when
	// it sent them). Zero: the jobs seen on the queues. Either grows if more show up.
	Total int
	// DeadLetterBaseline is the dead-letter count before the jobs were sent; only messages
	// beyond it count as failed.
	DeadLetterBaseline int
}

// Watch polls the queues, rendering progress, until the backfill queue has been empty for the
// settle time or ctx ends. It returns the last progress.
func (w *Watcher) Watch(ctx context.Context, opts Watch, r Renderer) (Progress, error) {
	now, sleep, interval, settle := w.pace()
	tl := &tally{start: now(), total: opts.Total, baseline: opts.DeadLetterBaseline, firstLeft: -1}
	var p Progress
	var emptySince time.Time
	for {
		c, err := ReadCounts(ctx, w.SQS, w.QueueURL, w.DLQURL)
		if err != nil {
			return p, err
		}
		t := now()
		p = tl.observe(c, t)
		if c.Pending() == 0 {
			if emptySince.IsZero() {
				emptySince = t
			}
			if t.Sub(emptySince) >= settle {
				p.Drained = true
				return p, r.Finish(p)
			}
		} else {
			emptySince = time.Time{}
		}
		if err := r.Update(p); err != nil {
			return p, err
		}
		if err := sleep(ctx, interval); err != nil {
			return p, err
		}
	}
}

// pace is the watcher's clock, sleep, poll interval and settle time, defaults applied.
func (w *Watcher) pace() (now func() time.Time, sleep func(context.Context, time.Duration) error, interval, settle time.Duration) {
	now, sleep = w.Now, w.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = Sleep
	}
	interval, settle = w.Interval, w.Settle
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return now, sleep, interval, max(settle, 0)
}

// tally turns successive queue counts into progress: the jobs of the request, those done and
// failed, and the rate at which they leave the queue.
type tally struct {
	start    time.Time
	total    int
	baseline int // dead letters before the request
	// firstLeft is the jobs that had left the queue at the first poll (-1 before it).
	firstLeft int
	done      int
	// extra is the messages beyond the jobs counted, at the last poll.
	extra int
}

// observe accounts for one poll's counts, at t.
func (tl *tally) observe(c Counts, t time.Time) Progress {
	failed := max(0, c.DeadLetters-tl.baseline)
	if tl.firstLeft < 0 && tl.total == 0 {
		tl.total = c.Pending() + failed
	}
	// A rise seen once may be a continuation and its original, one job; seen twice, it is new
	// jobs, as many as the larger of the two.
	more := c.Pending() + failed + tl.done - tl.total
	if more > 0 && tl.extra > 0 {
		tl.total += max(more, tl.extra)
		more = 0
	}
	tl.extra = max(0, more)
	left := tl.total - c.Pending() // done or failed
	if tl.firstLeft < 0 {
		tl.firstLeft = left
	}
	tl.done = max(tl.done, left-failed)
	p := Progress{
		Total:    tl.total,
		Done:     tl.done,
		Queued:   c.Visible + c.Delayed,
		InFlight: c.InFlight,
		Failed:   failed,
		Elapsed:  t.Sub(tl.start),
		ETA:      -1,
	}
	if drained := left - tl.firstLeft; drained > 0 && p.Elapsed > 0 {
		rate := float64(drained) / p.Elapsed.Seconds()
		p.ETA = time.Duration(float64(c.Pending()) / rate * float64(time.Second)).Round(time.Second)
	}
	if c.Pending() == 0 {
		p.ETA = 0
	}
	return p
}
