package extract

import (
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
)

// The tests in this file hold the incremental contract (doc.go, "Modes"): dt=D holds, as of
// the extraction that wrote it, the current version of every row whose TimestampColumn is at
// or after D 00:00 in the business zone. Each runs on MariaDB and PostgreSQL, for every kind
// of timestamp column: zone-less ones read in StoredTimeZone, and instants.

// tsKind is one kind of timestamp column of one engine.
type tsKind struct {
	sqlType  string        // the column's type in CREATE TABLE
	zoneless bool          // a wall clock, read in StoredTimeZone
	unit     time.Duration // the smallest step the column holds
}

// incEngines are the engines and the timestamp columns that each can use as TimestampColumn.
var incEngines = []struct {
	name  string
	open  func(testing.TB, *awsClients) *testDB
	kinds []tsKind
}{
	{"MariaDB", newMariaDB, []tsKind{
		{"DATETIME(6)", true, time.Microsecond},
		{"DATETIME", true, time.Second},
		{"TIMESTAMP(6) NULL", false, time.Microsecond},
	}},
	{"PostgreSQL", newPostgres, []tsKind{
		{"timestamp", true, time.Microsecond},
		{"timestamp(0)", true, time.Second},
		{"timestamptz", false, time.Microsecond},
	}},
}

// incTable is an incremental test table (id, state, changed) whose changes the tests script.
type incTable struct {
	d      *testDB
	name   string
	kind   tsKind
	stored *time.Location // where the database keeps zone-less wall clocks
}

func newIncTable(t *testing.T, d *testDB, name string, kind tsKind, stored string) incTable {
	t.Helper()
	loc, err := time.LoadLocation(stored)
	if err != nil {
		t.Fatal(err)
	}
	tb := incTable{d: d, name: name, kind: kind, stored: loc}
	d.exec(t, "CREATE TABLE "+name+" (id INT, state VARCHAR(20), changed "+kind.sqlType+")")
	return tb
}

// literal is the instant as the column stores it: a wall clock in the stored zone for a
// zone-less column, UTC for an instant (the admin sessions run in UTC). nil is NULL.
func (tb incTable) literal(at *time.Time) string {
	if at == nil {
		return "NULL"
	}
	const wall = "2006-01-02 15:04:05.000000"
	switch {
	case tb.kind.zoneless:
		return "'" + at.In(tb.stored).Format(wall) + "'"
	case tb.d.engine == PostgreSQL:
		return "'" + at.UTC().Format(wall) + "+00'"
	default:
		return "'" + at.UTC().Format(wall) + "'"
	}
}

func (tb incTable) insert(t *testing.T, id int, state string, at *time.Time) {
	t.Helper()
	tb.d.exec(t, "INSERT INTO "+tb.name+" VALUES ("+itoa(id)+", '"+state+"', "+tb.literal(at)+")")
}

func (tb incTable) update(t *testing.T, id int, state string, at time.Time) {
	t.Helper()
	tb.d.exec(t, "UPDATE "+tb.name+" SET state = '"+state+"', changed = "+tb.literal(&at)+" WHERE id = "+itoa(id))
}

// extractStates extracts the table for day with the given zones and returns id -> state.
func (tb incTable) extractStates(t *testing.T, business, day string) map[int32]string {
	t.Helper()
	r := newRun(t, tb.d, TableSpec{Name: tb.name, Mode: Incremental, TimestampColumn: "changed"})
	r.spec.TimeZone = business
	r.spec.StoredTimeZone = tb.stored.String()
	return tb.states(t, r, day)
}

func (tb incTable) states(t *testing.T, r *run, day string) map[int32]string {
	t.Helper()
	res := r.mustExtract(t, tb.name, day)
	got := map[int32]string{}
	for _, row := range readParquet(t, tb.d.aws.get(t, r.bucket, res.Key)).Rows {
		got[row["id"].(int32)] = row["state"].(string)
	}
	if int64(len(got)) != res.Rows {
		t.Errorf("Result.Rows = %d, the object holds %d distinct ids", res.Rows, len(got))
	}
	return got
}

