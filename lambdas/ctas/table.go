package ctas

// The KPI table and its schema: created from a run's output on the KPI's first run, then checked
// against every later run's output; and the catalog reads other packages make of tables and
// partitions.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/layout"
)

// Parquet storage of the KPI tables, as Athena CTAS writes it.
const (
	parquetSerDe  = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	parquetInput  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	parquetOutput = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
)

// getTable reads a table of the runner's database. The error is Glue's, unwrapped, so that the
// caller can tell EntityNotFoundException apart.
func (r *Runner) getTable(ctx context.Context, name string) (*gtypes.Table, error) {
	out, err := retried(ctx, r.retry, "glue GetTable", func(ctx context.Context) (*glue.GetTableOutput, error) {
		return r.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(name)})
	})
	if err != nil {
		return nil, err
	}
	return out.Table, nil
}

// outputColumns reads the columns of a run's output from its temporary table.
func (r *Runner) outputColumns(ctx context.Context, tmp string) ([]gtypes.Column, error) {
	t, err := r.getTable(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("read the output schema from temporary table %q: %w", tmp, err)
	}
	if t == nil || t.StorageDescriptor == nil || len(t.StorageDescriptor.Columns) == 0 {
		return nil, fmt.Errorf("temporary table %q has no columns; the CTAS produced no schema", tmp)
	}
	return t.StorageDescriptor.Columns, nil
}

// kpiTable returns the KPI table, creating it with cols on the KPI's first run.
func (r *Runner) kpiTable(ctx context.Context, req Request, cols []gtypes.Column) (*gtypes.Table, error) {
	t, err := r.getTable(ctx, req.Table)
	switch {
	case hasCode(err, "EntityNotFoundException"):
		t, err = r.createKPITable(ctx, req, cols)
	case err != nil:
		err = fmt.Errorf("read KPI table %q: %w", req.Table, err)
	}
	if err != nil {
		return nil, err
	}
	if t == nil || t.StorageDescriptor == nil {
		return nil, fmt.Errorf("KPI table %q has no storage descriptor; repair or delete it", req.Table)
	}
	return t, nil
}

// createKPITable creates the KPI table with cols, partitioned by day, and reads it back. Another
// run of the same KPI may have created it first: then it returns theirs, which the caller checks
// the schema against.
func (r *Runner) createKPITable(ctx context.Context, req Request, cols []gtypes.Column) (*gtypes.Table, error) {
	input := &gtypes.TableInput{
		Name:        aws.String(req.Table),
		Description: aws.String("KPI " + req.KPI + ", one partition per business day, written by Athena CTAS"),
		TableType:   aws.String("EXTERNAL_TABLE"),
		Parameters:  map[string]string{"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "ZSTD"},
		PartitionKeys: []gtypes.Column{{Name: aws.String(layout.PartitionKey), Type: aws.String("string"),
			Comment: aws.String("business day, YYYY-MM-DD")}},
		StorageDescriptor: &gtypes.StorageDescriptor{
			Columns:      cols,
			Location:     aws.String("s3://" + r.cfg.AggregatedBucket + "/" + layout.KPIPrefix(req.KPI)),
			InputFormat:  aws.String(parquetInput),
			OutputFormat: aws.String(parquetOutput),
			SerdeInfo: &gtypes.SerDeInfo{
				SerializationLibrary: aws.String(parquetSerDe),
				Parameters:           map[string]string{"serialization.format": "1"},
			},
		},
	}
	err := r.retry(ctx, "glue CreateTable", func(ctx context.Context) error {
		_, err := r.glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(r.cfg.Database), TableInput: input})
		return err
	})
	if err != nil && !hasCode(err, "AlreadyExistsException") {
		return nil, fmt.Errorf("create KPI table %q: %w", req.Table, err)
	}
	t, err := r.getTable(ctx, req.Table)
	if err != nil {
		return nil, fmt.Errorf("read KPI table %q after creating it: %w", req.Table, err)
	}
	return t, nil
}

// partitionedByDay checks that the KPI table has the one partition key the runner writes.
func partitionedByDay(name string, table *gtypes.Table) error {
	if pk := table.PartitionKeys; len(pk) != 1 || aws.ToString(pk[0].Name) != layout.PartitionKey {
		return fmt.Errorf("%w: KPI table %q is not partitioned by %s alone; drop it and backfill, or fix its definition",
			ErrIncompatibleSchema, name, layout.PartitionKey)
	}
	return nil
}

