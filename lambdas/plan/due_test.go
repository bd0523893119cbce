package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// dueCatalog: logs reads app.web (one day), weekly reads app.web over 7 days, social reads
// db.posts, both reads logs and social (the two-source KPI, through upstream KPIs), and
// wboth reads 3 days of both.
func dueCatalog(t *testing.T) *queries.Catalog {
	t.Helper()
	kpi := func(name, dependsOn, sources, from string) *fstest.MapFile {
		return &fstest.MapFile{Data: fmt.Appendf(nil, "-- name: %s\n-- description: test KPI %s\n-- depends_on: %s\n-- sources: %s\nSELECT 1 AS x FROM %s\n",
			name, name, dependsOn, sources, from)}
	}
	c, err := queries.Parse(fstest.MapFS{
		"logs.sql":   kpi("logs", "", "app.web", `{{ source "app" "web" }} AS t`),
		"weekly.sql": kpi("weekly", "", "app.web", `{{ source_window "app" "web" 7 }} AS t`),
		"social.sql": kpi("social", "", "db.posts", `{{ source "db" "posts" }} AS t`),
		"both.sql":   kpi("both", "logs, social", "", `{{ kpi "logs" }} AS a CROSS JOIN {{ kpi "social" }} AS b`),
		"wboth.sql":  kpi("wboth", "both", "", `{{ kpi_window "both" 3 }} AS a`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	web   = queries.SourceTable{Source: "app", Table: "web"}
	posts = queries.SourceTable{Source: "db", Table: "posts"}
)

func day(t *testing.T, s string) layout.Day {
	t.Helper()
	d, err := layout.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// lakeState builds a Snapshot from "table: day@RFC3339" and "kpi: day@run start" lines.
type lakeState struct {
	raw       map[queries.SourceTable]map[string]string
	published map[string]map[string]string
}

func (s lakeState) snapshot(t *testing.T) plan.Snapshot {
	snap := plan.Snapshot{Raw: map[queries.SourceTable]map[layout.Day]time.Time{}, Published: map[string]map[layout.Day]time.Time{}}
	for tbl, days := range s.raw {
		snap.Raw[tbl] = map[layout.Day]time.Time{}
		for d, ts := range days {
			snap.Raw[tbl][day(t, d)] = at(t, ts)
		}
	}
	for k, days := range s.published {
		snap.Published[k] = map[layout.Day]time.Time{}
		for d, ts := range days {
			snap.Published[k][day(t, d)] = at(t, ts)
		}
	}
	return snap
}

func dueStrings(due plan.Due) map[string][]string {
	out := map[string][]string{}
	for d, kpis := range due.Days {
		out[d.String()] = kpis
	}
	return out
}

func TestDueDays(t *testing.T) {
	all := []string{"logs", "social", "weekly", "both", "wboth"}
	within := func(t *testing.T, from, to string) plan.Span { return plan.Span{From: day(t, from), To: day(t, to)} }
	tests := []struct {
		name   string
		kpis   []string
		state  lakeState
		from   string
		to     string
		want   map[string][]string
		noGaps bool
	}{
		{
			name: "a day with inputs and no partition is due, with its dependents",
			kpis: []string{"logs", "both", "wboth"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{
				web: {"2026-11-24": "2026-11-24T15:05:00Z"},
			}},
			from: "2026-11-20", to: "2026-11-25",
			// wboth of the 25th reads the 24th but has nothing of its own yet: not due.
			want: map[string][]string{"2026-11-24": {"both", "logs", "wboth"}},
		},
		{
			// The crawl of the 24th's data ends at 00:10 on the 26th: the plan's span ends on the
			// 25th, which has no input: only the 24th is due.
			name: "crawl ending after midnight: the day with the data, not the day before the event",
			kpis: []string{"social"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{
				posts: {"2026-11-23": "2026-11-24T01:30:00Z", "2026-11-24": "2026-11-25T15:05:00Z"},
			}, published: map[string]map[string]string{
				"social": {"2026-11-23": "2026-11-24T01:40:00Z"},
			}},
			from: "2026-10-26", to: "2026-11-25",
			// both was never published: the 23rd has an input (social's partition) and is due too.
			want: map[string][]string{"2026-11-23": {"both", "wboth"}, "2026-11-24": {"both", "social", "wboth"}},
		},
		{
			name: "re-extraction of a day a week back: that day again, and the windows that hold it",
			kpis: []string{"logs", "weekly"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{
				web: {"2026-11-17": "2026-11-25T09:00:00Z", "2026-11-18": "2026-11-18T15:10:00Z", "2026-11-24": "2026-11-24T15:10:00Z"},
			}, published: map[string]map[string]string{
				"logs":   {"2026-11-17": "2026-11-17T15:40:00Z", "2026-11-18": "2026-11-18T15:40:00Z", "2026-11-24": "2026-11-24T15:40:00Z"},
				"weekly": {"2026-11-17": "2026-11-17T15:40:00Z", "2026-11-18": "2026-11-18T15:40:00Z", "2026-11-19": "2026-11-19T15:40:00Z", "2026-11-20": "2026-11-20T15:40:00Z", "2026-11-21": "2026-11-21T15:40:00Z", "2026-11-22": "2026-11-22T15:40:00Z", "2026-11-23": "2026-11-23T15:40:00Z", "2026-11-24": "2026-11-24T15:40:00Z"},
			}},
			from: "2026-10-26", to: "2026-11-24",
			// both and wboth were never published: the days of logs' partitions are due for them.
			want: map[string][]string{"2026-11-17": {"both", "logs", "wboth", "weekly"}, "2026-11-18": {"both", "wboth", "weekly"},
				"2026-11-19": {"weekly"}, "2026-11-20": {"weekly"}, "2026-11-21": {"weekly"}, "2026-11-22": {"weekly"},
				"2026-11-23": {"weekly"}, "2026-11-24": {"both", "wboth"}},
		},
		{
			name: "published after its inputs: nothing due",
			kpis: all,
			state: lakeState{raw: map[queries.SourceTable]map[string]string{
				web: {"2026-11-24": "2026-11-24T15:05:00Z"}, posts: {"2026-11-24": "2026-11-24T16:30:00Z"},
			}, published: map[string]map[string]string{
				"logs": {"2026-11-24": "2026-11-24T15:40:00Z"}, "social": {"2026-11-24": "2026-11-24T16:40:00Z"},
				"weekly": {"2026-11-24": "2026-11-24T15:40:00Z"}, "both": {"2026-11-24": "2026-11-24T16:41:00Z"},
				"wboth": {"2026-11-24": "2026-11-24T16:42:00Z"},
			}},
			from: "2026-11-24", to: "2026-11-24",
			want: map[string][]string{}, noGaps: true,
		},
		{
			// The object of the run's own second may have landed after the run read the day.
			name: "an input of the second in which the run started is newer",
			kpis: []string{"logs"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{web: {"2026-11-24": "2026-11-24T15:40:00Z"}},
				published: map[string]map[string]string{"logs": {"2026-11-24": "2026-11-24T15:40:00.500Z"}}},
			from: "2026-11-24", to: "2026-11-24",
			want: map[string][]string{"2026-11-24": {"both", "logs", "wboth"}},
		},
		{
			// The first crawl published logs; both was deferred (no partition): the second crawl
			// (social's) makes both due through social, and through its own missing partition.
			name: "two-source KPI deferred by the first crawl is due at the second",
			kpis: []string{"social", "both", "wboth"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{
				web: {"2026-11-24": "2026-11-24T15:05:00Z"}, posts: {"2026-11-24": "2026-11-24T16:30:00Z"},
			}, published: map[string]map[string]string{"logs": {"2026-11-24": "2026-11-24T15:40:00Z"}}},
			from: "2026-11-24", to: "2026-11-24",
			want: map[string][]string{"2026-11-24": {"both", "social", "wboth"}},
		},
		{
			name: "an upstream KPI republished after its dependent makes the dependent due",
			kpis: []string{"both"},
			state: lakeState{published: map[string]map[string]string{
				"logs": {"2026-11-24": "2026-11-25T09:00:00Z"}, "social": {"2026-11-24": "2026-11-24T16:40:00Z"},
				"both": {"2026-11-24": "2026-11-24T16:41:00Z"},
			}},
			from: "2026-11-24", to: "2026-11-24",
			want: map[string][]string{"2026-11-24": {"both", "wboth"}},
		},
		{
			name: "a partition that names no run is republished",
			kpis: []string{"logs"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{web: {"2026-11-24": "2026-11-24T15:05:00Z"}},
				published: map[string]map[string]string{"logs": {"2026-11-24": "0001-01-01T00:00:00Z"}}},
			from: "2026-11-24", to: "2026-11-24",
			want: map[string][]string{"2026-11-24": {"both", "logs", "wboth"}},
		},
		{
			name: "days outside the span are never due",
			kpis: []string{"logs"},
			state: lakeState{raw: map[queries.SourceTable]map[string]string{
				web: {"2026-10-01": "2026-11-25T09:00:00Z", "2026-11-25": "2026-11-25T09:00:00Z"},
			}},
			from: "2026-10-26", to: "2026-11-24",
			want: map[string][]string{}, noGaps: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dueCatalog(t)
			waves, err := c.Waves(tt.kpis)
			if err != nil {
				t.Fatal(err)
			}
			due := plan.DueDays(c, slices.Concat(waves...), tt.state.snapshot(t), within(t, tt.from, tt.to), at(t, "2026-11-26T00:00:00Z"))
			if diff := cmp.Diff(tt.want, dueStrings(due)); diff != "" {
				t.Errorf("due days (-want +got):\n%s", diff)
			}
			gaps := 0
			for _, g := range due.Gaps {
				gaps += len(g.Days)
			}
			if tt.noGaps != (gaps == 0) {
				t.Errorf("gaps %+v; want none: %t", due.Gaps, tt.noGaps)
			}
		})
	}
}

func TestDueDays_GapAgeIsTheOldestUnpublishedInput(t *testing.T) {
	c := dueCatalog(t)
	snap := lakeState{raw: map[queries.SourceTable]map[string]string{
		web: {"2026-11-20": "2026-11-20T15:05:00Z", "2026-11-24": "2026-11-24T15:05:00Z"},
	}, published: map[string]map[string]string{"logs": {"2026-11-24": "2026-11-24T15:40:00Z"}}}.snapshot(t)
	due := plan.DueDays(c, []string{"logs"}, snap, plan.Span{From: day(t, "2026-11-01"), To: day(t, "2026-11-24")}, at(t, "2026-11-25T03:05:00Z"))
	want := []plan.Gap{{KPI: "logs", Days: []layout.Day{day(t, "2026-11-20")}, Age: 108 * time.Hour}}
	if diff := cmp.Diff(want, due.Gaps, cmp.AllowUnexported(layout.Day{})); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
}

// fakeS3 lists objects from a sorted key -> LastModified map, as S3 does (StartAfter, pages).
type fakeS3 struct {
	objects map[string]time.Time
	calls   int
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.calls++
	keys := make([]string, 0, len(f.objects))
	for k := range f.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	after := aws.ToString(in.StartAfter)
	if tok := aws.ToString(in.ContinuationToken); tok != "" {
		after = tok
	}
	out := &s3.ListObjectsV2Output{}
	for _, k := range keys {
		if k <= after || !strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			continue
		}
		if len(out.Contents) == 2 {
			out.IsTruncated, out.NextContinuationToken = aws.Bool(true), out.Contents[1].Key
			break
		}
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), LastModified: aws.Time(f.objects[k])})
	}
	return out, nil
}