// at is the instant of a wall clock in a zone, "2026-11-24 23:00:00".
func at(t *testing.T, zone, wall string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04:05.999999", wall, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// forEachColumnKind runs fn on a fresh database of each engine, once for each timestamp
// column kind, with a table name unique to the kind.
func forEachColumnKind(t *testing.T, fn func(t *testing.T, d *testDB, table string, kind tsKind)) {
	a := newAWS(t)
	for _, e := range incEngines {
		t.Run(e.name, func(t *testing.T) {
			d := e.open(t, a)
			for i, kind := range e.kinds {
				t.Run(kind.sqlType, func(t *testing.T) {
					fn(t, d, "inc_"+itoa(i), kind)
				})
			}
		})
	}
}

// A row created at 23:00 on D and edited (or soft-deleted) at 01:00 on D+1, before the
// extraction of D at 01:30, is in dt=D with its new version. Under a [D, D+1) window it was in
// no partition: its timestamp had left D, and D+1's KPIs do not count a row created on D.
func TestIncremental_KeepsRowEditedAfterMidnight(t *testing.T) {
	t.Parallel()
	const zone, day = "Asia/Tokyo", "2026-11-24"
	forEachColumnKind(t, func(t *testing.T, d *testDB, table string, kind tsKind) {
		tb := newIncTable(t, d, table, kind, "UTC") // stored in UTC, read for Tokyo
		created := at(t, zone, "2026-11-24 23:00:00")
		before := at(t, zone, "2026-11-23 22:00:00")
		tb.insert(t, 1, "new", &created)
		tb.insert(t, 2, "new", &created)
		tb.insert(t, 3, "new", &created)
		tb.insert(t, 4, "old", &before)
		// 01:00 on D+1: the nightly edits, half an hour before the extraction.
		tb.update(t, 1, "edited", at(t, zone, "2026-11-25 01:00:00"))
		tb.update(t, 2, "deleted", at(t, zone, "2026-11-25 01:00:00"))
		// 01:29:59: the last moment before the extraction starts at 01:30.
		tb.update(t, 4, "revived", at(t, zone, "2026-11-25 01:29:59"))

		got := tb.extractStates(t, zone, day)
		want := map[int32]string{1: "edited", 2: "deleted", 3: "new", 4: "revived"}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("dt=%s extracted at 01:30 the next morning (-want +got):\n%s", day, diff)
		}
	})
}

// Re-running an older day after more changes replaces its partition with newer versions and
// more rows, and never loses a row that the first run had (hard deletes aside).
func TestIncremental_RerunOfAnOlderDayKeepsEveryRowOfTheFirstRun(t *testing.T) {
	t.Parallel()
	const zone, day = "Asia/Tokyo", "2026-11-24"
	forEachColumnKind(t, func(t *testing.T, d *testDB, table string, kind tsKind) {
		tb := newIncTable(t, d, table, kind, "America/Los_Angeles")
		r := newRun(t, d, TableSpec{Name: table, Mode: Incremental, TimestampColumn: "changed"})
		r.spec.StoredTimeZone = "America/Los_Angeles"

		t1, t2, t0 := at(t, zone, "2026-11-24 10:00:00"), at(t, zone, "2026-11-24 23:00:00"), at(t, zone, "2026-11-23 12:00:00")
		tb.insert(t, 1, "new", &t1)
		tb.insert(t, 2, "new", &t2)
		tb.insert(t, 3, "old", &t0)
		first := tb.states(t, r, day) // the run of 01:30 on 11-25
		if diff := gocmp.Diff(map[int32]string{1: "new", 2: "new"}, first); diff != "" {
			t.Fatalf("first run of dt=%s (-want +got):\n%s", day, diff)
		}

		// The days after: an edit, a new row, a soft delete, and an old row touched.
		tb.update(t, 1, "edited", at(t, zone, "2026-11-25 09:00:00"))
		t4 := at(t, zone, "2026-11-26 10:00:00")
		tb.insert(t, 4, "new", &t4)
		tb.update(t, 2, "deleted", at(t, zone, "2026-11-27 18:00:00"))
		tb.update(t, 3, "touched", at(t, zone, "2026-11-26 03:00:00"))

		second := tb.states(t, r, day) // a re-run of 11-24 a week later
		for id := range first {
			if _, ok := second[id]; !ok {
				t.Errorf("the re-run of dt=%s lost row %d, which the first run had", day, id)
			}
		}
		want := map[int32]string{1: "edited", 2: "deleted", 3: "touched", 4: "new"}
		if diff := gocmp.Diff(want, second); diff != "" {
			t.Errorf("re-run of dt=%s (-want +got):\n%s", day, diff)
		}
	})
}

