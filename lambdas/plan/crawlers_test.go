package plan_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// testCatalog is a small KPI catalog: a reads s1.t1, b reads s2.t2, d reads both, c reads a and
// b, e reads c (so s1 and s2 only through upstream KPIs), f reads s3.t3 and s3.other.
func testCatalog(t *testing.T) *queries.Catalog {
	t.Helper()
	kpi := func(name, dependsOn, sources, from string) *fstest.MapFile {
		return &fstest.MapFile{Data: fmt.Appendf(nil, "-- name: %s\n-- description: test KPI %s\n-- depends_on: %s\n-- sources: %s\nSELECT 1 AS x FROM %s\n",
			name, name, dependsOn, sources, from)}
	}
	c, err := queries.Parse(fstest.MapFS{
		"a.sql": kpi("a", "", "s1.t1", `{{ source "s1" "t1" }} AS t`),
		"b.sql": kpi("b", "", "s2.t2", `{{ source "s2" "t2" }} AS t`),
		"c.sql": kpi("c", "a, b", "", `{{ kpi "a" }} AS a CROSS JOIN {{ kpi "b" }} AS b`),
		"d.sql": kpi("d", "", "s1.t1, s2.t2", `{{ source "s1" "t1" }} AS x CROSS JOIN {{ source "s2" "t2" }} AS y`),
		"e.sql": kpi("e", "c", "", `{{ kpi "c" }} AS c`),
		"f.sql": kpi("f", "", "s3.t3, s3.other", `{{ source "s3" "t3" }} AS x CROSS JOIN {{ source "s3" "other" }} AS y`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tokyo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// testCrawlers catalogue the test catalog's sources: s3 by table, and s4, which no KPI reads.
var testCrawlers = plan.Crawlers{
	"crawler-s1":  {"s1/"},
	"crawler-s2":  {"s2/"},
	"crawler-s3":  {"s3/t3/", "s3/other/"},
	"crawler-s4":  {"s4/"},
	"crawler-all": {"s1/", "s2/", "s3/"},
}

func TestHandle_CrawlerEventPlansTheKPIsReadingWhatItCataloguedAndTheirDependents(t *testing.T) {
	kpis := testCatalog(t)
	triggers, err := plan.NewTriggers(testCrawlers, kpis)
	if err != nil {
		t.Fatal(err)
	}
	h := withInputsOn(t, plan.NewHandler(tokyo(t), slog.New(slog.NewJSONHandler(io.Discard, nil)), kpis, triggers), kpis, "2026-11-24")
	tests := []struct {
		crawler string
		want    [][]string
	}{
		// d reads both sources: it runs after either crawler; c and e only through a or b.
		{"crawler-s1", [][]string{{"a", "d"}, {"c"}, {"e"}}},
		{"crawler-s2", [][]string{{"b", "d"}, {"c"}, {"e"}}},
		{"crawler-s3", [][]string{{"f"}}},
		// Nothing reads s4: nothing to aggregate, and an empty plan rather than every KPI.
		{"crawler-s4", [][]string{}},
		{"crawler-all", [][]string{{"a", "b", "d", "f"}, {"c"}, {"e"}}},
	}
	for _, tt := range tests {
		t.Run(tt.crawler, func(t *testing.T) {
			got, err := h.Handle(context.Background(), plan.Request{
				Time: "2026-11-24T15:40:00Z", DetailType: plan.CrawlerEventDetailType, Detail: plan.Detail{CrawlerName: tt.crawler},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := plan.Plan{Trigger: plan.TriggerEvent, Crawler: tt.crawler, Crawled: testCrawlers[tt.crawler], Days: []plan.DayPlan{}}
			if len(tt.want) > 0 {
				want.Days = []plan.DayPlan{{Date: "2026-11-24", Waves: tt.want}}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandle_RunsWithoutACrawlerAreUnchanged(t *testing.T) {
	kpis := testCatalog(t)
	triggers, err := plan.NewTriggers(testCrawlers, kpis)
	if err != nil {
		t.Fatal(err)
	}
	h := withInputsOn(t, plan.NewHandler(tokyo(t), slog.New(slog.NewJSONHandler(io.Discard, nil)), kpis, triggers), kpis, "2026-11-24")
	every := [][]string{{"a", "b", "d", "f"}, {"c"}, {"e"}}
	tests := []struct {
		name string
		req  plan.Request
		want plan.Plan
	}{
		{"manual run of every KPI", plan.Request{Date: "2026-11-20"},
			plan.Plan{Date: "2026-11-20", Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-20", Waves: every}}}},
		{"manual run of some KPIs and their dependents", plan.Request{Date: "2026-11-20", KPIs: []string{"b"}},
			plan.Plan{Date: "2026-11-20", Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-20", Waves: [][]string{{"b"}, {"c"}, {"e"}}}}}},
		{"a manual date wins over a crawler event", plan.Request{Date: "2026-11-20", Time: "2026-11-24T15:40:00Z",
			DetailType: plan.CrawlerEventDetailType, Detail: plan.Detail{CrawlerName: "crawler-s3"}},
			plan.Plan{Date: "2026-11-20", Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-20", Waves: every}}}},
		// The extraction workflows' schedules pass {"time": ...}: the day before, with every KPI.
		{"schedule", plan.Request{Time: "2026-11-24T16:30:00Z"},
			plan.Plan{Date: "2026-11-24", Trigger: "event", Days: []plan.DayPlan{{Date: "2026-11-24", Waves: every}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Handle(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandle_CrawlerEventThePlanCannotPlaceIsAnInputError(t *testing.T) {
	kpis := testCatalog(t)
	triggers, err := plan.NewTriggers(testCrawlers, kpis)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		triggers plan.Triggers
		detail   plan.Detail
		want     []string
	}{
		{"unknown crawler", triggers, plan.Detail{CrawlerName: "kpilake-dev-other"}, []string{
			`field "detail.crawlerName": crawler "kpilake-dev-other" is not one the plan knows`,
			"it knows crawler-all, crawler-s1, crawler-s2, crawler-s3, crawler-s4 from " + contract.EnvCrawlers,
			"deploy the stack again", `{"date": "YYYY-MM-DD"}`}},
		{"no crawlers configured", plan.Triggers{}, plan.Detail{CrawlerName: "crawler-s1"}, []string{
			`crawler "crawler-s1" is not one the plan knows`, contract.EnvCrawlers + " is not set"}},
		{"crawler event without its crawler", triggers, plan.Detail{}, []string{
			`field "detail.crawlerName" is missing`, plan.CrawlerEventDetailType}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := plan.NewHandler(tokyo(t), slog.New(slog.NewJSONHandler(io.Discard, nil)), kpis, tt.triggers)
			got, err := h.Handle(context.Background(), plan.Request{
				Time: "2026-11-24T15:40:00Z", DetailType: plan.CrawlerEventDetailType, Detail: tt.detail,
			})
			var input *plan.InputError
			if !errors.As(err, &input) {
				t.Fatalf("Handle = %+v, %v; want an *plan.InputError", got, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseCrawlers_ReadsTheEnvironmentVariable(t *testing.T) {
	got, err := plan.ParseCrawlers(`{"kpilake-dev-social": ["social/"], "kpilake-dev-logs": ["app_logs/", "app_logs/web_access/"]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Crawlers{"kpilake-dev-social": {"social/"}, "kpilake-dev-logs": {"app_logs/", "app_logs/web_access/"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCrawlers (-want +got):\n%s", diff)
	}
}

func TestParseCrawlers_RejectsWhatCannotBeAMapping(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string
	}{
		{"not JSON", `social=social/`, []string{contract.EnvCrawlers, "is not a JSON object", `{"crawler": ["social/"]}`}},
		{"a list", `[{"crawler": "c", "prefixes": ["social/"]}]`, []string{"is not a JSON object"}},
		{"empty", `{}`, []string{contract.EnvCrawlers, "names no crawler"}},
		{"crawler without prefixes", `{"c": []}`, []string{`crawler "c" has no prefixes`}},
		{"empty crawler name", `{"": ["social/"]}`, []string{"a crawler name is empty"}},
		{"prefix without its slash", `{"c": ["social"]}`, []string{`crawler "c": prefix "social" is not a raw-zone folder such as "social/"`}},
		{"absolute prefix", `{"c": ["/social/"]}`, []string{`prefix "/social/"`}},
		{"prefix with an empty folder", `{"c": ["social//users/"]}`, []string{`prefix "social//users/"`}},
		{"prefix that no source can name", `{"c": ["Social/"]}`, []string{`prefix "Social/"`}},
		{"every problem at once", `{"c": ["social"], "d": []}`, []string{`prefix "social"`, `crawler "d" has no prefixes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plan.ParseCrawlers(tt.value)
			if err == nil {
				t.Fatalf("ParseCrawlers(%s) = %v, want an error", tt.value, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewTriggers_FailsWhenNoCrawlerCataloguesWhatAKPIReads(t *testing.T) {
	_, err := plan.NewTriggers(plan.Crawlers{"crawler-s1": {"s1/"}, "crawler-s3": {"s3/t3/"}}, testCatalog(t))
	if err == nil {
		t.Fatal("NewTriggers succeeded, want an error: nothing catalogues s2.t2 or s3.other")
	}
	for _, w := range []string{
		`b.sql: kpi "b" reads s2.t2 (raw folder s2/t2/), which no crawler of ` + contract.EnvCrawlers + ` catalogues`,
		`d.sql: kpi "d" reads s2.t2`,
		`f.sql: kpi "f" reads s3.other (raw folder s3/other/)`,
		"crawler-s1: s1/; crawler-s3: s3/t3/",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// With the real catalog and the stack's two kinds of crawler (a database source and the log
// streams), each crawl plans exactly the KPIs that read its source directly or through upstream
// KPIs, and a KPI that reads both runs after each.
func TestNewTriggers_RealCatalogRunsEachKPIAfterTheCrawlsOfWhatItReads(t *testing.T) {
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	crawlers := plan.Crawlers{"social": {"social/"}, "app_logs": {"app_logs/"}}
	triggers, err := plan.NewTriggers(crawlers, kpis)
	if err != nil {
		t.Fatal(err)
	}
	// reads reports whether KPI name reads source, directly or through the KPIs it depends on.
	var reads func(name, source string) bool
	reads = func(name, source string) bool {
		k, _ := kpis.KPI(name)
		for _, s := range k.Sources {
			if s.Source == source {
				return true
			}
		}
		return slices.ContainsFunc(k.DependsOn, func(d string) bool { return reads(d, source) })
	}
	h := withInputsOn(t, plan.NewHandler(tokyo(t), slog.New(slog.NewJSONHandler(io.Discard, nil)), kpis, triggers), kpis, "2026-11-24")
	both := 0
	for crawler := range crawlers {
		got, err := h.Handle(context.Background(), plan.Request{
			Time: "2026-11-24T15:40:00Z", DetailType: plan.CrawlerEventDetailType, Detail: plan.Detail{CrawlerName: crawler},
		})
		if err != nil {
			t.Fatal(err)
		}
		var planned []string
		for _, d := range got.Days {
			planned = append(planned, slices.Concat(d.Waves...)...)
		}
		for _, name := range kpis.Names() {
			if want := reads(name, crawler); want != slices.Contains(planned, name) {
				t.Errorf("crawler %s: KPI %s planned = %v, want %v (it reads %s: %v)", crawler, name, !want, want, crawler, want)
			}
			if crawler == "social" && reads(name, "social") && reads(name, "app_logs") {
				both++
			}
		}
	}
	if both == 0 {
		t.Errorf("no KPI of the catalog reads both sources; this test needs one to check that it runs after each crawl")
	}
}

// withInputsOn gives h a lake in which every raw table of c has an object on day, and no KPI has
// a partition: an event of the next business day plans day alone.
func withInputsOn(t *testing.T, h *plan.Handler, c *queries.Catalog, day string) *plan.Handler {
	t.Helper()
	objects := map[string]time.Time{}
	for _, src := range c.Sources() {
		objects[layout.TablePrefix(src.Source, src.Table)+"dt="+day+"/part-0.parquet"] = time.Date(2026, 11, 24, 16, 30, 0, 0, time.UTC)
	}
	lake, err := plan.NewLake(&fakeS3{objects: objects}, &fakeGlue{}, "raw", "db", plan.DefaultLookbackDays)
	if err != nil {
		t.Fatal(err)
	}
	return h.WithLake(lake.WithLogLateness(30*time.Minute), c, nil, nil)
}
