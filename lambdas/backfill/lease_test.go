package backfill_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
)

// The tests of the lease run on testing/synctest's fake clock: a job of ten minutes takes none,
// and every call's time is exact.

// leaseSeconds is the default lease as SQS's VisibilityTimeout.
var leaseSeconds = int32(backfill.DefaultLease / time.Second)

// handleOne works one record and returns the response and how long it took.
func handleOne(t *testing.T, w *backfill.Worker, rec events.SQSMessage) (events.SQSEventResponse, time.Duration) {
	t.Helper()
	began := time.Now()
	resp, err := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
	if err != nil {
		t.Fatal(err)
	}
	return resp, time.Since(began)
}

// beats are the lease's changes every quarter of it from 0 to through (inclusive).
func beats(handle string, through time.Duration) []change {
	var want []change
	for at := time.Duration(0); at <= through; at += backfill.DefaultLease / 4 {
		want = append(want, change{at: at, handle: handle, timeout: leaseSeconds})
	}
	return want
}

var compareChanges = cmp.AllowUnexported(change{})

func TestWorker_LeasesTheMessageWhileAJobOutlastsTheLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One query of ten minutes: five leases' worth.
		agg := &fakeAggregator{took: map[string]time.Duration{"department_activity": 10*time.Minute + time.Second}}
		q := newFakeQueue()
		resp, took := handleOne(t, newTestWorker(t, agg, q), record("m1", jobBody(t, "2026-11-24", "department_activity")))
		if len(resp.BatchItemFailures) != 0 {
			t.Errorf("reported failures %v; the job outlasted its lease, which was extended", resp.BatchItemFailures)
		}
		// After the handler returns, the event source mapping deletes the message: no more beats.
		time.Sleep(time.Hour)
		if diff := cmp.Diff(beats("rh-m1", took), q.changed(), compareChanges); diff != "" {
			t.Errorf("visibility changes (-want +got):\n%s", diff)
		}
		for _, u := range q.urls {
			if u != testQueueURL {
				t.Errorf("visibility changed on %s, want the backfill queue %s", u, testQueueURL)
			}
		}
	})
}

func TestWorker_GivesAFailedJobBackAfterItsRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		receives string
		want     int32 // seconds
	}{
		{"1", 60}, {"2", 120}, {"3", 240}, {"4", 480}, {"5", 900}, {"12", 900},
		{"", 60}, // no receive count: a first delivery
	} {
		t.Run("receive "+tc.receives, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				agg := &fakeAggregator{
					took: map[string]time.Duration{"department_activity": 45 * time.Second},
					fail: map[string]error{"department_activity": &aggregate.AthenaThrottled{Err: ctas.ErrThrottled}},
				}
				q := newFakeQueue()
				rec := record("m1", jobBody(t, "2026-11-24", "department_activity"))
				rec.Attributes["ApproximateReceiveCount"] = tc.receives
				resp, _ := handleOne(t, newTestWorker(t, agg, q), rec)
				time.Sleep(time.Hour)
				if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
					t.Errorf("reported failures (-want +got):\n%s", diff)
				}
				// Leased at 0 and 30 s, given back when the job failed at 45 s.
				want := append(beats("rh-m1", 30*time.Second), change{at: 45 * time.Second, handle: "rh-m1", timeout: tc.want})
				if diff := cmp.Diff(want, q.changed(), compareChanges); diff != "" {
					t.Errorf("visibility changes (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestWorker_RetryDelayIsConfigurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agg := &fakeAggregator{
			took: map[string]time.Duration{"department_activity": 3 * time.Second},
			fail: map[string]error{"department_activity": errors.New("glue: InternalServiceException")},
		}
		q := newFakeQueue()
		w, err := backfill.NewWorker(catalog(t), agg, q, backfill.Config{QueueURL: testQueueURL, DeadLetterQueueURL: testDLQURL,
			Lease: 8 * time.Second, RetryDelay: 5 * time.Second, TimeZone: testZone(t), Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		rec := record("m1", jobBody(t, "2026-11-24", "department_activity"))
		rec.Attributes["ApproximateReceiveCount"] = "2"
		handleOne(t, w, rec)
		want := []change{{at: 0, handle: "rh-m1", timeout: 8}, {at: 2 * time.Second, handle: "rh-m1", timeout: 8},
			{at: 3 * time.Second, handle: "rh-m1", timeout: 10}}
		if diff := cmp.Diff(want, q.changed(), compareChanges); diff != "" {
			t.Errorf("visibility changes (-want +got):\n%s", diff)
		}
	})
}

// throttled is an error SQS may answer any call with; the SDK's retryer gave up on it.
var throttled = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}

