package layout_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests use named zones; they must resolve without system zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
)

func mustDay(t *testing.T, s string) layout.Day {
	t.Helper()
	d, err := layout.ParseDay(s)
	if err != nil {
		t.Fatalf("ParseDay(%q): %v", s, err)
	}
	return d
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestValidateName_AcceptsSnakeCase(t *testing.T) {
	for _, name := range []string{
		"a",
		"social",
		"sales_db",
		"web_access",
		"db2",
		"a_1_b",
		"x" + strings.Repeat("y", layout.MaxNameLength-1),
	} {
		if err := layout.ValidateName("source", name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
}

func TestValidateName_FailsWithSuggestion(t *testing.T) {
	tests := []struct {
		name  string
		what  string
		input string
		// want are fragments the message must contain.
		want []string
	}{
		{"empty", "source", "", []string{"source name is empty", `"sales_db"`}},
		{"too long", "table", strings.Repeat("a", layout.MaxNameLength+1),
			[]string{"table name", "is 65 characters; use at most 64"}},
		{"uppercase", "source", "Sales", []string{`source name "Sales" is not snake_case`, `(such as "sales")`}},
		{"camel case", "kpi", "dailyActiveUsers", []string{`kpi name "dailyActiveUsers"`, `(such as "dailyactiveusers")`}},
		{"leading digit", "log stream", "2fa_events", []string{`log stream name "2fa_events" is not snake_case`, `(such as "x_2fa_events")`}},
		{"leading underscore", "source", "_private", []string{"starting with a letter", `(such as "private")`}},
		{"hyphen", "source", "sales-db", []string{`"sales-db" is not snake_case`, `(such as "sales_db")`}},
		{"space and capitals", "source", "Sales DB", []string{`(such as "sales_db")`}},
		{"only symbols", "table", "--", []string{`(such as "x")`}},
		{"dot", "table", "orders.v2", []string{`(such as "orders_v2")`}},
		{"quote injection", "table", "t'; DROP TABLE x; --", []string{"is not snake_case"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := layout.ValidateName(tt.what, tt.input)
			if err == nil {
				t.Fatalf("ValidateName(%q, %q) = nil, want an error", tt.what, tt.input)
			}
			for _, f := range tt.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("ValidateName(%q, %q) = %q, want it to contain %q", tt.what, tt.input, err, f)
				}
			}
		})
	}
}

// TestValidateName_SuggestionIsValid checks that following the message's advice works.
func TestValidateName_SuggestionIsValid(t *testing.T) {
	for _, input := range []string{"Sales", "sales-db", "Sales DB", "2fa", "_x", "--", "orders.v2", "dailyActiveUsers", "9" + strings.Repeat("a", 63)} {
		err := layout.ValidateName("source", input)
		if err == nil {
			t.Fatalf("ValidateName(%q) = nil, want an error", input)
		}
		_, rest, ok := strings.Cut(err.Error(), `(such as "`)
		suggestion, _, ok2 := strings.Cut(rest, `")`)
		if !ok || !ok2 {
			t.Errorf("ValidateName(%q) = %q, want a suggestion (such as \"...\")", input, err)
			continue
		}
		if err := layout.ValidateName("source", suggestion); err != nil {
			t.Errorf("suggestion %q for %q is itself invalid: %v", suggestion, input, err)
		}
	}
}

func TestParseDay_AcceptsCalendarDays(t *testing.T) {
	for _, s := range []string{"2026-11-25", "2026-01-01", "2026-12-31", "2024-02-29", "1999-09-09"} {
		d := mustDay(t, s)
		if got := d.String(); got != s {
			t.Errorf("ParseDay(%q).String() = %q, want it unchanged", s, got)
		}
		if d.IsZero() {
			t.Errorf("ParseDay(%q).IsZero() = true, want false", s)
		}
	}
}

func TestParseDay_FailsOnAnythingButYYYYMMDD(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"month 13", "2026-13-01"},
		{"day 30 in February", "2026-02-30"},
		{"29 February outside a leap year", "2026-02-29"},
		{"day zero", "2026-11-00"},
		{"no separators", "20261125"},
		{"empty", ""},
		{"RFC 3339 instant", "2026-11-25T00:00:00Z"},
		{"trailing space", "2026-11-25 "},
		{"leading space", " 2026-11-25"},
		{"single-digit month", "2026-1-05"},
		{"slashes", "2026/11/25"},
		{"day first", "25-11-2026"},
		{"signed year", "+026-11-25"},
		{"SQL injection", "2026-11-25' OR 1=1"},
		{"path traversal", "2026-11-25/../../x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := layout.ParseDay(tt.input)
			if err == nil {
				t.Fatalf("ParseDay(%q) = %s, want an error", tt.input, d)
			}
			want := `date "` + tt.input + `" is not a day in the form YYYY-MM-DD`
			if err.Error() != want {
				t.Errorf("ParseDay(%q) error = %q, want %q", tt.input, err, want)
			}
			if !d.IsZero() {
				t.Errorf("ParseDay(%q) returned day %s along with the error, want the zero Day", tt.input, d)
			}
		})
	}
}

