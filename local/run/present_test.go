package run_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/local/run"
)

func report() *run.Report {
	return &run.Report{From: "2025-04-28", To: "2025-04-30", TimeZone: "Asia/Tokyo",
		Days: []run.DayReport{
			{Date: "2025-04-28", RowsExtracted: 10, Steps: []run.StepReport{{Name: "extract social", Seconds: 1}},
				Runs: []run.KPIRun{{KPI: "k", Date: "2025-04-28", RunID: "r"}, {KPI: "e", Date: "2025-04-28", WaitingFor: []string{"kpi k dt=2025-04-28"}}}},
			{Date: "2025-04-29"}, {Date: "2025-04-30"},
		},
		KPIs: []run.KPIValues{{Name: "k", Columns: []string{"department_id", "department_name", "posts", "dt"}, Rows: [][]any{
			{int64(2), "営業", int64(5), "2025-04-28"}, {int64(10), "Sales", int64(7), "2025-04-28"}, {int64(2), "営業", int64(1), "2025-04-30"},
		}}},
	}
}

func TestReport_PivotsMeasuresByDimensions(t *testing.T) {
	ms := report().Measures()
	if len(ms) != 1 || ms[0].Column != "posts" {
		t.Fatalf("measures: %+v; want posts only (department_id is an id, department_name a string)", ms)
	}
	var got []string
	for _, s := range ms[0].Series {
		got = append(got, s.Key)
	}
	if diff := cmp.Diff([]string{"department_id=2, department_name=営業", "department_id=10, department_name=Sales"}, got); diff != "" {
		t.Errorf("series in natural order (-want +got):\n%s", diff)
	}
	var text bytes.Buffer
	report().WriteText(&text)
	want := "" +
		"\nk.posts\n" +
		"                                               04-28      04-29      04-30\n" +
		"  department_id=2, department_name=営業            5          -          1\n" +
		"  department_id=10, department_name=Sales          7          -          -\n"
	if diff := cmp.Diff(want, text.String()); diff != "" {
		t.Errorf("terminal table (-want +got):\n%s", diff)
	}
}

func TestReport_HTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := report().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, bad := range []string{"<script", "http://", "https://", "<link", "src="} {
		if strings.Contains(html, bad) {
			t.Errorf("the report contains %q: it must open offline, as one file", bad)
		}
	}
	for _, want := range []string{"<svg", "k · posts", "kpi k dt=2025-04-28", "rows extracted</td><td class=\"n\">10"} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	// The holiday (no row on 04-29) breaks the line: department 2 has two points and no polyline.
	if n := strings.Count(html, "<polyline"); n != 0 {
		t.Errorf("%d polylines; a series with a gap between its only two points draws none", n)
	}
}