// fakeGlue answers GetPartitions from kpi table -> day -> location, checking the expression's
// shape; a table it does not hold does not exist.
type fakeGlue struct {
	tables      map[string]map[string]string
	expressions []string
}

func (f *fakeGlue) GetPartitions(_ context.Context, in *glue.GetPartitionsInput, _ ...func(*glue.Options)) (*glue.GetPartitionsOutput, error) {
	f.expressions = append(f.expressions, aws.ToString(in.Expression))
	parts, ok := f.tables[aws.ToString(in.TableName)]
	if !ok {
		return nil, &gtypes.EntityNotFoundException{Message: aws.String("table not found")}
	}
	var from, to string
	if _, err := fmt.Sscanf(strings.ReplaceAll(aws.ToString(in.Expression), "'", "\""), "dt >= %q AND dt <= %q", &from, &to); err != nil {
		return nil, fmt.Errorf("expression %q: %w", aws.ToString(in.Expression), err)
	}
	out := &glue.GetPartitionsOutput{}
	for d, loc := range parts {
		if d >= from && d <= to {
			out.Partitions = append(out.Partitions, gtypes.Partition{Values: []string{d}, StorageDescriptor: &gtypes.StorageDescriptor{Location: aws.String(loc)}})
		}
	}
	return out, nil
}

