package queries_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// prodNames renders as the daily run does in Athena.
var prodNames = queries.Names{Database: "kpilake_prod", Location: tokyo}

// stateColumns are the columns a state node's golden file is rendered with.
var stateColumns = []string{"id", "user_id", "created_at", "updated_at", "deleted_at"}

// render renders a KPI, or a state node in both of its forms (built on the previous day's state,
// then rebuilt from every partition) over stateColumns and the key id.
func render(k *queries.KPI, d layout.Day, names queries.Names) (string, error) {
	if _, ok := k.StateOf(); !ok {
		return k.Render(d, names)
	}
	q := queries.StateQuery{Columns: stateColumns, Key: queries.DefaultStateKey, FromPrevious: true}
	inc, err := k.RenderState(d, names, q)
	if err != nil {
		return "", err
	}
	q.FromPrevious = false
	full, err := k.RenderState(d, names, q)
	return inc + "\n" + full, err
}

// TestRender_MatchesGoldenFiles keeps the SQL that Athena runs for each KPI in review:
// testdata/<kpi>.golden.sql is the KPI rendered for 2026-11-24 (a state node, in both forms).
// `go test ./queries -update` rewrites them.
func TestRender_MatchesGoldenFiles(t *testing.T) {
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range c.Names() {
		t.Run(name, func(t *testing.T) {
			k, _ := c.KPI(name)
			got, err := render(k, date("2026-11-24"), prodNames)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden.sql")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test ./queries -update` to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("rendered SQL changed (-want +got); run `go test ./queries -update` if intended:\n%s", diff)
			}
		})
	}
	// No golden file may outlive its KPI.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.golden.sql"))
	for _, f := range files {
		if _, ok := c.KPI(strings.TrimSuffix(filepath.Base(f), ".golden.sql")); !ok {
			t.Errorf("%s belongs to no KPI; delete it", f)
		}
	}
}

// oneKPI parses a catalog of one KPI, a.sql, reading social.posts and KPI b (from b.sql).
func oneKPI(t *testing.T, body string) *queries.KPI {
	t.Helper()
	c := mustParse(t, map[string]string{
		"a.sql": kpiFile("a", "b", "social.posts", body),
		"b.sql": kpiFile("b", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} p`),
	})
	k, _ := c.KPI("a")
	return k
}

func TestRender_TemplateFunctions(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	const tables = `{{ source "social" "posts" }} p JOIN {{ kpi "b" }} b ON true`
	tests := []struct {
		name  string
		from  string // what follows SELECT 1 AS x FROM
		where string // appended as WHERE ... when not empty
		day   string
		names queries.Names
		want  string
	}{
		{"source and kpi on Athena", tables, "", "2026-11-24", prodNames,
			`SELECT 1 AS x FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" = '2026-11-24') p JOIN (SELECT * FROM "kpilake_prod"."kpi_b" WHERE "dt" = '2026-11-24') b ON true`},
		{"same SQL on DuckDB", tables, "", "2026-11-24", duckNames,
			`SELECT 1 AS x FROM (SELECT * FROM "lake"."social_posts" WHERE "dt" = '2026-11-24') p JOIN (SELECT * FROM "lake"."kpi_b" WHERE "dt" = '2026-11-24') b ON true`},
		{"windows across a year boundary",
			`{{ source_window "social" "posts" 7 }} p JOIN {{ kpi_window "b" 3 }} b ON true`, "", "2027-01-02", prodNames,
			`SELECT 1 AS x FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" BETWEEN '2026-12-27' AND '2027-01-02') p JOIN (SELECT * FROM "kpilake_prod"."kpi_b" WHERE "dt" BETWEEN '2026-12-31' AND '2027-01-02') b ON true`},
		{"a window of one day is the day", `{{ source_window "social" "posts" 1 }} p JOIN {{ kpi "b" }} b ON true`, "", "2028-02-29", prodNames,
			`SELECT 1 AS x FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" = '2028-02-29') p JOIN (SELECT * FROM "kpilake_prod"."kpi_b" WHERE "dt" = '2028-02-29') b ON true`},
		{"catalog names from Names", tables, "", "2026-11-24",
			queries.Names{Database: "db", Location: tokyo,
				SourceTableName: func(s, tb string) string { return "raw_" + s + "__" + tb },
				KPITableName:    func(k string) string { return "agg_" + k }},
			`SELECT 1 AS x FROM (SELECT * FROM "db"."raw_social__posts" WHERE "dt" = '2026-11-24') p JOIN (SELECT * FROM "db"."agg_b" WHERE "dt" = '2026-11-24') b ON true`},
		{"day bounds in Tokyo on Athena", tables, `p.created_at >= {{ day_start }} AND p.created_at < {{ day_end }} AND p.d = {{ day }}`, "2026-11-24", prodNames,
			`WHERE p.created_at >= TIMESTAMP '2026-11-23 15:00:00.000' AND p.created_at < TIMESTAMP '2026-11-24 15:00:00.000' AND p.d = DATE '2026-11-24'`},
		{"day bounds on DuckDB carry their offset", tables, `p.created_at >= {{ day_start }} AND p.created_at < {{ day_end }}`, "2026-11-24", duckNames,
			`WHERE p.created_at >= TIMESTAMPTZ '2026-11-23 15:00:00.000+00:00' AND p.created_at < TIMESTAMPTZ '2026-11-24 15:00:00.000+00:00'`},
		{"day bounds with offsets", tables, `p.created_at >= {{ day_start -6 }} AND p.created_at < {{ day_end -1 }}`, "2026-03-01", prodNames,
			`WHERE p.created_at >= TIMESTAMP '2026-02-22 15:00:00.000' AND p.created_at < TIMESTAMP '2026-02-28 15:00:00.000'`},
		{"a 25-hour day where daylight saving ends", tables, `p.created_at >= {{ day_start }} AND p.created_at < {{ day_end }}`, "2026-11-01",
			queries.Names{Database: "db", Location: newYork},
			`WHERE p.created_at >= TIMESTAMP '2026-11-01 04:00:00.000' AND p.created_at < TIMESTAMP '2026-11-02 05:00:00.000'`},
		{"a business day in UTC", tables, `p.created_at >= {{ day_start }}`, "2026-11-24",
			queries.Names{Database: "db", Location: time.UTC},
			`WHERE p.created_at >= TIMESTAMP '2026-11-24 00:00:00.000'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "SELECT 1 AS x FROM " + tt.from
			if tt.where != "" {
				body += " WHERE " + tt.where
			}
			got, err := oneKPI(t, body).Render(date(tt.day), tt.names)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(got, "\n") {
				t.Errorf("rendered SQL does not end with a newline: %q", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("rendered:\n%s\nwant it to contain:\n%s", got, tt.want)
			}
			if strings.Contains(got, "{{") || strings.Contains(got, "}}") {
				t.Errorf("a template call was left in:\n%s", got)
			}
		})
	}
}

func TestRender_RejectsInvalidNamesAndDays(t *testing.T) {
	k := oneKPI(t, `SELECT 1 AS x FROM {{ source "social" "posts" }} p JOIN {{ kpi "b" }} b ON true`)
	tests := []struct {
		name  string
		names queries.Names
		want  string
	}{
		{"no database", queries.Names{Location: tokyo}, "Names.Database is required"},
		{"database with a quote", queries.Names{Database: `kpilake"; DROP TABLE y; --`, Location: tokyo},
			`Names.Database "kpilake\"; DROP TABLE y; --" is not a catalog identifier`},
		{"upper-case database", queries.Names{Database: "KpiLake", Location: tokyo}, "is not a catalog identifier"},
		{"no location", queries.Names{Database: "db"}, "Names.Location is required"},
		{"unknown dialect", queries.Names{Database: "db", Location: tokyo, Dialect: "spark"}, `Names.Dialect "spark" is not supported`},
		{"source table with a quote", queries.Names{Database: "db", Location: tokyo,
			SourceTableName: func(string, string) string { return `x"; DROP TABLE y; --` }},
			`Names.SourceTableName("social", "posts") "x\"; DROP TABLE y; --" is not a catalog identifier`},
		{"empty KPI table", queries.Names{Database: "db", Location: tokyo, KPITableName: func(string) string { return "" }},
			`Names.KPITableName("b") "" is not a catalog identifier`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Render(date("2026-11-24"), tt.names)
			if err == nil {
				t.Fatal("Render succeeded; want an error")
			}
			wantContains(t, err.Error(), `kpi "a": render`, tt.want)
		})
	}
	t.Run("zero day", func(t *testing.T) {
		_, err := k.Render(layout.Day{}, prodNames)
		if err == nil {
			t.Fatal("Render succeeded with the zero day")
		}
		wantContains(t, err.Error(), "the day is zero")
	})
}

