package queries

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kpilake/kpilake/layout"
)

// DefaultStateKey is the primary key of an incremental table whose configuration names none.
var DefaultStateKey = []string{"id"}

// addStates adds a state node for every table that some KPI reads through {{ state }}: a node
// named layout.StateName, with the table as its one source and no query of its own
// (RenderState generates it).
func (c *Catalog) addStates() []error {
	var errs []error
	for _, n := range slices.Clone(c.names) {
		k := c.kpis[n]
		for _, s := range k.Sources {
			name := layout.StateName(s.Source, s.Table)
			if !slices.Contains(k.DependsOn, name) || c.kpis[name] != nil {
				continue
			}
			if err := layout.ValidateName("state node", name); err != nil {
				errs = append(errs, fmt.Errorf("%s: kpi %q reads the state of %s: %w; shorten the source or table name",
					k.File, k.Name, s, err))
				continue
			}
			t := s
			c.kpis[name] = &KPI{
				Name: name,
				Description: fmt.Sprintf("State of the incremental table %s as of the end of the day: for each primary key, "+
					"the row of the latest partition up to the day that holds it (built from the previous day's state and the "+
					"day's partition).", s),
				Sources:  []SourceTable{s},
				File:     fmt.Sprintf("{{ state %q %q }} (generated)", s.Source, s.Table),
				Lookback: 1,
				State:    &t,
			}
			c.names = append(c.names, name)
		}
	}
	return errs
}

// StateOf reports the source table whose state k keeps, when k is a state node.
func (k *KPI) StateOf() (SourceTable, bool) {
	if k.State == nil {
		return SourceTable{}, false
	}
	return *k.State, true
}

// States lists the state nodes of the catalog, sorted.
func (c *Catalog) States() []string {
	var out []string
	for _, n := range c.names {
		if c.kpis[n].State != nil {
			out = append(out, n)
		}
	}
	return out
}

// StateQuery is what a state node's query depends on besides the day; the aggregate handler
// reads it from the lake before each run.
type StateQuery struct {
	// Columns are the source table's columns, in the catalog's order, without the partition key.
	Columns []string
	// Key is the table's primary key: columns that identify a row across partitions.
	Key []string
	// FromPrevious says that the previous day's state can be read: it exists and was built after
	// the last change of every partition it covers. Otherwise the state is rebuilt from every
	// partition up to the day.
	FromPrevious bool
}

func (q *StateQuery) validate() error {
	var errs []error
	if len(q.Columns) == 0 {
		errs = append(errs, errors.New("the source table has no columns in the catalog; crawl it first"))
	}
	for _, col := range q.Columns {
		if err := validIdent("column", col); err != nil {
			errs = append(errs, err)
		}
	}
	if len(q.Key) == 0 {
		errs = append(errs, errors.New("the key is empty; give the table's primary key columns"))
	}
	for _, col := range q.Key {
		if !slices.Contains(q.Columns, col) {
			errs = append(errs, fmt.Errorf("key column %q is not a column of the table (%s); set the table's key to its primary key columns",
				col, strings.Join(q.Columns, ", ")))
		}
	}
	return errors.Join(errs...)
}

// stateLatestColumn names the window column of the rebuild; it is not a column of the output.
const stateLatestColumn = "kpilake_latest_dt"

// RenderState returns the SELECT of state node k for day d: the latest version of every row of
// its source table up to d, one row per key, with the table's columns (q.Columns). With
// q.FromPrevious it reads two partitions, d's and the state of d-1: d's rows, and the rows of the
// previous state whose key d's partition does not hold. Without, it reads every partition up to
// d and keeps, for each key, the row of the latest. Both give the same rows for the same lake.
func (k *KPI) RenderState(d layout.Day, names Names, q StateQuery) (string, error) {
	src, ok := k.StateOf()
	if !ok {
		return "", fmt.Errorf("kpi %q: render state: it is a KPI, not a state node; render it with Render", k.Name)
	}
	if d.IsZero() {
		return "", fmt.Errorf("kpi %q: render state: the day is zero; give a day from layout.ParseDay", k.Name)
	}
	if err := names.validate(); err != nil {
		return "", fmt.Errorf("kpi %q: render state: %w", k.Name, err)
	}
	q.Columns = slices.DeleteFunc(slices.Clone(q.Columns), func(c string) bool { return c == layout.PartitionKey })
	if err := q.validate(); err != nil {
		return "", fmt.Errorf("kpi %q: render state of %s: %w", k.Name, src, err)
	}
	table, err := names.sourceTable(src.Source, src.Table)
	if err != nil {
		return "", err
	}
	raw := quote(names.Database) + "." + quote(table)
	cols := func(alias string) string {
		out := make([]string, len(q.Columns))
		for i, c := range q.Columns {
			out[i] = alias + "." + quote(c)
		}
		return strings.Join(out, ", ")
	}
	var b strings.Builder
	if q.FromPrevious {
		state, err := names.kpiTable(k.Name)
		if err != nil {
			return "", err
		}
		inc := fmt.Sprintf("(SELECT * FROM %s WHERE %s)", raw, partitionFilter(d, 1))
		match := make([]string, len(q.Key))
		for i, c := range q.Key {
			match[i] = "i." + quote(c) + " = s." + quote(c)
		}
		fmt.Fprintf(&b, "-- The state of %s at the end of the day: the day's partition, and the rows of\n", src)
		fmt.Fprintf(&b, "-- the previous day's state whose key it does not hold.\n")
		fmt.Fprintf(&b, "SELECT %s\nFROM %s AS i\nUNION ALL\n", cols("i"), inc)
		fmt.Fprintf(&b, "SELECT %s\nFROM (SELECT * FROM %s.%s WHERE %s) AS s\n", cols("s"), quote(names.Database), quote(state), partitionFilter(d.AddDays(-1), 1))
		fmt.Fprintf(&b, "WHERE NOT EXISTS (SELECT 1 FROM %s AS i WHERE %s)\n", inc, strings.Join(match, " AND "))
		return b.String(), nil
	}
	key := make([]string, len(q.Key))
	for i, c := range q.Key {
		key[i] = "r." + quote(c)
	}
	fmt.Fprintf(&b, "-- The state of %s at the end of the day, rebuilt from every partition up to it:\n", src)
	fmt.Fprintf(&b, "-- for each key, the row of the latest partition that holds it.\n")
	fmt.Fprintf(&b, "SELECT %s\nFROM (\n", cols("v"))
	fmt.Fprintf(&b, "  SELECT r.*, MAX(r.%s) OVER (PARTITION BY %s) AS %s\n", quote(layout.PartitionKey), strings.Join(key, ", "), quote(stateLatestColumn))
	fmt.Fprintf(&b, "  FROM (SELECT * FROM %s WHERE %s <= %s) AS r\n", raw, quote(layout.PartitionKey), dayLiteral(d))
	fmt.Fprintf(&b, ") AS v\nWHERE v.%s = v.%s\n", quote(layout.PartitionKey), quote(stateLatestColumn))
	return b.String(), nil
}