// The handler reads the lake through its ports and plans the due days, oldest first, in waves;
// it records each considered KPI's gap as an EMF record.
func TestHandle_CrawlerEventPlansTheDueDaysFromTheLake(t *testing.T) {
	c := dueCatalog(t)
	crawlers := plan.Crawlers{"c-app": {"app/"}, "c-db": {"db/"}}
	triggers, err := plan.NewTriggers(crawlers, c)
	if err != nil {
		t.Fatal(err)
	}
	runAt := func(ts string) string {
		return layout.RunKey + "=" + strings.NewReplacer("-", "", ":", "", ".", "").Replace(ts) + "-0a1b2c3d"
	}
	s3f := &fakeS3{objects: map[string]time.Time{
		"app/web/dt=2026-11-10/a.gz":  at(t, "2026-11-10T15:00:00Z"), // before the lookback
		"app/web/dt=2026-11-17/a.gz":  at(t, "2026-11-26T01:00:00Z"), // re-delivered today
		"app/web/dt=2026-11-24/a.gz":  at(t, "2026-11-24T15:05:00Z"),
		"app/web/dt=2026-11-24/_tmp":  at(t, "2026-11-26T01:00:00Z"), // hidden from queries
		"app/web/dt=2026-11-26/a.gz":  at(t, "2026-11-26T00:05:00Z"), // today: still arriving
		"app/webx/dt=2026-11-24/a.gz": at(t, "2026-11-26T01:00:00Z"), // another table
	}}
	gf := &fakeGlue{tables: map[string]map[string]string{
		"kpi_logs": {
			"2026-11-17": "s3://agg/logs/dt=2026-11-17/" + runAt("20261117T154000000Z") + "/",
			"2026-11-24": "s3://agg/logs/dt=2026-11-24/" + runAt("20261124T154000000Z") + "/",
		},
	}}
	lake, err := plan.NewLake(s3f, gf, "raw", "db", 10)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h := plan.NewHandler(tokyo(t), slog.New(slog.NewJSONHandler(io.Discard, nil)), c, triggers).
		WithLake(lake, c, metrics.New(&out, "test"), func() time.Time { return at(t, "2026-11-26T02:00:00Z") })
	// 15:10 UTC on the 25th is 00:10 on the 26th in Tokyo.
	p, err := h.Handle(context.Background(), plan.Request{Time: "2026-11-25T15:10:00Z", DetailType: plan.CrawlerEventDetailType,
		Detail: plan.Detail{CrawlerName: "c-app"}})
	if err != nil {
		t.Fatal(err)
	}
	// weekly has no partition at all: the days that have their own input are due, not the days
	// whose window only holds one (the 16th reads the 10th). both has none either: the days of
	// logs' partitions are due; wboth follows both on those days.
	want := plan.Plan{Trigger: "event", Crawler: "c-app", Crawled: []string{"app/"}, Days: []plan.DayPlan{
		{Date: "2026-11-17", Waves: [][]string{{"logs", "weekly"}, {"both"}, {"wboth"}}},
		{Date: "2026-11-24", Waves: [][]string{{"both", "weekly"}, {"wboth"}}},
	}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	for _, e := range gf.expressions {
		if e != "dt >= '2026-11-16' AND dt <= '2026-11-25'" && e != "dt >= '2026-11-14' AND dt <= '2026-11-25'" {
			t.Errorf("GetPartitions expression %q, want the lookback (and the windows of the dependents)", e)
		}
	}
	gaps := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		gaps[rec[metrics.DimKPI].(string)] = rec[metrics.UnpublishedDays].(float64)
	}
	// logs: the 17th (re-delivered); weekly: the 17th and the 24th; both: the days of logs'
	// partitions (it has none); wboth: none (both has no partition).
	if diff := cmp.Diff(map[string]float64{"logs": 1, "weekly": 2, "both": 2, "wboth": 0}, gaps); diff != "" {
		t.Errorf("UnpublishedDays by KPI (-want +got):\n%s", diff)
	}
}

