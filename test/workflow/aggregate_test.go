//go:build !unit

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
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// aggregationOutput is the part of a successful execution's output that the tests read.
type aggregationOutput struct {
	// Plan is the plan function's result as the workflow keeps it (each set of waves once).
	Plan plan.Plan `json:"plan"`
	// Aggregated are the days aggregated, in order: each day's output is its date (the KPIs'
	// results are in the execution's history; see results).
	Aggregated []string `json:"aggregated"`
	// results are the KPIs' results, read from the execution's history by succeededAggregation.
	results []kpiResult
}

type kpiResult struct {
	KPI        string   `json:"kpi"`
	Date       string   `json:"date"`
	WaitingFor []string `json:"waiting_for"`
}

// kpiResults are the outputs of the execution's AggregateKPI states, in the order they ended.
func kpiResults(t *testing.T, d *aggregation, arn string) []kpiResult {
	t.Helper()
	events, err := d.w.api.executionHistory(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	var out []kpiResult
	for _, e := range events {
		details, ok := e["stateExitedEventDetails"].(map[string]any)
		if !ok || details["name"] != "AggregateKPI" {
			continue
		}
		output, _ := details["output"].(string)
		var r kpiResult
		if err := json.Unmarshal([]byte(output), &r); err != nil {
			t.Fatalf("AggregateKPI's output %q: %v", output, err)
		}
		out = append(out, r)
	}
	return out
}

// dates are the planned days.
func (o aggregationOutput) dates() []string {
	var out []string
	for _, d := range o.Plan.Days {
		out = append(out, d.Date)
	}
	return out
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
	out.results = kpiResults(t, d, arn)
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
	t.Parallel()
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

	if len(out.Plan.Days) != 1 || out.Plan.Days[0].Date != day || out.Plan.Trigger != "manual" {
		t.Fatalf("plan = %+v, want the manual day %s", out.Plan, day)
	}
	if diff := cmp.Diff(waves, out.Plan.Days[0].Waves); diff != "" {
		t.Errorf("planned waves (-want +got):\n%s", diff)
	}
	// The execution's output names the day, not its KPIs' results (which could pass Step
	// Functions' payload limit); each result is in the history, once per KPI.
	if diff := cmp.Diff([]string{day}, out.Aggregated); diff != "" {
		t.Errorf("$.aggregated, the days aggregated (-want +got):\n%s", diff)
	}
	var got []string
	for _, r := range out.results {
		got = append(got, r.KPI)
		if r.Date != day {
			t.Errorf("result of %s for %q, want %s", r.KPI, r.Date, day)
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(slices.Concat(waves...))), slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("AggregateKPI results in the history, one per KPI (-want +got):\n%s", diff)
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
	t.Parallel()
	w := setupAggregation(t)
	first := catalogWaves(t, nil)[0][0]
	waves := catalogWaves(t, []string{first})
	d := w.deploy(t, 0, succeed, nil)
	arn, ex := d.run(t, map[string]any{"date": "2026-11-20", "kpis": []string{first}})
	out := succeededAggregation(t, d, arn, ex)
	if len(out.Plan.Days) != 1 {
		t.Fatalf("plan %+v, want one day", out.Plan)
	}
	if diff := cmp.Diff(waves, out.Plan.Days[0].Waves); diff != "" {
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

// The crawler rule passes the whole EventBridge event; the plan step aggregates the day the crawl
// brought, and only the KPIs that read what that crawler catalogues, directly or through upstream
// KPIs. A KPI that reads both sources runs after each crawl.
func TestAggregation_CrawlerEventAggregatesTheKPIsOfItsSourceForTheDayItBrought(t *testing.T) {
	t.Parallel()
	const day = "2026-11-24"
	w := setupAggregation(t)
	var mu sync.Mutex
	ran := map[string][]string{}
	// Each crawl in a deployment of its own, at the same time; "crawls" returns when both have ended.
	t.Run("crawls", func(t *testing.T) {
		for _, source := range []string{sourceName, layout.AppLogsSource} {
			t.Run(source, func(t *testing.T) {
				t.Parallel()
				d := w.deploy(t, 0, succeed, nil)
				d.landRaw(t, source, day)
				// 16:30 UTC on the 24th is 01:30 on the 25th in Tokyo.
				arn, ex := d.run(t, crawlerEvent(d.crawlers[source], "2026-11-24T16:30:00Z"))
				out := succeededAggregation(t, d, arn, ex)
				want := readersOf(t, source)
				if len(out.Plan.Days) != 1 || out.Plan.Days[0].Date != day || out.Plan.Trigger != "event" {
					t.Fatalf("plan = %+v, want the day the crawl brought, %s", out.Plan, day)
				}
				if diff := cmp.Diff(want, out.Plan.Days[0].Waves); diff != "" {
					t.Errorf("planned waves (-want +got):\n%s", diff)
				}
				var got []string
				for _, c := range d.kpiCalls() {
					got = append(got, c.KPI)
					if c.Date != day {
						t.Errorf("%s aggregated for %s, want %s", c.KPI, c.Date, day)
					}
				}
				mu.Lock()
				ran[source] = got
				mu.Unlock()
				// The KPIs of a wave end in any order; the waves' order is checked above. A KPI that
				// reads the other source too waits for it, and does not run.
				var wantRun []string
				for _, k := range slices.Concat(want...) {
					if !readsBoth(t, k) {
						wantRun = append(wantRun, k)
					}
				}
				if diff := cmp.Diff(slices.Sorted(slices.Values(wantRun)), slices.Sorted(slices.Values(got))); diff != "" {
					t.Errorf("KPIs run (-want +got):\n%s", diff)
				}
			})
		}
	})
	for _, k := range catalogWaves(t, nil) {
		for _, kpi := range k {
			if !readsBoth(t, kpi) && !slices.Contains(ran[sourceName], kpi) && !slices.Contains(ran[layout.AppLogsSource], kpi) {
				t.Errorf("%s ran after neither crawl", kpi)
			}
		}
	}
}

// readsBoth reports whether a KPI reads the database and the logs, directly or through others.
func readsBoth(t *testing.T, kpi string) bool {
	t.Helper()
	in := func(source string) bool { return slices.Contains(slices.Concat(readersOf(t, source)...), kpi) }
	return in(sourceName) && in(layout.AppLogsSource)
}

// A crawl that ends after midnight: the database's day D is extracted and crawled, but the crawl
// ends at 00:10 on D+2 (a crawler that waited on a running one). The run aggregates D, the day
// the crawl brought, not D+1, the day before the event.
func TestAggregation_CrawlEndingAfterMidnightAggregatesTheDayItBrought(t *testing.T) {
	t.Parallel()
	const day = "2026-11-24"
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	d.landRaw(t, sourceName, day)
	// 15:10 UTC on the 25th is 00:10 on the 26th in Tokyo.
	arn, ex := d.run(t, crawlerEvent(d.crawlers[sourceName], "2026-11-25T15:10:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	if diff := cmp.Diff([]string{day}, out.dates()); diff != "" {
		t.Errorf("planned days (-want +got):\n%s", diff)
	}
	calls := d.kpiCalls()
	if len(calls) == 0 {
		t.Fatalf("nothing aggregated after the crawl of %s", day)
	}
	for _, c := range calls {
		if c.Date != day {
			t.Errorf("%s aggregated for %s, want %s (the day the crawl brought)", c.KPI, c.Date, day)
		}
	}
}

// A re-extraction of a day a week back, after that day was published and a newer day too: the
// next crawl of the source aggregates that day again (and what reads it), oldest day first, and
// leaves the newer day, published after its inputs, alone.
func TestAggregation_ReExtractionOfADayAWeekBackAggregatesItAgain(t *testing.T) {
	t.Parallel()
	const old, recent = "2026-11-17", "2026-11-24"
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	for _, step := range []struct{ source, day, event string }{
		{layout.AppLogsSource, old, "2026-11-17T15:30:00Z"},
		{sourceName, old, "2026-11-17T16:40:00Z"},
		{sourceName, recent, "2026-11-24T16:40:00Z"},
	} {
		d.landRaw(t, step.source, step.day)
		arn, ex := d.run(t, crawlerEvent(d.crawlers[step.source], step.event))
		succeededAggregation(t, d, arn, ex)
	}
	before := len(d.kpiCalls())
	published := func(kpi, day string) int {
		n := 0
		for _, c := range d.kpiCalls()[before:] {
			if c.KPI == kpi && c.Date == day && c.Err == nil {
				n++
			}
		}
		return n
	}
	d.landRaw(t, sourceName, old) // the re-extraction
	arn, ex := d.run(t, crawlerEvent(d.crawlers[sourceName], "2026-11-25T16:40:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	if dates := out.dates(); len(dates) == 0 || dates[0] != old || !slices.IsSorted(dates) {
		t.Errorf("planned days %v, want %s first and the days in order", dates, old)
	}
	for _, kpi := range []string{"department_activity", "engagement_score"} {
		if n := published(kpi, old); n != 1 {
			t.Errorf("%s published for %s %d times after its re-extraction, want once", kpi, old, n)
		}
	}
	if n := published("department_activity", recent); n != 0 {
		t.Errorf("department_activity published again for %s, whose inputs did not change", recent)
	}
	for _, c := range d.kpiCalls()[before:] {
		if slices.Contains(slices.Concat(readersOf(t, layout.AppLogsSource)...), c.KPI) && !readsBoth(t, c.KPI) {
			t.Errorf("%s (the logs' only) aggregated for %s after the database's crawl", c.KPI, c.Date)
		}
	}
}

// engagement_score reads both sources, through upstream KPIs and a raw table. Whichever source is
// crawled first, that crawl's run defers it, naming what it waits for, and publishes nothing for
// it; the other crawl's run publishes it, once, after its last input; a later crawl does not
// publish it again. Every other KPI is published by the crawl of its own source.
func TestAggregation_AKPIOfBothSourcesIsPublishedOnceAfterItsLastInputInEitherCrawlOrder(t *testing.T) {
	t.Parallel()
	const kpi, day = "engagement_score", "2026-11-24"
	w := setupAggregation(t)
	for _, order := range []struct {
		name    string
		sources []string
		events  []string
		waits   []string
	}{
		{"logs first", []string{layout.AppLogsSource, sourceName}, []string{"2026-11-24T15:30:00Z", "2026-11-24T16:40:00Z"},
			[]string{"kpi department_activity dt=" + day, sourceName + ".departments dt=" + day}},
		// The logs' crawl ends after midnight of the next day (00:10 on the 26th in Tokyo).
		{"database first", []string{sourceName, layout.AppLogsSource}, []string{"2026-11-24T16:40:00Z", "2026-11-25T15:10:00Z"},
			[]string{"kpi active_users_by_department dt=" + day}},
	} {
		t.Run(order.name, func(t *testing.T) {
			t.Parallel()
			d := w.deploy(t, 0, succeed, nil)
			d.landRaw(t, order.sources[0], day)
			arn, ex := d.run(t, crawlerEvent(d.crawlers[order.sources[0]], order.events[0]))
			out := succeededAggregation(t, d, arn, ex)
			deferred := false
			for _, r := range out.results {
				switch {
				case r.KPI == kpi:
					deferred = true
					if diff := cmp.Diff(order.waits, r.WaitingFor); diff != "" {
						t.Errorf("%s waits for (-want +got):\n%s", kpi, diff)
					}
				case len(r.WaitingFor) > 0:
					t.Errorf("%s deferred, waiting for %v; it reads only %s's tables", r.KPI, r.WaitingFor, order.sources[0])
				}
			}
			if !deferred {
				t.Errorf("%s not in the first execution's results %+v", kpi, out.results)
			}
			for _, c := range d.kpiCalls() {
				if c.KPI == kpi {
					t.Errorf("%s ran after the crawl of %s alone", kpi, order.sources[0])
				}
			}

			lastInput := time.Now()
			d.landRaw(t, order.sources[1], day)
			arn, ex = d.run(t, crawlerEvent(d.crawlers[order.sources[1]], order.events[1]))
			out = succeededAggregation(t, d, arn, ex)
			for _, r := range out.results {
				if len(r.WaitingFor) > 0 {
					t.Errorf("%s still waits for %v after both crawls", r.KPI, r.WaitingFor)
				}
			}
			// A later crawl of either source brings nothing new for the day.
			for i, source := range order.sources {
				arn, ex = d.run(t, crawlerEvent(d.crawlers[source], fmt.Sprintf("2026-11-25T%02d:40:00Z", 16+i)))
				if out := succeededAggregation(t, d, arn, ex); slices.Contains(out.dates(), day) {
					t.Errorf("the later crawl of %s planned %s again: %+v", source, day, out.Plan)
				}
			}
			var runs []kpiCall
			for _, c := range d.kpiCalls() {
				if c.KPI == kpi {
					runs = append(runs, c)
				}
			}
			if len(runs) != 1 || runs[0].Date != day || runs[0].Start.Before(lastInput) {
				t.Errorf("%s ran %+v, want once for %s after its last input landed (%s)", kpi, runs, day, lastInput.Format(time.StampMilli))
			}
		})
	}
}

// A day whose access logs the logs' crawl has not catalogued (a crawl that missed the folder):
// the KPIs that read only the logs publish that day from what the catalog has rather than wait
// for a crawl that has already happened; the KPIs that also read the database still wait for it.
func TestAggregation_TheCrawlsOwnTablesAreNotWaitedFor(t *testing.T) {
	t.Parallel()
	const day = "2026-11-24"
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	d.land(t, layout.AppLogsSource, day, false)
	arn, ex := d.run(t, crawlerEvent(d.crawlers[layout.AppLogsSource], "2026-11-24T15:30:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	waiting := map[string][]string{}
	for _, r := range out.results {
		waiting[r.KPI] = r.WaitingFor
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
	t.Parallel()
	w := setupAggregation(t)
	d := w.deploy(t, 0, succeed, nil)
	arn, ex := d.run(t, crawlerEvent(d.crawlers[idleSource], "2026-11-24T16:30:00Z"))
	out := succeededAggregation(t, d, arn, ex)
	if out.Plan.Days == nil || len(out.Plan.Days) != 0 || len(out.Aggregated) != 0 {
		t.Errorf("plan %+v, aggregated %v; want no days and nothing aggregated", out.Plan, out.Aggregated)
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
	t.Parallel()
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
			t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