// compatible reports whether got (the query's output) has the same column names and types, in the
// same order, as the KPI table's want, naming every difference.
func compatible(table string, want, got []gtypes.Column) error {
	problems := columnChanges(want, got)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the query's output does not match KPI table %q: %s; keep the KPI's columns "+
		"(add new ones as a new KPI) or drop the table and backfill every day",
		ErrIncompatibleSchema, table, strings.Join(problems, "; "))
}

// columnChanges names every column that got adds, drops or retypes against want; if there are
// none, a change of the columns' order.
func columnChanges(want, got []gtypes.Column) []string {
	w, wByName := lowerColumns(want)
	g, gByName := lowerColumns(got)
	problems := slices.Concat(twice("the KPI table", w), twice("the query's output", g))
	for _, c := range g {
		if t, ok := wByName[c.name]; !ok {
			problems = append(problems, fmt.Sprintf("new column %s %s", c.name, c.typ))
		} else if t != c.typ {
			problems = append(problems, fmt.Sprintf("column %s changed type from %s to %s", c.name, t, c.typ))
		}
	}
	for _, c := range w {
		if _, ok := gByName[c.name]; !ok {
			problems = append(problems, fmt.Sprintf("missing column %s %s", c.name, c.typ))
		}
	}
	if len(problems) > 0 {
		return problems
	}
	for i := range w {
		if w[i].name != g[i].name {
			return []string{fmt.Sprintf("columns reordered: table has %s, query gives %s", names(w), names(g))}
		}
	}
	return nil
}

// twice names each column that cs, the columns of what, has more than once: the name checks
// cannot tell it, and the order check compares position by position.
func twice(what string, cs []col) []string {
	seen := map[string]int{}
	var problems []string
	for _, c := range cs {
		if seen[c.name]++; seen[c.name] == 2 {
			problems = append(problems, fmt.Sprintf("%s has column %s twice", what, c.name))
		}
	}
	return problems
}

// col is a catalog column, lowercased.
type col struct{ name, typ string }

// lowerColumns lowercases catalog columns, in order and by name (to type).
func lowerColumns(cs []gtypes.Column) ([]col, map[string]string) {
	out, byName := make([]col, len(cs)), map[string]string{}
	for i, c := range cs {
		out[i] = col{strings.ToLower(aws.ToString(c.Name)), strings.ToLower(aws.ToString(c.Type))}
		byName[out[i].name] = out[i].typ
	}
	return out, byName
}

// names lists the columns' names as (a, b, c).
func names(cs []col) string {
	ns := make([]string, len(cs))
	for i, c := range cs {
		ns[i] = c.name
	}
	return "(" + strings.Join(ns, ", ") + ")"
}

// HasPartition reports whether the catalog table (of the runner's database) has the partition
// dt=day; a table that does not exist has none. The aggregate handler asks it of a KPI's inputs
// before it runs the KPI for a crawler's event.
func (r *Runner) HasPartition(ctx context.Context, table string, day layout.Day) (bool, error) {
	_, exists, err := r.pub.readPartition(ctx, Request{Table: table, Date: day})
	return exists, err
}

// Serving is when the run that serves table's partition of day started, as the run id in the
// partition's location records it; ok is false when the table has no such partition, and start
// is the zero time when the location names no run.
func (r *Runner) Serving(ctx context.Context, table string, day layout.Day) (start time.Time, ok bool, err error) {
	loc, exists, err := r.pub.readPartition(ctx, Request{Table: table, Date: day})
	if err != nil || !exists {
		return time.Time{}, false, err
	}
	start, _ = layout.RunStart(layout.RunOf(loc))
	return start, true, nil
}

// Columns lists the columns of the catalog table table, in order, without its partition keys.
func (r *Runner) Columns(ctx context.Context, table string) ([]string, error) {
	t, err := r.getTable(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %q: %w", table, err)
	}
	var cols []string
	if t != nil && t.StorageDescriptor != nil {
		for _, c := range t.StorageDescriptor.Columns {
			cols = append(cols, aws.ToString(c.Name))
		}
	}
	return cols, nil
}