func TestWorker_StopsTheJobWhenItsLeaseIsLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answer fails the n-th visibility change (from 0), or returns nil.
		answer func(n int) error
		// lostAt is when the worker knows it no longer holds the message.
		lostAt time.Duration
		// tried is how many changes the worker tries.
		tried int
	}{
		// SQS's refusal of a receipt handle is no surer a sign than a failed call: the lease runs
		// out 2 minutes after its last extension, at 30 s; the job stops the stop margin before.
		{"SQS refuses the receipt handle",
			func(n int) error {
				if n >= 2 {
					return &sqstypes.ReceiptHandleIsInvalid{Message: new("The input receipt handle is invalid.")}
				}
				return nil
			}, 30*time.Second + backfill.DefaultLease - backfill.DefaultStopMargin, 5},
		{"extensions fail until the lease runs out",
			func(n int) error {
				if n >= 1 {
					return throttled
				}
				return nil
			}, backfill.DefaultLease - backfill.DefaultStopMargin, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				agg := &fakeAggregator{took: map[string]time.Duration{"department_activity": 10 * time.Minute}}
				q := newFakeQueue()
				q.changeErr = tc.answer
				resp, took := handleOne(t, newTestWorker(t, agg, q), record("m1", jobBody(t, "2026-11-24", "department_activity")))
				if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
					t.Errorf("reported failures (-want +got):\n%s", diff)
				}
				if took != tc.lostAt {
					t.Errorf("the job stopped after %s, want %s (the stop margin before the lease runs out)", took, tc.lostAt)
				}
				if got := agg.kpis("2026-11-24"); len(got) != 1 {
					t.Errorf("KPIs tried %v; the job should have stopped at its first", got)
				}
				// No retry delay either: the message is, or is about to be, another delivery's.
				time.Sleep(time.Hour)
				if q.calls != tc.tried {
					t.Errorf("%d visibility changes tried, want %d", q.calls, tc.tried)
				}
			})
		})
	}
}

func TestWorker_KeepsTheJobWhileTheLeaseHolds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(n int) error
	}{
		{"two extensions fail, the third succeeds in time", func(n int) error {
			if n == 1 || n == 2 {
				return throttled
			}
			return nil
		}},
		// Without the sqs:ChangeMessageVisibility grant the queue's visibility timeout (longer than
		// the function's) keeps hiding the message: the worker goes on without a lease.
		{"no lease ever taken", func(int) error {
			return &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sqs:ChangeMessageVisibility"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				agg := &fakeAggregator{took: map[string]time.Duration{"department_activity": 5 * time.Minute}}
				q := newFakeQueue()
				q.changeErr = tc.answer
				resp, took := handleOne(t, newTestWorker(t, agg, q), record("m1", jobBody(t, "2026-11-24", "department_activity")))
				if len(resp.BatchItemFailures) != 0 || took != 5*time.Minute {
					t.Errorf("reported failures %v after %s; want none after the job's 5 minutes", resp.BatchItemFailures, took)
				}
			})
		})
	}
}

