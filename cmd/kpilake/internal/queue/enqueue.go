// Package queue talks to the backfill queues: it sends a request's jobs, watches the queue drain
// and moves failed jobs back from the dead-letter queue.
package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kpilake/kpilake/lambdas/backfill"
)

// BatchSender sends messages in batches; *sqs.Client is one.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ BatchSender = (*sqs.Client)(nil)

// MaxBatch is the most entries SQS takes in one batch call.
const MaxBatch = 10

// Retry bounds the resending of batch entries that SQS failed on its side.
type Retry struct {
	// Attempts is how many times an entry is sent at most. Default: 5.
	Attempts int
	// Backoff is the wait before the first resend; it doubles with each one, with jitter.
	// Default: 200ms.
	Backoff time.Duration
	// Sleep waits d or until ctx ends. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return 5
	}
	return r.Attempts
}

// wait sleeps before resend number n (1 for the first), with full jitter over the upper half.
func (r Retry) wait(ctx context.Context, n int) error {
	base := r.Backoff
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	d := base << (n - 1)
	d = d/2 + rand.N(d/2+1)
	sleep := r.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	return sleep(ctx, d)
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// entry is one message of a batch: its id within the batch and its body.
type entry struct {
	id   string
	body string
}

// EntryError is an entry SQS refused.
type EntryError struct {
	ID      string
	Code    string
	Message string
	// SenderFault says the request itself is wrong: resending it cannot succeed.
	SenderFault bool
}

func (e EntryError) String() string {
	return fmt.Sprintf("%s: %s (%s)", e.ID, e.Message, e.Code)
}

// BatchError reports the entries of a batch that could not be sent.
type BatchError struct {
	Entries []EntryError
	// Attempts is how many times the last of them was sent.
	Attempts int
}

func (e *BatchError) Error() string {
	var s []string
	for _, f := range e.Entries {
		s = append(s, f.String())
	}
	return fmt.Sprintf("%d of the batch's messages not sent after %d attempts: %s", len(e.Entries), e.Attempts, strings.Join(s, "; "))
}

// sendBatch sends up to MaxBatch entries, resending those SQS failed on its side (not those it
// refused as malformed) up to the retry's attempts. It returns the ids sent; on error, the ids
// sent before it.
func sendBatch(ctx context.Context, api BatchSender, queueURL string, entries []entry, r Retry) ([]string, error) {
	pending := entries
	var sent []string
	for attempt := 1; ; attempt++ {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL)}
		for _, e := range pending {
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(e.id), MessageBody: aws.String(e.body)})
		}
		out, err := api.SendMessageBatch(ctx, in)
		if err != nil {
			return sent, fmt.Errorf("send message batch to %s: %w", queueURL, err)
		}
		for _, s := range out.Successful {
			sent = append(sent, aws.ToString(s.Id))
		}
		if len(out.Failed) == 0 {
			return sent, nil
		}
		failed := map[string]EntryError{}
		var fatal []EntryError
		for _, f := range out.Failed {
			fe := EntryError{ID: aws.ToString(f.Id), Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
			failed[fe.ID] = fe
			if fe.SenderFault {
				fatal = append(fatal, fe)
			}
		}
		var retry []entry
		var last []EntryError
		for _, e := range pending {
			if fe, ok := failed[e.id]; ok {
				retry = append(retry, e)
				last = append(last, fe)
			}
		}
		if len(fatal) > 0 {
			return sent, &BatchError{Entries: fatal, Attempts: attempt}
		}
		if attempt >= r.attempts() {
			return sent, &BatchError{Entries: last, Attempts: attempt}
		}
		if err := r.wait(ctx, attempt); err != nil {
			return sent, err
		}
		pending = retry
	}
}

// Enqueuer sends a request's jobs to the backfill queue.
type Enqueuer struct {
	// SQS sends the batches. Required.
	SQS BatchSender
	// QueueURL is the backfill queue (stack output BackfillQueueUrl). Required.
	QueueURL string
	// Retry bounds the resending of entries SQS failed.
	Retry Retry
}

// SendError reports a request sent only in part. The jobs before FirstUnsent were all sent;
// some after it may have been sent too (resending them is harmless: a day's aggregation is
// idempotent).
type SendError struct {
	RequestID string
	Sent      int
	// FirstUnsent is the date of the first job not sent.
	FirstUnsent string
	Err         error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("request %s: %d jobs sent, but not all from %s on: %v", e.RequestID, e.Sent, e.FirstUnsent, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Send sends the jobs in batches of MaxBatch, in order, and returns how many were sent. A job's
// id within its batch is its date, so jobs must be of distinct days. It stops at the first
// batch it cannot send; the error is a *SendError.
func (q *Enqueuer) Send(ctx context.Context, jobs []backfill.Job) (int, error) {
	sent := 0
	for start := 0; start < len(jobs); start += MaxBatch {
		batch := jobs[start:min(start+MaxBatch, len(jobs))]
		entries := make([]entry, len(batch))
		for i, j := range batch {
			body, err := j.Body()
			if err != nil {
				return sent, err
			}
			entries[i] = entry{id: j.Date, body: body}
		}
		ids, err := sendBatch(ctx, q.SQS, q.QueueURL, entries, q.Retry)
		sent += len(ids)
		if err != nil {
			done := map[string]bool{}
			for _, id := range ids {
				done[id] = true
			}
			first := batch[0].Date
			for _, j := range batch {
				if !done[j.Date] {
					first = j.Date
					break
				}
			}
			return sent, &SendError{RequestID: batch[0].RequestID, Sent: sent, FirstUnsent: first, Err: err}
		}
	}
	return sent, nil
}
