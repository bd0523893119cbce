package backfillsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/kpilake/kpilake/lambdas/backfill"
)

// queue is the backfill queue with its redrive policy and dead-letter queue.
type queue struct {
	sc *Scenario
	vt time.Duration // wall

	mu        sync.Mutex
	rng       *rand.Rand
	msgs      []*message // not deleted, not dead-lettered; in send order
	dlq       []string   // bodies
	changed   chan struct{}
	nextID    int
	drainedAt time.Time
	// continuations counts the jobs the worker sent on to the queue.
	continuations int

	changes atomic.Int64 // ChangeMessageVisibility calls
}

type message struct {
	id, body  string
	sent      time.Time
	receives  int
	receipt   int       // the latest receipt handle; only it deletes the message or changes its visibility
	received  time.Time // by the latest receipt
	visibleAt time.Time
}

// delivery is one received copy of a message.
type delivery struct {
	id, body string
	sent     time.Time
	receives int
	receipt  int
}

func newQueue(sc *Scenario) *queue {
	return &queue{sc: sc, vt: sc.wall(sc.VisibilityTimeout), rng: rand.New(rand.NewPCG(sc.Seed, 0x5e5)), changed: make(chan struct{})}
}

// broadcastLocked wakes the pollers waiting for a change.
func (q *queue) broadcastLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// send puts a message on the queue, visible delay (wall) after now.
func (q *queue) send(body string, now time.Time, delay time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nextID++
	q.msgs = append(q.msgs, &message{id: fmt.Sprintf("msg-%06d", q.nextID), body: body, sent: now, visibleAt: now.Add(delay)})
	q.broadcastLocked()
}

// receive returns the first visible message, moving the ones received MaxReceiveCount times to
// the dead-letter queue as SQS's redrive does. Without one it returns when the next message
// becomes visible and the channel closed on the next change; drained means no message is left.
func (q *queue) receive(now time.Time) (d *delivery, next time.Time, changed <-chan struct{}, drained bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := 0; i < len(q.msgs); {
		m := q.msgs[i]
		if m.visibleAt.After(now) {
			if next.IsZero() || m.visibleAt.Before(next) {
				next = m.visibleAt
			}
			i++
			continue
		}
		if m.receives >= q.sc.MaxReceiveCount {
			q.dlq = append(q.dlq, m.body)
			q.removeLocked(i, now)
			continue
		}
		m.receives++
		m.receipt++
		m.received = now
		m.visibleAt = now.Add(q.vt)
		if q.sc.DuplicateRate > 0 && q.rng.Float64() < q.sc.DuplicateRate {
			// At-least-once delivery: another poller gets a copy too.
			m.visibleAt = now
		}
		return &delivery{id: m.id, body: m.body, sent: m.sent, receives: m.receives, receipt: m.receipt}, time.Time{}, nil, false
	}
	return nil, next, q.changed, len(q.msgs) == 0
}

func (q *queue) removeLocked(i int, now time.Time) {
	q.msgs = slices.Delete(q.msgs, i, i+1)
	if len(q.msgs) == 0 {
		q.drainedAt = now
	}
	q.broadcastLocked()
}

// delete deletes the message if receipt is its latest receipt handle; an older one is ignored,
// as SQS may ignore it.
func (q *queue) delete(d *delivery, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.IndexFunc(q.msgs, func(m *message) bool { return m.id == d.id })
	if i >= 0 && q.msgs[i].receipt == d.receipt {
		q.removeLocked(i, now)
	}
}

// maxVisibility is SQS's limit on a message's visibility timeout, counted from its receipt.
const maxVisibility = 12 * time.Hour

// changeVisibility makes the message of receipt handle rh visible timeout (wall) after now, as
// ChangeMessageVisibility does: only the latest receipt of a message in flight may, and no later
// than 12 hours after that receipt. With Scenario.IgnoreVisibilityChanges it accepts the change
// and does nothing.
func (q *queue) changeVisibility(rh string, timeout time.Duration, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	id, n, _ := strings.Cut(rh, "#")
	receipt, err := strconv.Atoi(n)
	i := slices.IndexFunc(q.msgs, func(m *message) bool { return m.id == id })
	if err != nil || i < 0 || q.msgs[i].receipt != receipt {
		return &sqstypes.ReceiptHandleIsInvalid{Message: aws.String("The input receipt handle \"" + rh + "\" is not a valid receipt handle.")}
	}
	m := q.msgs[i]
	switch {
	case !m.visibleAt.After(now):
		return &sqstypes.MessageNotInflight{}
	case now.Add(timeout).Sub(m.received) > q.sc.wall(maxVisibility):
		return &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"}
	case q.sc.IgnoreVisibilityChanges:
		return nil
	}
	m.visibleAt = now.Add(timeout)
	q.broadcastLocked() // a poller may wait for an earlier time
	return nil
}

func (q *queue) deadLetter(body string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dlq = append(q.dlq, body)
}

// sqsClient is the worker's SQS client: dead letters to the dead-letter queue, continuations and
// visibility changes on the backfill queue. Its calls take APILatency and die with their
// invocation, as every call.
type sqsClient struct {
	q *queue
	w *world
}

