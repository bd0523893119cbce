package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// aggregationOutput is the part of a successful execution's output that the tests read.
type aggregationOutput struct {
	Plan struct {
		Date    string     `json:"date"`
		Trigger string     `json:"trigger"`
		Waves   [][]string `json:"waves"`
	} `json:"plan"`
	Aggregated [][]struct {
		KPI        string   `json:"kpi"`
		Date       string   `json:"date"`
		WaitingFor []string `json:"waiting_for"`
	} `json:"aggregated"`
}

func succeededAggregation(t *testing.T, d *aggregation, arn string, ex execution) aggregationOutput {
	t.Helper()
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s, want SUCCEEDED (error %q, cause %q); history:\n%s", ex.Status, ex.Error, ex.Cause, d.history(arn))
	}
	var out aggregationOutput
	if err := json.Unmarshal([]byte(ex.Output), &out); err != nil {
		t.Fatalf("execution output is not JSON: %v\n%s", err, ex.Output)
	}
	return out
}

func succeed(string, int) error { return nil }

// catalogWaves are the project's KPIs in dependency waves, as the plan orders them.
func catalogWaves(t *testing.T, kpis []string) [][]string {
	t.Helper()
	c, err := kpiCatalog()
	if err != nil {
		t.Fatal(err)
	}
	waves, err := c.Waves(kpis)
	if err != nil {
		t.Fatal(err)
	}
	if len(waves) < 2 {
		t.Fatalf("the KPI catalog has %d waves %v; these tests need a KPI that depends on another", len(waves), waves)
	}
	return waves
}

func TestAggregation_RunsEveryKPIWaveAfterWaveAndTheKPIsOfAWaveTogether(t *testing.T) {
	w := setupAggregation(t)
	waves := catalogWaves(t, nil)
	if len(waves[0]) < 2 || len(waves[0]) > w.app.maxConcurrency {
		t.Fatalf("first wave %v: this test needs 2 to %d independent KPIs", waves[0], w.app.maxConcurrency)
	}
	// Each KPI of the first wave waits until all of them have started (or 20 s have passed), so
	// that they overlap however slowly a loaded machine starts the Map's iterations; run one after
	// another, the first would end before the last starts.
	var mu sync.Mutex
	started, all := map[string]bool{}, make(chan struct{})
	barrier := func(kpi string, _ int) error {
		if !slices.Contains(waves[0], kpi) {
			return nil
		}
		mu.Lock()
		if !started[kpi] {
			started[kpi] = true
			if len(started) == len(waves[0]) {
				close(all)
			}
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(20 * time.Second):
		}
		return nil
	}
	d := w.deploy(t, 0, barrier, nil)
	const day = "2026-11-24"
	arn, ex := d.run(t, map[string]any{"date": day})
	out := succeededAggregation(t, d, arn, ex)

	if out.Plan.Date != day || out.Plan.Trigger != "manual" {
		t.Errorf("plan = %+v, want the manual day %s", out.Plan, day)
	}
	if diff := cmp.Diff(waves, out.Plan.Waves); diff != "" {
		t.Errorf("planned waves (-want +got):\n%s", diff)
	}
	var got [][]string
	for _, wave := range out.Aggregated {
		var kpis []string
		for _, r := range wave {
			kpis = append(kpis, r.KPI)
			if r.Date != day {
				t.Errorf("result of %s for %q, want %s", r.KPI, r.Date, day)
			}
		}
		got = append(got, kpis)
	}
	if diff := cmp.Diff(waves, got); diff != "" {
		t.Errorf("$.aggregated, one list of results per wave (-want +got):\n%s", diff)
	}

	byKPI := map[string]kpiCall{}
	for _, c := range d.kpiCalls() {
		if _, dup := byKPI[c.KPI]; dup {
			t.Errorf("%s aggregated twice", c.KPI)
		}
		byKPI[c.KPI] = c
		if c.Date != day || c.Err != nil {
			t.Errorf("%s ran for %q with error %v, want %s without error", c.KPI, c.Date, c.Err, day)
		}
	}
	for i := 1; i < len(waves); i++ {
		var lastEnd time.Time
		for _, k := range waves[i-1] {
			lastEnd = maxTime(lastEnd, byKPI[k].End)
		}
		for _, k := range waves[i] {
			if c, ok := byKPI[k]; !ok || c.Start.Before(lastEnd) {
				t.Errorf("%s (wave %d) started at %s, before wave %d finished at %s", k, i+1, c.Start.Format(time.StampMilli), i, lastEnd.Format(time.StampMilli))
			}
		}
	}
	// The first wave's KPIs are independent and within the bound: they overlap.
	var latestStart, earliestEnd time.Time
	for i, k := range waves[0] {
		c := byKPI[k]
		if i == 0 || c.Start.After(latestStart) {
			latestStart = c.Start
		}
		if i == 0 || c.End.Before(earliestEnd) {
			earliestEnd = c.End
		}
	}
	if !latestStart.Before(earliestEnd) {
		t.Errorf("the KPIs of wave 1 ran one after another (last start %s, first end %s), want them in parallel",
			latestStart.Format(time.StampMilli), earliestEnd.Format(time.StampMilli))
	}
	if n := len(d.plan.invocations()); n != 1 {
		t.Errorf("plan invoked %d times, want once", n)
	}
	if msgs := d.alerts(t, 2*time.Second); len(msgs) != 0 {
		t.Errorf("alerts on a successful run: %v", msgs)
	}
}

