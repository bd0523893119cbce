package kpitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
)

// fixtureBucket holds the KPI tables that a case gives as inputs, as <kpi>/dt=D/ folders, which a
// crawler with the table prefix layout.KPITablePrefix catalogues as kpi_<name>.
const fixtureBucket = "fixtures"

// SessionTimeZone is the DuckDB session zone a case runs in: one that is neither UTC nor the
// business zone loc, so that a KPI whose result depended on the session's zone fails its test.
func SessionTimeZone(loc *time.Location) string {
	if loc.String() == "America/Los_Angeles" {
		return "Europe/Berlin"
	}
	return "America/Los_Angeles"
}

// Result is what a case's run found.
type Result struct {
	Case *Case
	// Checks are the KPIs the case ran on each of its days, in the order they ran.
	Checks []Check
	// Err says why the case could not run to its end (a KPI that does not render or fails).
	Err error
}

// Check is one KPI on one day.
type Check struct {
	KPI string
	Day layout.Day
	// Expected is the KPI's expected file; nil for a dependency the case runs but does not check.
	Expected *Table
	// Problems are failures other than rows: output columns and types.
	Problems []string
	// Columns are the columns produced.
	Columns []Column
	// Missing are the expected rows not produced; Unexpected the produced rows not expected.
	Missing    []Row
	Unexpected [][]string
}

// Failed reports whether the check failed.
func (c *Check) Failed() bool {
	return len(c.Problems) > 0 || len(c.Missing) > 0 || len(c.Unexpected) > 0
}

// Failed reports whether the case failed.
func (r *Result) Failed() bool {
	return r.Err != nil || slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Failed() })
}

// Options configure Run.
type Options struct {
	// Threads caps DuckDB's threads. Default: DuckDB's.
	Threads int
}

// Run runs a case: it writes the inputs into a new lake in a temporary directory, catalogues them,
// and runs day by day, in dependency order, every KPI the case checks and those they read that the
// case does not give, through the CTAS runner on the local engine; each checked KPI's rows on each
// day are compared with its expected file. Only an engine that cannot start is an error; what the
// case found, including a KPI that fails, is in the Result.
func Run(ctx context.Context, cat *queries.Catalog, c *Case, opts Options) (*Result, error) {
	res := &Result{Case: c}
	root, err := os.MkdirTemp("", "kpitest-")
	if err != nil {
		return nil, fmt.Errorf("kpi test: %w", err)
	}
	defer os.RemoveAll(root)
	lc, err := catalog.Open(filepath.Join(root, catalog.FileName), run.Database)
	if err != nil {
		return nil, fmt.Errorf("kpi test: %w", err)
	}
	engine, err := duck.Open(root, lc, duck.Options{TimeZone: SessionTimeZone(c.Location), Threads: opts.Threads})
	if err != nil {
		return nil, err
	}
	defer engine.Close()
	order := kpiOrder(cat, c)
	if err := checkTables(cat, c, order); err != nil {
		res.Err = err
		return res, nil
	}
	if err := writeInputs(ctx, engine, lc, root, c); err != nil {
		res.Err = err
		return res, nil
	}
	bucket, err := lakedir.Open(root)
	if err != nil {
		return nil, fmt.Errorf("kpi test: %w", err)
	}
	runner, err := ctas.New(engine, lc, bucket, ctas.Config{
		Database: run.Database, Workgroup: run.Workgroup, AggregatedBucket: run.AggregatedBucket,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), TimeZone: c.Location,
		PollInitial: time.Millisecond, PollMax: time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("kpi test: %w", err)
	}
	raw, err := plan.NewRawZone(bucket, run.RawBucket)
	if err != nil {
		return nil, fmt.Errorf("kpi test: %w", err)
	}
	keys := aggregate.StateKeys{}
	for _, in := range c.Inputs {
		if in.Source != (queries.SourceTable{}) {
			keys[in.Source] = queries.DefaultStateKey
		}
	}
	agg := aggregate.NewHandler(cat, run.Database, c.Location, runner, slog.New(slog.DiscardHandler)).
		WithDialect(queries.DuckDB).WithState(keys, raw)
	for _, day := range c.Dates {
		for _, name := range order {
			k, _ := cat.KPI(name)
			ch, err := runKPI(ctx, engine, runner, agg, k, day, c)
			if err != nil {
				res.Err = fmt.Errorf("%s on %s: %w", name, day, err)
				return res, nil
			}
			res.Checks = append(res.Checks, ch)
		}
	}
	return res, nil
}

