package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	localrun "github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
)

// queriesDir is the repository's KPI folder, with its test cases.
const queriesDir = "../../../../queries"

// Athena's rendering is the golden file of queries/ (rendered there for the day 2026-11-24 in
// Tokyo, database kpilake_prod); DuckDB's is the catalog's own rendering for the local engine.
func TestKPIRender_PrintsTheSelectOfEachDialect(t *testing.T) {
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	day, _ := layout.ParseDay("2026-11-24")
	for _, name := range cat.Names() {
		k, _ := cat.KPI(name)
		if _, ok := k.StateOf(); ok {
			// A state node's query depends on the lake: refused, with where to look instead.
			r := run(t, nil, "kpi", "render", name, "--date", "2026-11-24", "--config", testConfig)
			if r.code != ExitUsage || !strings.Contains(r.err, "generates from the lake") || !strings.Contains(r.err, name+".golden.sql") {
				t.Errorf("kpi render %s: exit %d, stderr %q; want a usage error that points at the golden file", name, r.code, r.err)
			}
			continue
		}
		duck, err := k.Render(day, queries.Names{Database: localrun.Database, Location: tokyo, Dialect: queries.DuckDB})
		if err != nil {
			t.Fatal(err)
		}
		golden, err := os.ReadFile(filepath.Join(queriesDir, "testdata", name+".golden.sql"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"athena", []string{"--database", "kpilake_prod"}, string(golden)},
			{"athena without cdk.json", []string{"--database", "kpilake_prod", "--time-zone", "Asia/Tokyo"}, string(golden)},
			{"duckdb", []string{"--dialect", "duckdb"}, duck},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				args := append([]string{"kpi", "render", name, "--date", "2026-11-24"}, tc.args...)
				if !strings.Contains(tc.name, "without cdk.json") {
					args = append(args, "--config", testConfig)
				}
				r := run(t, nil, args...)
				if r.code != ExitOK {
					t.Fatalf("exit %d: %s", r.code, r.err)
				}
				if diff := cmp.Diff(tc.want, r.out); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// --queries reads the files as they are now: an edit shows at once, and an error names the file
// and the line.
func TestKPIRender_QueriesDirUsesTheFilesBeingEdited(t *testing.T) {
	dir := t.TempDir()
	write := func(sql string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "posts_per_user.sql"), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("-- name: posts_per_user\n-- description: Posts per author.\n-- depends_on:\n-- sources: social.posts\n" +
		`SELECT p.user_id, COUNT(*) AS posts FROM {{ source "social" "posts" }} AS p GROUP BY p.user_id` + "\n")
	args := []string{"kpi", "render", "posts_per_user", "--date", "2026-11-24", "--time-zone", "UTC", "--queries", dir}
	r := run(t, nil, args...)
	want := `SELECT p.user_id, COUNT(*) AS posts FROM (SELECT * FROM "kpilake"."social_posts" WHERE "dt" = '2026-11-24') AS p GROUP BY p.user_id` + "\n"
	if r.code != ExitOK || r.out != want {
		t.Fatalf("exit %d, out %q, err %s; want %q", r.code, r.out, r.err, want)
	}
	write("-- name: posts_per_user\n-- description: Posts per author.\n-- depends_on:\n-- sources: social.posts\n" +
		"SELECT p.user_id, COUNT(*) AS posts\nFROM social_posts AS p GROUP BY p.user_id\n")
	r = run(t, nil, args...)
	if r.code != ExitUsage || !strings.Contains(r.err, filepath.ToSlash(dir)+"/posts_per_user.sql:6:") {
		t.Errorf("exit %d, stderr %s; want 2 and the file and line of the bare table", r.code, r.err)
	}
}

func TestKPI_UsageErrorsExitTwo(t *testing.T) {
	names := strings.Join(catalogNames(t), ", ")
	lake := t.TempDir()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown KPI", []string{"kpi", "render", "dau", "--date", "2026-11-24", "--config", testConfig},
			[]string{`unknown KPI "dau"; the catalog has ` + names}},
		{"unknown KPI to run", []string{"kpi", "run", "dau", "--date", "2026-11-24", "--config", testConfig},
			[]string{`unknown KPI "dau"; the catalog has ` + names}},
		{"unknown KPI to test", []string{"kpi", "test", "dau", "--queries", queriesDir},
			[]string{`unknown KPI "dau"; the catalog has ` + names}},
		{"bad date", []string{"kpi", "render", "engagement_score", "--date", "2026-11-31", "--config", testConfig},
			[]string{`--date: date "2026-11-31" is not a day in the form YYYY-MM-DD`}},
		{"no date", []string{"kpi", "run", "engagement_score", "--config", testConfig},
			[]string{"--date is required"}},
		{"no KPI", []string{"kpi", "render", "--date", "2026-11-24"}, []string{"accepts 1 arg(s), received 0"}},
		{"bad dialect", []string{"kpi", "render", "engagement_score", "--date", "2026-11-24", "--dialect", "trino"},
			[]string{`--dialect "trino": use athena or duckdb`}},
		{"no cdk.json and no time zone", []string{"kpi", "render", "engagement_score", "--date", "2026-11-24"},
			[]string{"no cdk.json here or in a parent directory, so the business time zone is unknown", "--time-zone ZONE"}},
		{"time zone beside cdk.json", []string{"kpi", "render", "engagement_score", "--date", "2026-11-24", "--config", testConfig, "--time-zone", "UTC"},
			[]string{"--time-zone is for use without a cdk.json", "environment dev's time zone (Asia/Tokyo)"}},
		{"bad time zone", []string{"kpi", "render", "engagement_score", "--date", "2026-11-24", "--time-zone", "Mars/Olympus"},
			[]string{`--time-zone: "Mars/Olympus" is not an IANA time zone`}},
		{"unknown environment", []string{"kpi", "render", "engagement_score", "--date", "2026-11-24", "--config", testConfig, "--env", "qa"},
			[]string{`--env: environment "qa" is not configured`}},
		{"missing lake", []string{"kpi", "run", "engagement_score", "--date", "2026-11-24", "--config", testConfig, "--lake", lake},
			[]string{"no local lake at " + lake, "run `kpilake local run` (or `make demo`) first"}},
		{"bad format", []string{"kpi", "run", "engagement_score", "--date", "2026-11-24", "--format", "xml"},
			[]string{`--format "xml": use table, csv or json`}},
		{"queries not a folder", []string{"kpi", "render", "engagement_score", "--date", "2026-11-24", "--time-zone", "UTC", "--queries", "nope"},
			[]string{"--queries nope: not a folder"}},
		{"test without cdk.json or queries", []string{"kpi", "test"}, []string{"give --queries DIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, ExitUsage, r.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.err)
				}
			}
		})
	}
}

