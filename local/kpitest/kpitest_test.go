package kpitest_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kpilake/kpilake/local/kpitest"
	"github.com/kpilake/kpilake/queries"
)

func kpiFile(name, body string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("-- name: " + name + "\n-- description: A test KPI.\n-- depends_on:\n-- sources: social.posts\n" + body + "\n")}
}

// posts are three posts of 2026-11-24 in Tokyo: on that date in Tokyo, but two of them on
// 2026-11-23 in Los Angeles and one in UTC.
const posts = `id:bigint, created_at:timestamp
1, 2026-11-24 08:00:00+09:00
2, 2026-11-24 10:00:00+09:00
3, 2026-11-24 20:00:00+09:00
`

// runCase runs one case over the posts with the expected file of the KPI named, and returns its
// report.
func runCase(t *testing.T, kpis fstest.MapFS, kpi, caseJSON, expected string) (bool, string) {
	t.Helper()
	cat, err := queries.Parse(kpis)
	if err != nil {
		t.Fatal(err)
	}
	tests := fstest.MapFS{
		"c/case.json":                      {Data: []byte(caseJSON)},
		"c/social_posts/dt=2026-11-24.csv": {Data: []byte(posts)},
		"c/expected/" + kpi + ".csv":       {Data: []byte(expected)},
	}
	cases, err := kpitest.Load(tests, "tests/", cat, []string{kpi})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Fatalf("%d cases", len(cases))
	}
	res, err := kpitest.Run(context.Background(), cat, cases[0], kpitest.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.Report(&b)
	return res.Failed(), b.String()
}

const tokyoDay = `{"description": "d", "time_zone": "Asia/Tokyo", "dates": ["2026-11-24"]}`

// A KPI whose figure depends on the session's time zone (a cast of an instant to a date) fails
// its case, whichever of UTC or the business zone it was written against; the same count over
// the day's bounds passes.
func TestRun_TheSessionZoneIsNeitherUTCNorTheBusinessZone(t *testing.T) {
	kpis := fstest.MapFS{
		"by_cast.sql": kpiFile("by_cast", `SELECT COUNT(CASE WHEN CAST(p.created_at AS DATE) = {{ day }} THEN 1 END) AS n FROM {{ source "social" "posts" }} AS p`),
		"by_bounds.sql": kpiFile("by_bounds", `SELECT COUNT(CASE WHEN p.created_at >= {{ day_start }} AND p.created_at < {{ day_end }} THEN 1 END) AS n
FROM {{ source "social" "posts" }} AS p`),
	}
	for _, tc := range []struct {
		name, kpi, expected string
		fail                bool
	}{
		{"a cast right in the business zone", "by_cast", "dt, n:bigint\n2026-11-24, 3\n", true},
		{"a cast right in UTC", "by_cast", "dt, n:bigint\n2026-11-24, 2\n", true},
		{"the day's bounds", "by_bounds", "dt, n:bigint\n2026-11-24, 3\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed, report := runCase(t, kpis, tc.kpi, tokyoDay, tc.expected)
			if failed != tc.fail {
				t.Errorf("failed = %v, want %v:\n%s", failed, tc.fail, report)
			}
		})
	}
}

// Doubles compare exactly unless the case states a tolerance; NULL is a value of its own.
func TestRun_ComparesDoublesExactlyOrWithinTheTolerance(t *testing.T) {
	kpis := fstest.MapFS{"third.sql": kpiFile("third",
		`SELECT CAST(COUNT(*) AS DOUBLE) / 9 AS third, CAST(NULL AS BIGINT) AS nothing FROM {{ source "social" "posts" }} AS p`)}
	for _, tc := range []struct {
		name, tolerance, expected string
		fail                      bool
	}{
		{"exact", "0", "dt, third:double, nothing:bigint\n2026-11-24, 0.3333333333333333, NULL\n", false},
		{"rounded without tolerance", "0", "dt, third:double, nothing:bigint\n2026-11-24, 0.333, NULL\n", true},
		{"rounded within tolerance", "0.001", "dt, third:double, nothing:bigint\n2026-11-24, 0.333, NULL\n", false},
		{"beyond tolerance", "0.0001", "dt, third:double, nothing:bigint\n2026-11-24, 0.333, NULL\n", true},
		{"NULL is not 0", "0", "dt, third:double, nothing:bigint\n2026-11-24, 0.3333333333333333, 0\n", true},
		{"a missing row", "0", "dt, third:double, nothing:bigint\n", true},
		{"another type", "0", "dt, third:double, nothing:int\n2026-11-24, 0.3333333333333333, NULL\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := `{"description": "d", "time_zone": "Asia/Tokyo", "dates": ["2026-11-24"], "tolerance": ` + tc.tolerance + `}`
			failed, report := runCase(t, kpis, "third", c, tc.expected)
			if failed != tc.fail {
				t.Errorf("failed = %v, want %v:\n%s", failed, tc.fail, report)
			}
		})
	}
}

