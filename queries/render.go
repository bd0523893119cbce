package queries

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kpilake/kpilake/internal/rematch"
	"github.com/kpilake/kpilake/layout"
)

// Dialect is the SQL engine a query is rendered for. The KPI SQL is the same for every dialect;
// only the output of the template functions differs (see the package doc's list of shims).
type Dialect string

// Dialects.
const (
	// Athena is Athena engine version 3 (Trino), reading the Glue Data Catalog.
	Athena Dialect = "athena"
	// DuckDB is DuckDB over local copies of the lake, for tests and local runs.
	DuckDB Dialect = "duckdb"
)

// Names says how a rendered query names the lake's tables, on which engine, and in which time
// zone business days start. Every identifier it yields is checked: lowercase letters, digits
// and _, as the Glue Data Catalog stores them.
type Names struct {
	// Database qualifies every table: the Glue database on Athena, a schema on DuckDB. Required.
	Database string
	// Location is the business time zone, in which {{ day_start }} and {{ day_end }} are
	// computed (such as Asia/Tokyo). Required.
	Location *time.Location
	// Dialect is the engine the query runs on. Default: Athena.
	Dialect Dialect
	// SourceTableName names the catalog table of a source table or log stream.
	// Default: layout.SourceTableName (<source>_<table>).
	SourceTableName func(source, table string) string
	// KPITableName names the catalog table of a KPI's aggregates. Default: layout.KPITableName
	// (kpi_<name>).
	KPITableName func(kpi string) string
}

// identRE is what a rendered identifier may look like; it needs no escaping in either engine.
var identRE = rematch.MustCompile(`^[a-z0-9_]+$`, 1, 255)

func validIdent(what, s string) error {
	if !identRE.MatchString(s) {
		return fmt.Errorf("%s %q is not a catalog identifier; use 1 to 255 lowercase letters, digits and _", what, s)
	}
	return nil
}

func (n *Names) validate() error {
	var errs []error
	if n.Database == "" {
		errs = append(errs, errors.New("Names.Database is required; give the Glue database (or DuckDB schema) holding the lake's tables"))
	} else if err := validIdent("Names.Database", n.Database); err != nil {
		errs = append(errs, err)
	}
	if n.Location == nil {
		errs = append(errs, errors.New("Names.Location is required; give the business time zone, such as time.LoadLocation(\"Asia/Tokyo\")"))
	}
	switch n.Dialect {
	case "", Athena, DuckDB:
	default:
		errs = append(errs, fmt.Errorf("Names.Dialect %q is not supported; use %q or %q", n.Dialect, Athena, DuckDB))
	}
	return errors.Join(errs...)
}

func (n *Names) sourceTable(source, table string) (string, error) {
	name := layout.SourceTableName(source, table)
	if n.SourceTableName != nil {
		name = n.SourceTableName(source, table)
	}
	if err := validIdent(fmt.Sprintf("Names.SourceTableName(%q, %q)", source, table), name); err != nil {
		return "", err
	}
	return name, nil
}

func (n *Names) kpiTable(kpi string) (string, error) {
	name := layout.KPITableName(kpi)
	if n.KPITableName != nil {
		name = n.KPITableName(kpi)
	}
	if err := validIdent(fmt.Sprintf("Names.KPITableName(%q)", kpi), name); err != nil {
		return "", err
	}
	return name, nil
}

// quote renders an identifier in double quotes, which both engines read the same way.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// MaxWindowDays bounds the N of {{ source_window ... N }} and {{ kpi_window ... N }}, and the
// offset of {{ day_start N }}: no query scans more than a year and a day of partitions.
const MaxWindowDays = 366

// funcSpec describes one template function.
type funcSpec struct {
	usage string // how it is called, for messages
	table bool   // it reads a table: it belongs after FROM or JOIN
	check func(c *call) error
	// render produces the SQL text for day d.
	render func(c *call, d layout.Day, n *Names) (string, error)
}