// logRecord is a web_access record as delivered.
type logRecord struct {
	Timestamp    string `json:"timestamp"`
	UserID       int64  `json:"user_id,omitempty"`
	DepartmentID int64  `json:"department_id,omitempty"`
	Path         string `json:"path"`
	Status       int    `json:"status"`
}

type userRow struct {
	ID           int64 `parquet:"id,optional"`
	DepartmentID int64 `parquet:"department_id,optional"`
}

type actRow struct {
	ID        int64      `parquet:"id,optional"`
	PostID    int64      `parquet:"post_id,optional"`
	UserID    int64      `parquet:"user_id,optional"`
	Kind      string     `parquet:"kind,optional"`
	CreatedAt time.Time  `parquet:"created_at,optional,timestamp(millisecond)"`
	DeletedAt *time.Time `parquet:"deleted_at,optional,timestamp(millisecond)"`
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func parquetOf[T any](t *testing.T, rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testLake writes a small local lake as `kpilake local run` leaves it: two days of access logs
// (gzipped JSON lines) and one day of the social tables (Parquet), catalogued by the crawlers.
func testLake(t *testing.T) string {
	t.Helper()
	lake := t.TempDir()
	raw := filepath.Join(lake, localrun.RawBucket)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	logs := map[string][]logRecord{
		"2026-11-24": {
			{Timestamp: "2026-11-23T15:00:00.000Z", UserID: 1, DepartmentID: 1, Path: "/api/posts", Status: 201},
			{Timestamp: "2026-11-24T01:00:00.000Z", UserID: 2, DepartmentID: 1, Path: "/api/posts", Status: 500},
			{Timestamp: "2026-11-24T02:00:00.000Z", UserID: 3, DepartmentID: 2, Path: "/", Status: 200},
			{Timestamp: "2026-11-24T03:00:00.000Z", Path: "/healthz", Status: 200},
		},
		"2026-11-25": {{Timestamp: "2026-11-25T01:00:00.000Z", UserID: 1, DepartmentID: 1, Path: "/", Status: 200}},
	}
	for day, recs := range logs {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for _, r := range recs {
			b, _ := json.Marshal(r)
			zw.Write(append(b, '\n'))
		}
		zw.Close()
		writeFile(t, filepath.Join(raw, "app_logs/web_access/dt="+day, "KpiLake-web_access-1-"+day+"-00-00-00-abc.gz"), buf.Bytes())
	}
	day := "dt=2026-11-24"
	deleted := at("2026-11-24 12:00")
	writeFile(t, filepath.Join(raw, "social/users", day, "users.parquet"), parquetOf(t, []userRow{{1, 1}, {2, 1}, {3, 2}}))
	writeFile(t, filepath.Join(raw, "social/posts", day, "posts.parquet"), parquetOf(t, []actRow{
		{ID: 1, UserID: 1, CreatedAt: at("2026-11-24 00:00")},
		{ID: 2, UserID: 3, CreatedAt: at("2026-11-24 09:00")},
		{ID: 3, UserID: 2, CreatedAt: at("2026-11-24 10:00"), DeletedAt: &deleted},
	}))
	writeFile(t, filepath.Join(raw, "social/comments", day, "comments.parquet"), parquetOf(t, []actRow{
		{ID: 1, PostID: 1, UserID: 2, CreatedAt: at("2026-11-24 11:00")},
	}))
	writeFile(t, filepath.Join(raw, "social/reactions", day, "reactions.parquet"), parquetOf(t, []actRow{
		{ID: 1, PostID: 1, UserID: 3, Kind: "thanks", CreatedAt: at("2026-11-24 11:30")},
		{ID: 2, PostID: 3, UserID: 1, Kind: "like", CreatedAt: at("2026-11-24 11:00")}, // its post is deleted
	}))
	cat, err := catalog.Open(filepath.Join(lake, catalog.FileName), localrun.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range []catalog.Crawler{
		{Name: "social", Root: lake, Bucket: localrun.RawBucket, Prefixes: []string{"social/"}},
		{Name: "logs", Root: lake, Bucket: localrun.RawBucket, Prefixes: []string{"app_logs/"}},
	} {
		if _, err := cr.Crawl(cat); err != nil {
			t.Fatal(err)
		}
	}
	return lake
}

func TestKPIRun_PrintsTheRowsOfTheLocalLake(t *testing.T) {
	lake := testLake(t)
	base := []string{"kpi", "run", "--config", testConfig, "--lake", lake}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"table", []string{"active_users_by_department", "--date", "2026-11-24"},
			"department_id  active_users\n" +
				"-------------  ------------\n" +
				"            1             2\n" +
				"            2             1\n" +
				"(2 rows)\n"},
		{"csv", []string{"active_users_by_department", "--date", "2026-11-25", "--format", "csv"},
			"department_id,active_users\n1,1\n"},
		{"json", []string{"active_users_by_department", "--date", "2026-11-25", "--format", "json"},
			"[\n  {\n    \"active_users\": 1,\n    \"department_id\": 1\n  }\n]\n"},
		// Post 3 is deleted on the day, and so the like on it; the thanks counts. Rows print sorted.
		{"parquet tables", []string{"department_activity", "--date", "2026-11-24", "--format", "csv"},
			"department_id,posts,comments,reactions,thanks\n1,1,1,0,0\n2,1,0,1,1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, append(base, tt.args...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
			if diff := cmp.Diff(tt.want, r.out); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A KPI whose inputs the lake lacks names the table and the day, and what holds them.
func TestKPIRun_MissingInputsNameTheTableAndDay(t *testing.T) {
	lake := testLake(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a day the lake does not hold", []string{"active_users_by_department", "--date", "2026-11-26"},
			[]string{"table app_logs_web_access (raw table app_logs.web_access) has no partition dt=2026-11-26",
				"it holds dt=2026-11-24 to 2026-11-25", "run `kpilake local run` over 2026-11-26 first"}},
		{"a KPI table not yet aggregated", []string{"engagement_score", "--date", "2026-11-24"},
			[]string{"no table kpi_active_users_by_department (KPI active_users_by_department)",
				"no table kpi_department_activity (KPI department_activity)", "no table social_departments (raw table social.departments)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"kpi", "run", "--config", testConfig, "--lake", lake}, tt.args...)...)
			if r.code != ExitFailure {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, ExitFailure, r.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.err)
				}
			}
		})
	}
}

// copyDir copies the files of src below dst, skipping the paths skip returns true for.
func copyDir(t *testing.T, src, dst string, skip func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The repository's cases pass through the command, as `make test` runs them.
func TestKPITest_TheRepositorysCasesPass(t *testing.T) {
	r := run(t, nil, "kpi", "test", "--queries", queriesDir)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	cases, err := os.ReadDir(filepath.Join(queriesDir, "tests"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"ok    holiday_and_two_working_days: active_users_by_department, department_activity, engagement_score, reactions_given_received, weekly_active_users_by_department on 2026-11-23, 2026-11-24, 2026-11-25",
		"ok    rerun_a_week_later:", "PASS  " + strconv.Itoa(len(cases)) + " test cases"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.out)
		}
	}
}

// A case whose expected rows are wrong fails with a readable diff; a KPI without a case fails;
// naming KPIs runs only the cases that check them.
func TestKPITest_FailuresShowADiff(t *testing.T) {
	dir := t.TempDir()
	keep := "tests/engagement_score_from_given_kpis"
	copyDir(t, queriesDir, dir, func(rel string) bool {
		return strings.HasPrefix(rel, "testdata") || strings.HasSuffix(rel, ".go") ||
			(strings.HasPrefix(rel, "tests/") && rel != keep && !strings.HasPrefix(rel, keep+"/"))
	})
	expected := filepath.Join(dir, keep, "expected", "engagement_score.csv")
	b, err := os.ReadFile(expected)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(b), "2026-11-24, 1, 営業部, 3, 8, 5.67", "2026-11-24, 1, 営業部, 3, 8, 5.66", 1)
	wrong = strings.Replace(wrong, "2026-11-24, 4, 旧企画部, 0, 1, NULL", "2026-11-24, 4, 旧企画部, 0, 1, 0", 1)
	if wrong == string(b) {
		t.Fatal("the test did not change the expected file")
	}
	writeFile(t, expected, []byte(wrong))

	r := run(t, nil, "kpi", "test", "--queries", dir, "engagement_score")
	if r.code != ExitFailure {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.out, r.err)
	}
	want := "FAIL  engagement_score_from_given_kpis (" + filepath.ToSlash(dir) + "/tests/engagement_score_from_given_kpis)\n" +
		"      engagement_score on 2026-11-24 (" + filepath.ToSlash(expected) + "):\n" +
		"        2 expected rows not produced (-), 2 produced rows not expected (+); columns:\n" +
		"          department_id | department_name | active_users | actions | engagement_score\n" +
		"        - 1 | 営業部 | 3 | 8 | 5.66    (line 6)\n" +
		"        - 4 | 旧企画部 | 0 | 1 | 0    (line 9)\n" +
		"        + 1 | 営業部 | 3 | 8 | 5.67\n" +
		"        + 4 | 旧企画部 | 0 | 1 | NULL\n"
	if !strings.HasPrefix(r.out, want) {
		t.Errorf("stdout (-want +got):\n%s", cmp.Diff(want, r.out))
	}
	if !strings.Contains(r.err, "1 of 1 test cases failed") {
		t.Errorf("stderr: %s", r.err)
	}

	// Without KPI names, the KPIs no case checks fail too.
	writeFile(t, expected, b)
	r = run(t, nil, "kpi", "test", "--queries", dir)
	if r.code != ExitFailure || !strings.Contains(r.out, "FAIL  KPI active_users_by_department has no test case: add "+filepath.ToSlash(dir)+"/tests/<case>/expected/active_users_by_department.csv") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "ok    engagement_score_from_given_kpis: engagement_score on 2026-11-24") {
		t.Errorf("the remaining case did not pass:\n%s", r.out)
	}
}

