package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
)

// fakeAggregator records the (KPI, day) requests in order and fails the KPIs in fail.
type fakeAggregator struct {
	mu    sync.Mutex
	calls []aggregate.Request
	fail  map[string]error
}

func (f *fakeAggregator) Handle(_ context.Context, req aggregate.Request) (ctas.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if err := f.fail[req.KPI]; err != nil {
		return ctas.Result{}, err
	}
	return ctas.Result{KPI: req.KPI, Date: req.Date, QueryID: "q-" + req.KPI}, nil
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

// fakeDLQ records what is sent to the dead-letter queue, or fails with err.
type fakeDLQ struct {
	mu   sync.Mutex
	sent []*sqs.SendMessageInput
	err  error
}

func (f *fakeDLQ) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprintf("dlq-%d", len(f.sent)))}, nil
}

const testDLQURL = "http://127.0.0.1/000000000000/backfill-dlq"

func newTestWorker(t *testing.T, agg backfill.Aggregator, dlq backfill.Sender) *backfill.Worker {
	t.Helper()
	w, err := backfill.NewWorker(catalog(t), agg, dlq, testDLQURL, nil)
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
	_, err := backfill.NewWorker(nil, nil, nil, "", nil)
	if err == nil {
		t.Fatal("NewWorker accepted nothing")
	}
	for _, want := range []string{"catalog is nil", "aggregator is nil", backfill.EnvDeadLetterQueueURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := backfill.NewWorker(catalog(t), &fakeAggregator{}, &fakeDLQ{}, "", nil); err == nil ||
		!strings.Contains(err.Error(), backfill.EnvDeadLetterQueueURL) {
		t.Errorf("error = %v, want one naming %s for an empty queue URL", err, backfill.EnvDeadLetterQueueURL)
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
			dlq := &fakeDLQ{}
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
	dlq := &fakeDLQ{}
	resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(),
		events.SQSEvent{Records: []events.SQSMessage{record("m1", jobBody(t, "2026-11-24"))}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
		t.Errorf("reported failures (-want +got):\n%s", diff)
	}
	got := agg.kpis("2026-11-24")
	if slices.Contains(got, "engagement_score") {
		t.Errorf("engagement_score ran after its dependency department_activity failed: %v", got)
	}
	if diff := cmp.Diff([]string{"active_users_by_department", "department_activity"}, got); diff != "" {
		t.Errorf("KPIs tried (-want +got):\n%s", diff)
	}
	if len(dlq.sent) != 0 {
		t.Errorf("a failed, well-formed job was dead-lettered by the worker: %d", len(dlq.sent))
	}
}

func TestWorker_ReportsOnlyTheFailedMessagesOfABatch(t *testing.T) {
	agg := &fakeAggregator{fail: map[string]error{"reactions_given_received": &aggregate.QueryFailed{Err: ctas.ErrQueryFailed}}}
	dlq := &fakeDLQ{}
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			agg := &fakeAggregator{}
			dlq := &fakeDLQ{}
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
			if got := aws.ToString(in.MessageAttributes[backfill.AttrOriginalMessageID].StringValue); got != "m-bad" {
				t.Errorf("attribute %s = %q, want m-bad", backfill.AttrOriginalMessageID, got)
			}
		})
	}
}

func TestWorker_TruncatesTheReasonOnARuneBoundary(t *testing.T) {
	dlq := &fakeDLQ{}
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

func TestWorker_ReportsMalformedMessageWhenTheDLQRefusesIt(t *testing.T) {
	agg := &fakeAggregator{}
	dlq := &fakeDLQ{err: errors.New("AccessDenied")}
	resp, err := newTestWorker(t, agg, dlq).Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("m-bad", `not a job`),
		record("m-ok", jobBody(t, "2026-11-24", "engagement_score")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Reported, SQS delivers it again and its redrive policy moves it to the dead-letter queue in the end.
	if diff := cmp.Diff([]string{"m-bad"}, failedIDs(resp)); diff != "" {
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
	resp, err := newTestWorker(t, agg, &fakeDLQ{}).Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
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