// Render takes a layout.Day, which only layout.ParseDay (time.Parse) makes: a date that is not a
// date cannot reach the SQL. Whatever the day, the rendered SQL of every KPI holds no date but
// the day itself, the first day of its window, the day's bounds (and the window's start), and,
// for a KPI that reads a log stream by event time, the last arrival day it reads.
func TestRender_SubstitutesNothingButTheDay(t *testing.T) {
	for _, bad := range []string{"2026-02-30", "2026-11-24' OR '1'='1", "2026-11-24; DROP TABLE y", "20261124", ""} {
		if _, err := layout.ParseDay(bad); err == nil {
			t.Errorf("ParseDay(%q) succeeded", bad)
		}
	}
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	dateRE := regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}[^']*`)
	for _, day := range []string{"2026-11-24", "2028-02-29", "2027-01-01", "1999-12-31"} {
		d := date(day)
		for _, name := range c.Names() {
			k, _ := c.KPI(name)
			got, err := render(k, d, prodNames)
			if err != nil {
				t.Fatal(err)
			}
			_, state := k.StateOf()
			allowed := map[string]bool{
				d.AddDays(-1).String():                   state, // the previous day's state
				d.String():                               true,
				d.AddDays(1 - k.Lookback).String():       true,
				d.AddDays(-1).String() + " 15:00:00.000": true, // day_start: 00:00 JST
				d.String() + " 15:00:00.000":             true, // day_end
			}
			last := d
			if len(k.Events) > 0 {
				last = d.AddDays(layout.LogLateDays)
				allowed[last.String()] = true
				allowed[d.AddDays(-k.Lookback).String()+" 15:00:00.000 UTC"] = true // the window's first instant
				allowed[d.String()+" 15:00:00.000 UTC"] = true                      // its end
			}
			found := false
			for _, m := range dateRE.FindAllString(got, -1) {
				if !allowed[m] {
					t.Errorf("%s on %s: unexpected date %q in\n%s", name, day, m, got)
				}
				found = found || m == d.String() || m == last.String()
			}
			if !found {
				t.Errorf("%s on %s: the day's partition filter is missing:\n%s", name, day, got)
			}
		}
	}
}
