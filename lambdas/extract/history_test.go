package extract

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tests in this file hold the past-snapshot rule (doc.go, "Modes"): dt=D of a snapshot table
// is its state right after D, so an extraction refuses a snapshot of a day older than the day
// before its own business day, unless the request forces it.

// instant parses an RFC 3339 instant.
func instant(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestSnapshot_RefusesADayOlderThanTheDayBeforeTheRun(t *testing.T) {
	tests := []struct {
		name, zone, date, now string
		mode                  Mode
		force                 bool
		refused               bool
	}{
		{"daily run just after midnight", "Asia/Tokyo", "2026-11-24", "2026-11-25T00:00:00.000+09:00", Snapshot, false, false},
		{"daily run late in the next day", "Asia/Tokyo", "2026-11-24", "2026-11-25T23:59:59.999+09:00", Snapshot, false, false},
		{"the day itself", "Asia/Tokyo", "2026-11-24", "2026-11-24T12:00:00+09:00", Snapshot, false, false},
		{"two days later at midnight", "Asia/Tokyo", "2026-11-24", "2026-11-26T00:00:00.000+09:00", Snapshot, false, true},
		{"a week later", "Asia/Tokyo", "2026-11-24", "2026-12-01T01:30:00+09:00", Snapshot, false, true},
		{"a week later, forced", "Asia/Tokyo", "2026-11-24", "2026-12-01T01:30:00+09:00", Snapshot, true, false},
		{"a week later, incremental", "Asia/Tokyo", "2026-11-24", "2026-12-01T01:30:00+09:00", Incremental, false, false},
		// The business day, not UTC's: 2026-11-25T15:00Z is already 2026-11-26 in Tokyo.
		{"UTC still on the next day", "Asia/Tokyo", "2026-11-24", "2026-11-25T14:59:59.999Z", Snapshot, false, false},
		{"Tokyo two days later", "Asia/Tokyo", "2026-11-24", "2026-11-25T15:00:00Z", Snapshot, false, true},
		// Calendar days, not 24-hour spans: DST makes D+1 23 or 25 hours long.
		{"spring forward, last instant of D+1", "America/New_York", "2026-03-07", "2026-03-08T23:59:59.999-04:00", Snapshot, false, false},
		{"spring forward, D+2 midnight", "America/New_York", "2026-03-07", "2026-03-09T00:00:00-04:00", Snapshot, false, true},
		{"fall back, last instant of the 25-hour D+1", "America/New_York", "2026-10-31", "2026-11-01T23:59:59.999-05:00", Snapshot, false, false},
		{"fall back, D+2 midnight", "America/New_York", "2026-10-31", "2026-11-02T00:00:00-05:00", Snapshot, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := SourceSpec{Name: "social", Engine: MySQL, TimeZone: tc.zone, Tables: []TableSpec{{Name: "posts", Mode: tc.mode}}}
			if tc.mode == Incremental {
				spec.Tables[0].TimestampColumn = "updated_at"
			}
			now := instant(t, tc.now)
			mem := newMemS3()
			e, err := NewWithRows(Config{Source: spec, Bucket: "raw", Salt: testSalt, Logger: discardLogger(),
				Now: func() time.Time { return now }}, postsRows(), mem)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Handle(context.Background(), Request{Source: "social", Table: "posts", Date: tc.date, Force: tc.force})
			if !tc.refused {
				if err != nil {
					t.Fatalf("refused at %s: %v", tc.now, err)
				}
				return
			}
			var input *InputError
			if !errors.As(err, &input) || !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err = %v; want an *InputError", err)
			}
			for _, want := range []string{"social.posts", tc.date, "dt=" + tc.date, `"force": true`, "snapshot"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not name %q: %v", want, err)
				}
			}
			if len(mem.objects) != 0 || len(mem.uploads) != 0 {
				t.Errorf("a refused request wrote %d objects and started %d uploads", len(mem.objects), len(mem.uploads))
			}
		})
	}
}

// TestMariaDB_RefusedSnapshotKeepsTheDaysPartition extracts a snapshot table at the daily run,
// changes the table, and re-extracts the day a week later: refused, the day's object is the one
// the daily run wrote; forced, it holds today's state.
func TestMariaDB_RefusedSnapshotKeepsTheDaysPartition(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newMariaDB(t, a)
	d.exec(t, "CREATE TABLE users (id INT, department_id INT)", "INSERT INTO users VALUES (1, 10)")
	r := newRun(t, d, TableSpec{Name: "users", Mode: Snapshot})
	first := r.mustExtract(t, "users", "2026-11-24")
	history := a.get(t, r.bucket, first.Key)
	d.exec(t, "UPDATE users SET department_id = 20 WHERE id = 1")

	weekLater := func(c *Config) { c.Now = func() time.Time { return dailyRunOfTestDay().AddDate(0, 0, 7) } }
	_, err := r.extract(t, "users", "2026-11-24", weekLater)
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "social.users") {
		t.Fatalf("err = %v; want an *InputError naming social.users", err)
	}
	if !bytesEqual(history, a.get(t, r.bucket, first.Key)) {
		t.Errorf("the refused extraction changed %s", first.Key)
	}
	if n := a.pendingUploads(t, r.bucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	if want := []map[string]any{{"id": int32(1), "department_id": int32(10)}}; !cmp.Equal(want, readParquet(t, history).Rows) {
		t.Errorf("the daily run's snapshot is %v, want %v", readParquet(t, history).Rows, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := r.extractor(t, weekLater).Handle(ctx, Request{Source: "social", Table: "users", Date: "2026-11-24", Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	want := []map[string]any{{"id": int32(1), "department_id": int32(20)}}
	if diff := cmp.Diff(want, readParquet(t, a.get(t, r.bucket, first.Key)).Rows); diff != "" {
		t.Errorf("the forced extraction's rows (-want +got):\n%s", diff)
	}
}