// A manual run of some KPIs also reruns what depends on them, wave after wave.
func TestAggregation_ManualRunOfAKPIRerunsItsDependents(t *testing.T) {
	w := setupAggregation(t)
	first := catalogWaves(t, nil)[0][0]
	waves := catalogWaves(t, []string{first})
	d := w.deploy(t, 0, succeed, nil)
	arn, ex := d.run(t, map[string]any{"date": "2026-11-20", "kpis": []string{first}})
	out := succeededAggregation(t, d, arn, ex)
	if diff := cmp.Diff(waves, out.Plan.Waves); diff != "" {
		t.Errorf("planned waves (-want +got):\n%s", diff)
	}
	var ran []string
	for _, c := range d.kpiCalls() {
		ran = append(ran, c.KPI)
	}
	var want []string
	for _, wave := range waves {
		want = append(want, wave...)
	}
	if diff := cmp.Diff(want, ran); diff != "" {
		t.Errorf("KPIs run, in order (-want +got):\n%s", diff)
	}
}

// crawlerEvent is the EventBridge event the crawler rule passes on when crawler succeeds at
// time (RFC 3339).
func crawlerEvent(crawler, time string) map[string]any {
	return map[string]any{
		"version": "0", "id": "7e5d1a5e-1111-2222-3333-444455556666", "detail-type": "Glue Crawler State Change",
		"source": "aws.glue", "account": account, "time": time, "region": "ap-northeast-1",
		"resources": []any{}, "detail": map[string]any{"crawlerName": crawler, "state": "Succeeded", "message": "Crawler Succeeded"},
	}
}

// readersOf are the waves of the KPIs that read source directly, with their dependents: what a
// crawl of source must aggregate, worked out from the KPI files' headers.
func readersOf(t *testing.T, source string) [][]string {
	t.Helper()
	c, err := kpiCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	for _, name := range c.Names() {
		k, _ := c.KPI(name)
		if slices.ContainsFunc(k.Sources, func(s queries.SourceTable) bool { return s.Source == source }) {
			direct = append(direct, name)
		}
	}
	if len(direct) == 0 {
		return [][]string{}
	}
	waves, err := c.Waves(direct)
	if err != nil {
		t.Fatal(err)
	}
	return waves
}

