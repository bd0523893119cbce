package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
)

// fakeAggregator records the (KPI, day) requests in order and those that published, takes took
// per KPI (until the context ends) and fails the KPIs in fail.
type fakeAggregator struct {
	mu        sync.Mutex
	calls     []aggregate.Request
	published []aggregate.Request
	fail      map[string]error
	took      map[string]time.Duration
}

func (f *fakeAggregator) Handle(ctx context.Context, req aggregate.Request) (ctas.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	err, took := f.fail[req.KPI], f.took[req.KPI]
	f.mu.Unlock()
	if took > 0 {
		t := time.NewTimer(took)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctas.Result{}, fmt.Errorf("query stopped: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
	if err != nil {
		return ctas.Result{}, err
	}
	f.mu.Lock()
	f.published = append(f.published, req)
	f.mu.Unlock()
	return ctas.Result{KPI: req.KPI, Date: req.Date, QueryID: "q-" + req.KPI}, nil
}

// publishedOn lists the KPIs published for date, in order.
func (f *fakeAggregator) publishedOn(date string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.published {
		if c.Date == date {
			out = append(out, c.KPI)
		}
	}
	return out
}

func (f *fakeAggregator) kpis(date string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c.Date == date {
			out = append(out, c.KPI)
		}
	}
	return out
}

// change is one ChangeMessageVisibility call that reached the fake queue.
type change struct {
	at      time.Duration // since the fake was made
	handle  string
	timeout int32 // seconds
}

// fakeQueue records what is sent to the dead-letter queue (or fails with sendErr) and the
// visibility changes (or fails the n-th, from 0, with changeErr's answer).
type fakeQueue struct {
	began     time.Time
	sendErr   error
	changeErr func(n int) error

	mu      sync.Mutex
	sent    []*sqs.SendMessageInput
	changes []change
	calls   int // visibility changes tried
	urls    []string
}

func newFakeQueue() *fakeQueue { return &fakeQueue{began: time.Now()} }

func (f *fakeQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprintf("dlq-%d", len(f.sent)))}, nil
}

func (f *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.calls
	f.calls++
	f.urls = append(f.urls, aws.ToString(in.QueueUrl))
	if f.changeErr != nil {
		if err := f.changeErr(n); err != nil {
			return nil, err
		}
	}
	f.changes = append(f.changes, change{at: time.Since(f.began), handle: aws.ToString(in.ReceiptHandle), timeout: in.VisibilityTimeout})
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// sentTo returns the messages sent to url, in order.
func (f *fakeQueue) sentTo(url string) []*sqs.SendMessageInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*sqs.SendMessageInput
	for _, in := range f.sent {
		if aws.ToString(in.QueueUrl) == url {
			out = append(out, in)
		}
	}
	return out
}

func (f *fakeQueue) changed() []change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

const (
	testQueueURL = "http://127.0.0.1/000000000000/backfill"
	testDLQURL   = "http://127.0.0.1/000000000000/backfill-dlq"
)

// testNow is the workers' clock: 2026-11-27 10:00 in Tokyo, so 2026-11-26 is the newest day that
// may be backfilled.
var testNow = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