// A KPI that reads a log stream by event time counts for D the records that land by the time D
// settles (the lateness after D+1 begins, in the business zone): it is not due before then, a
// record of D+1's arrival partition that lands before then counts among D's inputs, and one that
// lands after does not make D due again.
func TestDueDays_ALogKPIByEventTimeWaitsForItsDayToSettle(t *testing.T) {
	c, err := queries.Parse(fstest.MapFS{"ev.sql": &fstest.MapFile{Data: []byte(
		"-- name: ev\n-- description: records by event time\n-- depends_on:\n-- sources: app_logs.web\nSELECT 1 AS x FROM {{ events \"app_logs\" \"web\" }} AS t\n")}})
	if err != nil {
		t.Fatal(err)
	}
	stream := queries.SourceTable{Source: layout.AppLogsSource, Table: "web"}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	// D = 2026-11-24 in Asia/Tokyo ends at 15:00Z; with 30 minutes of lateness it settles at 15:30Z.
	tests := []struct {
		name      string
		landed    map[string][]string // arrival day -> objects' LastModified
		published string              // the start of the run serving D, if any
		at        string
		want      map[string][]string
	}{
		{
			name:   "not due before the day settles",
			landed: map[string][]string{"2026-11-24": {"2026-11-24T10:00:00Z"}, "2026-11-25": {"2026-11-24T15:05:00Z"}},
			at:     "2026-11-24T15:29:59Z",
			want:   map[string][]string{},
		},
		{
			name:   "due once it has settled",
			landed: map[string][]string{"2026-11-24": {"2026-11-24T10:00:00Z"}, "2026-11-25": {"2026-11-24T15:05:00Z"}},
			at:     "2026-11-24T15:30:00Z",
			want:   map[string][]string{"2026-11-24": {"ev"}},
		},
		{
			name: "what lands in the next arrival partition after the day settled does not make it due again",
			landed: map[string][]string{"2026-11-24": {"2026-11-24T10:00:00Z"},
				"2026-11-25": {"2026-11-24T15:05:00Z", "2026-11-24T15:35:00Z", "2026-11-25T09:00:00Z"}},
			published: "2026-11-24T15:31:00Z",
			at:        "2026-11-25T15:31:00Z",
			want:      map[string][]string{"2026-11-25": {"ev"}},
		},
		{
			name:      "what lands before it settled, after a run that started early, does",
			landed:    map[string][]string{"2026-11-24": {"2026-11-24T10:00:00Z"}, "2026-11-25": {"2026-11-24T15:20:00Z"}},
			published: "2026-11-24T15:10:00Z",
			at:        "2026-11-25T15:31:00Z",
			want:      map[string][]string{"2026-11-24": {"ev"}, "2026-11-25": {"ev"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := plan.Snapshot{Raw: map[queries.SourceTable]map[layout.Day]time.Time{stream: {}},
				Published: map[string]map[layout.Day]time.Time{"ev": {}},
				Landed:    map[queries.SourceTable]map[layout.Day][]time.Time{stream: {}},
				Location:  tokyo, Lateness: 30 * time.Minute, At: at(t, tt.at)}
			for d, times := range tt.landed {
				for _, ts := range times {
					v := at(t, ts)
					snap.Landed[stream][day(t, d)] = append(snap.Landed[stream][day(t, d)], v)
					if v.After(snap.Raw[stream][day(t, d)]) {
						snap.Raw[stream][day(t, d)] = v
					}
				}
			}
			if tt.published != "" {
				snap.Published["ev"][day(t, "2026-11-24")] = at(t, tt.published)
			}
			to := layout.DayOf(snap.At, tokyo).AddDays(-1)
			due := plan.DueDays(c, []string{"ev"}, snap, plan.Span{From: day(t, "2026-11-24"), To: to}, snap.At)
			if diff := cmp.Diff(tt.want, dueStrings(due)); diff != "" {
				t.Errorf("due days (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDueDays_StateDays: reader reads the state of db.items ({{ state "db" "items" }}), kept
// by the state node state_db_items, which reads its own previous day.
func TestDueDays_StateDays(t *testing.T) {
	c, err := queries.Parse(fstest.MapFS{
		"reader.sql": &fstest.MapFile{Data: []byte("-- name: reader\n-- description: reads the state of db.items\n-- depends_on:\n-- sources: db.items\n" +
			"SELECT COUNT(*) AS n FROM {{ state \"db\" \"items\" }} AS s\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	items := queries.SourceTable{Source: "db", Table: "items"}
	const state = "state_db_items"
	// extracted: each day of 11-16..11-24 extracted at 01:30 the next morning (JST, 16:30 UTC),
	// its state and reader published ten minutes later.
	daily := func(change map[string]string, republish map[string]string) lakeState {
		s := lakeState{raw: map[queries.SourceTable]map[string]string{items: {}},
			published: map[string]map[string]string{state: {}, "reader": {}}}
		for d := day(t, "2026-11-16"); !day(t, "2026-11-24").Before(d); d = d.AddDays(1) {
			s.raw[items][d.String()] = d.Start(time.UTC).Add(16*time.Hour + 30*time.Minute).Format(time.RFC3339)
			s.published[state][d.String()] = d.Start(time.UTC).Add(16*time.Hour + 40*time.Minute).Format(time.RFC3339)
			s.published["reader"][d.String()] = d.Start(time.UTC).Add(16*time.Hour + 41*time.Minute).Format(time.RFC3339)
		}
		for d, ts := range change {
			if ts == "" {
				delete(s.raw[items], d)
				continue
			}
			s.raw[items][d] = ts
		}
		for d, ts := range republish {
			if ts == "" {
				delete(s.published[state], d)
				delete(s.published["reader"], d)
				continue
			}
			s.published[state][d] = ts
		}
		return s
	}
	both := []string{"reader", state}
	for _, tt := range []struct {
		name  string
		from  string // the span's first day; default 2026-11-20 (it ends on the 24th)
		state lakeState
		want  map[string][]string
	}{
		{name: "nothing changed: nothing due", state: daily(nil, nil), want: map[string][]string{}},
		{
			name:  "a re-extraction a week back re-makes that state day and every later one, and the KPIs that read them",
			from:  "2026-11-17",
			state: daily(map[string]string{"2026-11-17": "2026-11-25T09:00:00Z"}, nil),
			want: map[string][]string{"2026-11-17": both, "2026-11-18": both, "2026-11-19": both, "2026-11-20": both,
				"2026-11-21": both, "2026-11-22": both, "2026-11-23": both, "2026-11-24": both},
		},
		{
			name: "a state day without its own partition waits for it, even when the day before is due",
			state: daily(map[string]string{"2026-11-23": "2026-11-25T09:00:00Z", "2026-11-24": ""},
				map[string]string{"2026-11-24": ""}),
			want: map[string][]string{"2026-11-23": both},
		},
		{
			// The reader of the 23rd reads that state too.
			name:  "the previous day's state republished after the day's was built makes the day due",
			state: daily(nil, map[string]string{"2026-11-23": "2026-11-25T00:00:00Z"}),
			want:  map[string][]string{"2026-11-23": {"reader"}, "2026-11-24": both},
		},
		{
			name:  "the state of the day before the span republished: the span's days are due, oldest first",
			state: daily(nil, map[string]string{"2026-11-19": "2026-11-25T00:00:00Z"}),
			want: map[string][]string{"2026-11-20": both, "2026-11-21": both, "2026-11-22": both, "2026-11-23": both,
				"2026-11-24": both},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			waves, err := c.Waves([]string{state})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([][]string{{state}, {"reader"}}, waves); diff != "" {
				t.Fatalf("waves (-want +got):\n%s", diff)
			}
			from := tt.from
			if from == "" {
				from = "2026-11-20"
			}
			due := plan.DueDays(c, slices.Concat(waves...), tt.state.snapshot(t),
				plan.Span{From: day(t, from), To: day(t, "2026-11-24")}, at(t, "2026-11-26T00:00:00Z"))
			if diff := cmp.Diff(tt.want, dueStrings(due)); diff != "" {
				t.Errorf("due days (-want +got):\n%s", diff)
			}
		})
	}
}

// RawZone.LastChange is the newest object of a table's partitions up to a day, from its first
// partition on (across pages), plus a second for S3's whole-second clock; later days, other
// tables and files that are not data do not count.
func TestRawZone_LastChangeIsTheNewestObjectUpToTheDay(t *testing.T) {
	s3 := &fakeS3{objects: map[string]time.Time{
		"db/items/dt=2026-06-01/a.parquet":      at(t, "2026-11-25T09:00:00Z"), // re-extracted, the newest
		"db/items/dt=2026-11-23/a.parquet":      at(t, "2026-11-24T01:30:00Z"),
		"db/items/dt=2026-11-24/a.parquet":      at(t, "2026-11-25T01:30:00Z"),
		"db/items/dt=2026-11-24/_SUCCESS":       at(t, "2026-11-30T00:00:00Z"),
		"db/items/dt=2026-11-25/a.parquet":      at(t, "2026-11-30T00:00:00Z"),
		"db/items_old/dt=2026-11-24/a.parquet":  at(t, "2026-11-30T00:00:00Z"),
		"db/itemsx/dt=2026-11-24/b.parquet":     at(t, "2026-11-30T00:00:00Z"),
		"db/items/notapartition/x.parquet":      at(t, "2026-11-30T00:00:00Z"),
		"db/items/dt=2026-11-20/older.parquet":  at(t, "2026-11-21T01:30:00Z"),
		"db/items/dt=2026-11-21/older.parquet":  at(t, "2026-11-22T01:30:00Z"),
		"db/items/dt=2026-11-21/older2.parquet": at(t, "2026-11-22T01:31:00Z"),
	}}
	z, err := plan.NewRawZone(s3, "raw")
	if err != nil {
		t.Fatal(err)
	}
	items := queries.SourceTable{Source: "db", Table: "items"}
	for _, c := range []struct {
		through string
		want    string
		ok      bool
	}{
		{through: "2026-11-24", want: "2026-11-25T09:00:01Z", ok: true},
		{through: "2026-05-31", ok: false},
	} {
		got, ok, err := z.LastChange(context.Background(), items, day(t, c.through))
		if err != nil {
			t.Fatal(err)
		}
		if ok != c.ok || ok && !got.Equal(at(t, c.want)) {
			t.Errorf("LastChange through %s = %s, %t; want %s, %t", c.through, got, ok, c.want, c.ok)
		}
	}
	if _, err := plan.NewRawZone(s3, ""); err == nil || !strings.Contains(err.Error(), contract.EnvRawBucket) {
		t.Errorf("NewRawZone without a bucket: %v, want an error naming %s", err, contract.EnvRawBucket)
	}
}