// kpiOrder lists the KPIs to run: those the case checks and, unless the case gives their tables,
// the KPIs they read, each after those it reads.
func kpiOrder(cat *queries.Catalog, c *Case) []string {
	given := map[string]bool{}
	for _, in := range c.Inputs {
		if k, ok := strings.CutPrefix(in.Table, layout.KPITablePrefix); ok && in.Source == (queries.SourceTable{}) {
			given[k] = true
		}
	}
	var order []string
	done := map[string]bool{}
	var visit func(n string)
	visit = func(n string) { // the catalog is acyclic
		if done[n] || given[n] {
			return
		}
		done[n] = true
		k, _ := cat.KPI(n)
		for _, d := range k.DependsOn {
			visit(d)
		}
		order = append(order, n)
	}
	for _, n := range slices.Sorted(maps.Keys(c.Expected)) {
		visit(n)
	}
	return order
}

// checkTables makes sure the case gives every raw table that the KPIs it runs read.
func checkTables(cat *queries.Catalog, c *Case, order []string) error {
	var errs []error
	for _, name := range order {
		k, _ := cat.KPI(name)
		for _, s := range k.Sources {
			if !slices.ContainsFunc(c.Inputs, func(in Input) bool { return in.Source == s }) {
				errs = append(errs, fmt.Errorf("%s reads %s, which the case does not give: add %s/%s/dt=YYYY-MM-DD.%s",
					name, s, c.Dir, s.CatalogName(), map[bool]string{true: "jsonl", false: "csv"}[s.Source == layout.AppLogsSource]))
			}
		}
	}
	return errors.Join(errs...)
}

