package duck

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kpilake/kpilake/local/catalog"
)

// refresh rebuilds the catalog's views when the catalog has changed since they were built (e.mu is
// held), and returns the bytes of the files the views read.
//
// Each table is a view over its partitions as the catalog lists them: a UNION ALL of one SELECT
// per partition with files, each adding the partition values as constant string columns, so a
// filter on dt prunes the other partitions before any file is opened (as Athena's partition
// pruning does). A table without files is an empty view of the catalog's columns.
func (e *Engine) refresh(ctx context.Context) (int64, error) {
	version, tables := e.cat.Snapshot()
	if version == e.built {
		return 0, nil
	}
	schema := ident(e.cat.Database())
	stmts := []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema}
	var scanned int64
	for _, t := range tables {
		body, size, err := e.view(t)
		if err != nil {
			return 0, fmt.Errorf("table %s.%s: %w", e.cat.Database(), t.Name, err)
		}
		scanned += size
		stmts = append(stmts, fmt.Sprintf("CREATE VIEW %s.%s AS %s", schema, ident(t.Name), body))
	}
	for _, s := range stmts {
		if _, err := e.db.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("build the local tables: %w\n%s", err, s)
		}
	}
	e.built = version
	return scanned, nil
}

// view is the SELECT of one table's view and the bytes of its files.
func (e *Engine) view(t catalog.Table) (string, int64, error) {
	cols := make([]string, len(t.Columns))
	types := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		d, err := inputType(c.Type)
		if err != nil {
			return "", 0, fmt.Errorf("column %s: %w", c.Name, err)
		}
		cols[i], types[i] = c.Name, d
	}
	type source struct {
		values []string
		files  []string
	}
	var parts []source
	if len(t.PartitionKeys) == 0 {
		parts = append(parts, source{})
	}
	for _, p := range t.Partitions {
		parts = append(parts, source{values: p.Values})
	}
	var size int64
	var selects []string
	for i := range parts {
		loc := t.Location
		if len(t.PartitionKeys) > 0 {
			loc = t.Partitions[i].Location
		}
		dir, err := e.path(loc)
		if err != nil {
			return "", 0, err
		}
		files, err := catalog.DataFiles(dir)
		if err != nil {
			return "", 0, err
		}
		if len(files) == 0 {
			continue // an empty partition, or one whose data is gone: no rows
		}
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				size += st.Size()
			}
		}
		read, err := reader(t, cols, types, files)
		if err != nil {
			return "", 0, err
		}
		list := make([]string, 0, len(cols)+len(t.PartitionKeys))
		for _, c := range cols {
			list = append(list, ident(c))
		}
		for k, key := range t.PartitionKeys {
			list = append(list, literal(parts[i].values[k])+" AS "+ident(key.Name))
		}
		selects = append(selects, "SELECT "+strings.Join(list, ", ")+" FROM "+read)
	}
	if len(selects) == 0 {
		list := make([]string, 0, len(cols)+len(t.PartitionKeys))
		for i, c := range cols {
			list = append(list, "CAST(NULL AS "+types[i]+") AS "+ident(c))
		}
		for _, key := range t.PartitionKeys {
			list = append(list, "CAST(NULL AS VARCHAR) AS "+ident(key.Name))
		}
		return "SELECT " + strings.Join(list, ", ") + " WHERE false", 0, nil
	}
	return strings.Join(selects, "\nUNION ALL "), size, nil
}

// reader is the table function that reads one partition's files.
func reader(t catalog.Table, cols, types, files []string) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = literal(f)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	switch t.Classification {
	case "parquet":
		// union_by_name: a column missing from an older file reads as NULL, as in Athena.
		return "read_parquet(" + list + ", union_by_name = true, hive_partitioning = false)", nil
	case "json":
		spec := make([]string, len(cols))
		for i, c := range cols {
			spec[i] = literal(c) + ": " + literal(types[i])
		}
		compression := "none"
		if gz, err := gzipped(files[0]); err != nil {
			return "", err
		} else if gz {
			compression = "gzip"
		}
		return fmt.Sprintf("read_json(%s, format = 'newline_delimited', compression = %s, columns = {%s}, hive_partitioning = false)",
			list, literal(compression), strings.Join(spec, ", ")), nil
	}
	return "", fmt.Errorf("classification %q is not read by the local engine (parquet, json)", t.Classification)
}

// gzipped reports whether a file starts with gzip's magic number (Firehose's GZIP files need not
// end in .gz).
func gzipped(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, 2)
	if _, err := io.ReadFull(f, b); err != nil {
		return false, nil
	}
	return b[0] == 0x1f && b[1] == 0x8b, nil
}
