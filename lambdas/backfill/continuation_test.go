package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
)

// invocation is one call of the worker by fakeESM.
type invocation struct {
	id       string
	receives int
	failed   bool
	took     time.Duration
}

// fakeESM is the event source mapping and the queue, as far as the worker can tell: it works a
// message and every message the worker sends on to the backfill queue, one invocation of timeout
// each; a message reported as failed is delivered again with its receive count raised, until
// SQS's redrive moves it to the dead-letter queue after maxReceiveCount receives.
type fakeESM struct {
	w       *backfill.Worker
	q       *fakeQueue
	timeout time.Duration

	invocations []invocation
	dead        []string // bodies moved by SQS's redrive
}

func (e *fakeESM) run(t *testing.T, body string) {
	t.Helper()
	type msg struct {
		id, body string
		receives int
	}
	queue := []msg{{id: "m1", body: body}}
	for len(queue) > 0 {
		if len(e.invocations) == 50 {
			t.Fatalf("50 invocations and the queue still holds %d messages", len(queue))
		}
		m := queue[0]
		queue = queue[1:]
		m.receives++
		rec := record(m.id, m.body)
		rec.Attributes["ApproximateReceiveCount"] = strconv.Itoa(m.receives)
		sent := len(e.q.sentTo(testQueueURL))
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		began := time.Now()
		resp, err := e.w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		inv := invocation{id: m.id, receives: m.receives, failed: len(resp.BatchItemFailures) > 0, took: time.Since(began)}
		e.invocations = append(e.invocations, inv)
		for _, in := range e.q.sentTo(testQueueURL)[sent:] {
			queue = append(queue, msg{id: fmt.Sprintf("m%d", len(e.invocations)+len(queue)+1), body: aws.ToString(in.MessageBody)})
		}
		switch {
		case !inv.failed:
		case m.receives >= maxReceiveCount:
			e.dead = append(e.dead, m.body)
		default:
			queue = append(queue, m)
		}
	}
}

// sentOn decodes the jobs the worker sent on to the backfill queue, as JSON objects.
func sentOn(t *testing.T, q *fakeQueue) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, in := range q.sentTo(testQueueURL) {
		var j map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(in.MessageBody)), &j); err != nil {
			t.Fatalf("continuation %q: %v", aws.ToString(in.MessageBody), err)
		}
		j["delay_seconds"] = float64(in.DelaySeconds)
		out = append(out, j)
	}
	return out
}

// wantOnceInDependencyOrder fails unless published holds each of want once, every KPI after the
// KPIs it depends on.
func wantOnceInDependencyOrder(t *testing.T, want, published []string) {
	t.Helper()
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(published))); diff != "" {
		t.Errorf("KPIs published (-want +got):\n%s", diff)
	}
	cat := catalog(t)
	for i, name := range published {
		k, _ := cat.KPI(name)
		for _, dep := range k.DependsOn {
			if j := slices.Index(published, dep); j > i {
				t.Errorf("%s published before %s, which it depends on: %v", name, dep, published)
			}
		}
	}
}

func kpiList(kpis ...string) []any {
	out := make([]any, len(kpis))
	for i, k := range kpis {
		out[i] = k
	}
	return out
}

// lambdaTimeout is the worker's timeout in the stack (infra/backfill.FunctionTimeout).
const lambdaTimeout = 15 * time.Minute

func TestWorker_HandsOnTheKPIsAnInvocationCannotFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Six minutes a KPI: the day's six take 36 minutes, three invocations' worth.
		took := map[string]time.Duration{}
		for _, k := range allKPIs {
			took[k] = 6 * time.Minute
		}
		agg := &fakeAggregator{took: took}
		q := newFakeQueue()
		esm := &fakeESM{w: newTestWorker(t, agg, q), q: q, timeout: lambdaTimeout}
		esm.run(t, jobBody(t, "2026-11-24"))

		wantOnceInDependencyOrder(t, allKPIs, agg.publishedOn("2026-11-24"))
		if len(esm.dead) != 0 {
			t.Errorf("dead-lettered %q", esm.dead)
		}
		// Two KPIs fit in an invocation; the third is stopped before the deadline and handed on
		// at once. A continuation is planned as any job: engagement_score's dependencies are
		// published, so it may run first; reactions_given_received waits for the posts' state.
		want := []map[string]any{
			{"request_id": "bf-test", "date": "2026-11-24", "continuation": 1.0, "delay_seconds": 0.0,
				"kpis": kpiList("state_social_posts", "weekly_active_users_by_department", "engagement_score", "reactions_given_received")},
			{"request_id": "bf-test", "date": "2026-11-24", "continuation": 2.0, "delay_seconds": 0.0,
				"kpis": kpiList("weekly_active_users_by_department", "reactions_given_received")},
		}
		if diff := cmp.Diff(want, sentOn(t, q)); diff != "" {
			t.Errorf("jobs sent on (-want +got):\n%s", diff)
		}
		if len(esm.invocations) != 3 {
			t.Errorf("%d invocations, want 3: %+v", len(esm.invocations), esm.invocations)
		}
		// After two KPIs of 6 minutes, less than 6 minutes are left: the worker hands on rather
		// than start a query it would have to stop.
		if got := agg.kpis("2026-11-24"); len(got) != len(allKPIs) {
			t.Errorf("KPIs started %v; want each once, none started only to be stopped", got)
		}
		for _, inv := range esm.invocations {
			// The job stops its stop margin before the deadline, which leaves time to stop the
			// query and send the rest on; reported as done, so the original is deleted.
			if inv.failed || inv.took > lambdaTimeout-backfill.DefaultStopMargin {
				t.Errorf("invocation %+v: want it done, at least the stop margin (%s) before its deadline", inv, backfill.DefaultStopMargin)
			}
		}
	})
}

