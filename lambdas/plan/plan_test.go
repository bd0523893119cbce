package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests use Asia/Tokyo; it must resolve without system zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// newHandler returns a handler for zone and the buffer its JSON logs go to.
func newHandler(t *testing.T, zone string) (*plan.Handler, *bytes.Buffer) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	return plan.NewHandler(loc, slog.New(slog.NewJSONHandler(&buf, nil)), nil, plan.Triggers{}), &buf
}

// logLines decodes the JSON log lines written to buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestHandle_ManualRunPlansTheNamedDay(t *testing.T) {
	for _, tt := range []struct {
		name string
		req  plan.Request
		want string
	}{
		{"explicit date", plan.Request{Date: "2026-11-25"}, "2026-11-25"},
		{"explicit date wins over event time", plan.Request{Date: "2026-10-01", Time: "2026-11-24T15:30:00Z", DetailType: "Glue Crawler State Change"}, "2026-10-01"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, buf := newHandler(t, "Asia/Tokyo")
			got, err := h.Handle(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Handle(%+v): %v", tt.req, err)
			}
			if diff := cmp.Diff(plan.Plan{Date: tt.want, Trigger: "manual", Days: []plan.DayPlan{{Date: tt.want}}}, got); diff != "" {
				t.Errorf("Handle(%+v) (-want +got):\n%s", tt.req, diff)
			}
			lines := logLines(t, buf)
			if len(lines) != 1 || lines[0]["msg"] != "plan" || lines[0]["trigger"] != "manual" || cmp.Diff([]any{tt.want}, lines[0]["dates"]) != "" {
				t.Errorf("log lines %v, want one plan line with dates [%s]", lines, tt.want)
			}
		})
	}
}

// An event's newest due day is the business day before the event's own, in the business zone,
// whatever day has inputs after it: the event's day is still arriving.
func TestHandle_EventNeverPlansItsOwnBusinessDay(t *testing.T) {
	tests := []struct {
		name string
		zone string
		time string
		want string
	}{
		{"event just after local midnight", "Asia/Tokyo", "2026-11-24T15:30:00Z", "2026-11-24"},
		{"event just before local midnight", "Asia/Tokyo", "2026-11-24T14:30:00Z", "2026-11-23"},
		{"event exactly at local midnight", "Asia/Tokyo", "2026-11-24T15:00:00Z", "2026-11-24"},
		{"event time with an offset", "Asia/Tokyo", "2026-11-25T00:30:00+09:00", "2026-11-24"},
		{"same instant in UTC is a day earlier", "UTC", "2026-11-24T15:30:00Z", "2026-11-23"},
		{"New Year's Day", "Asia/Tokyo", "2026-12-31T16:00:00Z", "2026-12-31"},
		{"1 March of a leap year", "Asia/Tokyo", "2028-03-01T01:00:00+09:00", "2028-02-29"},
		// Clocks in New York go back at 02:00 on 1 November 2026: 00:30 EDT is 04:30Z, 01:30 EST 06:30Z.
		{"after midnight on the day summer time ends", "America/New_York", "2026-11-01T04:30:00Z", "2026-10-31"},
		{"the repeated hour of the day summer time ends", "America/New_York", "2026-11-01T06:30:00Z", "2026-10-31"},
		{"after midnight on the day summer time starts", "America/New_York", "2026-03-08T05:30:00Z", "2026-03-07"},
	}
	c := testCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			event, _ := time.Parse(time.RFC3339, tt.time)
			objects := map[string]time.Time{}
			for d := event.AddDate(0, 0, -3); d.Before(event.AddDate(0, 0, 3)); d = d.Add(time.Hour) {
				objects["s1/t1/"+layout.DayOf(d, loc).Partition()+"/part-0.parquet"] = d
			}
			lake, err := plan.NewLake(&fakeS3{objects: objects}, &fakeGlue{}, "raw", "db", plan.DefaultLookbackDays)
			if err != nil {
				t.Fatal(err)
			}
			triggers, err := plan.NewTriggers(testCrawlers, c)
			if err != nil {
				t.Fatal(err)
			}
			h := plan.NewHandler(loc, slog.New(slog.NewJSONHandler(io.Discard, nil)), c, triggers).WithLake(lake, c, nil, nil)
			got, err := h.Handle(context.Background(), plan.Request{Time: tt.time, DetailType: plan.CrawlerEventDetailType, Detail: plan.Detail{CrawlerName: "crawler-s1"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Days) == 0 || got.Days[len(got.Days)-1].Date != tt.want {
				t.Errorf("days %+v, want the newest %s", got.Days, tt.want)
			}
		})
	}
}

