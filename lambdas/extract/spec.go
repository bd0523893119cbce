package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo, and every zone here must resolve

	"github.com/kpilake/kpilake/layout"
)

// Engine is a source database engine.
type Engine string

// Supported engines.
const (
	// MySQL is Aurora MySQL (and MariaDB, which speaks the same protocol).
	MySQL Engine = "mysql"
	// PostgreSQL is Aurora PostgreSQL.
	PostgreSQL Engine = "postgresql"
)

// Mode says which rows of a table a daily run exports.
type Mode string

// Table modes.
const (
	// Snapshot exports the whole table as of the run's transaction.
	Snapshot Mode = "snapshot"
	// Incremental exports, for day D, the current version of every row whose TimestampColumn
	// is at or after D 00:00 in the business zone, up to the run's snapshot (no upper bound):
	// partitions overlap, and a re-run of D never loses a row of an earlier run except a
	// hard-deleted one. Rows with a NULL TimestampColumn are never exported. See the package
	// documentation, "Modes".
	Incremental Mode = "incremental"
)

// DefaultStoredTimeZone is the zone assumed for zone-less DATETIME / timestamp values.
const DefaultStoredTimeZone = "UTC"

// SourceSpec describes one source database and the tables extracted from it. The infra code
// serializes it to JSON (see contract.EnvSource); ParseSourceSpec reads it back.
type SourceSpec struct {
	// Name is the source's snake_case name: the raw-zone folder <source>/. Required.
	Name string `json:"name"`
	// Engine is "mysql" or "postgresql". Required.
	Engine Engine `json:"engine"`
	// Database to read: the MySQL schema or the PostgreSQL database (whose current_schema(),
	// normally public, holds the tables). Default: the secret's dbname.
	Database string `json:"database,omitempty"`
	// Tables to extract. Required, at least one.
	Tables []TableSpec `json:"tables"`
	// TimeZone is the business time zone (IANA, such as "Asia/Tokyo") whose midnight starts a
	// day's window in incremental mode. Required.
	TimeZone string `json:"timeZone"`
	// StoredTimeZone is the zone in which the database stores zone-less values (MySQL DATETIME,
	// PostgreSQL timestamp without time zone). Default: "UTC".
	StoredTimeZone string `json:"storedTimeZone,omitempty"`
}

// TableSpec describes one extracted table.
type TableSpec struct {
	// Name is the table's snake_case name, in the database and in the lake. Required.
	Name string `json:"name"`
	// Mode is "snapshot" or "incremental". Default: "snapshot".
	Mode Mode `json:"mode,omitempty"`
	// TimestampColumn is the last-changed column of an incremental table (a DATETIME,
	// TIMESTAMP, timestamp or timestamptz column that every insert and update sets; a row where
	// it is NULL is never exported). Required for incremental, unused otherwise.
	TimestampColumn string `json:"timestampColumn,omitempty"`
	// Exclude lists columns that never leave the database. Default: none.
	Exclude []string `json:"exclude,omitempty"`
	// Hash lists columns replaced by the hex HMAC-SHA256 of their text, so they can be joined
	// but not read. Default: none.
	Hash []string `json:"hash,omitempty"`
}