// The crawler rule passes the whole EventBridge event; the plan step aggregates the business day
// before the event's time, and only the KPIs that read what that crawler catalogues, directly or
// through upstream KPIs. A KPI that reads both sources runs after each crawl.
func TestAggregation_CrawlerEventAggregatesTheKPIsOfItsSourceForTheBusinessDayBefore(t *testing.T) {
	w := setupAggregation(t)
	ran := map[string][]string{}
	for _, source := range []string{sourceName, layout.AppLogsSource} {
		t.Run(source, func(t *testing.T) {
			d := w.deploy(t, 0, succeed, nil)
			arn, ex := d.run(t, crawlerEvent(d.crawlers[source], "2026-11-24T16:30:00Z"))
			out := succeededAggregation(t, d, arn, ex)
			// 16:30 UTC on the 24th is 01:30 on the 25th in Tokyo: the day before is the 24th.
			if out.Plan.Date != "2026-11-24" || out.Plan.Trigger != "event" {
				t.Errorf("plan = %+v, want the event's business day before, 2026-11-24", out.Plan)
			}
			want := readersOf(t, source)
			if diff := cmp.Diff(want, out.Plan.Waves); diff != "" {
				t.Errorf("planned waves (-want +got):\n%s", diff)
			}
			var got []string
			for _, c := range d.kpiCalls() {
				got = append(got, c.KPI)
				if c.Date != "2026-11-24" {
					t.Errorf("%s aggregated for %s, want 2026-11-24", c.KPI, c.Date)
				}
			}
			ran[source] = got
			// The KPIs of a wave end in any order; the waves' order is checked above.
			if diff := cmp.Diff(slices.Sorted(slices.Values(slices.Concat(want...))), slices.Sorted(slices.Values(got))); diff != "" {
				t.Errorf("KPIs run (-want +got):\n%s", diff)
			}
		})
	}
	all := catalogWaves(t, nil)
	if n := len(slices.Concat(all...)); len(ran[sourceName])+len(ran[layout.AppLogsSource]) <= n {
		t.Errorf("the two crawls ran %v and %v: this test needs a KPI that reads both sources", ran[sourceName], ran[layout.AppLogsSource])
	}
	for _, k := range slices.Concat(all...) {
		if !slices.Contains(ran[sourceName], k) && !slices.Contains(ran[layout.AppLogsSource], k) {
			t.Errorf("%s ran after neither crawl", k)
		}
	}
}