func TestHandle_RejectsBadRequest(t *testing.T) {
	tests := []struct {
		name string
		req  plan.Request
		// want are fragments the error must contain: the field and the fix.
		want []string
	}{
		{"impossible month", plan.Request{Date: "2026-13-01"},
			[]string{`field "date"`, `"2026-13-01" is not a day in the form YYYY-MM-DD`}},
		{"date with time", plan.Request{Date: "2026-11-25T00:00:00Z"},
			[]string{`field "date"`}},
		{"injection in date", plan.Request{Date: "2026-11-25' OR 1=1"},
			[]string{`field "date"`}},
		{"bad date is not rescued by a good time", plan.Request{Date: "yesterday", Time: "2026-11-24T15:30:00Z"},
			[]string{`field "date"`, `"yesterday"`}},
		{"time without zone", plan.Request{Time: "2026-11-24T15:30:00"},
			[]string{`field "time"`, `"2026-11-24T15:30:00" is not an RFC 3339 time`, `"2026-11-25T01:30:00Z"`}},
		{"time as a day", plan.Request{Time: "2026-11-24"},
			[]string{`field "time"`, "RFC 3339"}},
		{"empty request", plan.Request{},
			[]string{`give "date" (YYYY-MM-DD)`, `"time"`}},
		{"only a detail type", plan.Request{DetailType: "Scheduled Event"},
			[]string{`give "date"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, buf := newHandler(t, "Asia/Tokyo")
			got, err := h.Handle(context.Background(), tt.req)
			if err == nil {
				t.Fatalf("Handle(%+v) = %+v, want an error", tt.req, got)
			}
			if !errors.Is(err, plan.ErrBadRequest) {
				t.Errorf("Handle(%+v) error %q is not ErrBadRequest", tt.req, err)
			}
			if !cmp.Equal(got, plan.Plan{}) {
				t.Errorf("Handle(%+v) returned plan %+v along with the error, want the zero Plan", tt.req, got)
			}
			for _, f := range tt.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not contain %q", err, f)
				}
			}

			lines := logLines(t, buf)
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", len(lines), buf)
			}
			line := lines[0]
			if line["level"] != "ERROR" {
				t.Errorf("log level = %v, want ERROR", line["level"])
			}
			if line["err"] != err.Error() {
				t.Errorf("log err = %v, want %q", line["err"], err)
			}
			// The rejected request is logged as it came in, so the bad input can be found.
			var logged plan.Request
			if s, ok := line["request"].(string); !ok {
				t.Errorf("log request = %v, want the request as a JSON string", line["request"])
			} else if err := json.Unmarshal([]byte(s), &logged); err != nil {
				t.Errorf("log request %q is not JSON: %v", s, err)
			} else if diff := cmp.Diff(tt.req, logged); diff != "" {
				t.Errorf("logged request (-want +got):\n%s", diff)
			}
			if _, ok := line["dates"]; ok {
				t.Errorf("rejection log has dates: %s", buf)
			}
		})
	}
}

// glueCrawlerSucceeded is an EventBridge event as the rule delivers it to the workflow.
const glueCrawlerSucceeded = `{
	"version": "0",
	"id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
	"detail-type": "Glue Crawler State Change",
	"source": "aws.glue",
	"account": "123456789012",
	"time": "2026-11-24T15:30:00Z",
	"region": "ap-northeast-1",
	"resources": [],
	"detail": {
		"tablesCreated": "0",
		"warningMessage": "N/A",
		"partitionsUpdated": "0",
		"tablesUpdated": "0",
		"message": "Crawler Succeeded",
		"partitionsDeleted": "0",
		"accountId": "123456789012",
		"runningTime (sec)": "42",
		"tablesDeleted": "0",
		"crawlerName": "kpilake-prod-social",
		"completionDate": "2026-11-24T15:29:58Z",
		"state": "Succeeded",
		"partitionsCreated": "1",
		"cloudWatchLogLink": "https://console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#logEventViewer:group=/aws-glue/crawlers;stream=kpilake-prod-social"
	}
}`

func TestRequest_UnmarshalsWireShape(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		want     plan.Request
		wantPlan plan.Plan
	}{
		{
			name:  "EventBridge Glue crawler event",
			input: glueCrawlerSucceeded,
			want: plan.Request{Time: "2026-11-24T15:30:00Z", DetailType: "Glue Crawler State Change",
				Detail: plan.Detail{CrawlerName: "kpilake-prod-social"}},
			wantPlan: plan.Plan{Trigger: "event", Crawler: "kpilake-prod-social", Crawled: []string{"social/"}, Days: []plan.DayPlan{}},
		},
		{
			name:     "EventBridge scheduled event",
			input:    `{"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-24T16:00:00Z", "detail": {}}`,
			want:     plan.Request{Time: "2026-11-24T16:00:00Z", DetailType: "Scheduled Event"},
			wantPlan: plan.Plan{Date: "2026-11-24", Trigger: "event", Days: []plan.DayPlan{{Date: "2026-11-24"}}},
		},
		{
			name:     "manual run",
			input:    `{"date": "2026-11-20"}`,
			want:     plan.Request{Date: "2026-11-20"},
			wantPlan: plan.Plan{Date: "2026-11-20", Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-20"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req plan.Request
			if err := json.Unmarshal([]byte(tt.input), &req); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, req); diff != "" {
				t.Errorf("Request (-want +got):\n%s", diff)
			}
			tokyo, _ := time.LoadLocation("Asia/Tokyo")
			h := plan.NewHandler(tokyo, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil,
				plan.Triggers{KPIs: map[string][]string{"kpilake-prod-social": {}},
					Crawlers: plan.Crawlers{"kpilake-prod-social": {"social/"}}})
			got, err := h.Handle(context.Background(), req)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if diff := cmp.Diff(tt.wantPlan, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlan_MarshalsWireShape pins the output the workflow's next states read with JSONPath:
// "days" (each day's "date" and "set"), "sets" and "crawled" are always there, even when there is
// nothing to aggregate or no crawler, or the workflow's ResultSelector would fail on a missing path.
func TestPlan_MarshalsWireShape(t *testing.T) {
	for _, tt := range []struct {
		plan plan.Plan
		want string
	}{
		{plan.Plan{Date: "2026-11-24", Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-24", Waves: [][]string{{"a", "b"}, {"c"}}}}},
			`{"date":"2026-11-24","trigger":"manual","crawled":null,"days":[{"date":"2026-11-24","set":0}],"sets":[[["a","b"],["c"]]]}`},
		{plan.Plan{Trigger: "event", Crawler: "logs", Crawled: []string{"app_logs/"}, Days: []plan.DayPlan{}},
			`{"trigger":"event","crawler":"logs","crawled":["app_logs/"],"days":[],"sets":[]}`},
		{plan.Plan{Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-24"}}}, `{"trigger":"manual","crawled":null,"days":[{"date":"2026-11-24","set":0}],"sets":[null]}`},
		{plan.Plan{Trigger: "event", Days: []plan.DayPlan{{Date: "2026-11-23", Waves: [][]string{{"a"}}}, {Date: "2026-11-24", Waves: [][]string{{"b"}}}, {Date: "2026-11-25", Waves: [][]string{{"a"}}}}},
			`{"trigger":"event","crawled":null,"days":[{"date":"2026-11-23","set":0},{"date":"2026-11-24","set":1},{"date":"2026-11-25","set":0}],"sets":[[["a"]],[["b"]]]}`},
	} {
		got, err := json.Marshal(tt.plan)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("json.Marshal(%+v) = %s, want %s", tt.plan, got, tt.want)
		}
	}
}

// fakePlanner answers Waves with fixed waves and records what it was asked.
type fakePlanner struct {
	waves [][]string
	err   error
	asked [][]string
}

func (f *fakePlanner) Waves(kpis []string) ([][]string, error) {
	f.asked = append(f.asked, kpis)
	return f.waves, f.err
}

func TestHandle_PlansTheKPIWavesOfTheDay(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	fp := &fakePlanner{waves: [][]string{{"a", "b"}, {"c"}}}
	h := plan.NewHandler(tokyo, slog.New(slog.NewJSONHandler(io.Discard, nil)), fp, plan.Triggers{})
	got, err := h.Handle(context.Background(), plan.Request{Date: "2026-11-24", KPIs: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Plan{Date: "2026-11-24", Trigger: "manual", Days: []plan.DayPlan{{Date: "2026-11-24", Waves: [][]string{{"a", "b"}, {"c"}}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"a"}}, fp.asked); diff != "" {
		t.Errorf("planner asked (-want +got):\n%s", diff)
	}
}

func TestHandle_UnknownKPIIsAnInputError(t *testing.T) {
	fp := &fakePlanner{err: errors.New(`unknown KPI "nope"`)}
	h := plan.NewHandler(time.UTC, slog.New(slog.NewJSONHandler(io.Discard, nil)), fp, plan.Triggers{})
	_, err := h.Handle(context.Background(), plan.Request{Date: "2026-11-24", KPIs: []string{"nope"}})
	var input *plan.InputError
	if !errors.As(err, &input) || !strings.Contains(err.Error(), `field "kpis": unknown KPI "nope"`) {
		t.Errorf("err = %v, want an *plan.InputError naming the kpis field", err)
	}
}

// The real catalog plans every KPI, upstream KPIs in earlier waves.
func TestHandle_PlansTheRealCatalog(t *testing.T) {
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	h := plan.NewHandler(time.UTC, slog.New(slog.NewJSONHandler(io.Discard, nil)), kpis, plan.Triggers{})
	got, err := h.Handle(context.Background(), plan.Request{Date: "2026-11-24"})
	if err != nil {
		t.Fatal(err)
	}
	wave := map[string]int{}
	n := 0
	for i, w := range got.Days[0].Waves {
		for _, k := range w {
			wave[k] = i
			n++
		}
	}
	if n != len(kpis.Names()) {
		t.Errorf("planned %d KPIs, the catalog has %d", n, len(kpis.Names()))
	}
	for _, name := range kpis.Names() {
		k, _ := kpis.KPI(name)
		for _, dep := range k.DependsOn {
			if wave[dep] >= wave[name] {
				t.Errorf("%s (wave %d) depends on %s (wave %d)", name, wave[name], dep, wave[dep])
			}
		}
	}
}

// A plan names each distinct set of waves once, and each day the set it runs: the days of a
// catch-up mostly run the same KPIs, and 500 KPIs over 32 days written out per day (418 KB)
// passed Step Functions' 256 KB payload. Decoding gives back every day's waves.
func TestPlan_JSONNamesEachSetOfWavesOnce(t *testing.T) {
	var kpis []string
	for i := range 500 {
		kpis = append(kpis, fmt.Sprintf("department_activity_%03d", i))
	}
	all := [][]string{kpis[:400], kpis[400:]}
	few := [][]string{kpis[:2]}
	p := plan.Plan{Trigger: plan.TriggerEvent, Crawler: "CrawlerA942B6C5-AbCdEfGhIjKl", Crawled: []string{"social/"}}
	for i := range 32 {
		waves := all
		if i%8 == 7 {
			waves = few
		}
		p.Days = append(p.Days, plan.DayPlan{Date: fmt.Sprintf("2026-10-%02d", i%31+1), Waves: waves})
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if limit := 500 * 30; len(raw) > limit {
		t.Errorf("a plan of 500 KPIs over 32 days is %d bytes; want at most %d (each set of waves once)", len(raw), limit)
	}
	var got plan.Plan
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decode %s: %v", raw[:200], err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("decoded plan (-want +got):\n%s", diff)
	}
	empty, _ := json.Marshal(plan.Plan{Trigger: plan.TriggerEvent, Days: []plan.DayPlan{}})
	if want := `{"trigger":"event","crawled":null,"days":[],"sets":[]}`; string(empty) != want {
		t.Errorf("a plan of no day is %s, want %s", empty, want)
	}
}

// A catch-up in which each day has other KPIs due would name 32 sets of waves; past the limit,
// every day runs every KPI the days draw from, in one set, and the plan fits.
func TestFitPayload_MergesTheDaysPastTheLimit(t *testing.T) {
	var kpis []string
	for i := range 500 {
		kpis = append(kpis, fmt.Sprintf("department_activity_%03d", i))
	}
	all := [][]string{kpis}
	p := plan.Plan{Trigger: plan.TriggerEvent}
	for i := range 32 {
		// Each day all KPIs but one: 32 distinct sets of about 13 KB each.
		due := slices.Delete(slices.Clone(kpis), i, i+1)
		p.Days = append(p.Days, plan.DayPlan{Date: fmt.Sprintf("2026-10-%02d", i%31+1), Waves: [][]string{due}})
	}
	days, merged := plan.FitPayload(p, all, plan.MaxPlanBytes)
	if !merged {
		t.Fatal("FitPayload kept 32 distinct sets of 499 KPIs")
	}
	p.Days = days
	raw, _ := json.Marshal(p)
	if len(raw) > plan.MaxPlanBytes {
		t.Errorf("merged plan is %d bytes, over %d", len(raw), plan.MaxPlanBytes)
	}
	for _, d := range days {
		if diff := cmp.Diff(all, d.Waves); diff != "" {
			t.Errorf("day %s waves (-want +got):\n%s", d.Date, diff)
		}
	}
	small := plan.Plan{Trigger: plan.TriggerEvent, Days: []plan.DayPlan{{Date: "2026-10-01", Waves: [][]string{{"a"}}}}}
	if got, merged := plan.FitPayload(small, all, plan.MaxPlanBytes); merged || !cmp.Equal(small.Days, got) {
		t.Errorf("FitPayload changed a plan within the limit: %v, %v", merged, got)
	}
}
