package extract

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// source is one open, read-only database session of either engine.
type source interface {
	// columns lists the table's columns in order; none means the table does not exist.
	columns(ctx context.Context, table string) ([]Column, error)
	// mapColumn says how a column is written; false means its type is not supported.
	mapColumn(c Column) (mapping, bool)
	// selectExpr is the column's expression in the SELECT list.
	selectExpr(c Column, m mapping) string
	query(table string, selects []string, filter string) string
	// sinceFilter is the WHERE clause that keeps the rows whose timestamp column is at or
	// after start (NULL is not); zone-less columns hold wall clocks in stored.
	sinceFilter(c Column, start time.Time, stored *time.Location) (string, []any, error)
	// stream runs the query and calls fn with each row's values (valid during the call only).
	stream(ctx context.Context, query string, args []any, fn func([]any) error) error
	close()
}

// outColumn is one column of the Parquet file.
type outColumn struct {
	name    string
	mapping mapping
	conv    converter
}

// tablePlan is everything needed to stream one table: the query and how to write each column.
type tablePlan struct {
	table     TableSpec
	qualified string // source.table, for messages
	day       layout.Day
	cols      []outColumn
	query     string
	args      []any
}

func (e *Extractor) openSource(ctx context.Context, c dbCredentials, database string) (source, error) {
	switch e.cfg.Source.Engine {
	case MySQL:
		return openMySQL(ctx, c, database, e.cfg.RootCAs, e.log)
	case PostgreSQL:
		return openPostgres(ctx, c, database, e.cfg.RootCAs)
	}
	return nil, fmt.Errorf("engine %q is not supported", e.cfg.Source.Engine)
}

// plan introspects the table and checks the spec against it before any row is read: a missing
// table, a missing column or an unsupported type is an *InputError.
func (e *Extractor) plan(ctx context.Context, db source, t TableSpec, day layout.Day, initial bool) (*tablePlan, error) {
	p := &tablePlan{table: t, day: day, qualified: e.cfg.Source.Name + "." + t.Name}
	cols, err := db.columns(ctx, t.Name)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", p.qualified, err)
	}
	if len(cols) == 0 {
		return nil, inputErrorf("%w: source %q has no table %q (or the read-only user cannot see it); "+
			"check the table's Name or grant SELECT on it", ErrBadRequest, e.cfg.Source.Name, t.Name)
	}
	byName := map[string]Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	var problems []error
	missing := func(field, col string) {
		problems = append(problems, fmt.Errorf("table %s: %s names column %q, which the table does not have (columns: %s)",
			p.qualified, field, col, columnList(cols)))
	}
	excluded, hashed := map[string]bool{}, map[string]bool{}
	for _, c := range t.Exclude {
		if _, ok := byName[c]; !ok {
			missing("Exclude", c)
		}
		excluded[c] = true
	}
	for _, c := range t.Hash {
		if _, ok := byName[c]; !ok {
			missing("Hash", c)
		}
		hashed[c] = true
	}
	var filter string
	if t.mode() == Incremental {
		c, ok := byName[t.TimestampColumn]
		if !ok {
			missing("TimestampColumn", t.TimestampColumn)
		} else {
			// From the day's midnight in the business zone, with no end: the read's snapshot
			// ends the window, so a row changed after midnight but before the extraction
			// (or since, in a re-run) is kept with its current version (doc.go, "Modes").
			// An initial load (initialLoad) exports every row, with no window.
			if !initial {
				filter, p.args, err = db.sinceFilter(c, day.Start(e.business), e.stored)
				if err != nil {
					problems = append(problems, fmt.Errorf("table %s: TimestampColumn %q %w", p.qualified, c.Name, err))
				}
			}
		}
	}
	for _, c := range cols {
		if excluded[c.Name] {
			continue
		}
		m, ok := db.mapColumn(c)
		if hashed[c.Name] {
			m, ok = mapping{kind: kindHash}, true
		}
		if !ok {
			problems = append(problems, &unsupportedTypeError{table: p.qualified, column: c.Name, typ: c.ColumnType})
			continue
		}
		p.cols = append(p.cols, outColumn{name: c.Name, mapping: m, conv: newConverter(m, e.stored, e.cfg.Salt)})
	}
	if len(p.cols) == 0 && len(problems) == 0 {
		problems = append(problems, fmt.Errorf("table %s: every column is excluded; export at least one", p.qualified))
	}
	// Glue and Athena fold column names to lower case, so "Id" and id would be one column of the
	// catalog table, and a query would read either.
	folded := map[string]string{}
	for _, c := range p.cols {
		lower := strings.ToLower(c.name)
		if first, dup := folded[lower]; dup {
			problems = append(problems, fmt.Errorf("table %s: columns %q and %q differ only in case, and Glue and Athena fold names to lower case; "+
				"Exclude one of them (or extract a view that renames it)", p.qualified, first, c.name))
			continue
		}
		folded[lower] = c.name
	}
	if len(problems) > 0 {
		return nil, &InputError{Err: fmt.Errorf("%w: %w", ErrBadRequest, joinErrors(problems))}
	}
	p.query = db.query(t.Name, selectsOf(db, cols, p, excluded), filter)
	return p, nil
}

// selectsOf is the SELECT list: the exported columns, in table order.
func selectsOf(db source, cols []Column, p *tablePlan, excluded map[string]bool) []string {
	var out []string
	i := 0
	for _, c := range cols {
		if excluded[c.Name] {
			continue
		}
		out = append(out, db.selectExpr(c, p.cols[i].mapping))
		i++
	}
	return out
}

// joinErrors joins errors on "; " so that a message stays on one log line.
type joinedErrors []error

func (j joinedErrors) Error() string {
	s := ""
	for i, e := range j {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

func (j joinedErrors) Unwrap() []error { return j }

func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return joinedErrors(errs)
}