func mustDay(t *testing.T, s string) layout.Day {
	t.Helper()
	d, err := layout.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testZone(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func newTestWorker(t *testing.T, agg backfill.Aggregator, q backfill.Queue) *backfill.Worker {
	t.Helper()
	w, err := backfill.NewWorker(catalog(t), agg, q, backfill.Config{QueueURL: testQueueURL, DeadLetterQueueURL: testDLQURL,
		TimeZone: testZone(t), EarliestDay: mustDay(t, "2020-01-01"), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// record is one SQS record as the event source mapping delivers it.
func record(id, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs"}
}

func jobBody(t *testing.T, date string, kpis ...string) string {
	t.Helper()
	body, err := backfill.Job{RequestID: "bf-test", Date: date, KPIs: kpis}.Body()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func failedIDs(resp events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestNewWorker_ListsEveryMissingPart(t *testing.T) {
	_, err := backfill.NewWorker(nil, nil, nil, backfill.Config{})
	if err == nil {
		t.Fatal("NewWorker accepted nothing")
	}
	for _, want := range []string{"catalog is nil", "aggregator is nil", "SQS client is nil",
		contract.EnvBackfillQueueURL, contract.EnvBackfillDeadLetterQueueURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestNewWorker_ChecksLeaseAndRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lease      time.Duration
		retryDelay time.Duration
		want       string // "" means accepted
	}{
		{"defaults", 0, 0, ""},
		{"shortest lease", backfill.MinLease, time.Second, ""},
		{"longest lease and retry delay", backfill.MaxLease, backfill.MaxRetryDelay, ""},
		{"lease too short", backfill.MinLease - time.Second, 0, "Lease is 3s"},
		{"lease too long", backfill.MaxLease + time.Second, 0, "Lease is 10m1s"},
		{"lease in fractions of a second", 4500 * time.Millisecond, 0, "give whole seconds"},
		{"negative lease", -time.Minute, 0, "Lease is -1m0s"},
		{"retry delay too long", 0, backfill.MaxRetryDelay + time.Second, "RetryDelay is 15m1s"},
		{"retry delay in fractions of a second", 0, 1500 * time.Millisecond, "RetryDelay is 1.5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := backfill.NewWorker(catalog(t), &fakeAggregator{}, newFakeQueue(), backfill.Config{
				QueueURL: testQueueURL, DeadLetterQueueURL: testDLQURL, Lease: tc.lease, RetryDelay: tc.retryDelay})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWorker_RunsKPIsInWaveOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		kpis []string
		want []string
	}{
		{"whole catalog", nil, allKPIs},
		{"a KPI and its dependents", []string{"department_activity"}, []string{"department_activity", "engagement_score"}},
		{"dependents after every dependency", []string{"engagement_score", "active_users_by_department"},
			[]string{"active_users_by_department", "engagement_score"}},
		{"a leaf", []string{"reactions_given_received"}, []string{"reactions_given_received"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agg := &fakeAggregator{}
			dlq := newFakeQueue()
			resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(),
				events.SQSEvent{Records: []events.SQSMessage{record("m1", jobBody(t, "2026-11-24", tc.kpis...))}})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != 0 || len(dlq.sent) != 0 {
				t.Errorf("failures %v, dead-lettered %d", resp.BatchItemFailures, len(dlq.sent))
			}
			if diff := cmp.Diff(tc.want, agg.kpis("2026-11-24")); diff != "" {
				t.Errorf("KPIs aggregated (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorker_FailureStopsTheJobBeforeLaterWaves(t *testing.T) {
	agg := &fakeAggregator{fail: map[string]error{"department_activity": &aggregate.AthenaThrottled{Err: ctas.ErrThrottled}}}
	dlq := newFakeQueue()
	resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(),
		events.SQSEvent{Records: []events.SQSMessage{record("m1", jobBody(t, "2026-11-24"))}})
	if err != nil {
		t.Fatal(err)
	}
	// A KPI was published before the failure: the rest is handed on, the job acknowledged.
	if diff := cmp.Diff([]string{}, failedIDs(resp)); diff != "" {
		t.Errorf("reported failures (-want +got):\n%s", diff)
	}
	if sent := dlq.sentTo(testQueueURL); len(sent) != 1 || !strings.Contains(aws.ToString(sent[0].MessageBody), `"department_activity"`) {
		t.Errorf("sent on %d jobs, want one that holds department_activity", len(sent))
	}
	got := agg.kpis("2026-11-24")
	if slices.Contains(got, "engagement_score") {
		t.Errorf("engagement_score ran after its dependency department_activity failed: %v", got)
	}
	if diff := cmp.Diff([]string{"active_users_by_department", "department_activity"}, got); diff != "" {
		t.Errorf("KPIs tried (-want +got):\n%s", diff)
	}
	if n := len(dlq.sentTo(testDLQURL)); n != 0 {
		t.Errorf("a failed, well-formed job was dead-lettered by the worker: %d", n)
	}
}

func TestWorker_ReportsOnlyTheFailedMessagesOfABatch(t *testing.T) {
	agg := &fakeAggregator{fail: map[string]error{"reactions_given_received": &aggregate.AthenaThrottled{Err: ctas.ErrThrottled}}}
	dlq := newFakeQueue()
	malformed := `{"request_id": "bf-test", "date": "2026-13-01"}`
	resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("ok-1", jobBody(t, "2026-11-20", "active_users_by_department")),
		record("fails", jobBody(t, "2026-11-21", "reactions_given_received")),
		record("malformed", malformed),
		record("ok-2", jobBody(t, "2026-11-22", "department_activity")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fails"}, failedIDs(resp)); diff != "" {
		t.Errorf("reported failures (-want +got):\n%s", diff)
	}
	if len(dlq.sent) != 1 || aws.ToString(dlq.sent[0].MessageBody) != malformed {
		t.Errorf("dead-lettered %d messages, want the malformed one", len(dlq.sent))
	}
	if got := agg.kpis("2026-11-22"); !slices.Equal(got, []string{"department_activity", "engagement_score"}) {
		t.Errorf("the message after a failure was not worked: %v", got)
	}
}

func TestWorker_SendsMalformedMessageToDLQWithoutRetry(t *testing.T) {
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"bad JSON", `{"request_id": "bf-test", "date": `, "body is not a job"},
		{"unknown field", `{"request_id": "bf-test", "date": "2026-11-24", "day": "2026-11-24"}`, `unknown field "day"`},
		{"bad date", `{"request_id": "bf-test", "date": "24/11/2026"}`, `field "date"`},
		{"unknown KPI", `{"request_id": "bf-test", "date": "2026-11-24", "kpis": ["dau"]}`, `unknown KPI "dau"`},
		{"empty request id", `{"request_id": "", "date": "2026-11-24"}`, `field "request_id" is empty`},
		// Valid dates outside the environment's days: before backfill.earliestDay, or not yet over
		// in the business zone (testNow is 2026-11-27 10:00 in Tokyo, so the 26th is the last).
		{"the first day there is", `{"request_id": "bf-test", "date": "0000-01-01"}`, `before backfill.earliestDay 2020-01-01`},
		{"the day before the earliest", `{"request_id": "bf-test", "date": "2019-12-31"}`, `before backfill.earliestDay 2020-01-01`},
		{"today in the business zone", `{"request_id": "bf-test", "date": "2026-11-27"}`, `2026-11-27 is not over yet in Asia/Tokyo`},
		{"the last day there is", `{"request_id": "bf-test", "date": "9999-12-31"}`, `9999-12-31 is not over yet in Asia/Tokyo; the last day to backfill is 2026-11-26`},
		{"a duplicate date key", `{"request_id": "bf-test", "date": "2026-11-24", "date": "2026-11-23"}`, `key "date" appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agg := &fakeAggregator{}
			dlq := newFakeQueue()
			resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(),
				events.SQSEvent{Records: []events.SQSMessage{record("m-bad", tc.body)}})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != 0 {
				t.Errorf("malformed job reported for redelivery: %v", resp.BatchItemFailures)
			}
			if len(agg.calls) != 0 {
				t.Errorf("malformed job aggregated: %v", agg.calls)
			}
			if len(dlq.sent) != 1 {
				t.Fatalf("%d messages sent to the dead-letter queue, want 1", len(dlq.sent))
			}
			in := dlq.sent[0]
			if aws.ToString(in.QueueUrl) != testDLQURL || aws.ToString(in.MessageBody) != tc.body {
				t.Errorf("sent %q to %s, want the original body to %s", aws.ToString(in.MessageBody), aws.ToString(in.QueueUrl), testDLQURL)
			}
			reason := aws.ToString(in.MessageAttributes[backfill.AttrError].StringValue)
			if !strings.Contains(reason, tc.reason) || !strings.HasPrefix(reason, "malformed backfill job: ") {
				t.Errorf("attribute %s = %q, want the reason %q", backfill.AttrError, reason, tc.reason)
			}
			if got := aws.ToString(in.MessageAttributes[backfill.AttrErrorKind].StringValue); got != backfill.KindMalformed {
				t.Errorf("attribute %s = %q, want %q", backfill.AttrErrorKind, got, backfill.KindMalformed)
			}
			if got := aws.ToString(in.MessageAttributes[backfill.AttrOriginalMessageID].StringValue); got != "m-bad" {
				t.Errorf("attribute %s = %q, want m-bad", backfill.AttrOriginalMessageID, got)
			}
		})
	}
}

func TestWorker_TakesADayOverInTheBusinessZoneThoughNotInUTC(t *testing.T) {
	// 2026-11-27 16:00 UTC is 2026-11-28 01:00 in Tokyo: the 27th is over there, not yet in UTC.
	// (At testNow, 10:00 in Tokyo, both zones are on the same day and cannot tell them apart.)
	now := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		date   string
		reason string // "" means worked
	}{
		{"2026-11-27", ""},
		{"2026-11-28", "2026-11-28 is not over yet in Asia/Tokyo; the last day to backfill is 2026-11-27"},
	} {
		t.Run(tc.date, func(t *testing.T) {
			agg := &fakeAggregator{}
			q := newFakeQueue()
			w, err := backfill.NewWorker(catalog(t), agg, q, backfill.Config{QueueURL: testQueueURL, DeadLetterQueueURL: testDLQURL,
				TimeZone: testZone(t), EarliestDay: mustDay(t, "2020-01-01"), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
				record("m1", jobBody(t, tc.date, "reactions_given_received"))}})
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %v, reported %v", err, resp.BatchItemFailures)
			}
			dead := q.sentTo(testDLQURL)
			switch {
			case tc.reason == "" && (len(dead) != 0 || !slices.Equal(agg.kpis(tc.date), []string{"reactions_given_received"})):
				t.Errorf("dead-lettered %d, aggregated %v; want the day worked", len(dead), agg.kpis(tc.date))
			case tc.reason != "" && (len(dead) != 1 || !strings.Contains(aws.ToString(dead[0].MessageAttributes[backfill.AttrError].StringValue), tc.reason)):
				t.Errorf("dead-lettered %d; want the job, with the reason %q", len(dead), tc.reason)
			}
		})
	}
}

func TestWorker_TruncatesTheReasonOnARuneBoundary(t *testing.T) {
	dlq := newFakeQueue()
	// The reason quotes the unknown name, 2-byte runes after a prefix of either parity: one of the
	// two puts the 1024-byte cut inside a rune.
	var recs []events.SQSMessage
	for _, prefix := range []string{"x", "xy"} {
		recs = append(recs, record("m-"+prefix,
			`{"request_id": "bf-test", "date": "2026-11-24", "kpis": ["`+prefix+strings.Repeat("é", 700)+`"]}`))
	}
	if _, err := newTestWorker(t, &fakeAggregator{}, dlq).Handle(context.Background(), events.SQSEvent{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if len(dlq.sent) != 2 {
		t.Fatalf("%d messages dead-lettered, want 2", len(dlq.sent))
	}
	for _, in := range dlq.sent {
		reason := aws.ToString(in.MessageAttributes[backfill.AttrError].StringValue)
		if len(reason) > 1024 || len(reason) < 1020 || !utf8.ValidString(reason) {
			t.Errorf("reason is %d bytes, valid UTF-8 %t; want at most 1024 bytes of valid UTF-8", len(reason), utf8.ValidString(reason))
		}
	}
}

func TestWorker_ReportsAJobNoRetryCanFixWhenTheDLQRefusesIt(t *testing.T) {
	agg := &fakeAggregator{fail: map[string]error{"reactions_given_received": &aggregate.QueryFailed{Err: ctas.ErrQueryFailed}}}
	dlq := &fakeQueue{sendErr: errors.New("AccessDenied")}
	resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("m-bad", `not a job`),
		record("m-failed", jobBody(t, "2026-11-23", "reactions_given_received")),
		record("m-ok", jobBody(t, "2026-11-24", "engagement_score")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Reported, SQS delivers it again and its redrive policy moves it to the dead-letter queue in the end.
	if diff := cmp.Diff([]string{"m-bad", "m-failed"}, failedIDs(resp)); diff != "" {
		t.Errorf("reported failures (-want +got):\n%s", diff)
	}
	if got := agg.kpis("2026-11-24"); !slices.Equal(got, []string{"engagement_score"}) {
		t.Errorf("the well-formed job of the batch was not worked: %v", got)
	}
}

func TestWorker_ReportsEveryJobLeftWhenTheInvocationEnds(t *testing.T) {
	agg := &fakeAggregator{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := newTestWorker(t, agg, newFakeQueue()).Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
		record("m1", jobBody(t, "2026-11-24")),
		record("m2", jobBody(t, "2026-11-25", "engagement_score")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"m1", "m2"}, failedIDs(resp)); diff != "" {
		t.Errorf("reported failures (-want +got):\n%s", diff)
	}
	if len(agg.calls) != 0 {
		t.Errorf("aggregated after the invocation ended: %v", agg.calls)
	}
}

func TestWorker_SendsAJobNoRetryCanFixToTheDLQAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		kind string
	}{
		{"query failed in Athena", &aggregate.QueryFailed{Err: fmt.Errorf("%w: FAILED: HIVE_BAD_DATA: Error parsing field value", ctas.ErrQueryFailed)},
			backfill.KindQueryFailed},
		{"output does not fit the KPI table", &aggregate.QueryFailed{Err: fmt.Errorf("%w: column active_users changed type", ctas.ErrIncompatibleSchema)},
			backfill.KindQueryFailed},
		{"KPI does not render", &aggregate.InputError{Err: errors.New("render department_activity for 2026-11-24: no window")},
			backfill.KindInputError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agg := &fakeAggregator{fail: map[string]error{"department_activity": tc.err}}
			q := newFakeQueue()
			body := jobBody(t, "2026-11-24")
			rec := record("m1", body)
			rec.Attributes["ApproximateReceiveCount"] = "1"
			resp, err := newTestWorker(t, agg, q).Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != 0 {
				t.Errorf("reported for redelivery: %v; a retry runs the same query again", resp.BatchItemFailures)
			}
			if got := agg.kpis("2026-11-24"); slices.Contains(got, "engagement_score") {
				t.Errorf("engagement_score ran after its dependency failed: %v", got)
			}
			if len(q.sent) != 1 {
				t.Fatalf("%d messages sent to the dead-letter queue, want 1", len(q.sent))
			}
			in := q.sent[0]
			if aws.ToString(in.QueueUrl) != testDLQURL || aws.ToString(in.MessageBody) != body {
				t.Errorf("sent %q to %s, want the original job to %s", aws.ToString(in.MessageBody), aws.ToString(in.QueueUrl), testDLQURL)
			}
			attr := func(name string) string { return aws.ToString(in.MessageAttributes[name].StringValue) }
			if got := attr(backfill.AttrErrorKind); got != tc.kind {
				t.Errorf("attribute %s = %q, want %q", backfill.AttrErrorKind, got, tc.kind)
			}
			if reason := attr(backfill.AttrError); !strings.Contains(reason, "department_activity") || !strings.Contains(reason, tc.err.Error()) {
				t.Errorf("attribute %s = %q, want the KPI and %q", backfill.AttrError, reason, tc.err)
			}
			if got := attr(backfill.AttrOriginalMessageID); got != "m1" {
				t.Errorf("attribute %s = %q, want m1", backfill.AttrOriginalMessageID, got)
			}
			// The lease's first beat, nothing after: the event source mapping deletes the job.
			if got := q.changed(); len(got) > 1 {
				t.Errorf("visibility changed %v; want only the lease's", got)
			}
		})
	}
}

func TestWorker_RetriesAFailureThatMayPass(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"Athena throttled through the runner's retries", &aggregate.AthenaThrottled{Err: fmt.Errorf("start query: %w", ctas.ErrThrottled)}},
		{"AWS server error", errors.New("glue GetPartition: operation error Glue: GetPartition, https response error StatusCode: 500, InternalServiceException")},
		{"invocation deadline", fmt.Errorf("query stopped: %w (stop margin 30s)", ctas.ErrDeadline)},
		{"a failure Athena marks retryable", fmt.Errorf("%w: FAILED: INTERNAL_ERROR_QUERY_ENGINE", ctas.ErrQueryRetryable)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agg := &fakeAggregator{fail: map[string]error{"department_activity": tc.err}}
			q := newFakeQueue()
			// department_activity runs first: the job published nothing when it failed.
			resp, err := newTestWorker(t, agg, q).Handle(context.Background(),
				events.SQSEvent{Records: []events.SQSMessage{record("m1", jobBody(t, "2026-11-24", "department_activity"))}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
				t.Errorf("reported failures (-want +got):\n%s", diff)
			}
			if len(q.sent) != 0 {
				t.Errorf("a failure that may pass was dead-lettered: %v", q.sent)
			}
		})
	}
}

func TestNewWorker_ChecksTheStopMargin(t *testing.T) {
	for _, tc := range []struct {
		name          string
		lease, margin time.Duration
		want          string // "" means accepted
	}{
		{"default", 0, 0, ""},
		{"under a quarter of the lease", 2 * time.Minute, 29 * time.Second, ""},
		{"default with the shortest lease", backfill.MinLease, 0, ""},
		{"a quarter of the lease", 2 * time.Minute, 30 * time.Second, "StopMargin is 30s; give a positive duration under a quarter of the lease (30s)"},
		{"a quarter of the default lease", 0, time.Minute, "under a quarter of the lease (30s)"},
		{"negative", 0, -time.Second, "StopMargin is -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := backfill.NewWorker(catalog(t), &fakeAggregator{}, newFakeQueue(), backfill.Config{
				QueueURL: testQueueURL, DeadLetterQueueURL: testDLQURL, Lease: tc.lease, StopMargin: tc.margin})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
