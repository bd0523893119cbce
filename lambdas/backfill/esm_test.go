package backfill_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
)

// maxReceiveCount is the redrive policy of the test queues, as the stack sets a few receives.
const maxReceiveCount = 3

// queues is one test's backfill queue and dead-letter queue, on moto or in memory (memSQS), and
// the Lambda event source mapping that feeds their messages to a worker: it records every
// delivery and every message reported for redelivery.
type queues struct {
	sqs              sqsAPI
	queueURL, dlqURL string
	queueARN         string
	worker           *backfill.Worker
	// timeout, if set, is each invocation's deadline, as Lambda's function timeout.
	timeout time.Duration
	// wait is the pollers' WaitTimeSeconds. Zero on moto, whose long poll holds a server thread
	// and looks again only once a second: a poller that finds nothing sleeps a moment instead
	// (pollIdleMin, doubling up to pollIdleMax). memSQS's long poll wakes at the next message,
	// which costs nothing on a fake clock.
	wait int32
	// fakeClock is set when the queues run in a testing/synctest bubble, where the wall clock's
	// deadlines mean nothing.
	fakeClock bool
	// stall, if set, replaces drainStall: for events that take longer on purpose.
	stall time.Duration

	// receiveMu serializes the pollers' receives on moto (receiveFor).
	receiveMu sync.Mutex
	// batches counts the batches the worker has completed, for drain's stall check.
	batches    atomic.Int64
	mu         sync.Mutex
	deliveries map[string][]string // message id -> ApproximateReceiveCount of each delivery
	reported   map[string]int      // message id -> times reported as a batch item failure
	bodies     map[string]string   // message id -> body
	largest    int                 // most records in one event
}

// A poller that finds no message sleeps pollIdleMin, twice as long each time it finds none again,
// up to pollIdleMax: a continuation or a retry is picked up soon, and the pollers that wait out a
// retry delay or a lease do not keep moto, which serves the other tests too, busy.
const (
	pollIdleMin = 20 * time.Millisecond
	pollIdleMax = 250 * time.Millisecond
)