// writeInputs writes the case's inputs into the lake at root as the pipeline would (a database
// table's partition as Parquet, a log stream's as gzipped JSON lines) and catalogues them with the
// local crawler.
func writeInputs(ctx context.Context, engine *duck.Engine, lc *catalog.Catalog, root string, c *Case) error {
	rawPrefixes := map[string]bool{}
	kpis := false
	for _, in := range c.Inputs {
		var file string
		if in.Source != (queries.SourceTable{}) {
			rawPrefixes[layout.SourcePrefix(in.Source.Source)] = true
			file = filepath.Join(root, run.RawBucket, filepath.FromSlash(layout.TablePartitionPrefix(in.Source.Source, in.Source.Table, in.Day)), in.Source.Table)
		} else {
			kpis = true
			k := strings.TrimPrefix(in.Table, layout.KPITablePrefix)
			file = filepath.Join(root, fixtureBucket, "kpi", filepath.FromSlash(layout.KPIPrefix(k)), in.Day.Partition(), k)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if in.JSON != nil {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			if _, err := zw.Write(in.JSON); err != nil {
				return err
			}
			if err := zw.Close(); err != nil {
				return err
			}
			if err := os.WriteFile(file+".gz", buf.Bytes(), 0o644); err != nil {
				return err
			}
			continue
		}
		if err := writeParquet(ctx, engine, file+".parquet", in.Rows); err != nil {
			return fmt.Errorf("%s: %w", in.File, err)
		}
	}
	crawlers := []catalog.Crawler{{Name: "raw", Root: root, Bucket: run.RawBucket, Prefixes: slices.Sorted(maps.Keys(rawPrefixes))}}
	if kpis {
		// The crawler names the folders below kpi/ as kpi_<folder>: the KPI tables.
		crawlers = append(crawlers, catalog.Crawler{Name: "fixtures", Root: root, Bucket: fixtureBucket,
			Prefixes: []string{strings.TrimSuffix(layout.KPITablePrefix, "_") + "/"}})
	}
	for _, cr := range crawlers {
		if _, err := cr.Crawl(lc); err != nil {
			return err
		}
	}
	return nil
}

// writeParquet writes a typed table as one Parquet file, its columns of the types the engine reads
// the catalog's types as (a timestamp is an instant, TIMESTAMP adjusted to UTC).
func writeParquet(ctx context.Context, engine *duck.Engine, file string, t *Table) error {
	exprs := make([]string, len(t.Columns))
	types := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		typ, err := duck.ReadType(col.Type)
		if err != nil {
			return fmt.Errorf("column %s: %w", col.Name, err)
		}
		types[i] = typ
		exprs[i] = fmt.Sprintf("CAST(NULL AS %s) AS %s", typ, ident(col.Name))
	}
	query := "SELECT " + strings.Join(exprs, ", ") + " WHERE false"
	if len(t.Rows) > 0 {
		rows := make([]string, len(t.Rows))
		for r, row := range t.Rows {
			vals := make([]string, len(row.Fields))
			for i, f := range row.Fields {
				if f == Null {
					vals[i] = fmt.Sprintf("CAST(NULL AS %s)", types[i])
					continue
				}
				v, err := canonical(t.Columns[i].Type, f)
				if err != nil {
					return fmt.Errorf("line %d: column %s: %w", row.Line, t.Columns[i].Name, err)
				}
				if decimalTypeRE.MatchString(t.Columns[i].Type) {
					v = f // the canonical text of a decimal is a fraction, which DuckDB does not read
				}
				vals[i] = fmt.Sprintf("CAST(%s AS %s)", literal(v), types[i])
			}
			rows[r] = "(" + strings.Join(vals, ", ") + ")"
		}
		cols := make([]string, len(t.Columns))
		for i, col := range t.Columns {
			cols[i] = ident(col.Name)
		}
		query = fmt.Sprintf("SELECT * FROM (VALUES %s) AS t(%s)", strings.Join(rows, ",\n"), strings.Join(cols, ", "))
	}
	_, err := engine.Query(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", query, literal(file)))
	return err
}

func ident(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// runKPI runs one KPI on one day through the CTAS runner and checks its output.
func runKPI(ctx context.Context, engine *duck.Engine, runner *ctas.Runner, agg *aggregate.Handler, k *queries.KPI, day layout.Day, c *Case) (Check, error) {
	ch := Check{KPI: k.Name, Day: day, Expected: c.Expected[k.Name]}
	q, err := agg.Render(ctx, k, day)
	if err != nil {
		return ch, err
	}
	cols, problems, err := Describe(ctx, engine, q)
	if err != nil {
		return ch, err
	}
	ch.Columns, ch.Problems = cols, problems
	if _, err := runner.Run(ctx, ctas.Request{KPI: k.Name, Date: day, Select: q}); err != nil {
		return ch, err
	}
	if ch.Expected == nil {
		return ch, nil
	}
	want := ch.Expected.Columns[1:] // after dt
	if !slices.Equal(want, cols) {
		ch.Problems = append(ch.Problems, fmt.Sprintf("columns: want %s; got %s", columnList(want), columnList(cols)))
		return ch, nil
	}
	rows, err := engine.Query(ctx, fmt.Sprintf("SELECT * EXCLUDE (%s) FROM %s.%s WHERE %s = ?",
		layout.PartitionKey, ident(run.Database), ident(layout.KPITableName(k.Name)), layout.PartitionKey), day.String())
	if err != nil {
		return ch, err
	}
	got := make([][]string, len(rows.Values))
	for i, r := range rows.Values {
		got[i] = make([]string, len(r))
		for j, v := range r {
			got[i][j] = Format(cols[j].Type, v)
		}
	}
	var wantRows []Row
	for _, r := range ch.Expected.Rows {
		if r.Fields[0] == day.String() {
			wantRows = append(wantRows, Row{Line: r.Line, Fields: r.Fields[1:]})
		}
	}
	ch.Missing, ch.Unexpected = match(cols, wantRows, got, c.Tolerance)
	return ch, nil
}

func columnList(cols []Column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.Name + ":" + c.Type
	}
	return strings.Join(s, ", ")
}

// Describe returns the output columns of a SELECT with the Hive types a CTAS registers for them,
// and a problem for each column whose type Athena would not write as the local engine does.
func Describe(ctx context.Context, engine *duck.Engine, query string) ([]Column, []string, error) {
	rows, err := engine.Query(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, nil, err
	}
	var cols []Column
	var problems []string
	for _, r := range rows.Values {
		name, typ := fmt.Sprint(r[0]), fmt.Sprint(r[1])
		hive, err := duck.HiveType(typ)
		if err != nil {
			problems = append(problems, fmt.Sprintf("column %s: %v", name, err))
		}
		if strings.HasPrefix(typ, "HUGEINT") || strings.HasPrefix(typ, "U") {
			problems = append(problems, fmt.Sprintf("column %s is %s on DuckDB (a SUM of integers is HUGEINT), a type Athena does not have: count with COUNT(CASE WHEN ... THEN 1 END) or cast it (queries/README.md, Portable SQL)", name, typ))
		}
		cols = append(cols, Column{Name: name, Type: hive})
	}
	return cols, problems, nil
}