// A malformed case is a usage error naming the file and line of each problem.
func TestKPITest_MalformedCasesNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	keep := "tests/unknown_users_and_an_empty_partition"
	copyDir(t, queriesDir, dir, func(rel string) bool {
		return strings.HasPrefix(rel, "testdata") || strings.HasSuffix(rel, ".go") ||
			(strings.HasPrefix(rel, "tests/") && rel != keep && !strings.HasPrefix(rel, keep+"/"))
	})
	c := filepath.ToSlash(filepath.Join(dir, keep))
	writeFile(t, filepath.Join(dir, keep, "social_posts", "dt=2026-11-24.csv"), []byte(
		"id:bigint, user_id:bigint, created_at:timestamp, deleted_at:timestamp\n"+
			"1, 1, 2026-11-24 09:00:00, NULL\n"+
			"x, 1, 2026-11-24T09:00:00Z, NULL\n"))
	writeFile(t, filepath.Join(dir, keep, "social_reactions", "dt=2026-11-24.jsonl"), []byte("{}\n"))
	writeFile(t, filepath.Join(dir, keep, "social_likes", "dt=2026-11-24.csv"), []byte("id:bigint\n"))
	writeFile(t, filepath.Join(dir, keep, "social_comments", "dt=2026-11-24.csv"), []byte("id:bigint, userId:bigint\n"))
	writeFile(t, filepath.Join(dir, keep, "expected", "department_activity.csv"), []byte(
		"dt, department_id:bigint, posts:integer\n2026-11-25, 1, 1\n"))
	r := run(t, nil, "kpi", "test", "--queries", dir)
	if r.code != ExitUsage {
		t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.out, r.err)
	}
	if strings.Contains(r.err, "checks no KPI") {
		t.Errorf("a malformed expected file is reported as missing:\n%s", r.err)
	}
	for _, w := range []string{
		c + `/social_posts/dt=2026-11-24.csv:2: column created_at (timestamp): "2026-11-24 09:00:00" is not an instant: give its UTC offset`,
		c + `/social_posts/dt=2026-11-24.csv:3: column id (bigint): "x" is not a 64-bit integer`,
		c + `/social_comments/dt=2026-11-24.csv:1: column name "userId" is not snake_case`,
		c + "/social_reactions/dt=2026-11-24.jsonl: social_reactions is not a log stream, which the lake holds as Parquet",
		c + `/social_likes: no KPI reads a table "social_likes"`,
		c + `/expected/department_activity.csv:1: column posts: type "integer" is not one of bigint, int,`,
	} {
		if !strings.Contains(r.err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.err)
		}
	}
}

// Outside a project, kpi run renders the days in the time zone that the local run recorded in the
// lake; without that record it asks for --time-zone.
func TestKPIRun_OutsideAProjectUsesTheLakesTimeZone(t *testing.T) {
	lake := testLake(t)
	args := []string{"kpi", "run", "--lake", lake, "active_users_by_department", "--date", "2026-11-25", "--format", "csv"}
	if r := run(t, nil, args...); r.code != ExitUsage || !strings.Contains(r.err, "--time-zone") {
		t.Errorf("without a recorded environment: exit %d, %q; want exit 2 asking for --time-zone", r.code, r.err)
	}
	if err := os.WriteFile(filepath.Join(lake, localrun.EnvironmentFile), []byte(`{"environment":"dev","time_zone":"Asia/Tokyo"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, args...)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if diff := cmp.Diff("department_id,active_users\n1,1\n", r.out); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