var funcs = map[string]funcSpec{
	"source": {
		usage: `{{ source "<source>" "<table>" }}`, table: true,
		check: func(c *call) error { return checkSource(c, false) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderSource(c.args[0].str, c.args[1].str, d, 1, n)
		},
	},
	"source_window": {
		usage: `{{ source_window "<source>" "<table>" <days> }}`, table: true,
		check: func(c *call) error { return checkSource(c, true) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderSource(c.args[0].str, c.args[1].str, d, c.args[2].num, n)
		},
	},
	"events": {
		usage: `{{ events "app_logs" "<stream>" }}`, table: true,
		check: func(c *call) error { return checkEvents(c, false) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderEvents(c.args[1].str, d, 1, n)
		},
	},
	"events_window": {
		usage: `{{ events_window "app_logs" "<stream>" <days> }}`, table: true,
		check: func(c *call) error { return checkEvents(c, true) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderEvents(c.args[1].str, d, c.args[2].num, n)
		},
	},
	"kpi": {
		usage: `{{ kpi "<name>" }}`, table: true,
		check: func(c *call) error { return checkKPI(c, false) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderKPI(c.args[0].str, d, 1, n)
		},
	},
	"kpi_window": {
		usage: `{{ kpi_window "<name>" <days> }}`, table: true,
		check: func(c *call) error { return checkKPI(c, true) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderKPI(c.args[0].str, d, c.args[1].num, n)
		},
	},
	"state": {
		usage: `{{ state "<source>" "<table>" }}`, table: true,
		check: func(c *call) error { return checkSource(c, false) },
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return renderKPI(layout.StateName(c.args[0].str, c.args[1].str), d, 1, n)
		},
	},
	"day": {
		usage: `{{ day }}`,
		check: func(c *call) error { return arity(c, 0, 0) },
		render: func(_ *call, d layout.Day, _ *Names) (string, error) {
			return "DATE " + dayLiteral(d), nil
		},
	},
	"day_start": {
		usage: `{{ day_start }} or {{ day_start <days> }}`,
		check: checkOffset,
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return timestampLiteral(d.AddDays(offset(c)).Start(n.Location), n.Dialect), nil
		},
	},
	"day_end": {
		usage: `{{ day_end }} or {{ day_end <days> }}`,
		check: checkOffset,
		render: func(c *call, d layout.Day, n *Names) (string, error) {
			return timestampLiteral(d.AddDays(offset(c)+1).Start(n.Location), n.Dialect), nil
		},
	},
}

var funcOrder = []string{"source", "source_window", "events", "events_window", "state", "kpi", "kpi_window", "day", "day_start", "day_end"}

func funcList() string { return strings.Join(funcOrder, ", ") }

func tableFuncList() string {
	var u []string
	for _, f := range funcOrder {
		if funcs[f].table {
			u = append(u, funcs[f].usage)
		}
	}
	return strings.Join(u, ", ")
}

func isTableFunc(fn string) bool { return funcs[fn].table }

// checkCall validates a template call's function and arguments.
func checkCall(c *call) error {
	spec, ok := funcs[c.fn]
	if !ok {
		return errAt(c.line, "%s: unknown template function %q; use one of %s", c, c.fn, funcList())
	}
	if err := spec.check(c); err != nil {
		return errAt(c.line, "%s: %v; write it as %s", c, err, spec.usage)
	}
	return nil
}

func arity(c *call, lo, hi int) error {
	if len(c.args) < lo || len(c.args) > hi {
		if lo == hi {
			return fmt.Errorf("takes %d arguments, not %d", lo, len(c.args))
		}
		return fmt.Errorf("takes %d to %d arguments, not %d", lo, hi, len(c.args))
	}
	return nil
}

func wantString(c *call, i int, what string) error {
	if c.args[i].isNum {
		return fmt.Errorf("argument %d must be the %s name in double quotes", i+1, what)
	}
	return layout.ValidateName(what, c.args[i].str)
}

func wantDays(c *call, i int) error {
	a := c.args[i]
	if !a.isNum || a.num < 1 || a.num > MaxWindowDays {
		return fmt.Errorf("argument %d must be a number of days from 1 to %d", i+1, MaxWindowDays)
	}
	return nil
}

func checkSource(c *call, window bool) error {
	n := 2
	if window {
		n = 3
	}
	if err := arity(c, n, n); err != nil {
		return err
	}
	if err := wantString(c, 0, "source"); err != nil {
		return err
	}
	if err := wantString(c, 1, "table"); err != nil {
		return err
	}
	if window {
		return wantDays(c, 2)
	}
	return nil
}

// checkEvents checks a call that reads a log stream by event time: the source must be the log
// streams' (a database table has no arrival day to look past).
func checkEvents(c *call, window bool) error {
	if err := checkSource(c, window); err != nil {
		return err
	}
	if c.args[0].str != layout.AppLogsSource {
		return fmt.Errorf("reads log streams by event time, and %q is not %q; read a database table with source or source_window",
			c.args[0].str, layout.AppLogsSource)
	}
	return nil
}