// newQueues creates the queue name and its dead-letter queue name-dlq, with the visibility
// timeout (whole seconds) and a redrive after maxReceiveCount receives. The caller sets worker.
func newQueues(t *testing.T, api sqsAPI, name string, visibility time.Duration) *queues {
	t.Helper()
	q := &queues{sqs: api, deliveries: map[string][]string{}, reported: map[string]int{}, bodies: map[string]string{}}
	ctx := context.Background()
	dlq, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	q.dlqURL = aws.ToString(dlq.QueueUrl)
	dlqARN := q.queueAttr(t, q.dlqURL, sqstypes.QueueAttributeNameQueueArn)
	out, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(visibility / time.Second)),
			string(sqstypes.QueueAttributeNameRedrivePolicy): fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`,
				dlqARN, maxReceiveCount),
		}})
	if err != nil {
		t.Fatal(err)
	}
	q.queueURL = aws.ToString(out.QueueUrl)
	q.queueARN = q.queueAttr(t, q.queueURL, sqstypes.QueueAttributeNameQueueArn)
	return q
}

func (q *queues) queueAttr(t *testing.T, url string, name sqstypes.QueueAttributeName) string {
	t.Helper()
	out, err := q.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{name}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(name)]
}

// enqueue sends the bodies to the backfill queue, ten to a batch as the CLI does, and returns the
// message ids in order.
func (q *queues) enqueue(t *testing.T, bodies ...string) []string {
	t.Helper()
	var ids []string
	for chunk := range slices.Chunk(bodies, 10) {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.queueURL)}
		for i, b := range chunk {
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := q.sqs.SendMessageBatch(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("send batch: %d failed, first %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		byEntry := map[string]string{}
		for _, ok := range out.Successful {
			byEntry[aws.ToString(ok.Id)] = aws.ToString(ok.MessageId)
		}
		for i := range chunk {
			ids = append(ids, byEntry[strconv.Itoa(i)])
		}
	}
	return ids
}

func (q *queues) jobs(t *testing.T, days []layout.Day, kpis ...string) []string {
	t.Helper()
	bodies := make([]string, len(days))
	for i, d := range days {
		bodies[i] = jobBody(t, d.String(), kpis...)
	}
	return bodies
}

// drain works the backfill queue as Lambda's event source mapping does, with one poller per batch
// size given, until the queue holds no message, visible or in flight.
//
// It gives up when no batch has completed for drainStall or stall (the queue is stuck: a job that never
// comes back, a poller that hangs), not after a fixed time: slow is not stuck on a loaded
// machine. It also stops before the test binary's deadline, unless on a fake clock.
func (q *queues) drain(t *testing.T, batchSizes ...int32) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if !q.fakeClock {
		if d, ok := t.Deadline(); ok {
			var stop context.CancelFunc
			ctx, stop = context.WithDeadline(ctx, d.Add(-30*time.Second))
			defer stop()
		}
	}
	done := make(chan struct{})
	go q.watchStall(ctx, cancel, done)
	defer close(done)
	errs := make(chan error, len(batchSizes))
	var wg sync.WaitGroup
	for _, n := range batchSizes {
		wg.Go(func() {
			if err := q.poll(ctx, n); err != nil {
				cancel(err)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	// The first error cancels the other pollers, whose errors only say so; the cause says why.
	if err, ok := <-errs; ok {
		t.Fatalf("%v\n(why the drain stopped: %v)", err, context.Cause(ctx))
	}
}

// drainStall is how long drain waits for some batch to complete before it calls the queue stuck.
// It is longer than any visibility timeout or retry delay a test waits out on purpose.
const drainStall = 2 * time.Minute

// watchStall cancels ctx when no batch has completed for drainStall (or stall), until done is
// closed.
func (q *queues) watchStall(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	stall := drainStall
	if q.stall > 0 {
		stall = q.stall
	}
	last, since := q.batches.Load(), time.Now()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if n := q.batches.Load(); n != last {
				last, since = n, now
			} else if now.Sub(since) >= stall {
				cancel(fmt.Errorf("no batch completed for %s after %d batches", stall, n))
				return
			}
		}
	}
}

// poll is one poller of the event source mapping: receive up to batch messages, invoke the worker,
// delete every message not reported as a batch item failure (those come back after the
// visibility timeout, and SQS moves them to the dead-letter queue after maxReceiveCount).
func (q *queues) poll(ctx context.Context, batch int32) error {
	idle := pollIdleMin
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("queue not drained: %w", context.Cause(ctx))
		}
		out, err := q.receiveFor(ctx, batch)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if len(out.Messages) == 0 {
			empty, err := q.empty(ctx)
			if err != nil || empty {
				return err
			}
			if q.wait == 0 {
				time.Sleep(idle)
				idle = min(2*idle, pollIdleMax)
			}
			continue
		}
		idle = pollIdleMin
		if err := q.invoke(ctx, out.Messages); err != nil {
			return err
		}
	}
}

// receiveFor takes up to batch messages for one poller. Pollers that do not long-poll (moto) take
// turns on the call: moto's ReceiveMessage takes no lock, so two concurrent receives on one queue
// can both take the same visible message (receive counts 1 and 2 well inside the visibility
// timeout: seen in CI on a loaded machine). SQS does that only rarely (at-least-once delivery);
// the duplicates the worker must survive are made on purpose by the tests that check them (a
// lost delete, an expired visibility timeout, overlapping invocations). The events are still
// worked concurrently.
func (q *queues) receiveFor(ctx context.Context, batch int32) (*sqs.ReceiveMessageOutput, error) {
	if q.wait == 0 {
		q.receiveMu.Lock()
		defer q.receiveMu.Unlock()
	}
	return q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(q.queueURL),
		MaxNumberOfMessages:         batch,
		WaitTimeSeconds:             q.wait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
}

// invoke hands the messages to the worker as one event and deletes those it did not report.
func (q *queues) invoke(ctx context.Context, msgs []sqstypes.Message) error {
	ev := events.SQSEvent{}
	q.mu.Lock()
	q.largest = max(q.largest, len(msgs))
	for _, m := range msgs {
		id := aws.ToString(m.MessageId)
		q.deliveries[id] = append(q.deliveries[id], m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		q.bodies[id] = aws.ToString(m.Body)
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: id, ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, Md5OfBody: aws.ToString(m.MD5OfBody),
			EventSource: "aws:sqs", EventSourceARN: q.queueARN, AWSRegion: testsvc.Region,
		})
	}
	q.mu.Unlock()
	if q.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	resp, err := q.worker.Handle(ctx, ev)
	if err != nil {
		return fmt.Errorf("worker returned an error (the whole batch would be retried): %w", err)
	}
	defer q.batches.Add(1)
	failed := map[string]bool{}
	q.mu.Lock()
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
		q.reported[f.ItemIdentifier]++
	}
	q.mu.Unlock()
	del := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.queueURL)}
	for i, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			del.Entries = append(del.Entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(del.Entries) == 0 {
		return nil
	}
	out, err := q.sqs.DeleteMessageBatch(ctx, del)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("delete: %d failed, first %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
	}
	return nil
}

// empty reports whether the backfill queue holds no message, visible, in flight or delayed.
func (q *queues) empty(ctx context.Context) (bool, error) {
	names := []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	out, err := q.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.queueURL), AttributeNames: names})
	if err != nil {
		return false, fmt.Errorf("queue attributes: %w", err)
	}
	for _, n := range names {
		if v := out.Attributes[string(n)]; v != "0" {
			return false, nil
		}
	}
	return true, nil
}

// deadLetters receives the n messages of the dead-letter queue, with their attributes.
func (q *queues) deadLetters(t *testing.T, n int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		out, err := q.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.dlqURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 1,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	if len(got) != n {
		t.Fatalf("%d messages in the dead-letter queue, want %d", len(got), n)
	}
	if left := q.queueAttr(t, q.dlqURL, sqstypes.QueueAttributeNameApproximateNumberOfMessages); left != "0" {
		t.Errorf("%s more messages in the dead-letter queue than the %d expected", left, n)
	}
	return got
}

// receive takes up to n messages off the backfill queue, as the event source mapping would.
func (q *queues) receive(t *testing.T, n int32) []sqstypes.Message {
	t.Helper()
	out, err := q.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.queueURL),
		MaxNumberOfMessages: n, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != int(n) {
		t.Fatalf("received %d messages, want %d", len(out.Messages), n)
	}
	return out.Messages
}

// tryReceive takes the backfill queue's visible messages, if any, without waiting.
func (q *queues) tryReceive(t *testing.T) []sqstypes.Message {
	t.Helper()
	out, err := q.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.queueURL),
		MaxNumberOfMessages: 10, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}
