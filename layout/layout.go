// Package layout is the lake's storage contract: zones, object prefixes, the partition key, the
// KPI run ids and the catalog table names. The constructs and the Lambdas both import it, so a
// prefix, a name or a format is written once, here.
//
// Keys inside a zone's bucket look like:
//
//	raw          <source>/<table>/dt=YYYY-MM-DD/<object>
//	raw          app_logs/<stream>/dt=YYYY-MM-DD/<object>
//	aggregated   <kpi>/dt=YYYY-MM-DD/run=<id>/<object>
//	query-results athena/<query id>.csv
package layout

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Zone is one storage area of the lake; each zone is its own bucket.
type Zone string

// The lake's zones.
const (
	// Raw holds extracted source tables and application logs, as delivered.
	Raw Zone = "raw"
	// Aggregated holds the KPI tables written by Athena CTAS.
	Aggregated Zone = "aggregated"
	// QueryResults holds Athena's query output; it expires after a few days.
	QueryResults Zone = "query-results"
	// AccessLogs holds S3 server access logs of the other zones.
	AccessLogs Zone = "access-logs"
)

// Zones lists every zone, in a stable order.
var Zones = []Zone{Raw, Aggregated, QueryResults, AccessLogs}

const (
	// PartitionKey is the Hive-style partition column of every lake table.
	PartitionKey = "dt"
	// DateLayout is the partition value's format (a business day).
	DateLayout = "2006-01-02"
	// AppLogsSource is the raw-zone folder under which Firehose log streams land. No database
	// source may take this name.
	AppLogsSource = "app_logs"
	// LogTimeField is the field of a log stream's records that says when the event happened: an
	// RFC 3339 instant with its offset, such as "2026-11-24T14:59:59.999Z". KPIs that read a
	// stream by event time ({{ events ... }}) count a record on the business day of this field.
	LogTimeField = "timestamp"
	// LogLateDays is how many arrival days after its own a log record may land and still count
	// for the day it was stamped: a KPI of day D reads the arrival partitions D to D+LogLateDays.
	LogLateDays = 1
	// AthenaResultsPrefix is where the workgroup writes query output in the query-results zone.
	AthenaResultsPrefix = "athena/"
	// RunKey names the per-run folder under an aggregated day: <kpi>/dt=D/run=<id>/.
	RunKey = "run"
	// TableLevel is the folder depth (top-level folder = 1) at which crawlers create tables:
	// <source>/<table>/ and app_logs/<stream>/ are both at level 2.
	TableLevel = 2
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// MaxNameLength bounds source, table, stream and KPI names so that derived catalog names
// (<source>_<table>) stay within Glue's and Athena's limits.
const MaxNameLength = 64

// ValidateName reports whether s can name a source, table, log stream or KPI: snake_case, starting
// with a letter, at most MaxNameLength characters. what names the kind of thing, for the message.
func ValidateName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s name is empty; use snake_case such as %q", what, "sales_db")
	case len(s) > MaxNameLength:
		return fmt.Errorf("%s name %q is %d characters; use at most %d", what, s, len(s), MaxNameLength)
	case !nameRE.MatchString(s):
		return fmt.Errorf("%s name %q is not snake_case; use lowercase letters, digits and _ starting with a letter (such as %q)",
			what, s, suggestName(s))
	}
	return nil
}

func suggestName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "x_" + out
	}
	if len(out) > MaxNameLength {
		out = out[:MaxNameLength]
	}
	return strings.TrimRight(out, "_")
}

// Day is a business day: a calendar date without a time or a zone.
type Day struct{ t time.Time }

// ParseDay parses a YYYY-MM-DD business day. It rejects anything time.Parse rejects, so a Day is
// always safe to put in a path or a query.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Day{}, fmt.Errorf("date %q is not a day in the form YYYY-MM-DD", s)
	}
	return Day{t}, nil
}

// DayOf is the business day that instant t falls on in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// String formats the day as YYYY-MM-DD.
func (d Day) String() string { return d.t.Format(DateLayout) }

// IsZero reports whether d is the zero Day.
func (d Day) IsZero() bool { return d.t.IsZero() }

// AddDays returns the day n days after d (before, if n is negative).
func (d Day) AddDays(n int) Day { return Day{d.t.AddDate(0, 0, n)} }

// Before reports whether d is earlier than e.
func (d Day) Before(e Day) bool { return d.t.Before(e.t) }