func checkKPI(c *call, window bool) error {
	n := 1
	if window {
		n = 2
	}
	if err := arity(c, n, n); err != nil {
		return err
	}
	if err := wantString(c, 0, "KPI"); err != nil {
		return err
	}
	if window {
		return wantDays(c, 1)
	}
	return nil
}

func checkOffset(c *call) error {
	if err := arity(c, 0, 1); err != nil {
		return err
	}
	if len(c.args) == 1 && (!c.args[0].isNum || c.args[0].num < -MaxWindowDays || c.args[0].num > MaxWindowDays) {
		return fmt.Errorf("the argument must be a number of days from -%d to %d", MaxWindowDays, MaxWindowDays)
	}
	return nil
}

func offset(c *call) int {
	if len(c.args) == 0 {
		return 0
	}
	return c.args[0].num
}

// dayLiteral is the day as a SQL string literal: a Day is always YYYY-MM-DD.
func dayLiteral(d layout.Day) string { return "'" + d.String() + "'" }

// partitionFilter selects the partitions of the days days ending with d.
func partitionFilter(d layout.Day, days int) string {
	if days == 1 {
		return quote(layout.PartitionKey) + " = " + dayLiteral(d)
	}
	return quote(layout.PartitionKey) + " BETWEEN " + dayLiteral(d.AddDays(1-days)) + " AND " + dayLiteral(d)
}

func renderSource(source, table string, d layout.Day, days int, n *Names) (string, error) {
	name, err := n.sourceTable(source, table)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(SELECT * FROM %s.%s WHERE %s)", quote(n.Database), quote(name), partitionFilter(d, days)), nil
}

// renderEvents reads a log stream by event time: the records whose layout.LogTimeField falls
// within the days days ending with d, from the arrival partitions that can hold them (the first
// of those days to layout.LogLateDays after d). A record without the field counts on its arrival
// day, rather than on none.
func renderEvents(stream string, d layout.Day, days int, n *Names) (string, error) {
	name, err := n.sourceTable(layout.AppLogsSource, stream)
	if err != nil {
		return "", err
	}
	from, to := d.AddDays(1-days), d.AddDays(layout.LogLateDays)
	at := eventTime(n.Dialect)
	return fmt.Sprintf("(SELECT * FROM %s.%s WHERE %s BETWEEN %s AND %s AND (%s >= %s AND %s < %s OR %s IS NULL AND %s))",
		quote(n.Database), quote(name), quote(layout.PartitionKey), dayLiteral(from), dayLiteral(to),
		at, instantLiteral(from.Start(n.Location), n.Dialect), at, instantLiteral(d.AddDays(1).Start(n.Location), n.Dialect),
		quote(layout.LogTimeField), partitionFilter(d, days)), nil
}

// eventTime parses a log record's time field, an RFC 3339 string (the crawler catalogues it as a
// string), into an instant. A record whose field is not such a string fails the query, naming the
// value: dropping it would lose the record without a trace.
func eventTime(dialect Dialect) string {
	if dialect == DuckDB {
		return "CAST(" + quote(layout.LogTimeField) + " AS TIMESTAMPTZ)"
	}
	return "from_iso8601_timestamp(" + quote(layout.LogTimeField) + ")"
}

// instantLiteral renders an instant for comparison with a parsed event time, a timestamp with time
// zone in both engines: the literal carries its zone, so the comparison is between instants.
func instantLiteral(t time.Time, dialect Dialect) string {
	if dialect == DuckDB {
		return timestampLiteral(t, dialect) // already a TIMESTAMPTZ with its offset
	}
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000") + " UTC'"
}

func renderKPI(kpi string, d layout.Day, days int, n *Names) (string, error) {
	name, err := n.kpiTable(kpi)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(SELECT * FROM %s.%s WHERE %s)", quote(n.Database), quote(name), partitionFilter(d, days)), nil
}

// timestampLiteral renders an instant for comparison with the lake's timestamp columns, which
// hold UTC instants (Parquet TIMESTAMP(MILLIS, isAdjustedToUTC=true)).
//
// Athena reads such a column as timestamp(3) whose value is the UTC wall clock, so the literal is
// a plain TIMESTAMP in UTC. DuckDB reads it as TIMESTAMP WITH TIME ZONE; a plain TIMESTAMP
// literal would be converted in the session's TimeZone, so the literal carries its offset
// explicitly and the comparison holds in any session time zone.
func timestampLiteral(t time.Time, dialect Dialect) string {
	s := t.UTC().Format("2006-01-02 15:04:05.000")
	if dialect == DuckDB {
		return "TIMESTAMPTZ '" + s + "+00:00'"
	}
	return "TIMESTAMP '" + s + "'"
}
