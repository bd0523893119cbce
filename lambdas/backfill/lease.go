package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// ErrLeaseLost is the cause of a job's cancellation when the worker no longer holds its message:
// SQS may deliver it to another worker (or has), so this one stops rather than race it.
var ErrLeaseLost = errors.New("backfill: lease on the message lost")

// leases keep the messages of one invocation invisible to other consumers, a Lease at a time,
// while the invocation lives: the message of an invocation that dies (a crash, Lambda's timeout)
// reappears at most one Lease later, not the queue's visibility timeout after it was received.
type leases struct {
	w    *Worker
	all  []*lease
	stop context.CancelFunc
	done chan struct{}
}

// lease is one held message.
type lease struct {
	rec events.SQSMessage
	log *slog.Logger

	// mu is held across a ChangeMessageVisibility call, so that the heartbeat's extension and
	// release's shorter retry delay reach SQS in the order they were decided. A channel, not a
	// sync.Mutex: a goroutine waiting on it is durably blocked for testing/synctest, whose fake
	// clock must go on while the holder's call takes its time.
	mu chanMutex
	// expires is when the message may be visible again at the latest, as far as the worker
	// knows: the send time of the last successful ChangeMessageVisibility plus the lease. Zero
	// until one succeeds: until then the queue's visibility timeout (longer than the function's
	// timeout, as Lambda requires of an event source) still hides the message.
	expires time.Time
	// lost is set once the worker may no longer hold the message; released once it gave it back.
	lost     error
	released bool
	// cancel cancels the job working the message, while one does.
	cancel context.CancelCauseFunc
}

// hold leases every record of the batch and keeps the leases until release or the returned
// leases' end.
func (w *Worker) hold(ctx context.Context, recs []events.SQSMessage) *leases {
	ls := &leases{w: w, done: make(chan struct{})}
	for _, rec := range recs {
		ls.all = append(ls.all, &lease{rec: rec, log: w.log.With("message_id", rec.MessageId), mu: make(chanMutex, 1)})
	}
	// The invocation's end (its deadline) must not cut a heartbeat short while the job still
	// cleans up; end stops it.
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ls.stop = stop
	go ls.heartbeat(hctx)
	return ls
}

// end stops the heartbeat and waits for it: no call about these messages is made after the
// handler returns. The leases still held run out on their own after the event source mapping
// has deleted the messages that succeeded.
func (ls *leases) end() {
	ls.stop()
	<-ls.done
}

// heartbeat extends every held lease at once, then every quarter of the lease, and wakes at the
// earliest stop too (the stop margin before a lease's expiry), so that the job of a lease whose
// extensions failed is stopped while the lease still holds.
func (ls *leases) heartbeat(ctx context.Context) {
	defer close(ls.done)
	every := ls.w.lease / 4
	for {
		next := time.Now().Add(every)
		for _, l := range ls.all {
			if at := l.extend(ctx, ls.w, every); !at.IsZero() && at.Before(next) {
				next = at
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// extend renews the lease if it is held and returns when its job must stop unless a later
// extension succeeds (zero: unknown or not held): the worker's stop margin before the lease
// expires, which leaves the job time to stop its query and clean up while the message is still
// its own. A failed call is retried at the next beat; the lease counts as lost at the stop
// without one succeeding. A refusal (ReceiptHandleIsInvalid, MessageNotInflight) is no surer a
// sign: SQS may refuse the handle of a copy delivered twice, or of a message another copy's
// worker deleted, and a held lease still runs out on time.
func (l *lease) extend(ctx context.Context, w *Worker, timeout time.Duration) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released || l.lost != nil {
		return time.Time{}
	}
	sent := time.Now()
	if !l.expires.IsZero() {
		stop := l.expires.Add(-w.stopMargin)
		if !sent.Before(stop) {
			l.loseLocked(fmt.Errorf("%w: not extended within %s of the lease (%s), the stop margin (%s) before it runs out",
				ErrLeaseLost, w.lease-w.stopMargin, w.lease, w.stopMargin))
			return time.Time{}
		}
		// A call still waiting at the stop must not delay it.
		timeout = min(timeout, stop.Sub(sent))
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	err := w.changeVisibility(cctx, l.rec, w.lease)
	cancel()
	switch {
	case err == nil:
		l.expires = sent.Add(w.lease)
	case ctx.Err() == nil:
		l.log.WarnContext(ctx, "backfill lease not extended; retrying at the next beat", "err", err,
			"expires", l.expires)
	}
	if l.expires.IsZero() {
		return time.Time{}
	}
	return l.expires.Add(-w.stopMargin)
}

func (l *lease) loseLocked(err error) {
	l.lost = err
	l.log.Error("backfill lease lost; the job stops and SQS delivers it again", "err", err)
	if l.cancel != nil {
		l.cancel(err)
	}
}

// start ties a job's context to the lease: losing the lease cancels the job with ErrLeaseLost.
// It returns the job's context and its end, or the error that the lease is lost already.
func (l *lease) start(ctx context.Context) (context.Context, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return nil, nil, l.lost
	}
	jctx, cancel := context.WithCancelCause(ctx)
	l.cancel = cancel
	return jctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.cancel = nil
		cancel(nil)
	}, nil
}

// release gives the message back for another delivery after delay (no longer: a retry comes
// soon; no sooner: the cause gets time to pass), unless the lease is lost already (the message
// is or will soon be visible). A failed release leaves the message to the lease's expiry.
func (l *lease) release(ctx context.Context, w *Worker, delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released || l.lost != nil {
		return
	}
	l.released = true
	// The invocation may be at its deadline: the call gets a moment of its own.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := w.changeVisibility(cctx, l.rec, delay); err != nil {
		l.log.WarnContext(ctx, "backfill job not given back early; SQS delivers it again when its lease expires",
			"retry_in", delay.String(), "err", err)
	}
}

// releaseTimeout bounds the call that gives a failed job back.
const releaseTimeout = 5 * time.Second

// changeVisibility makes the message visible again d from now (whole seconds, rounded up, as
// SQS counts them).
func (w *Worker) changeVisibility(ctx context.Context, rec events.SQSMessage, d time.Duration) error {
	_, err := w.queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(w.queueURL),
		ReceiptHandle:     aws.String(rec.ReceiptHandle),
		VisibilityTimeout: int32(math.Ceil(d.Seconds())),
	})
	if err != nil {
		return fmt.Errorf("change the visibility of message %s to %s: %w", rec.MessageId, d, err)
	}
	return nil
}

// retryDelay is how long a job that failed its receiveCount-th delivery stays invisible:
// RetryDelay, doubled for every earlier failed delivery, at most MaxRetryDelay.
func (w *Worker) retryDelay(receiveCount int) time.Duration {
	d := w.retry
	for i := 1; i < receiveCount && d < MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, MaxRetryDelay)
}

// chanMutex is a mutex made of a channel of capacity 1.
type chanMutex chan struct{}

func (m chanMutex) Lock()   { m <- struct{}{} }
func (m chanMutex) Unlock() { <-m }
