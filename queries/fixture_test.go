package queries_test

import (
	"cmp"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/layout"
)

// The fixture is a small company, hand-made so that every expected figure can be checked by
// reading this file. The same company is the test case tests/holiday_and_two_working_days (and,
// re-extracted a week later, tests/rerun_a_week_later), as data files with the KPIs' expected
// rows, which TestKPITestCases runs; here it serves the dialect-shim test in duckdb_test.go. Its
// raw zone holds what the extractor and Firehose would have written, partition by partition:
//
//   - departments and users are snapshot tables: each KPI day's partition holds the whole table
//     as extracted the next morning;
//   - posts, comments and reactions are incremental by updated_at. The source's history of each
//     row (every version it went through) is in history; the partition of day D holds what the
//     extractor writes (lambdas/extract, "Modes"): the version current at the extraction of
//     every row whose updated_at is at or after D 00:00. The daily run extracts D at 01:30 the
//     next morning (extractedAt), so a row changed after midnight is already in its new version,
//     and partitions overlap;
//   - web_access records land, gzipped JSON lines, under their arrival day.
//
// The days (business days in Asia/Tokyo, which starts at 15:00 UTC the day before):
//
//	2026-11-17  access logs only (user 6 browses): inside the 7-day window of 2026-11-23
//	2026-11-23  holiday (Labor Thanksgiving Day): snapshots, anonymous health checks only, and
//	            incremental partitions that hold only A's first half hour (P3, R1)
//	2026-11-24  day A: activity, with rows at exactly 00:00:00.000 and 23:59:59.999 JST, rows
//	            created and deleted the same day (R16 one millisecond before midnight), a user
//	            who leaves at 18:00, and rows created late on A and edited (C8) or deleted (P12,
//	            R14) after midnight, before A's extraction at 01:30
//	2026-11-25  day B: a department renamed, a user moved to another department, a new hire,
//	            an edit and a deletion of day-A rows, and a thanks at exactly 00:00:00.000 JST
//
// plus posts partitions of 2026-07-01 (outside the 90-day author window) and 2026-11-10
// (inside it).
const (
	dayOld     = "2026-07-01"
	dayWindow  = "2026-11-10"
	dayLogs    = "2026-11-17"
	dayHoliday = "2026-11-23"
	dayA       = "2026-11-24"
	dayB       = "2026-11-25"
)

// kpiDays are the days whose snapshot partitions the raw zone holds, in order.
var kpiDays = []string{dayHoliday, dayA, dayB}

var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return loc
}()

// jst is the instant of a wall clock in Tokyo, "2026-11-24 09:00:00.000".
func jst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.000", s, tokyo)
	if err != nil {
		panic(err)
	}
	return t
}