func TestDay_IsZero(t *testing.T) {
	if !(layout.Day{}).IsZero() {
		t.Error("Day{}.IsZero() = false, want true")
	}
	if mustDay(t, "2026-11-25").IsZero() {
		t.Error("2026-11-25 IsZero() = true, want false")
	}
}

func TestDay_AddDays(t *testing.T) {
	tests := []struct {
		day  string
		n    int
		want string
	}{
		{"2026-11-25", 0, "2026-11-25"},
		{"2026-11-25", 1, "2026-11-26"},
		{"2026-11-25", -1, "2026-11-24"},
		{"2026-11-30", 1, "2026-12-01"},
		{"2026-12-31", 1, "2027-01-01"},
		{"2027-01-01", -1, "2026-12-31"},
		{"2024-02-28", 1, "2024-02-29"},
		{"2026-02-28", 1, "2026-03-01"},
		{"2026-03-01", -1, "2026-02-28"},
		{"2026-01-01", 365, "2027-01-01"},
		{"2024-01-01", 1096, "2027-01-01"},
		// Days carry no zone, so a DST change in the business zone cannot skip or repeat one.
		{"2026-03-07", 2, "2026-03-09"},
		{"2026-10-31", 2, "2026-11-02"},
	}
	for _, tt := range tests {
		if got := mustDay(t, tt.day).AddDays(tt.n).String(); got != tt.want {
			t.Errorf("%s.AddDays(%d) = %s, want %s", tt.day, tt.n, got, tt.want)
		}
	}
}

func TestDay_Before(t *testing.T) {
	tests := []struct {
		d, e string
		want bool
	}{
		{"2026-11-24", "2026-11-25", true},
		{"2026-11-25", "2026-11-24", false},
		{"2026-11-25", "2026-11-25", false},
		{"2025-12-31", "2026-01-01", true},
		{"2026-01-01", "2025-12-31", false},
	}
	for _, tt := range tests {
		if got := mustDay(t, tt.d).Before(mustDay(t, tt.e)); got != tt.want {
			t.Errorf("%s.Before(%s) = %v, want %v", tt.d, tt.e, got, tt.want)
		}
	}
}

func TestDay_Partition(t *testing.T) {
	if got, want := mustDay(t, "2026-11-05").Partition(), "dt=2026-11-05"; got != want {
		t.Errorf("Partition() = %q, want %q", got, want)
	}
	if got, want := mustDay(t, "2026-11-05").Partition(), layout.PartitionKey+"=2026-11-05"; got != want {
		t.Errorf("Partition() = %q, want it to use PartitionKey: %q", got, want)
	}
}

func TestDay_StartIsLocalMidnight(t *testing.T) {
	tests := []struct {
		day  string
		zone string
		want string // RFC 3339 in UTC
	}{
		{"2026-11-25", "Asia/Tokyo", "2026-11-24T15:00:00Z"},
		{"2026-11-25", "UTC", "2026-11-25T00:00:00Z"},
		{"2026-07-01", "America/New_York", "2026-07-01T04:00:00Z"},
		{"2026-01-01", "America/New_York", "2026-01-01T05:00:00Z"},
		{"2026-03-08", "America/New_York", "2026-03-08T05:00:00Z"}, // DST starts later that day
		{"2026-03-09", "America/New_York", "2026-03-09T04:00:00Z"},
	}
	for _, tt := range tests {
		loc := mustZone(t, tt.zone)
		got := mustDay(t, tt.day).Start(loc)
		if s := got.UTC().Format(time.RFC3339); s != tt.want {
			t.Errorf("%s.Start(%s) = %s, want %s", tt.day, tt.zone, s, tt.want)
		}
		if got.Location() != loc {
			t.Errorf("%s.Start(%s) is in %s, want %s", tt.day, tt.zone, got.Location(), tt.zone)
		}
	}
}