func (c sqsClient) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	u := aws.ToString(in.QueueUrl)
	if u != DLQURL && u != QueueURL {
		return nil, &sqstypes.QueueDoesNotExist{Message: aws.String("backfillsim: the worker sends to the backfill queue and its dead-letter queue, not " + u)}
	}
	if in.DelaySeconds < 0 || in.DelaySeconds > 900 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("DelaySeconds %d is out of range", in.DelaySeconds)}
	}
	err := c.w.call(ctx, func(now time.Time) error {
		if u == DLQURL {
			c.q.deadLetter(aws.ToString(in.MessageBody))
			return nil
		}
		// SQS counts wall seconds, as the worker's timers do.
		c.q.send(aws.ToString(in.MessageBody), now, time.Duration(in.DelaySeconds)*time.Second)
		c.q.mu.Lock()
		c.q.continuations++
		c.q.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("dlq-message")}, nil
}

func (c sqsClient) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if u := aws.ToString(in.QueueUrl); u != QueueURL {
		return nil, &sqstypes.QueueDoesNotExist{Message: aws.String("backfillsim: the worker changes visibility on the backfill queue, not " + u)}
	}
	if in.VisibilityTimeout < 0 || in.VisibilityTimeout > int32(maxVisibility/time.Second) {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("VisibilityTimeout %d is out of range", in.VisibilityTimeout)}
	}
	// SQS counts wall seconds, as the worker's timers do.
	err := c.w.call(ctx, func(now time.Time) error {
		c.q.changes.Add(1)
		return c.q.changeVisibility(aws.ToString(in.ReceiptHandle), time.Duration(in.VisibilityTimeout)*time.Second, now)
	})
	if err != nil {
		return nil, err
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// esm is the Lambda event source mapping: up to Concurrency pollers, batch size 1,
// ReportBatchItemFailures.
type esm struct {
	sc     *Scenario
	q      *queue
	worker *backfill.Worker

	mu                                     sync.Mutex
	rng                                    *rand.Rand
	invocations, crashed, timedOut, failed int
	idle                                   time.Duration // wall
}

func (e *esm) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range e.sc.Concurrency {
		wg.Go(func() { e.poll(ctx) })
	}
	wg.Wait()
}

func (e *esm) poll(ctx context.Context) {
	for ctx.Err() == nil {
		now := time.Now()
		d, next, changed, drained := e.q.receive(now)
		if drained {
			return
		}
		if d == nil {
			t := time.NewTimer(next.Sub(now))
			select {
			case <-ctx.Done():
			case <-changed:
			case <-t.C:
			}
			t.Stop()
			e.mu.Lock()
			e.idle += time.Since(now)
			e.mu.Unlock()
			continue
		}
		e.invoke(ctx, d)
	}
}

// maxCrashCall bounds the call at which a crashing invocation dies; a job makes about 17 calls
// per KPI, so a crash point past its last call (the invocation dies before reporting) is rare.
const maxCrashCall = 90

func (e *esm) invoke(ctx context.Context, d *delivery) {
	e.mu.Lock()
	e.invocations++
	crash := e.sc.CrashRate > 0 && e.rng.Float64() < e.sc.CrashRate
	crashAt, after := 1+e.rng.IntN(maxCrashCall), e.rng.IntN(2) == 1
	e.mu.Unlock()
	if err := sleep(ctx, e.sc.wall(e.sc.APILatency)); err != nil { // the poller's receive and invoke
		return
	}

	deadline := time.Now().Add(e.sc.wall(e.sc.FunctionTimeout))
	ictx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	inv := &invocation{deadline: deadline, cancel: cancel}
	if crash {
		inv.crashAt, inv.after = crashAt, after
	}
	ictx = withInvocation(ictx, inv)
	resp, err := e.worker.Handle(ictx, events.SQSEvent{Records: []events.SQSMessage{{
		MessageId:     d.id,
		ReceiptHandle: d.id + "#" + strconv.Itoa(d.receipt),
		Body:          d.body,
		Attributes: map[string]string{
			"ApproximateReceiveCount": strconv.Itoa(d.receives),
			"SentTimestamp":           strconv.FormatInt(d.sent.UnixMilli(), 10),
		},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:ap-northeast-1:123456789012:kpilake-backfill",
		AWSRegion:      "ap-northeast-1",
	}}})
	if crash || !time.Now().Before(deadline) {
		inv.die() // a crash point past the job's last call, or Lambda's timeout: no report
	}
	dead, timedOut := inv.isDead()
	timedOut = timedOut || !crash && !time.Now().Before(deadline)
	failed := err != nil || slices.ContainsFunc(resp.BatchItemFailures, func(f events.SQSBatchItemFailure) bool { return f.ItemIdentifier == d.id })

	e.mu.Lock()
	switch {
	case timedOut:
		e.timedOut++
	case dead:
		e.crashed++
	case failed:
		e.failed++
	}
	e.mu.Unlock()
	if dead || failed {
		// The message reappears when its lease runs out, or the retry delay the worker gave it.
		return
	}
	if err := sleep(ctx, e.sc.wall(e.sc.APILatency)); err != nil { // DeleteMessage
		return
	}
	e.q.delete(d, time.Now())
}
