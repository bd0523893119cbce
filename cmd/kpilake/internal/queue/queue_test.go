package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

var queueSeq atomic.Int64

// queues is one test's pair of moto queues: the backfill queue and its dead-letter queue.
type queues struct {
	sqs      *sqs.Client
	url, dlq string
}

func newQueues(t *testing.T) *queues {
	t.Helper()
	m := testsvc.MotoServer(t)
	client := sqs.NewFromConfig(m.AWSConfig())
	n := queueSeq.Add(1)
	q := &queues{sqs: client}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		url  *string
	}{{fmt.Sprintf("backfill-%d", n), &q.url}, {fmt.Sprintf("backfill-dlq-%d", n), &q.dlq}} {
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(c.name)})
		if err != nil {
			t.Fatal(err)
		}
		*c.url = aws.ToString(out.QueueUrl)
	}
	return q
}

// drain receives and deletes every message of url and returns the bodies.
func (q *queues) drain(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	var bodies []string
	for {
		out, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := q.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func catalog(t *testing.T) *queries.Catalog {
	t.Helper()
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func jobs(t *testing.T, requestID, from string, n int, kpis ...string) []backfill.Job {
	t.Helper()
	d, err := layout.ParseDay(from)
	if err != nil {
		t.Fatal(err)
	}
	var js []backfill.Job
	for i := range n {
		js = append(js, backfill.Job{RequestID: requestID, Date: d.AddDays(i).String(), KPIs: kpis})
	}
	return js
}

func noSleep(context.Context, time.Duration) error { return nil }

// parseAll parses bodies as the worker does and returns the dates, sorted, and the request ids.
func parseAll(t *testing.T, bodies []string) (dates []string, requests map[string]int) {
	t.Helper()
	cat := catalog(t)
	requests = map[string]int{}
	for _, b := range bodies {
		j, _, _, err := backfill.ParseJob([]byte(b), cat)
		if err != nil {
			t.Fatalf("the worker rejects %s: %v", b, err)
		}
		dates = append(dates, j.Date)
		requests[j.RequestID]++
	}
	slices.Sort(dates)
	return dates, requests
}

func TestEnqueuer_SendsOneMessagePerDayUnderOneRequest(t *testing.T) {
	q := newQueues(t)
	js := jobs(t, "bf-test-1", "2026-10-28", 23, "active_users_by_department")
	n, err := (&Enqueuer{SQS: q.sqs, QueueURL: q.url}).Send(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	if n != 23 {
		t.Errorf("Send = %d, want 23", n)
	}
	dates, requests := parseAll(t, q.drain(t, q.url))
	var want []string
	for _, j := range js {
		want = append(want, j.Date)
	}
	if diff := cmp.Diff(want, dates); diff != "" {
		t.Errorf("dates on the queue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"bf-test-1": 23}, requests); diff != "" {
		t.Errorf("request ids (-want +got):\n%s", diff)
	}
}

// flakySQS sends batches through the real client, except that it fails some entries on SQS's
// side: each call fails the entries whose id fail picks, without sending them.
type flakySQS struct {
	BatchSender
	mu    sync.Mutex
	calls int
	sizes []int
	fail  func(call int, id string) (code string, senderFault bool, failed bool)
}

func (f *flakySQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.sizes = append(f.sizes, len(in.Entries))
	f.mu.Unlock()
	pass := *in
	pass.Entries = nil
	var failed []sqstypes.BatchResultErrorEntry
	for _, e := range in.Entries {
		if code, sender, ok := f.fail(call, aws.ToString(e.Id)); ok {
			failed = append(failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String(code), Message: aws.String("injected"), SenderFault: sender})
			continue
		}
		pass.Entries = append(pass.Entries, e)
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(pass.Entries) > 0 {
		var err error
		if out, err = f.BatchSender.SendMessageBatch(ctx, &pass, opts...); err != nil {
			return nil, err
		}
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func TestEnqueuer_ResendsEntriesThatFailedOnSQSsSide(t *testing.T) {
	q := newQueues(t)
	// The first call fails three entries, the retry of them fails one again, the next succeeds.
	flaky := &flakySQS{BatchSender: q.sqs, fail: func(call int, id string) (string, bool, bool) {
		switch call {
		case 1:
			return "InternalError", false, id == "2026-11-02" || id == "2026-11-05" || id == "2026-11-09"
		case 2:
			return "ServiceUnavailable", false, id == "2026-11-05"
		}
		return "", false, false
	}}
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	js := jobs(t, "bf-retry", "2026-11-01", 12)
	n, err := (&Enqueuer{SQS: flaky, QueueURL: q.url, Retry: Retry{Backoff: 100 * time.Millisecond, Sleep: sleep}}).Send(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	if n != 12 {
		t.Errorf("Send = %d, want 12", n)
	}
	if diff := cmp.Diff([]int{10, 3, 1, 2}, flaky.sizes); diff != "" {
		t.Errorf("batch sizes sent (-want +got):\n%s", diff)
	}
	if len(waits) != 2 || waits[0] < 50*time.Millisecond || waits[0] > 100*time.Millisecond ||
		waits[1] < 100*time.Millisecond || waits[1] > 200*time.Millisecond {
		t.Errorf("waits = %v, want one in [50ms, 100ms] then one in [100ms, 200ms]", waits)
	}
	dates, requests := parseAll(t, q.drain(t, q.url))
	if len(dates) != 12 || len(slices.Compact(dates)) != 12 || requests["bf-retry"] != 12 {
		t.Errorf("queue holds %v of %v, want each of the 12 days once", dates, requests)
	}
}

func TestEnqueuer_StopsAfterTheAttemptsAndNamesWhereToResume(t *testing.T) {
	q := newQueues(t)
	flaky := &flakySQS{BatchSender: q.sqs, fail: func(_ int, id string) (string, bool, bool) {
		return "InternalError", false, id == "2026-11-13" || id == "2026-11-15"
	}}
	js := jobs(t, "bf-stuck", "2026-11-01", 25)
	n, err := (&Enqueuer{SQS: flaky, QueueURL: q.url, Retry: Retry{Attempts: 3, Sleep: noSleep}}).Send(context.Background(), js)
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *SendError", err)
	}
	// The first batch is sent; the second all but two; the third is never tried.
	if n != 18 || se.Sent != 18 || se.FirstUnsent != "2026-11-13" || se.RequestID != "bf-stuck" {
		t.Errorf("sent %d, error %+v; want 18 sent, resume from 2026-11-13", n, se)
	}
	var be *BatchError
	if !errors.As(err, &be) || be.Attempts != 3 || len(be.Entries) != 2 {
		t.Errorf("err = %v, want the two entries after 3 attempts", err)
	}
	if diff := cmp.Diff([]int{10, 10, 2, 2}, flaky.sizes); diff != "" {
		t.Errorf("batch sizes sent (-want +got):\n%s", diff)
	}
	if got := len(q.drain(t, q.url)); got != 18 {
		t.Errorf("%d messages on the queue, want 18", got)
	}
}

func TestEnqueuer_DoesNotResendWhatSQSRefused(t *testing.T) {
	q := newQueues(t)
	flaky := &flakySQS{BatchSender: q.sqs, fail: func(_ int, id string) (string, bool, bool) {
		return "InvalidMessageContents", true, id == "2026-11-02"
	}}
	_, err := (&Enqueuer{SQS: flaky, QueueURL: q.url, Retry: Retry{Sleep: noSleep}}).Send(context.Background(), jobs(t, "bf-bad", "2026-11-01", 3))
	var be *BatchError
	if !errors.As(err, &be) || be.Attempts != 1 || !be.Entries[0].SenderFault {
		t.Fatalf("err = %v, want the refused entry after 1 attempt", err)
	}
	if len(flaky.sizes) != 1 {
		t.Errorf("%d calls, want 1", len(flaky.sizes))
	}
}

func TestRedriver_MovesDeadLettersBackAndReportsRejectedOnes(t *testing.T) {
	q := newQueues(t)
	ctx := context.Background()
	var want []string
	for i, j := range jobs(t, "bf-redrive", "2026-11-01", 13) {
		if i == 2 {
			// The rest of a day that the worker handed on, then failed: it goes back as it is.
			j.KPIs, j.Continuation = []string{"engagement_score"}, 2
		}
		body, _ := j.Body()
		in := &sqs.SendMessageInput{QueueUrl: aws.String(q.dlq), MessageBody: aws.String(body)}
		switch i {
		case 4:
			// As the worker sends a malformed job.
			in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{
				backfill.AttrError:     {DataType: aws.String("String"), StringValue: aws.String(`field "kpis": unknown KPI "x"`)},
				backfill.AttrErrorKind: {DataType: aws.String("String"), StringValue: aws.String(backfill.KindMalformed)},
			}
		case 7:
			// As the worker sends a job whose query Athena failed: it may succeed after a fix.
			in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{
				backfill.AttrError:     {DataType: aws.String("String"), StringValue: aws.String("kpi engagement_score: athena query failed: FAILED")},
				backfill.AttrErrorKind: {DataType: aws.String("String"), StringValue: aws.String(backfill.KindQueryFailed)},
			}
		case 9:
			// As a worker that dead-lettered only malformed jobs sent one, without a kind.
			in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{
				backfill.AttrError: {DataType: aws.String("String"), StringValue: aws.String(`field "date": bad`)},
			}
		}
		if _, err := q.sqs.SendMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
		want = append(want, j.Date)
	}
	var progress []int
	res, err := (&Redriver{SQS: q.sqs, From: q.dlq, To: q.url, Wait: time.Second}).Redrive(ctx, 13, func(n int) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 13 || res.Rejected != 2 || !strings.Contains(res.Reason, `field "`) {
		t.Errorf("Redrive = %+v, want 13 moved, 2 rejected as malformed with a reason", res)
	}
	if progress[len(progress)-1] != 13 {
		t.Errorf("progress = %v, want it to end at 13", progress)
	}
	back := q.drain(t, q.url)
	dates, _ := parseAll(t, back)
	if diff := cmp.Diff(want, dates); diff != "" {
		t.Errorf("jobs back on the queue (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(back, func(b string) bool { return strings.Contains(b, `"continuation":2`) }) {
		t.Errorf("the continuation did not come back as it was: %q", back)
	}
	c, err := ReadCounts(ctx, q.sqs, q.url, q.dlq)
	if err != nil {
		t.Fatal(err)
	}
	if c.DeadLetters != 0 {
		t.Errorf("%d messages left in the dead-letter queue, want 0", c.DeadLetters)
	}
}

func TestRedriver_MovesNoMoreThanTheLimit(t *testing.T) {
	q := newQueues(t)
	ctx := context.Background()
	for _, j := range jobs(t, "bf-limit", "2026-11-01", 5) {
		body, _ := j.Body()
		if _, err := q.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.dlq), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := (&Redriver{SQS: q.sqs, From: q.dlq, To: q.url, Wait: time.Second, VisibilityTimeout: time.Second}).Redrive(ctx, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 3 {
		t.Errorf("Moved = %d, want 3", res.Moved)
	}
	if got := len(q.drain(t, q.url)); got != 3 {
		t.Errorf("%d jobs on the queue, want 3", got)
	}
}

func TestReadCounts_OnMoto(t *testing.T) {
	q := newQueues(t)
	ctx := context.Background()
	if _, err := (&Enqueuer{SQS: q.sqs, QueueURL: q.url}).Send(ctx, jobs(t, "bf-counts", "2026-11-01", 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url), MaxNumberOfMessages: 1, VisibilityTimeout: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.dlq), MessageBody: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCounts(ctx, q.sqs, q.url, q.dlq)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Counts{Visible: 3, InFlight: 1, DeadLetters: 1}, c); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}