func TestWorker_LeasesEveryMessageOfABatchUntilItReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agg := &fakeAggregator{
			took: map[string]time.Duration{"reactions_given_received": 50 * time.Second},
			fail: map[string]error{"weekly_active_users_by_department": &aggregate.AthenaThrottled{Err: ctas.ErrThrottled}},
		}
		q := newFakeQueue()
		resp, err := newTestWorker(t, agg, q).Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
			record("m1", jobBody(t, "2026-11-23", "reactions_given_received")),          // done at 50 s
			record("m2", jobBody(t, "2026-11-24", "weekly_active_users_by_department")), // fails at 50 s
			record("m3", jobBody(t, "2026-11-25", "reactions_given_received")),          // done at 100 s
		}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"m2"}, failedIDs(resp)); diff != "" {
			t.Errorf("reported failures (-want +got):\n%s", diff)
		}
		byHandle := map[string][]change{}
		for _, c := range q.changed() {
			byHandle[c.handle] = append(byHandle[c.handle], c)
		}
		// A finished job stays leased until the handler returns (the event source mapping deletes
		// it then); the failed one is given back and left alone.
		want := map[string][]change{
			"rh-m1": beats("rh-m1", 90*time.Second),
			"rh-m2": append(beats("rh-m2", 30*time.Second), change{at: 50 * time.Second, handle: "rh-m2", timeout: 60}),
			"rh-m3": beats("rh-m3", 90*time.Second),
		}
		if diff := cmp.Diff(want, byHandle, compareChanges); diff != "" {
			t.Errorf("visibility changes per message (-want +got):\n%s", diff)
		}
	})
}

func TestWorker_StopsTheJobAMarginBeforeItsLeaseCanRunOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The lease is taken at 0 and never renewed: it runs out at 2 minutes, when SQS may hand
		// the job to another worker. Stopping the query and cleaning up take time, so the worker
		// must begin a margin before, not at the expiry.
		const margin = backfill.DefaultStopMargin
		stopping := map[string]time.Duration{"department_activity": 15 * time.Second}
		agg := &stoppingAggregator{fakeAggregator: fakeAggregator{took: map[string]time.Duration{"department_activity": 10 * time.Minute}},
			stopTakes: stopping}
		q := newFakeQueue()
		q.changeErr = func(n int) error {
			if n >= 1 {
				return throttled
			}
			return nil
		}
		resp, took := handleOne(t, newTestWorker(t, agg, q), record("m1", jobBody(t, "2026-11-24", "department_activity")))
		if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
			t.Errorf("reported failures (-want +got):\n%s", diff)
		}
		if want := backfill.DefaultLease - margin; agg.stoppedAt != want {
			t.Errorf("the job was told to stop at %s, want %s (the lease's expiry minus the margin)", agg.stoppedAt, want)
		}
		if !errors.Is(agg.cause, backfill.ErrLeaseLost) {
			t.Errorf("the job stopped for %v, want ErrLeaseLost", agg.cause)
		}
		// Its query stopped (15 s) and the worker returned while the lease still held.
		if took >= backfill.DefaultLease {
			t.Errorf("the worker returned after %s, when its lease (%s) had run out: another worker may have run the job meanwhile", took, backfill.DefaultLease)
		}
		if len(q.sent) != 0 {
			t.Errorf("the worker sent %d messages for a job it no longer holds", len(q.sent))
		}
	})
}

// stoppingAggregator takes stopTakes, per KPI, to stop its query once its context ends (as the
// runner's StopQueryExecution and cleanup do), and records when and why it was told to stop.
type stoppingAggregator struct {
	fakeAggregator
	stopTakes map[string]time.Duration
	began     time.Time
	stoppedAt time.Duration
	cause     error
}

func (s *stoppingAggregator) Handle(ctx context.Context, req aggregate.Request) (ctas.Result, error) {
	s.began = time.Now()
	res, err := s.fakeAggregator.Handle(ctx, req)
	if ctx.Err() != nil {
		s.stoppedAt, s.cause = time.Since(s.began), context.Cause(ctx)
		time.Sleep(s.stopTakes[req.KPI])
	}
	return res, err
}