// An incremental table's first day in the lake is its initial load: with no earlier day of the
// table in the raw zone, the run exports every row (Result.Initial), so that the table's state
// knows the rows unchanged since before the lake began; from then on a day is the increment. A
// day before the first one (a backfill) is again a first day.
func TestIncremental_TheTablesFirstDayInTheLakeExportsEveryRow(t *testing.T) {
	t.Parallel()
	const zone = "Asia/Tokyo"
	forEachColumnKind(t, func(t *testing.T, d *testDB, table string, kind tsKind) {
		tb := newIncTable(t, d, table, kind, "UTC")
		spec := TableSpec{Name: table, Mode: Incremental, TimestampColumn: "changed"}
		r := newRun(t, d) // no table: an empty bucket
		r.spec.Tables = []TableSpec{spec}
		r.spec.StoredTimeZone = "UTC"
		old, day1, day2 := at(t, zone, "2026-03-01 10:00:00"), at(t, zone, "2026-11-24 10:00:00"), at(t, zone, "2026-11-25 10:00:00")
		tb.insert(t, 1, "old", &old)
		tb.insert(t, 2, "new", &day1)
		for _, step := range []struct {
			day     string
			insert  *time.Time // a row 3 changed on the day, inserted before the run
			want    map[int32]string
			initial bool
		}{
			{day: "2026-11-24", want: map[int32]string{1: "old", 2: "new"}, initial: true},
			{day: "2026-11-25", insert: &day2, want: map[int32]string{3: "new"}},
			{day: "2026-11-20", want: map[int32]string{1: "old", 2: "new", 3: "new"}, initial: true},
		} {
			if step.insert != nil {
				tb.insert(t, 3, "new", step.insert)
			}
			res := r.mustExtract(t, table, step.day, func(c *Config) { c.Now = func() time.Time { return at(t, zone, "2026-11-26 01:30:00") } })
			if res.Initial != step.initial {
				t.Errorf("dt=%s: Result.Initial = %v, want %v", step.day, res.Initial, step.initial)
			}
			got := map[int32]string{}
			for _, row := range readParquet(t, d.aws.get(t, r.bucket, res.Key)).Rows {
				got[row["id"].(int32)] = row["state"].(string)
			}
			if diff := gocmp.Diff(step.want, got); diff != "" {
				t.Errorf("dt=%s (-want +got):\n%s", step.day, diff)
			}
		}
	})
}

// The window starts at exactly D 00:00 in the business zone, computed with the zone's rules
// for D (DST days included), and has no end: a row at the midnight is in, one a column unit
// before it is out, later days' rows and a row from a skewed clock in the future are in, and a
// row without a timestamp is never in.
func TestIncremental_WindowStartsAtTheBusinessMidnight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, business, stored, day string
		midnight                    string // D 00:00 in the business zone, in UTC
	}{
		{"Tokyo day, stored in UTC", "Asia/Tokyo", "UTC", "2026-11-24", "2026-11-23T15:00:00Z"},
		{"Tokyo day, stored in Tokyo", "Asia/Tokyo", "Asia/Tokyo", "2026-11-24", "2026-11-23T15:00:00Z"},
		// 2026-03-08 (EST, 24 hours after 03-07's midnight) springs forward at 02:00, so 03-09
		// starts at 00:00 EDT: 23 hours after 03-08's.
		{"New York day after spring forward, stored in Tokyo", "America/New_York", "Asia/Tokyo", "2026-03-09", "2026-03-09T04:00:00Z"},
		{"New York spring-forward day, stored in UTC", "America/New_York", "UTC", "2026-03-08", "2026-03-08T05:00:00Z"},
		// 2026-11-01 falls back at 02:00: it starts at 00:00 EDT and lasts 25 hours.
		{"New York fall-back day, stored in Tokyo", "America/New_York", "Asia/Tokyo", "2026-11-01", "2026-11-01T04:00:00Z"},
		{"New York day after fall back, stored in Los Angeles", "America/New_York", "America/Los_Angeles", "2026-11-02", "2026-11-02T05:00:00Z"},
	}
	forEachColumnKind(t, func(t *testing.T, d *testDB, table string, kind tsKind) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				midnight := ts(tc.midnight)
				day, err := layout.ParseDay(tc.day)
				if err != nil {
					t.Fatal(err)
				}
				loc, _ := time.LoadLocation(tc.business)
				if !day.Start(loc).Equal(midnight) {
					t.Fatalf("the case is wrong: %s starts at %v in %s, not %v", tc.day, day.Start(loc).UTC(), tc.business, midnight)
				}
				tb := newIncTable(t, d, table+"_"+itoa(i), kind, tc.stored)
				unitBefore := midnight.Add(-kind.unit)
				nextDay := midnight.Add(25 * time.Hour)
				skewed := ts("2037-06-01T00:00:00Z") // a writer whose clock runs years ahead
				tb.insert(t, 1, "unit before", &unitBefore)
				tb.insert(t, 2, "midnight", &midnight)
				tb.insert(t, 3, "next day", &nextDay)
				tb.insert(t, 4, "future", &skewed)
				tb.insert(t, 5, "no timestamp", nil)
				got := tb.extractStates(t, tc.business, tc.day)
				want := map[int32]string{2: "midnight", 3: "next day", 4: "future"}
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Errorf("dt=%s from %v (-want +got):\n%s", tc.day, midnight, diff)
				}
			})
		}
	})
}