// A SUM of integers is HUGEINT on DuckDB, which Athena does not have: the case fails and says
// how to count instead.
func TestRun_RejectsOutputTypesAthenaLacks(t *testing.T) {
	kpis := fstest.MapFS{"total.sql": kpiFile("total", `SELECT SUM(p.id) AS total FROM {{ source "social" "posts" }} AS p`)}
	failed, report := runCase(t, kpis, "total", tokyoDay, "dt, total:bigint\n2026-11-24, 6\n")
	if !failed || !strings.Contains(report, "column total is HUGEINT on DuckDB") || !strings.Contains(report, "COUNT(CASE WHEN ... THEN 1 END)") {
		t.Errorf("failed = %v:\n%s", failed, report)
	}
}

// Every input type is written and crawled so that the KPI reads it back as that type, with its
// value: what a KPI selects unchanged has the column's type in the expected file.
func TestRun_InputsReadBackAsTheirTypes(t *testing.T) {
	cat, err := queries.Parse(fstest.MapFS{"all.sql": kpiFile("all", `SELECT * EXCLUDE (dt) FROM {{ source "social" "posts" }} AS p`)})
	if err != nil {
		t.Fatal(err)
	}
	const cols = "b:bigint, i:int, s:smallint, t:tinyint, d:double, f:float, ok:boolean, str:string, day:date, at:timestamp, amount:decimal(12,2)"
	tests := fstest.MapFS{
		"c/case.json": {Data: []byte(tokyoDay)},
		"c/social_posts/dt=2026-11-24.csv": {Data: []byte(cols + "\n" +
			"9007199254740993, -2147483648, 32767, -128, 0.1, 0.5, true, \"a, b\", 2026-02-28, 2026-11-24 00:00:00.001+09:00, 12345678.90\n" +
			"NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL\n")},
		"c/expected/all.csv": {Data: []byte("dt, " + cols + "\n" +
			"2026-11-24, 9007199254740993, -2147483648, 32767, -128, 0.1, 0.5, true, \"a, b\", 2026-02-28, 2026-11-23T15:00:00.001Z, 12345678.9\n" +
			"2026-11-24, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL\n")},
	}
	cases, err := kpitest.Load(tests, "", cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := kpitest.Run(context.Background(), cat, cases[0], kpitest.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		var b strings.Builder
		res.Report(&b)
		t.Error(b.String())
	}
}

// A case that lacks a table a KPI reads says which file to add.
func TestRun_NamesTheTableACaseLacks(t *testing.T) {
	kpis := fstest.MapFS{
		"n.sql": kpiFile("n", `SELECT COUNT(*) AS n FROM {{ source "social" "posts" }} AS p`),
		"m.sql": {Data: []byte("-- name: m\n-- description: d\n-- depends_on: n\n-- sources: social.users\n" +
			`SELECT n.n FROM {{ kpi "n" }} AS n CROSS JOIN {{ source "social" "users" }} AS u` + "\n")},
	}
	failed, report := runCase(t, kpis, "m", tokyoDay, "dt, n:bigint\n2026-11-24, 3\n")
	if want := "error: m reads social.users, which the case does not give: add tests/c/social_users/dt=YYYY-MM-DD.csv"; !failed || !strings.Contains(report, want) {
		t.Errorf("failed = %v, want the report to say %q:\n%s", failed, want, report)
	}
}