func date(s string) layout.Day {
	d, err := layout.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

// colType is a column's Parquet type as the extractor writes it (see lambdas/extract/doc.go):
// BIGINT -> INT64, VARCHAR/ENUM/hashed -> STRING, DATE -> DATE, DATETIME(3) -> TIMESTAMP(MILLIS,
// UTC); every column OPTIONAL.
type colType int

const (
	colInt64 colType = iota + 1
	colString
	colDate
	colTimestamp
)

type column struct {
	name string
	typ  colType
}

// rawTables are the sample tables as the environments in cdk.json extract them (users without
// email, employee_code hashed).
var rawTables = map[string][]column{
	"departments": {{"id", colInt64}, {"name", colString}, {"parent_id", colInt64},
		{"created_at", colTimestamp}, {"updated_at", colTimestamp}, {"deleted_at", colTimestamp}},
	"users": {{"id", colInt64}, {"department_id", colInt64}, {"employee_code", colString}, {"display_name", colString},
		{"role", colString}, {"joined_on", colDate}, {"created_at", colTimestamp}, {"updated_at", colTimestamp}, {"deleted_at", colTimestamp}},
	"posts": {{"id", colInt64}, {"user_id", colInt64}, {"body", colString}, {"visibility", colString},
		{"created_at", colTimestamp}, {"updated_at", colTimestamp}, {"deleted_at", colTimestamp}},
	"comments": {{"id", colInt64}, {"post_id", colInt64}, {"user_id", colInt64}, {"body", colString},
		{"created_at", colTimestamp}, {"updated_at", colTimestamp}, {"deleted_at", colTimestamp}},
	"reactions": {{"id", colInt64}, {"post_id", colInt64}, {"user_id", colInt64}, {"kind", colString},
		{"created_at", colTimestamp}, {"updated_at", colTimestamp}, {"deleted_at", colTimestamp}},
}

// row values: int64, string, layout.Day, time.Time, or nil for NULL.
type row []any

var launch = jst("2020-04-01 10:00:00.000")

func department(id int64, name string, updated time.Time, deleted any) row {
	return row{id, name, nil, launch, updated, deleted}
}

func departmentsOn(day string) []row {
	dev := department(2, "開発部", launch, nil)
	if day == dayB {
		dev = department(2, "プロダクト開発部", jst("2026-11-25 10:00:00.000"), nil) // renamed on B
	}
	return []row{
		department(1, "営業部", launch, nil),
		dev,
		department(3, "人事部", launch, nil),
		department(4, "旧企画部", jst("2025-03-31 18:00:00.000"), jst("2025-03-31 18:00:00.000")), // abolished
	}
}

func user(id, dept int64, name string, updated time.Time, deleted any) row {
	code := "5f" + string(rune('0'+id)) + "c0ffee" // a stand-in for the HMAC of the employee code
	return row{id, dept, code, name, "member", date("2015-04-01"), launch, updated, deleted}
}

func usersOn(day string) []row {
	out := []row{
		user(1, 1, "青木 一郎", launch, nil),
		user(2, 1, "馬場 花子", launch, nil),
		user(3, 2, "千葉 次郎", launch, nil),
		user(4, 2, "土井 三郎", launch, nil),
		user(5, 2, "遠藤 四郎", launch, nil),
		user(6, 3, "藤井 五月", launch, nil),
		user(7, 1, "𠮷田 六子", launch, nil),
	}
	if day >= dayA { // user 5 leaves on A at 18:00, after their morning's activity
		left := jst("2026-11-24 18:00:00.000")
		out[4] = user(5, 2, "遠藤 四郎", left, left)
	}
	if day >= dayB { // user 7 moves to department 2 on B; user 8 joins on B
		out[6] = user(7, 2, "𠮷田 六子", jst("2026-11-25 08:00:00.000"), nil)
		hired := jst("2026-11-25 08:30:00.000")
		out = append(out, row{int64(8), int64(1), "5f8c0ffee", "原田 七海", "member", date(dayB), hired, hired, nil})
	}
	return out
}

func post(id, author int64, created, updated time.Time, deleted any) row {
	return row{id, author, "本文", "public", created, updated, deleted}
}

func comment(id, postID, author int64, created, updated time.Time, deleted any) row {
	return row{id, postID, author, "コメント", created, updated, deleted}
}

func reaction(id, postID, giver int64, kind string, created time.Time, deleted any) row {
	updated := created
	if t, ok := deleted.(time.Time); ok {
		updated = t
	}
	return row{id, postID, giver, kind, created, updated, deleted}
}

// incrementalDays are the days whose incremental partitions the raw zone holds.
var incrementalDays = []string{dayOld, dayWindow, dayHoliday, dayA, dayB}

// Column positions shared by the incremental tables.
const (
	colID      = 0
	colUpdated = 5
)

// history holds every version of each incremental table's rows as the source database went
// through them: one entry per insert or update, the first of a row being its insert.
var history = map[string][]row{
	"posts": {
		post(1, 3, jst("2026-07-01 10:00:00.000"), jst("2026-07-01 10:00:00.000"), nil),
		post(2, 4, jst("2026-11-10 12:00:00.000"), jst("2026-11-10 12:00:00.000"), nil),
		// P3 at exactly 00:00:00.000 JST on A: 15:00 UTC of the holiday's date.
		post(3, 1, jst("2026-11-24 00:00:00.000"), jst("2026-11-24 00:00:00.000"), nil),
		// P4 at 08:00 JST, still 2026-11-23 in UTC; edited on B.
		post(4, 3, jst("2026-11-24 08:00:00.000"), jst("2026-11-24 08:00:00.000"), nil),
		post(4, 3, jst("2026-11-24 08:00:00.000"), jst("2026-11-25 09:00:00.000"), nil),
		post(5, 5, jst("2026-11-24 10:00:00.000"), jst("2026-11-24 10:00:00.000"), nil),
		// P6 created and deleted on A: never counts, and neither do responses to it.
		post(6, 2, jst("2026-11-24 11:00:00.000"), jst("2026-11-24 11:00:00.000"), nil),
		post(6, 2, jst("2026-11-24 11:00:00.000"), jst("2026-11-24 11:30:00.000"), jst("2026-11-24 11:30:00.000")),
		// P7 at 23:59:59.999 JST: the last instant of A.
		post(7, 4, jst("2026-11-24 23:59:59.999"), jst("2026-11-24 23:59:59.999"), nil),
		// P8 created on A, deleted on B at 15:00: counts on A (history is not rewritten).
		post(8, 1, jst("2026-11-24 12:00:00.000"), jst("2026-11-24 12:00:00.000"), nil),
		post(8, 1, jst("2026-11-24 12:00:00.000"), jst("2026-11-25 15:00:00.000"), jst("2026-11-25 15:00:00.000")),
		// P12 created on A, deleted at 01:15 on B, before A's extraction: A's partition has it
		// deleted, and it still counts on A, as does R15 on it.
		post(12, 3, jst("2026-11-24 20:00:00.000"), jst("2026-11-24 20:00:00.000"), nil),
		post(12, 3, jst("2026-11-24 20:00:00.000"), jst("2026-11-25 01:15:00.000"), jst("2026-11-25 01:15:00.000")),
		post(9, 8, jst("2026-11-25 09:30:00.000"), jst("2026-11-25 09:30:00.000"), nil),
		post(10, 3, jst("2026-11-25 13:00:00.000"), jst("2026-11-25 13:00:00.000"), nil),
		post(11, 7, jst("2026-11-25 14:00:00.000"), jst("2026-11-25 14:00:00.000"), nil),
	},
	"comments": {
		comment(1, 3, 2, jst("2026-11-24 10:05:00.000"), jst("2026-11-24 10:05:00.000"), nil),
		comment(1, 3, 2, jst("2026-11-24 10:05:00.000"), jst("2026-11-25 11:00:00.000"), nil), // edited on B
		comment(2, 4, 1, jst("2026-11-24 09:00:00.000"), jst("2026-11-24 09:00:00.000"), nil),
		comment(2, 4, 1, jst("2026-11-24 09:00:00.000"), jst("2026-11-24 09:10:00.000"), jst("2026-11-24 09:10:00.000")),
		comment(3, 6, 3, jst("2026-11-24 11:10:00.000"), jst("2026-11-24 11:10:00.000"), nil), // its post goes at 11:30
		comment(4, 2, 4, jst("2026-11-24 16:00:00.000"), jst("2026-11-24 16:00:00.000"), nil), // on a post of 11-10
		// C8 at 22:00 on A, edited at 00:45 on B, before A's extraction: counts on A.
		comment(8, 3, 4, jst("2026-11-24 22:00:00.000"), jst("2026-11-24 22:00:00.000"), nil),
		comment(8, 3, 4, jst("2026-11-24 22:00:00.000"), jst("2026-11-25 00:45:00.000"), nil),
		comment(6, 8, 2, jst("2026-11-25 10:00:00.000"), jst("2026-11-25 10:00:00.000"), nil), // its post goes at 15:00
		comment(7, 9, 7, jst("2026-11-25 10:30:00.000"), jst("2026-11-25 10:30:00.000"), nil),
	},
	"reactions": {
		reaction(1, 3, 3, "like", jst("2026-11-24 00:30:00.000"), nil),
		reaction(2, 3, 7, "thanks", jst("2026-11-24 09:00:00.000"), nil),
		reaction(3, 4, 1, "thanks", jst("2026-11-24 09:30:00.000"), nil),
		reaction(4, 2, 5, "celebrate", jst("2026-11-24 10:30:00.000"), nil), // post of 11-10
		reaction(5, 1, 2, "thanks", jst("2026-11-24 13:00:00.000"), nil),    // post of 07-01: author unknown
		reaction(6, 6, 4, "like", jst("2026-11-24 11:15:00.000"), nil),      // its post goes at 11:30
		reaction(7, 5, 4, "like", jst("2026-11-24 10:40:00.000"), nil),
		reaction(7, 5, 4, "like", jst("2026-11-24 10:40:00.000"), jst("2026-11-24 12:00:00.000")),
		reaction(8, 8, 3, "insightful", jst("2026-11-24 13:00:00.000"), nil),
		// R14 given at 23:00 on A, taken back at 01:00 on B, before A's extraction: counts on A.
		reaction(14, 4, 2, "thanks", jst("2026-11-24 23:00:00.000"), nil),
		reaction(14, 4, 2, "thanks", jst("2026-11-24 23:00:00.000"), jst("2026-11-25 01:00:00.000")),
		reaction(15, 12, 1, "like", jst("2026-11-24 21:00:00.000"), nil), // on P12, deleted at 01:15 on B
		// R16 given at 23:30 on A and taken back at 23:59:59.999, the day's last instant: no count.
		reaction(16, 3, 7, "like", jst("2026-11-24 23:30:00.000"), nil),
		reaction(16, 3, 7, "like", jst("2026-11-24 23:30:00.000"), jst("2026-11-24 23:59:59.999")),
		// R9 at exactly 00:00:00.000 on B, before A's extraction: in A's partition, counted on B.
		reaction(9, 7, 1, "thanks", jst("2026-11-25 00:00:00.000"), nil),
		reaction(10, 8, 4, "like", jst("2026-11-25 11:00:00.000"), nil), // its post goes at 15:00
		reaction(11, 9, 7, "thanks", jst("2026-11-25 10:00:00.000"), nil),
		reaction(12, 10, 1, "like", jst("2026-11-25 14:00:00.000"), nil),
		reaction(13, 3, 8, "celebrate", jst("2026-11-25 12:00:00.000"), nil), // to a post of A
	},
}

// extractedAt is when the daily run extracts day: 01:30 the next morning in the business zone,
// as the sample schedule (cron(30 1 * * ? *)) does.
func extractedAt(day string) time.Time {
	return jst(date(day).AddDays(1).String() + " 01:30:00.000")
}

// partition is what an extraction of day at instant at writes for table: the version current
// at that instant of every row whose updated_at is at or after day's midnight, by id.
func partition(table, day string, at time.Time) []row {
	current := map[int64]row{}
	for _, v := range history[table] {
		id, updated := v[colID].(int64), v[colUpdated].(time.Time)
		if updated.After(at) {
			continue
		}
		if c, ok := current[id]; !ok || !updated.Before(c[colUpdated].(time.Time)) {
			current[id] = v
		}
	}
	start := date(day).Start(tokyo)
	var out []row
	for _, v := range current {
		if !v[colUpdated].(time.Time).Before(start) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b row) int { return cmp.Compare(a[colID].(int64), b[colID].(int64)) })
	return out
}

