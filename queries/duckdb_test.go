package queries_test

import (
	"database/sql"
	"fmt"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
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
func openLake(t *testing.T) *sql.DB {
	t.Helper()
	dir := t.TempDir()
	writeRawZone(t, dir, extractedAt)
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

// {{ events }} counts a record on the business day of its timestamp, from the arrival partitions
// D and D+1; a record without a timestamp on its arrival day (it is not lost); and a timestamp
// that is not RFC 3339 fails the query, naming the value, instead of dropping the record.
func TestDuckDBShim_EventsCountRecordsByTheirTimestamp(t *testing.T) {
	c, err := queries.Parse(fstest.MapFS{"ev.sql": &fstest.MapFile{Data: []byte(
		"-- name: ev\n-- description: users by event time\n-- depends_on:\n-- sources: app_logs.web_access\n" +
			"SELECT l.user_id FROM {{ events \"app_logs\" \"web_access\" }} AS l\n")}})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := c.KPI("ev")
	query, err := k.Render(date("2026-11-24"), duckNames)
	if err != nil {
		t.Fatal(err)
	}
	view := func(rows string) *sql.DB {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		for _, s := range []string{"SET TimeZone = 'America/Los_Angeles'", "CREATE SCHEMA " + lakeSchema,
			`CREATE VIEW ` + lakeSchema + `.app_logs_web_access AS SELECT * FROM (VALUES ` + rows + `) AS t(dt, "timestamp", user_id)`} {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return db
	}
	db := view(`('2026-11-23', '2026-11-23T15:00:00.000Z', 1), ('2026-11-24', '2026-11-23T14:59:59.999Z', 2),
		('2026-11-24', '2026-11-24T01:00:00.000+09:00', 3), ('2026-11-24', NULL, 4), ('2026-11-25', NULL, 5),
		('2026-11-25', '2026-11-24T14:59:59.999Z', 6), ('2026-11-25', '2026-11-24T15:00:00.000Z', 7),
		('2026-11-26', '2026-11-24T14:59:59.998Z', 8)`)
	got := rowsOf(t, db, "SELECT user_id FROM ("+query+") ORDER BY 1")
	// 1 arrived on D-1 (not read), 2 is D-1's, 3 is D's in another offset, 4 has no timestamp and
	// arrived on D, 5 has none and arrived on D+1, 6 is D's and arrived on D+1, 7 is D+1's, 8 arrived
	// two days late.
	if diff := cmp.Diff([]string{"3", "4", "6"}, got); diff != "" {
		t.Errorf("users counted for 2026-11-24 (-want +got):\n%s", diff)
	}
	bad := view(`('2026-11-24', '24/11/2026 10:00', 1)`)
	if _, err := bad.Query(query); err == nil || !strings.Contains(err.Error(), "24/11/2026 10:00") {
		t.Errorf("a timestamp that is not RFC 3339: %v; want the query to fail naming the value", err)
	}
}