func TestDayOf_UsesBusinessTimeZone(t *testing.T) {
	tests := []struct {
		instant string
		zone    string
		want    string
	}{
		{"2026-11-24T15:30:00Z", "Asia/Tokyo", "2026-11-25"},
		{"2026-11-24T15:30:00Z", "UTC", "2026-11-24"},
		{"2026-11-24T14:59:59Z", "Asia/Tokyo", "2026-11-24"},
		{"2026-11-24T15:00:00Z", "Asia/Tokyo", "2026-11-25"},
		{"2026-11-25T03:00:00Z", "America/New_York", "2026-11-24"},
		{"2026-12-31T15:00:00Z", "Asia/Tokyo", "2027-01-01"},
		{"2026-11-25T00:30:00+09:00", "UTC", "2026-11-24"},
	}
	for _, tt := range tests {
		instant, err := time.Parse(time.RFC3339, tt.instant)
		if err != nil {
			t.Fatal(err)
		}
		if got := layout.DayOf(instant, mustZone(t, tt.zone)).String(); got != tt.want {
			t.Errorf("DayOf(%s, %s) = %s, want %s", tt.instant, tt.zone, got, tt.want)
		}
	}
}

func TestDayOf_ComparesEqualToParsedDay(t *testing.T) {
	// Days from either constructor must be interchangeable: the same day is == and neither
	// is Before the other.
	instant := time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC)
	fromInstant := layout.DayOf(instant, mustZone(t, "Asia/Tokyo"))
	parsed := mustDay(t, "2026-11-25")
	if fromInstant != parsed {
		t.Errorf("DayOf(%s, Asia/Tokyo) = %v, want it == ParseDay(\"2026-11-25\") = %v", instant, fromInstant, parsed)
	}
	if fromInstant.Before(parsed) || parsed.Before(fromInstant) {
		t.Errorf("the same day is Before itself")
	}
}

func TestDayOf_InvertsStart(t *testing.T) {
	for _, zone := range []string{"UTC", "Asia/Tokyo", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
		loc := mustZone(t, zone)
		for _, s := range []string{"2026-01-01", "2026-03-08", "2026-11-01", "2026-12-31"} {
			d := mustDay(t, s)
			if got := layout.DayOf(d.Start(loc), loc); got != d {
				t.Errorf("DayOf(%s.Start(%s)) = %s, want %s", s, zone, got, s)
			}
			if got := layout.DayOf(d.AddDays(1).Start(loc).Add(-time.Nanosecond), loc); got != d {
				t.Errorf("DayOf(last instant of %s in %s) = %s, want %s", s, zone, got, s)
			}
		}
	}
}