func TestWorker_AContinuationWithoutProgressIsAFailedDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// reactions_given_received never fits in an invocation: its job makes progress twice
		// (department_activity, then engagement_score), then none.
		agg := &fakeAggregator{took: map[string]time.Duration{
			"department_activity": time.Minute, "reactions_given_received": 20 * time.Minute}}
		q := newFakeQueue()
		esm := &fakeESM{w: newTestWorker(t, agg, q), q: q, timeout: lambdaTimeout}
		esm.run(t, jobBody(t, "2026-11-24", "department_activity", "reactions_given_received"))

		wantOnceInDependencyOrder(t, []string{"department_activity", "engagement_score"}, agg.publishedOn("2026-11-24"))
		sent := sentOn(t, q)
		if len(sent) != 2 {
			t.Fatalf("%d jobs sent on, want 2 (after each invocation that made progress): %v", len(sent), sent)
		}
		// The continuation fails its deliveries and SQS dead-letters it; a redrive runs what is left.
		if len(esm.dead) != 1 {
			t.Fatalf("dead-lettered %q, want the continuation", esm.dead)
		}
		var dead map[string]any
		if err := json.Unmarshal([]byte(esm.dead[0]), &dead); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(kpiList("reactions_given_received"), dead["kpis"]); diff != "" {
			t.Errorf("dead-lettered KPIs (-want +got):\n%s", diff)
		}
		if got := len(esm.invocations); got != 2+maxReceiveCount {
			t.Errorf("%d invocations, want %d: two that made progress, then %d failed deliveries", got, 2+maxReceiveCount, maxReceiveCount)
		}
	})
}

func TestWorker_HandsOnAfterAFailureThatMayPassOnceKPIsArePublished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agg := &fakeAggregator{fail: map[string]error{
			"weekly_active_users_by_department": &aggregate.AthenaThrottled{Err: ctas.ErrThrottled}}}
		q := newFakeQueue()
		esm := &fakeESM{w: newTestWorker(t, agg, q), q: q, timeout: lambdaTimeout}
		esm.run(t, jobBody(t, "2026-11-24"))

		// What was published is not run again; what failed waits the retry delay.
		wantOnceInDependencyOrder(t, []string{"active_users_by_department", "department_activity", "state_social_posts",
			"reactions_given_received", "engagement_score"}, agg.publishedOn("2026-11-24"))
		retry := float64(backfill.DefaultRetryDelay / time.Second)
		want := []map[string]any{
			{"request_id": "bf-test", "date": "2026-11-24", "continuation": 1.0, "delay_seconds": retry,
				"kpis": kpiList("weekly_active_users_by_department", "engagement_score", "reactions_given_received")},
			{"request_id": "bf-test", "date": "2026-11-24", "continuation": 2.0, "delay_seconds": retry,
				"kpis": kpiList("weekly_active_users_by_department")},
		}
		if diff := cmp.Diff(want, sentOn(t, q)); diff != "" {
			t.Errorf("jobs sent on (-want +got):\n%s", diff)
		}
		if len(esm.dead) != 1 || len(esm.invocations) != 2+maxReceiveCount {
			t.Errorf("%d invocations, dead-lettered %q; want the last continuation dead-lettered after %d failed deliveries",
				len(esm.invocations), esm.dead, maxReceiveCount)
		}
	})
}

func TestWorker_GivesTheJobBackWhenItCannotSendTheRestOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agg := &fakeAggregator{took: map[string]time.Duration{"department_activity": 10 * time.Minute, "engagement_score": 10 * time.Minute}}
		q := newFakeQueue()
		q.sendErr = throttled
		ctx, cancel := context.WithTimeout(context.Background(), lambdaTimeout)
		defer cancel()
		resp, err := newTestWorker(t, agg, q).Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
			record("m1", jobBody(t, "2026-11-24", "department_activity"))}})
		if err != nil {
			t.Fatal(err)
		}
		// Not acknowledged: the next delivery runs the day from its first KPI again.
		if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
			t.Errorf("reported failures (-want +got):\n%s", diff)
		}
		if got := q.changed(); len(got) == 0 || got[len(got)-1].timeout != int32(backfill.DefaultRetryDelay/time.Second) {
			t.Errorf("visibility changes %v; want the job given back after the retry delay", got)
		}
	})
}

func TestWorker_DoesNotHandOnAJobWhoseLeaseIsLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// department_activity is published at 1 minute; the lease, never renewed, stops the job
		// in engagement_score. The message may be another delivery's by now: sending the rest on
		// too would run the day twice over.
		agg := &fakeAggregator{took: map[string]time.Duration{"department_activity": time.Minute, "engagement_score": 10 * time.Minute}}
		q := newFakeQueue()
		q.changeErr = func(n int) error {
			if n >= 1 {
				return throttled
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), lambdaTimeout)
		defer cancel()
		resp, err := newTestWorker(t, agg, q).Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
			record("m1", jobBody(t, "2026-11-24", "department_activity"))}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" {
			t.Errorf("reported failures (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"department_activity"}, agg.publishedOn("2026-11-24")); diff != "" {
			t.Errorf("KPIs published (-want +got):\n%s", diff)
		}
		if len(q.sent) != 0 {
			t.Errorf("sent %d messages for a job whose lease is lost", len(q.sent))
		}
	})
}