// The access logs are crawled first (00:30), the database's day only after its extraction
// (01:40). engagement_score reads both sources, through upstream KPIs and a raw table: the first
// crawl's run defers it, naming what it waits for, and publishes nothing for it; the second
// crawl's run publishes it, once. Every other KPI is published by the crawl of its own source.
func TestAggregation_AKPIOfBothSourcesWaitsForTheLaterCrawl(t *testing.T) {
	const kpi, day = "engagement_score", "2026-11-24"
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	d.catalog = &dayCatalog{kpis: map[string]bool{}}

	d.catalog.crawled(layout.AppLogsSource)
	arn, ex := d.run(t, crawlerEvent(d.crawlers[layout.AppLogsSource], "2026-11-24T15:30:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	if !slices.Contains(slices.Concat(out.Plan.Waves...), kpi) {
		t.Fatalf("the logs' crawl did not plan %s (waves %v): this test needs a KPI that reads both sources", kpi, out.Plan.Waves)
	}
	want := []string{"kpi department_activity dt=" + day, sourceName + ".departments dt=" + day}
	deferred := false
	for _, wave := range out.Aggregated {
		for _, r := range wave {
			switch {
			case r.KPI == kpi:
				deferred = true
				if diff := cmp.Diff(want, r.WaitingFor); diff != "" {
					t.Errorf("%s waits for (-want +got):\n%s", kpi, diff)
				}
			case len(r.WaitingFor) > 0:
				t.Errorf("%s deferred, waiting for %v; it reads only the logs' tables", r.KPI, r.WaitingFor)
			}
		}
	}
	if !deferred {
		t.Errorf("%s not in the execution's results %+v", kpi, out.Aggregated)
	}
	first := len(d.kpiCalls())
	for _, c := range d.kpiCalls() {
		if c.KPI == kpi {
			t.Errorf("%s ran after the logs' crawl alone", kpi)
		}
	}

	d.catalog.crawled(sourceName)
	arn, ex = d.run(t, crawlerEvent(d.crawlers[sourceName], "2026-11-24T16:40:00Z"))
	out = succeededAggregation(t, d, arn, ex)
	var ran []string
	for _, c := range d.kpiCalls()[first:] {
		ran = append(ran, c.KPI)
	}
	if n := len(slices.DeleteFunc(slices.Clone(ran), func(k string) bool { return k != kpi })); n != 1 {
		t.Errorf("after the database's crawl %s ran %d times (runs %v), want once", kpi, n, ran)
	}
	for _, wave := range out.Aggregated {
		for _, r := range wave {
			if len(r.WaitingFor) > 0 {
				t.Errorf("%s still waits for %v after both crawls", r.KPI, r.WaitingFor)
			}
		}
	}
}

// A day without a single access log: the logs' crawl brings no partition of web_access, and the
// KPIs that read only the logs publish that day as it is (empty) rather than wait for a crawl
// that has already happened; the KPIs that also read the database still wait for it.
func TestAggregation_TheCrawlsOwnTablesAreNotWaitedFor(t *testing.T) {
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	d.catalog = &dayCatalog{kpis: map[string]bool{}} // nothing crawled has the day
	arn, ex := d.run(t, crawlerEvent(d.crawlers[layout.AppLogsSource], "2026-11-24T15:30:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	waiting := map[string][]string{}
	for _, wave := range out.Aggregated {
		for _, r := range wave {
			waiting[r.KPI] = r.WaitingFor
		}
	}
	ran := map[string]bool{}
	for _, c := range d.kpiCalls() {
		ran[c.KPI] = true
	}
	logsOnly := 0
	for _, k := range slices.Concat(readersOf(t, layout.AppLogsSource)...) {
		kpi, _ := mustKPI(t, k)
		onlyLogs := !slices.ContainsFunc(kpi.Sources, func(s queries.SourceTable) bool { return s.Source != layout.AppLogsSource }) &&
			len(kpi.DependsOn) == 0
		if onlyLogs {
			logsOnly++
			if len(waiting[k]) > 0 || !ran[k] {
				t.Errorf("%s waits for %v (ran: %t); it reads only the crawled logs", k, waiting[k], ran[k])
			}
		}
		if k == "engagement_score" && (len(waiting[k]) == 0 || ran[k]) {
			t.Errorf("%s ran without the database's day", k)
		}
	}
	if logsOnly == 0 {
		t.Error("no KPI reads only the access logs: this test checks nothing")
	}
}

// mustKPI is the project's KPI name.
func mustKPI(t *testing.T, name string) (*queries.KPI, bool) {
	t.Helper()
	c, err := kpiCatalog()
	if err != nil {
		t.Fatal(err)
	}
	k, ok := c.KPI(name)
	if !ok {
		t.Fatalf("no KPI %s", name)
	}
	return k, ok
}

// A crawler whose tables no KPI reads starts an execution that plans nothing and succeeds.
func TestAggregation_CrawlOfASourceNoKPIReadsAggregatesNothing(t *testing.T) {
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	arn, ex := d.run(t, crawlerEvent(d.crawlers[idleSource], "2026-11-24T16:30:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	if out.Plan.Waves == nil || len(out.Plan.Waves) != 0 || len(out.Aggregated) != 0 {
		t.Errorf("plan %+v, aggregated %v; want no waves and nothing aggregated", out.Plan, out.Aggregated)
	}
	if calls := d.kpiCalls(); len(calls) != 0 {
		t.Errorf("KPIs aggregated: %v", calls)
	}
}

// An event of a crawler that the plan function does not know (the rule and the function's
// configuration disagree) fails in the plan, without retries, and alerts with the crawler's name.
// A request the plan rejects (an event of a crawler it does not know, a bad date) fails the
// execution at once, with one alert that names the stage, the error and the cause.
func TestAggregation_RejectedRequestFailsInThePlanAndAlerts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input any
		cause []string
	}{
		{"event of an unknown crawler", crawlerEvent("kpilake-dev-stranger", "2026-11-24T16:30:00Z"),
			[]string{"kpilake-dev-stranger", "is not one the plan knows"}},
		{"bad date", map[string]any{"date": "2026-13-45"}, []string{"2026-13-45"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := setupAggregation(t)
			d := w.deploy(t, 0, succeed, nil)
			arn, ex := d.run(t, tc.input)
			if ex.Status != "FAILED" || ex.Error != "AggregationFailed" {
				t.Fatalf("execution %s (error %q), want FAILED with AggregationFailed; history:\n%s", ex.Status, ex.Error, d.history(arn))
			}
			if n := len(d.plan.invocations()); n != 1 {
				t.Errorf("plan invoked %d times, want once: a rejected request is not retried", n)
			}
			if calls := d.kpiCalls(); len(calls) != 0 {
				t.Errorf("KPIs aggregated after a failed plan: %v", calls)
			}
			msgs := d.alerts(t, 3*time.Second)
			if len(msgs) != 1 {
				t.Fatalf("alert topic delivered %d messages, want 1: %v", len(msgs), msgs)
			}
			var alert map[string]string
			if err := json.Unmarshal([]byte(msgs[0]["Message"]), &alert); err != nil {
				t.Fatal(err)
			}
			if alert["stage"] != "plan" || alert["error"] != "InputError" {
				t.Errorf("alert %v, want stage plan and error InputError", alert)
			}
			for _, want := range tc.cause {
				if !strings.Contains(alert["cause"], want) {
					t.Errorf("alert cause %q lacks %q", alert["cause"], want)
				}
			}
		})
	}
}

// The throttle retrier waits 10 s (x2, full jitter) in the synthesized definition; this test's
// copy waits 1 s and changes nothing else.
func TestAggregation_RetriesAThrottledKPIAndSucceeds(t *testing.T) {
	w := setupAggregation(t)
	throttled := catalogWaves(t, nil)[0][0]
	script := func(kpi string, attempt int) error {
		if kpi == throttled && attempt == 1 {
			return fmt.Errorf("start query: %w after 8 attempts: TooManyRequestsException", ctas.ErrThrottled)
		}
		return nil
	}
	d := w.deploy(t, 0, script, setRetryInterval("AthenaThrottled", 1))
	arn, ex := d.run(t, map[string]any{"date": "2026-11-24"})
	succeededAggregation(t, d, arn, ex)
	var attempts []bool
	for _, c := range d.kpiCalls() {
		if c.KPI == throttled {
			attempts = append(attempts, c.Err != nil)
		}
	}
	if diff := cmp.Diff([]bool{true, false}, attempts); diff != "" {
		t.Errorf("runs of %s (failed?, -want +got):\n%s", throttled, diff)
	}
	if diff := cmp.Diff([]string{"AthenaThrottled"}, taskFailures(t, d, arn)); diff != "" {
		t.Errorf("failed task attempts (-want +got):\n%s", diff)
	}
	if msgs := d.alerts(t, 2*time.Second); len(msgs) != 0 {
		t.Errorf("alerts on a run that recovered: %v", msgs)
	}
}

func TestAggregation_FailedQueryIsNotRetriedAlertsOnceAndFailsTheExecution(t *testing.T) {
	w := setupAggregation(t)
	waves := catalogWaves(t, nil)
	broken := waves[0][len(waves[0])-1]
	const reason = "COLUMN_NOT_FOUND: line 3:8: Column 'dept' cannot be resolved"
	script := func(kpi string, attempt int) error {
		if kpi == broken {
			return fmt.Errorf("%w: %s", ctas.ErrQueryFailed, reason)
		}
		return nil
	}
	d := w.deploy(t, 0, script, nil)
	const day = "2026-11-23"
	arn, ex := d.run(t, map[string]any{"date": day})
	if ex.Status != "FAILED" || ex.Error != "AggregationFailed" || !strings.Contains(ex.Cause, "COLUMN_NOT_FOUND") {
		t.Fatalf("execution %s (error %q, cause %q), want FAILED with AggregationFailed and the query's reason; history:\n%s",
			ex.Status, ex.Error, ex.Cause, d.history(arn))
	}
	runs := 0
	for _, c := range d.kpiCalls() {
		if c.KPI == broken {
			runs++
		}
		for _, later := range waves[1:] {
			if slices.Contains(later, c.KPI) {
				t.Errorf("%s (a later wave) ran although wave 1 failed", c.KPI)
			}
		}
	}
	if runs != 1 {
		t.Errorf("%s ran %d times, want once: a failed query is not retried", broken, runs)
	}
	if diff := cmp.Diff([]string{"QueryFailed"}, taskFailures(t, d, arn)); diff != "" {
		t.Errorf("failed task attempts (-want +got):\n%s", diff)
	}

	msgs := d.alerts(t, 3*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("alert topic delivered %d messages, want 1: %v", len(msgs), msgs)
	}
	var alert map[string]string
	if err := json.Unmarshal([]byte(msgs[0]["Message"]), &alert); err != nil {
		t.Fatalf("alert message %q is not the JSON the workflow publishes: %v", msgs[0]["Message"], err)
	}
	for k, v := range map[string]string{"kpi": broken, "date": day, "error": "QueryFailed", "execution": arn} {
		if alert[k] != v {
			t.Errorf("alert %s = %q, want %q (alert %v)", k, alert[k], v, alert)
		}
	}
	if !strings.Contains(alert["cause"], "COLUMN_NOT_FOUND") {
		t.Errorf("alert cause %q does not carry the query's reason", alert["cause"])
	}
	if subject := msgs[0]["Subject"]; !strings.Contains(subject, "aggregation failed") {
		t.Errorf("alert subject %q", subject)
	}
}

// taskFailures lists the errors of an execution's failed task attempts, in order.
func taskFailures(t *testing.T, d *aggregation, arn string) []string {
	t.Helper()
	events, err := d.w.api.executionHistory(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, e := range events {
		if details, ok := e["taskFailedEventDetails"].(map[string]any); ok {
			name, _ := details["error"].(string)
			errs = append(errs, name)
		}
	}
	return errs
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