func TestPrefixes(t *testing.T) {
	d := mustDay(t, "2026-11-25")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"SourcePrefix", layout.SourcePrefix("social"), "social/"},
		{"TablePrefix", layout.TablePrefix("social", "users"), "social/users/"},
		{"TablePartitionPrefix", layout.TablePartitionPrefix("social", "users", d), "social/users/dt=2026-11-25/"},
		{"AppLogsPrefix", layout.AppLogsPrefix(), "app_logs/"},
		{"AppLogStreamPrefix", layout.AppLogStreamPrefix("web_access"), "app_logs/web_access/"},
		{"KPIPrefix", layout.KPIPrefix("daily_active_users"), "daily_active_users/"},
		{"KPIRunPrefix", layout.KPIRunPrefix("daily_active_users", d, "abc123"), "daily_active_users/dt=2026-11-25/run=abc123/"},
		{"SourceTableName", layout.SourceTableName("social", "users"), "social_users"},
		{"CrawlerTablePrefix", layout.CrawlerTablePrefix("social"), "social_"},
		{"KPITableName", layout.KPITableName("daily_active_users"), "kpi_daily_active_users"},
		{"AthenaResultsPrefix", layout.AthenaResultsPrefix, "athena/"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestZones(t *testing.T) {
	want := []layout.Zone{"raw", "aggregated", "query-results", "access-logs"}
	if diff := cmp.Diff(want, layout.Zones); diff != "" {
		t.Errorf("Zones (-want +got):\n%s", diff)
	}
}

// TestTableLevel_MatchesFolderDepth keeps the crawler's table level in step with the prefixes:
// a crawler at the wrong level makes one table per partition, or one for the whole source.
func TestTableLevel_MatchesFolderDepth(t *testing.T) {
	d := mustDay(t, "2026-11-25")
	tests := []struct {
		name   string
		prefix string
		want   int
	}{
		{"TablePrefix", layout.TablePrefix("s", "t"), layout.TableLevel},
		{"AppLogStreamPrefix", layout.AppLogStreamPrefix("w"), layout.TableLevel},
		{"SourcePrefix", layout.SourcePrefix("s"), layout.TableLevel - 1},
		{"TablePartitionPrefix", layout.TablePartitionPrefix("s", "t", d), layout.TableLevel + 1},
	}
	for _, tt := range tests {
		if got := strings.Count(tt.prefix, "/"); got != tt.want {
			t.Errorf("%s %q is %d folders deep, want %d (TableLevel = %d)", tt.name, tt.prefix, got, tt.want, layout.TableLevel)
		}
	}
}

func TestPrefixes_NestUnderTheirParents(t *testing.T) {
	d := mustDay(t, "2026-11-25")
	tests := []struct {
		name          string
		child, parent string
	}{
		{"table under source", layout.TablePrefix("s", "t"), layout.SourcePrefix("s")},
		{"partition under table", layout.TablePartitionPrefix("s", "t", d), layout.TablePrefix("s", "t")},
		{"stream under app logs", layout.AppLogStreamPrefix("w"), layout.AppLogsPrefix()},
		{"run under KPI", layout.KPIRunPrefix("k", d, "r"), layout.KPIPrefix("k")},
		{"catalog table under crawler prefix", layout.SourceTableName("s", "t"), layout.CrawlerTablePrefix("s")},
	}
	for _, tt := range tests {
		if !strings.HasPrefix(tt.child, tt.parent) {
			t.Errorf("%s: %q does not start with %q", tt.name, tt.child, tt.parent)
		}
	}
}

func TestAppLogsSource_IsAValidName(t *testing.T) {
	// The reserved folder must itself be a valid name, or no source could ever collide with it
	// and config would not need to reserve it.
	if err := layout.ValidateName("source", layout.AppLogsSource); err != nil {
		t.Errorf("ValidateName(AppLogsSource) = %v, want nil", err)
	}
	if got, want := layout.AppLogsPrefix(), layout.SourcePrefix(layout.AppLogsSource); got != want {
		t.Errorf("AppLogsPrefix() = %q, want SourcePrefix(AppLogsSource) = %q", got, want)
	}
}

func TestRunStart_ReadsTheStartOfARunFromItsLocation(t *testing.T) {
	tests := []struct {
		location string
		want     time.Time
		ok       bool
	}{
		{"s3://b/kpi_a/dt=2026-11-24/run=20261125T050615123Z-1f2e3d4c/", time.Date(2026, 11, 25, 5, 6, 15, 123e6, time.UTC), true},
		{"s3://b/kpi_a/dt=2026-11-24/run=20261125T050615123Z-1f2e3d4c", time.Date(2026, 11, 25, 5, 6, 15, 123e6, time.UTC), true},
		{"s3://b/kpi_a/dt=2026-11-24/", time.Time{}, false},
		{"s3://b/kpi_a/dt=2026-11-24/run=20261325T050615123Z-1f2e3d4c/", time.Time{}, false},
		{"s3://b/kpi_a/dt=2026-11-24/run=20261125T050615Z-1f2e3d4c/", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := layout.RunStart(layout.RunOf(tt.location))
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("RunStart(RunOf(%q)) = %v, %t; want %v, %t", tt.location, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNewRunID_IsTimeOrderedUniqueAndReadBack(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 5, 6, 15, 123e6, time.UTC)
	a, b, c := layout.NewRunID(t0), layout.NewRunID(t0), layout.NewRunID(t0.Add(time.Millisecond))
	for _, id := range []string{a, b} {
		if got, ok := layout.RunStart(id); !ok || !got.Equal(t0) {
			t.Errorf("RunStart(%q) = %v, %t; want %v, true", id, got, ok, t0)
		}
	}
	if a == b {
		t.Errorf("two runs in the same millisecond got the same id %q", a)
	}
	if !(a < c && b < c) {
		t.Errorf("ids do not sort by time: %q, %q then %q", a, b, c)
	}
	if !strings.HasPrefix(a, "20261125T050615123Z-") {
		t.Errorf("id %q does not start with the UTC time", a)
	}
	if other := layout.NewRunID(t0.In(time.FixedZone("JST", 9*3600))); !strings.HasPrefix(other, "20261125T050615123Z-") {
		t.Errorf("id %q of a time in another zone is not written in UTC", other)
	}
}