// Start is the first instant of the day in loc.
func (d Day) Start(loc *time.Location) time.Time {
	y, m, dd := d.t.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

// Partition renders the day as a partition folder: dt=YYYY-MM-DD.
func (d Day) Partition() string { return PartitionKey + "=" + d.String() }

// SourcePrefix is the raw-zone folder of one database source: <source>/.
func SourcePrefix(source string) string { return source + "/" }

// TablePrefix is the raw-zone folder of one source table: <source>/<table>/.
func TablePrefix(source, table string) string { return source + "/" + table + "/" }

// TablePartitionPrefix is one day of one source table: <source>/<table>/dt=D/.
func TablePartitionPrefix(source, table string, d Day) string {
	return TablePrefix(source, table) + d.Partition() + "/"
}

// AppLogsPrefix is the raw-zone folder of all log streams: app_logs/.
func AppLogsPrefix() string { return SourcePrefix(AppLogsSource) }

// AppLogStreamPrefix is the raw-zone folder of one log stream: app_logs/<stream>/.
func AppLogStreamPrefix(stream string) string { return TablePrefix(AppLogsSource, stream) }

// FirehoseErrorPrefix is where Firehose writes the records of one log stream that it could not
// deliver: _errors/app_logs/<stream>/. It starts with "_", which no source name can, so that no
// crawler reads it as data.
func FirehoseErrorPrefix(stream string) string { return "_errors/" + AppLogStreamPrefix(stream) }

// FirehosePartitionPattern is the Firehose prefix expression that files a record under its day of
// arrival: dt=!{timestamp:yyyy-MM-dd}/. With the stream's CustomTimeZone, that is the business day.
const FirehosePartitionPattern = PartitionKey + "=!{timestamp:yyyy-MM-dd}/"

// KPIPrefix is the aggregated-zone folder of one KPI: <kpi>/.
func KPIPrefix(kpi string) string { return kpi + "/" }

// KPIsPrefix is the aggregated-zone prefix under which every KPI's folder (KPIPrefix) lies: the
// zone holds KPI folders only, so it is the zone's root, and a grant on it covers every KPI,
// including those added later, with one statement.
const KPIsPrefix = ""

// KPIRunPrefix is one run's output for one KPI and day: <kpi>/dt=D/run=<id>/.
func KPIRunPrefix(kpi string, d Day, runID string) string {
	return KPIPrefix(kpi) + d.Partition() + "/" + RunKey + "=" + runID + "/"
}

// RunIDTimeLayout is the time part of a run id (NewRunID): the run's start, in UTC, to the
// millisecond, written without the decimal point so that run ids sort in time order.
const RunIDTimeLayout = "20060102T150405.000Z"

var runIDRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{8}$`)

// NewRunID returns the id of a run that starts at t: the UTC millisecond, then 8 random hex
// digits (20261125T050615123Z-1f2e3d4c), so that ids sort by time and two runs in the same
// millisecond still differ. RunStart reads the time back.
func NewRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.Replace(t.UTC().Format(RunIDTimeLayout), ".", "", 1) + "-" + hex.EncodeToString(b[:])
}

// RunStart is when the run of id started, as its id records it (20261125T050615123Z-1f2e3d4c
// started at 2026-11-25 05:06:15.123 UTC); ok is false when id is not a run id.
func RunStart(id string) (start time.Time, ok bool) {
	if !runIDRE.MatchString(id) {
		return time.Time{}, false
	}
	t, err := time.Parse(RunIDTimeLayout, id[:15]+"."+id[15:19])
	return t, err == nil
}

// RunOf is the run id of a run location (…/<kpi>/dt=D/run=<id>/), or "" for any other location.
func RunOf(location string) string {
	_, after, ok := strings.Cut(location, "/"+RunKey+"=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, "/")
	return id
}

// SourceTableName is the catalog table the crawler creates for a raw table: <source>_<table>.
// Crawlers get CrawlerTablePrefix(source) as their table prefix, which yields this name.
func SourceTableName(source, table string) string { return CrawlerTablePrefix(source) + table }

// CrawlerTablePrefix is the catalog table-name prefix of a source's crawler: <source>_.
func CrawlerTablePrefix(source string) string { return source + "_" }

// Catalog table-name prefixes that kpilake keeps for itself in the lake's Glue database, beside
// the crawlers' <source>_<table> tables: no raw table may be named under them.
const (
	// KPITablePrefix starts every KPI table's name (KPITableName).
	KPITablePrefix = "kpi_"
	// TempTablePrefix starts the temporary table of every CTAS run.
	TempTablePrefix = "tmp_ctas_"
)

// KPITableName is the catalog table of one KPI's aggregates.
func KPITableName(kpi string) string { return KPITablePrefix + kpi }

// StatePrefix starts the name of every state node: the derived table that holds an incremental
// source table's state as of the end of each day. KPI files may not take a name under it.
const StatePrefix = "state_"

// StateName is the name of the state node of one incremental source table: state_<source>_<table>.
// The pipeline aggregates it like a KPI, so its catalog table is KPITableName(StateName(...))
// (kpi_state_<source>_<table>) and its runs live under KPIPrefix(StateName(...)).
func StateName(source, table string) string { return StatePrefix + SourceTableName(source, table) }