// accessRecord is one web_access record in its delivered JSON shape (see sample.AccessLog).
type accessRecord struct {
	Timestamp    string `json:"timestamp"`
	UserID       int64  `json:"user_id,omitempty"`
	DepartmentID int64  `json:"department_id,omitempty"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Status       int    `json:"status"`
	LatencyMS    int    `json:"latency_ms"`
	UserAgent    string `json:"user_agent"`
}

func hit(at string, userID, dept int64, method, path string, status int) accessRecord {
	return accessRecord{
		Timestamp: jst(at).UTC().Format("2006-01-02T15:04:05.000Z07:00"), UserID: userID, DepartmentID: dept,
		Method: method, Path: path, Status: status, LatencyMS: 30, UserAgent: "Mozilla/5.0",
	}
}

func healthz(day string) accessRecord { return hit(day+" 03:00:00.000", 0, 0, "GET", "/healthz", 200) }

// accessLogs holds each arrival day's records.
var accessLogs = map[string][]accessRecord{
	dayLogs: {
		healthz(dayLogs),
		hit(dayLogs+" 10:00:00.000", 6, 3, "GET", "/api/timeline?page=1", 200),
	},
	dayHoliday: {healthz(dayHoliday), hit(dayHoliday+" 12:00:00.000", 0, 0, "GET", "/login", 200)},
	dayA: {
		healthz(dayA),
		hit(dayA+" 00:00:00.000", 1, 1, "POST", "/api/posts", 201),
		hit(dayA+" 00:30:00.000", 3, 2, "POST", "/api/posts/3/reactions", 201),
		hit(dayA+" 08:00:00.000", 3, 2, "POST", "/api/posts", 201),
		hit(dayA+" 08:59:57.000", 0, 0, "GET", "/login", 200),
		hit(dayA+" 09:00:00.000", 7, 1, "POST", "/api/posts/3/reactions", 201),
		hit(dayA+" 09:00:00.000", 1, 1, "POST", "/api/posts/4/comments", 201),
		hit(dayA+" 10:00:00.000", 5, 2, "POST", "/api/posts", 201),
		hit(dayA+" 10:05:00.000", 2, 1, "POST", "/api/posts/3/comments", 201),
		hit(dayA+" 10:06:00.000", 2, 1, "GET", "/api/notifications", 500), // errors count too
		hit(dayA+" 11:00:00.000", 6, 3, "GET", "/api/departments/3/members", 200),
		hit(dayA+" 16:00:00.000", 4, 2, "POST", "/api/posts/2/comments", 201),
		hit(dayA+" 20:00:00.000", 3, 2, "POST", "/api/posts", 201),
		hit(dayA+" 21:00:00.000", 1, 1, "POST", "/api/posts/12/reactions", 201),
		hit(dayA+" 22:00:00.000", 4, 2, "POST", "/api/posts/3/comments", 201),
		hit(dayA+" 23:00:00.000", 2, 1, "POST", "/api/posts/4/reactions", 201),
		hit(dayA+" 23:30:00.000", 7, 1, "POST", "/api/posts/3/reactions", 201),
		hit(dayA+" 23:59:59.999", 4, 2, "POST", "/api/posts", 201),
		hit(dayA+" 23:59:59.999", 7, 1, "DELETE", "/api/posts/3/reactions/16", 204),
	},
	dayB: {
		healthz(dayB),
		hit(dayB+" 00:00:00.000", 1, 1, "POST", "/api/posts/7/reactions", 201),
		hit(dayB+" 00:45:00.000", 4, 2, "PATCH", "/api/comments/8", 200),
		hit(dayB+" 01:00:00.000", 2, 1, "DELETE", "/api/posts/4/reactions/14", 204),
		hit(dayB+" 01:15:00.000", 3, 2, "DELETE", "/api/posts/12", 204),
		hit(dayB+" 09:00:00.000", 3, 2, "PATCH", "/api/posts/4", 200),
		hit(dayB+" 09:30:00.000", 8, 1, "POST", "/api/posts", 201),
		hit(dayB+" 10:00:00.000", 2, 1, "POST", "/api/posts/8/comments", 201),
		hit(dayB+" 10:00:00.000", 7, 2, "POST", "/api/posts/9/reactions", 201),
		hit(dayB+" 11:00:00.000", 4, 2, "POST", "/api/posts/8/reactions", 201),
	},
}

// writeRawZone writes the fixture into dir in the raw zone's layout:
// <source>/<table>/dt=D/<table>.parquet and app_logs/web_access/dt=D/<file>.gz. The incremental
// partition of day D is extracted at extracted(D).
func writeRawZone(t *testing.T, dir string, extracted func(day string) time.Time) {
	t.Helper()
	for _, day := range kpiDays {
		writeParquet(t, dir, "departments", day, departmentsOn(day))
		writeParquet(t, dir, "users", day, usersOn(day))
	}
	for table := range history {
		for _, day := range incrementalDays {
			writeParquet(t, dir, table, day, partition(table, day, extracted(day)))
		}
	}
	for day, recs := range accessLogs {
		p := filepath.Join(dir, layout.AppLogStreamPrefix("web_access"), date(day).Partition(),
			"KpiLake-web_access-1-"+day+"-00-00-00-0000.gz")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		enc := json.NewEncoder(zw)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// orderedGroup keeps the columns in table order, as the extractor does (parquet.Group sorts them).
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string                           { return f.name }
func (f *orderedField) Value(base reflect.Value) reflect.Value { return base.FieldByName(f.name) }
func (g *orderedGroup) Fields() []parquet.Field                { return g.fields }

func writeParquet(t *testing.T, dir, table, day string, rows []row) {
	t.Helper()
	cols := rawTables[table]
	g := &orderedGroup{Group: parquet.Group{}}
	for _, c := range cols {
		var n parquet.Node
		switch c.typ {
		case colInt64:
			n = parquet.Leaf(parquet.Int64Type)
		case colString:
			n = parquet.String()
		case colDate:
			n = parquet.Date()
		case colTimestamp:
			n = parquet.Timestamp(parquet.Millisecond)
		}
		n = parquet.Optional(n)
		g.Group[c.name] = n
		g.fields = append(g.fields, &orderedField{Node: n, name: c.name})
	}
	p := filepath.Join(dir, layout.TablePartitionPrefix("social", table, date(day)), table+".parquet")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewWriter(f, parquet.NewSchema(table, g), parquet.Compression(&parquet.Zstd), parquet.DataPageVersion(1))
	for _, r := range rows {
		if len(r) != len(cols) {
			t.Fatalf("%s row %v: %d values for %d columns", table, r, len(r), len(cols))
		}
		pr := make(parquet.Row, len(cols))
		for i, v := range r {
			var pv parquet.Value
			switch x := v.(type) {
			case nil:
				pr[i] = parquet.Value{}.Level(0, 0, i)
				continue
			case int64:
				pv = parquet.Int64Value(x)
			case string:
				pv = parquet.ByteArrayValue([]byte(x))
			case layout.Day:
				pv = parquet.Int32Value(int32(x.Start(time.UTC).Unix() / 86400))
			case time.Time:
				pv = parquet.Int64Value(x.UnixMilli())
			default:
				t.Fatalf("%s: value %v of type %T", table, v, v)
			}
			pr[i] = pv.Level(0, 1, i)
		}
		if _, err := w.WriteRows([]parquet.Row{pr}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
