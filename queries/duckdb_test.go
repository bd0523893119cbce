package queries_test

import (
	"database/sql"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the DuckDB driver: tests only, so the Lambdas stay cgo-free
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// lakeSchema is the DuckDB schema that plays the Glue database.
const lakeSchema = "lake"

// duckNames renders for DuckDB: the same catalog table names, in the schema lakeSchema.
var duckNames = queries.Names{Database: lakeSchema, Location: tokyo, Dialect: queries.DuckDB}

// openLake opens an in-memory DuckDB whose schema lakeSchema has one view per raw table over the
// fixture's files, named as the Glue crawlers name the tables, each day extracted by the daily
// run (extractedAt). The session time zone is set to one that is neither UTC nor the business
// zone, so that a comparison that depended on it fails.
func openLake(t *testing.T) *sql.DB { return openLakeExtracted(t, extractedAt) }

// openLakeExtracted is openLake with the incremental partition of day D extracted at extracted(D).
func openLakeExtracted(t *testing.T, extracted func(day string) time.Time) *sql.DB {
	t.Helper()
	dir := t.TempDir()
	writeRawZone(t, dir, extracted)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // one session: SET applies to every query
	stmts := []string{
		"SET TimeZone = 'America/Los_Angeles'",
		"CREATE SCHEMA " + lakeSchema,
	}
	for table := range rawTables {
		// The partition column is a string in Glue; DuckDB would make it a DATE.
		stmts = append(stmts, fmt.Sprintf(
			`CREATE VIEW %s.%s AS SELECT * FROM read_parquet(%s, hive_partitioning = true, hive_types = {'dt': VARCHAR})`,
			lakeSchema, layout.SourceTableName("social", table),
			sqlString(filepath.Join(dir, layout.TablePrefix("social", table), "*", "*.parquet"))))
	}
	// The types the Glue crawler infers for the JSON records: numbers are int, the rest strings.
	stmts = append(stmts, fmt.Sprintf(
		`CREATE VIEW %s.%s AS SELECT * FROM read_json(%s, format = 'newline_delimited', compression = 'gzip',
		   hive_partitioning = true, hive_types = {'dt': VARCHAR},
		   columns = {'timestamp': 'VARCHAR', 'user_id': 'INTEGER', 'department_id': 'INTEGER', 'method': 'VARCHAR',
		              'path': 'VARCHAR', 'status': 'INTEGER', 'latency_ms': 'INTEGER', 'user_agent': 'VARCHAR'})`,
		lakeSchema, layout.SourceTableName(layout.AppLogsSource, "web_access"),
		sqlString(filepath.Join(dir, layout.AppLogStreamPrefix("web_access"), "*", "*.gz"))))
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return db
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// column is one output column: its name and DuckDB type.
type outColumn struct{ Name, Type string }

// describe returns the output columns of a query.
func describe(t *testing.T, db *sql.DB, query string) []outColumn {
	t.Helper()
	rows, err := db.Query("DESCRIBE " + query)
	if err != nil {
		t.Fatalf("DESCRIBE: %v\n%s", err, query)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out []outColumn
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, outColumn{Name: fmt.Sprint(vals[0]), Type: fmt.Sprint(vals[1])})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rowsOf runs query and formats each row as its values joined by " | " (NULL for NULL).
func rowsOf(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = formatValue(v)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case *big.Int:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// kpiResult is what one KPI must produce: its columns, and its rows on each day, sorted.
type kpiResult struct {
	columns []outColumn
	rows    map[string][]string
}

// expected holds the hand-checked results on the fixture (fixture_test.go), one KPI at a time.
// Every figure is derived in the comment above it.
var expected = map[string]kpiResult{
	// Signed-in users per record department_id, per arrival day. A: 1: users 1, 2, 7; 2: users 3,
	// 4, 5 (5 leaves at 18:00 but was active); 3: user 6. B: 1: users 1, 2, 8 (the new hire);
	// 2: users 3, 4, 7 (moved). The holiday has only anonymous records.
	"active_users_by_department": {
		columns: []outColumn{{"department_id", "BIGINT"}, {"active_users", "BIGINT"}},
		rows: map[string][]string{
			dayHoliday: nil,
			dayA:       {"1 | 3", "2 | 3", "3 | 1"},
			dayB:       {"1 | 3", "2 | 3"},
		},
	},
	// Seven arrival days ending with the day. Holiday (11-17..11-23): user 6 on 11-17. A
	// (11-18..11-24): as A's daily figure. B (11-19..11-25): 1: users 1, 2, 7 (on A), 8; 2: users
	// 3, 4, 5, 7 (on B); 3: user 6. User 7 counts in both departments.
	"weekly_active_users_by_department": {
		columns: []outColumn{{"department_id", "BIGINT"}, {"active_users_7d", "BIGINT"}},
		rows: map[string][]string{
			dayHoliday: {"3 | 1"},
			dayA:       {"1 | 3", "2 | 3", "3 | 1"},
			dayB:       {"1 | 4", "2 | 4", "3 | 1"},
		},
	},
	// department_id | posts | comments | reactions | thanks
	// Each day reads its own partitions, extracted at 01:30 the next morning: rows created on the
	// day (created_at), live at the day's end (deleted_at NULL or not before day_end).
	// A, posts: P3 (user 1, at 00:00:00.000), P8 (user 1; deleted on B) -> 1: 2; P4 (user 3, 08:00
	// JST is the previous UTC date), P5 (user 5), P7 (user 4, 23:59:59.999), P12 (user 3; deleted
	// at 01:15 on B, before the extraction) -> 2: 4; P6 was deleted the same day. Comments: C1
	// (user 2) -> 1; C4 (user 4, on a post of 11-10), C8 (user 4; edited at 00:45 on B) -> 2: 2;
	// C2 deleted, C3 on P6. Reactions: R2 (user 7, still in 1), R3 (user 1), R5 (user 2), R14
	// (user 2; taken back at 01:00 on B), all thanks, and R15 (user 1, like, on P12) -> 1: 5/4;
	// R1, R8 (user 3), R4 (user 5) -> 2: 3/0; R6 on P6, R7 and R16 deleted on A (R16 at
	// 23:59:59.999), R9 is in A's partition but given at 00:00:00.000 on B.
	// B, posts: P9 (user 8) -> 1; P10 (user 3), P11 (user 7, now in 2) -> 2; P4, P8 and P12 in
	// B's partition were created on A. Comments: C7 (user 7) -> 2; C1 and C8 are A's, edited; C6
	// is on P8, deleted at 15:00. Reactions: R9 (user 1, thanks at 00:00:00.000), R12 (user 1),
	// R13 (user 8) -> 1: 3/1; R11 (user 7, thanks) -> 2: 1/1; R10 is on P8; R14 is A's.
	"department_activity": {
		columns: []outColumn{{"department_id", "BIGINT"}, {"posts", "BIGINT"}, {"comments", "BIGINT"},
			{"reactions", "BIGINT"}, {"thanks", "BIGINT"}},
		rows: map[string][]string{
			dayHoliday: nil,
			dayA:       {"1 | 2 | 1 | 5 | 4", "2 | 4 | 2 | 3 | 0"},
			dayB:       {"1 | 1 | 0 | 3 | 1", "2 | 2 | 1 | 1 | 1"},
		},
	},
	// user_id | reactions_given | reactions_received | thanks_given | thanks_received
	// A: R1 3->1 like, R2 7->1 thanks, R3 1->3 thanks, R4 5->4 celebrate, R5 2->(P1 of 07-01,
	// outside the 90-day window: author unknown) thanks, R8 3->1 insightful (P8, deleted on B),
	// R14 2->3 thanks (taken back after midnight), R15 1->3 like (P12, deleted after midnight);
	// R6 on P6, R7 and R16 deleted on A.
	// B: R9 1->4 thanks, R11 7->8 thanks, R12 1->3 like, R13 8->1 celebrate (P3 of A); R10 is on
	// P8, deleted on B.
	"reactions_given_received": {
		columns: []outColumn{{"user_id", "BIGINT"}, {"reactions_given", "BIGINT"}, {"reactions_received", "BIGINT"},
			{"thanks_given", "BIGINT"}, {"thanks_received", "BIGINT"}},
		rows: map[string][]string{
			dayHoliday: nil,
			dayA: {
				"1 | 2 | 3 | 1 | 1",
				"2 | 2 | 0 | 2 | 0",
				"3 | 2 | 3 | 0 | 2",
				"4 | 0 | 1 | 0 | 0",
				"5 | 1 | 0 | 0 | 0",
				"7 | 1 | 0 | 1 | 0",
			},
			dayB: {
				"1 | 2 | 1 | 1 | 0",
				"3 | 0 | 1 | 0 | 0",
				"4 | 0 | 1 | 0 | 1",
				"7 | 1 | 0 | 1 | 0",
				"8 | 1 | 1 | 0 | 1",
			},
		},
	},
	// department_id | department_name | active_users | actions | engagement_score
	// score = (3 posts + 2 comments + reactions + thanks) / active users.
	// A: 1: (6 + 2 + 5 + 4) / 3 = 5.67; 2: (12 + 4 + 3 + 0) / 3 = 6.33; 3: no activity, 1 user: 0.
	// B: 1: (3 + 0 + 3 + 1) / 3 = 2.33; 2: (6 + 2 + 1 + 1) / 3 = 3.33, under its new name.
	"engagement_score": {
		columns: []outColumn{{"department_id", "BIGINT"}, {"department_name", "VARCHAR"}, {"active_users", "BIGINT"},
			{"actions", "BIGINT"}, {"engagement_score", "DOUBLE"}},
		rows: map[string][]string{
			dayHoliday: nil,
			dayA:       {"1 | 営業部 | 3 | 8 | 5.67", "2 | 開発部 | 3 | 9 | 6.33", "3 | 人事部 | 1 | 0 | 0"},
			dayB:       {"1 | 営業部 | 3 | 4 | 2.33", "2 | プロダクト開発部 | 3 | 4 | 3.33"},
		},
	},
}

// athenaTypes are the DuckDB types whose Athena counterparts a CTAS writes as the same Parquet
// type. DuckDB's sum(BIGINT) is HUGEINT, for example, which Athena has no type for.
var athenaTypes = map[string]bool{
	"BIGINT": true, "INTEGER": true, "DOUBLE": true, "VARCHAR": true, "BOOLEAN": true, "DATE": true,
	"TIMESTAMP": true, "TIMESTAMP WITH TIME ZONE": true,
}

// TestKPIs_OnDuckDB_MatchHandCheckedResults runs the whole catalog on the fixture, day by day in
// dependency waves, as the workflow does (runCatalog), against the hand-checked results.
func TestKPIs_OnDuckDB_MatchHandCheckedResults(t *testing.T) {
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortedKeys(expected), cat.Names()); diff != "" {
		t.Fatalf("every KPI needs expected results (-expected +catalog):\n%s", diff)
	}
	db := openLake(t)
	runCatalog(t, cat, db, kpiDays)
	for _, name := range cat.Names() {
		for _, day := range kpiDays {
			if diff := cmp.Diff(expected[name].rows[day], kpiRows(t, db, name, day)); diff != "" {
				t.Errorf("%s on %s (-want +got):\n%s", name, day, diff)
			}
		}
	}
}

// A day's figures read the state at the day's end, so they do not move when the day's
// incremental partitions are extracted again a week later, after B's edits and deletions (P8
// deleted on B, C1 edited) and with B's rows in A's partition. The same holds for a delete
// between midnight and the daily extraction (P12, R14 in the fixture).
func TestKPIs_OnDuckDB_ARerunOfADayAWeekLaterKeepsItsFigures(t *testing.T) {
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	weekLater := jst("2026-12-01 10:00:00.000")
	db := openLakeExtracted(t, func(day string) time.Time {
		if day == dayA {
			return weekLater
		}
		return extractedAt(day)
	})
	if got := len(partition("posts", dayA, weekLater)); got != 10 {
		t.Fatalf("the re-run of A's posts has %d rows, want 10 (P3-P12): the test needs B's changes in it", got)
	}
	runCatalog(t, cat, db, []string{dayA})
	for _, name := range cat.Names() {
		if diff := cmp.Diff(expected[name].rows[dayA], kpiRows(t, db, name, dayA)); diff != "" {
			t.Errorf("%s on %s after a re-run of its partitions a week later (-daily run +re-run):\n%s", name, dayA, diff)
		}
	}
}

// runCatalog runs every KPI of cat on each day, in dependency waves, as the workflow does: each
// KPI's SELECT is rendered for DuckDB, checked for its output columns, and materialized with a
// dt column into the KPI's table, where the KPIs downstream read it.
func runCatalog(t *testing.T, cat *queries.Catalog, db *sql.DB, days []string) {
	t.Helper()
	waves, err := cat.Waves(nil)
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	for _, day := range days {
		for _, wave := range waves {
			for _, name := range wave {
				k, _ := cat.KPI(name)
				q, err := k.Render(date(day), duckNames)
				if err != nil {
					t.Fatal(err)
				}
				cols := describe(t, db, q)
				for _, c := range cols {
					if !athenaTypes[c.Type] {
						t.Errorf("%s: column %s has type %s, which Athena cannot write the same way; cast it (see queries/README.md)", name, c.Name, c.Type)
					}
				}
				if diff := cmp.Diff(expected[name].columns, cols); diff != "" {
					t.Errorf("%s on %s: output columns (-want +got):\n%s", name, day, diff)
				}
				table := lakeSchema + "." + layout.KPITableName(name)
				stmt := fmt.Sprintf("INSERT INTO %s SELECT q.*, '%s' AS dt FROM (\n%s) AS q", table, day, q)
				if !created[name] {
					stmt = fmt.Sprintf("CREATE TABLE %s AS SELECT q.*, CAST('%s' AS VARCHAR) AS dt FROM (\n%s) AS q", table, day, q)
					created[name] = true
				}
				if _, err := db.Exec(stmt); err != nil {
					t.Fatalf("%s on %s: %v\n%s", name, day, err, stmt)
				}
			}
		}
	}
}

// kpiRows are a KPI's rows on day, without dt, sorted.
func kpiRows(t *testing.T, db *sql.DB, name, day string) []string {
	t.Helper()
	return rowsOf(t, db, fmt.Sprintf("SELECT * EXCLUDE (dt) FROM %s.%s WHERE dt = ? ORDER BY ALL",
		lakeSchema, layout.KPITableName(name)), day)
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The one dialect shim in the SQL: DuckDB reads the extractor's TIMESTAMP(MILLIS, UTC) columns as
// TIMESTAMP WITH TIME ZONE, where Athena reads them as timestamp(3) holding the UTC wall clock.
// The plain TIMESTAMP literal Athena needs would be read by DuckDB in the session's time zone, so
// for DuckDB {{ day_start }} and {{ day_end }} carry an explicit +00:00.
func TestDuckDBShim_DayBoundsCompareAsUTCInstantsInAnySessionTimeZone(t *testing.T) {
	db := openLake(t) // session time zone America/Los_Angeles
	if diff := cmp.Diff([]outColumn{{"created_at", "TIMESTAMP WITH TIME ZONE"}},
		describe(t, db, "SELECT created_at FROM lake.social_posts")); diff != "" {
		t.Fatalf("DuckDB's type for the extractor's timestamps (-want +got):\n%s", diff)
	}
	c := mustParse(t, map[string]string{"created_on_day.sql": kpiFile("created_on_day", "", "social.posts",
		`SELECT COUNT(*) AS n FROM {{ source "social" "posts" }} AS p WHERE p.created_at >= {{ day_start }} AND p.created_at < {{ day_end }}`)})
	k, _ := c.KPI("created_on_day")
	count := func(names queries.Names, day string) string {
		q, err := k.Render(date(day), names)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(rowsOf(t, db, q), "")
	}
	// Day A's partition: P3 at 00:00:00.000 JST to P7 at 23:59:59.999 JST, P8 and P12, seven
	// posts (P6 and P12 deleted).
	if got := count(duckNames, dayA); got != "7" {
		t.Errorf("DuckDB literals: %s posts created on %s; want 7", got, dayA)
	}
	// Day B's partition: P9, P10, P11; P4, P8 and P12 were created on A.
	if got := count(duckNames, dayB); got != "3" {
		t.Errorf("DuckDB literals: %s posts created on %s; want 3", got, dayB)
	}
	// Without the shim, DuckDB reads TIMESTAMP '2026-11-23 15:00:00.000' as 15:00 in Los Angeles
	// (23:00 UTC) and loses P3, created at 15:00 UTC.
	athenaOnDuck := queries.Names{Database: lakeSchema, Location: tokyo, Dialect: queries.Athena}
	if got := count(athenaOnDuck, dayA); got != "6" {
		t.Errorf("Athena literals on DuckDB: %s posts; want 6, the error the shim prevents", got)
	}
}