var (
	databaseRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,63}$`)
	columnRE   = regexp.MustCompile(`^[^\x00` + "`" + `"]{1,64}$`)
)

// ParseSourceSpec decodes a SourceSpec from JSON, rejecting unknown keys, and validates it.
func ParseSourceSpec(data []byte) (SourceSpec, error) {
	var s SourceSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return SourceSpec{}, fmt.Errorf("source spec is not valid JSON for SourceSpec: %w", err)
	}
	if err := s.Validate(); err != nil {
		return SourceSpec{}, err
	}
	return s, nil
}

// Validate reports every problem of the spec at once, each naming the field and the fix.
func (s *SourceSpec) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := layout.ValidateName("source", s.Name); err != nil {
		add("Name: %v", err)
	} else if s.Name == layout.AppLogsSource {
		add("Name: %q is reserved for Firehose log streams; choose another name", s.Name)
	}
	switch s.Engine {
	case MySQL, PostgreSQL:
	case "":
		add(`Engine is required; set "mysql" or "postgresql"`)
	default:
		add(`Engine: %q is not supported; use "mysql" (Aurora MySQL) or "postgresql" (Aurora PostgreSQL)`, s.Engine)
	}
	if s.Database != "" && !databaseRE.MatchString(s.Database) {
		add("Database: %q is not a database name; use letters, digits, _ and $ (or leave it empty to use the secret's dbname)", s.Database)
	}
	if s.TimeZone == "" {
		add(`TimeZone is required; give the business time zone, such as "Asia/Tokyo"`)
	} else if _, err := loadZone(s.TimeZone); err != nil {
		add(`TimeZone: %q is not an IANA time zone; use one such as "Asia/Tokyo"`, s.TimeZone)
	}
	if s.StoredTimeZone != "" {
		if _, err := loadZone(s.StoredTimeZone); err != nil {
			add(`StoredTimeZone: %q is not an IANA time zone; use the zone the database stores DATETIME values in, such as "UTC"`, s.StoredTimeZone)
		}
	}
	if len(s.Tables) == 0 {
		add("Tables: give at least one table to extract")
	}
	seen := map[string]int{}
	for i := range s.Tables {
		t := &s.Tables[i]
		if j, dup := seen[t.Name]; dup && t.Name != "" {
			add("Tables[%d].Name: %q is already Tables[%d]; list each table once", i, t.Name, j)
		}
		seen[t.Name] = i
		for _, err := range t.validate() {
			add("Tables[%d] (%s): %w", i, t.Name, err)
		}
	}
	return errors.Join(errs...)
}

func (t *TableSpec) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := layout.ValidateName("table", t.Name); err != nil {
		add("Name: %v", err)
	}
	switch t.mode() {
	case Snapshot:
		if t.TimestampColumn != "" {
			add(`TimestampColumn is only used by incremental tables; remove it or set Mode "incremental"`)
		}
	case Incremental:
		if t.TimestampColumn == "" {
			add(`TimestampColumn is required for Mode "incremental"; name the table's last-changed column, such as "updated_at"`)
		} else if !columnRE.MatchString(t.TimestampColumn) {
			add("TimestampColumn: %q is not a column name", t.TimestampColumn)
		}
	default:
		add(`Mode: %q is not a mode; use "snapshot" or "incremental"`, t.Mode)
	}
	excluded := map[string]bool{}
	for i, c := range t.Exclude {
		switch {
		case !columnRE.MatchString(c):
			add("Exclude[%d]: %q is not a column name", i, c)
		case excluded[c]:
			add("Exclude[%d]: %q is listed twice; list it once", i, c)
		}
		excluded[c] = true
	}
	hashed := map[string]bool{}
	for i, c := range t.Hash {
		switch {
		case !columnRE.MatchString(c):
			add("Hash[%d]: %q is not a column name", i, c)
		case hashed[c]:
			add("Hash[%d]: %q is listed twice; list it once", i, c)
		case excluded[c]:
			add("Hash[%d]: %q is also in Exclude; an excluded column is not exported, so remove it from one of the lists", i, c)
		}
		hashed[c] = true
	}
	return errs
}

func (t *TableSpec) mode() Mode {
	if t.Mode == "" {
		return Snapshot
	}
	return t.Mode
}

// Table returns the spec of the named table.
func (s *SourceSpec) Table(name string) (TableSpec, bool) {
	for _, t := range s.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return TableSpec{}, false
}

func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	return time.LoadLocation(name)
}

// ObjectKey is the raw-zone key of one table's data for one day:
// <source>/<table>/dt=YYYY-MM-DD/<table>.parquet. It is the only object under that prefix.
func ObjectKey(source, table string, day layout.Day) string {
	return layout.TablePartitionPrefix(source, table, day) + table + ".parquet"
}

// Request is the event the extraction workflow sends: one table of one source for one day.
type Request struct {
	// Source must be the function's configured source.
	Source string `json:"source"`
	// Table is one of the source's configured tables.
	Table string `json:"table"`
	// Date is the business day, YYYY-MM-DD.
	Date string `json:"date"`
	// Force lets a snapshot table be extracted for a day older than the day before the
	// extraction's own business day, replacing that day's snapshot with today's state (doc.go,
	// "Modes"). Default: false, and such a request fails with an *InputError.
	Force bool `json:"force,omitempty"`
}

// Result is what one extraction returns (and logs).
type Result struct {
	Source string `json:"source"`
	Table  string `json:"table"`
	Date   string `json:"date"`
	// Key is the object written in the raw bucket.
	Key string `json:"key"`
	// Rows exported.
	Rows int64 `json:"rows"`
	// Bytes is the Parquet object's size.
	Bytes int64 `json:"bytes"`
	// DurationMs is the wall time of the extraction.
	DurationMs int64 `json:"durationMs"`
	// Mode is "snapshot" or "incremental".
	Mode Mode `json:"mode"`
	// Initial is true for an incremental table's initial load: no earlier day of the table is in
	// the raw zone, so every row was exported, not only those changed since the day began.
	Initial bool `json:"initial,omitempty"`
}
