package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RowSource feeds a source's tables to an Extractor without a database server (NewWithRows): a
// local run replays the sample through it. It stands for a MySQL database, so that its Parquet is
// what an extraction of that database writes:
//   - Columns describes a table as MySQL's information_schema.COLUMNS does (DATA_TYPE,
//     COLUMN_TYPE, NUMERIC_PRECISION and NUMERIC_SCALE), and the MySQL type mapping applies;
//   - Rows gives each value in the form that the MySQL driver gives it from a prepared statement:
//     nil for NULL, int64 for integer types, float32/float64 for FLOAT/DOUBLE, and []byte (or a
//     string) holding MySQL's text for the rest: "2006-01-02 15:04:05.000" for DATETIME(3), a
//     wall clock in the source's StoredTimeZone; "2006-01-02" for DATE; the digits of DECIMAL.
//
// The extractor never calls a RowSource concurrently for one Handle.
type RowSource interface {
	// Columns lists the table's columns in order; none means the table does not exist.
	Columns(ctx context.Context, table string) ([]Column, error)
	// Rows calls fn with each row of q.Table that q selects, its values in the order of
	// q.Columns. The slice is only read during the call. An error from fn ends Rows with it.
	Rows(ctx context.Context, q RowQuery, fn func(row []any) error) error
}

// RowQuery is the query an Extractor asks a RowSource to run: a table's exported columns, and
// for an incremental table its window.
type RowQuery struct {
	Table   string        `json:"table"`
	Columns []QueryColumn `json:"columns"`
	// Since is the incremental window; nil for a snapshot (every row).
	Since *Since `json:"-"`
}

// QueryColumn is one column of a RowQuery.
type QueryColumn struct {
	Name string `json:"name"`
	// Hashed asks for the value's text as MySQL's CAST(col AS CHAR) renders it (binary types:
	// their bytes); the extractor writes its HMAC.
	Hashed bool `json:"hashed,omitempty"`
}

// Since keeps the rows whose Column is at or after Start (a NULL is not): the incremental window
// from the business day's midnight (doc.go, "Modes").
type Since struct {
	Column string
	// Start is the bound in the zone the column compares in: for DATETIME, StoredTimeZone, and
	// the row's wall clock is compared with Start's wall clock there; for TIMESTAMP, UTC.
	Start time.Time
}

// Keeps reports whether a value of the column, read as a wall clock in Start's location (as a
// DATETIME is), falls in the window.
func (s *Since) Keeps(wall time.Time) bool {
	y, mo, d := wall.Date()
	h, mi, sec := wall.Clock()
	v := time.Date(y, mo, d, h, mi, sec, wall.Nanosecond(), time.UTC)
	y, mo, d = s.Start.Date()
	h, mi, sec = s.Start.Clock()
	b := time.Date(y, mo, d, h, mi, sec, s.Start.Nanosecond(), time.UTC)
	return !v.Before(b)
}

// rowDB is a source over a RowSource, with MySQL's type mapping and window semantics. The query
// text it builds is the RowQuery as JSON; the window travels in the query's arguments.
type rowDB struct {
	rows RowSource
}

func (r *rowDB) columns(ctx context.Context, table string) ([]Column, error) {
	return r.rows.Columns(ctx, table)
}

func (r *rowDB) mapColumn(c Column) (mapping, bool) { return mysqlMapping(c) }

func (r *rowDB) selectExpr(c Column, m mapping) string {
	b, _ := json.Marshal(QueryColumn{Name: c.Name, Hashed: m.kind == kindHash})
	return string(b)
}

func (r *rowDB) query(table string, selects []string, filter string) string {
	q := struct {
		Table   string            `json:"table"`
		Columns []json.RawMessage `json:"columns"`
		Since   string            `json:"since,omitempty"`
	}{Table: table, Since: filter}
	for _, s := range selects {
		q.Columns = append(q.Columns, json.RawMessage(s))
	}
	b, _ := json.Marshal(q)
	return string(b)
}

func (r *rowDB) sinceFilter(c Column, start time.Time, stored *time.Location) (string, []any, error) {
	loc, err := mysqlSinceZone(c, stored)
	if err != nil {
		return "", nil, err
	}
	return c.Name, []any{&Since{Column: c.Name, Start: start.In(loc)}}, nil
}

func (r *rowDB) stream(ctx context.Context, query string, args []any, fn func([]any) error) error {
	var q RowQuery
	if err := json.Unmarshal([]byte(query), &q); err != nil {
		return fmt.Errorf("extract: row query %s: %w", query, err)
	}
	if len(args) > 0 {
		s, ok := args[0].(*Since)
		if !ok || len(args) > 1 {
			return errors.New("extract: a row query takes one *Since argument")
		}
		q.Since = s
	}
	if err := r.rows.Rows(ctx, q, fn); err != nil {
		return err
	}
	return ctx.Err()
}

func (r *rowDB) close() {}
