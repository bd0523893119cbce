package duck

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
)

// viewState is what a table's view was built from: the table's catalog revision and the state of
// its partitions' folders.
type viewState struct {
	rev    int64
	stamps uint64
}

// refresh brings the views up to the catalog and the lake (e.mu is held): it replaces the view of
// each table that changed since it was built, in the catalog or in its partitions' folders (a
// file added to a partition that the catalog already lists, as Firehose adds them all day: Athena
// reads a partition's objects when it runs a query, so the view must list them anew), and drops
// those of tables that are gone.
//
// A table is a view over the files of its partitions as the catalog lists them, each partition's
// values as constant string columns. Where every partition's location names its value as a
// folder (<key>=<value>/, as the crawlers and the CTAS runner write them), the view is one scan
// with Hive partitioning, so a filter on dt prunes the other partitions' files before any is
// opened (Athena's partition pruning); otherwise a UNION ALL of one scan per partition. A table
// without files is an empty view of the catalog's columns.
func (e *Engine) refresh(ctx context.Context) error {
	_, tables := e.cat.Snapshot()
	schema := ident(e.cat.Database())
	seen := map[string]bool{}
	for _, t := range tables {
		seen[t.Name] = true
		state := viewState{rev: t.Rev, stamps: e.stamps(t)}
		if built, ok := e.views[t.Name]; ok && built == state {
			continue
		}
		body, err := e.view(t)
		if err != nil {
			return fmt.Errorf("table %s.%s: %w", e.cat.Database(), t.Name, err)
		}
		stmt := fmt.Sprintf("CREATE OR REPLACE VIEW %s.%s AS %s", schema, ident(t.Name), body)
		if _, err := e.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("build the local table %s: %w\n%s", t.Name, err, stmt)
		}
		e.views[t.Name] = state
	}
	for name := range e.views {
		if !seen[name] {
			if _, err := e.db.ExecContext(ctx, fmt.Sprintf("DROP VIEW IF EXISTS %s.%s", schema, ident(name))); err != nil {
				return fmt.Errorf("drop the local table %s: %w", name, err)
			}
			delete(e.views, name)
		}
	}
	return nil
}

// stamps digests the modification times of the folders of t's partitions (of t's location when it
// has no partition key): adding or removing a file in a folder changes its time. A KPI run's
// folder (run=<id>/) never changes once its partition names it, and is not read.
func (e *Engine) stamps(t catalog.Table) uint64 {
	h := fnv.New64a()
	stamp := func(loc string) {
		if strings.Contains(loc, "/"+layout.RunKey+"=") {
			return
		}
		dir, err := e.path(loc)
		if err != nil {
			return
		}
		var b [8]byte
		if st, err := os.Stat(dir); err == nil {
			binary.LittleEndian.PutUint64(b[:], uint64(st.ModTime().UnixNano()))
		}
		h.Write([]byte(loc))
		h.Write(b[:])
	}
	if len(t.PartitionKeys) == 0 {
		stamp(t.Location)
	}
	for _, p := range t.Partitions {
		stamp(p.Location)
	}
	return h.Sum64()
}

// view is the SELECT of one table's view.
func (e *Engine) view(t catalog.Table) (string, error) {
	cols := make([]string, len(t.Columns))
	types := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		d, err := inputType(c.Type)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.Name, err)
		}
		cols[i], types[i] = c.Name, d
	}
	type source struct {
		values []string
		files  []string
	}
	var parts []source
	hive := len(t.PartitionKeys) > 0
	list := func(loc string, values []string) error {
		dir, err := e.path(loc)
		if err != nil {
			return err
		}
		files, err := catalog.DataFiles(dir)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return nil // an empty partition, or one whose data is gone: no rows
		}
		for k, key := range t.PartitionKeys {
			if !strings.Contains(loc, "/"+key.Name+"="+values[k]+"/") {
				hive = false
			}
		}
		parts = append(parts, source{values: values, files: files})
		return nil
	}
	if len(t.PartitionKeys) == 0 {
		if err := list(t.Location, nil); err != nil {
			return "", err
		}
	}
	for _, p := range t.Partitions {
		if err := list(p.Location, p.Values); err != nil {
			return "", err
		}
	}
	if len(parts) == 0 {
		sel := make([]string, 0, len(cols)+len(t.PartitionKeys))
		for i, c := range cols {
			sel = append(sel, "CAST(NULL AS "+types[i]+") AS "+ident(c))
		}
		for _, key := range t.PartitionKeys {
			sel = append(sel, "CAST(NULL AS VARCHAR) AS "+ident(key.Name))
		}
		return "SELECT " + strings.Join(sel, ", ") + " WHERE false", nil
	}
	sel := make([]string, 0, len(cols)+len(t.PartitionKeys))
	for _, c := range cols {
		sel = append(sel, ident(c))
	}
	if hive && len(t.PartitionKeys) > 0 {
		var files []string
		for _, p := range parts {
			files = append(files, p.files...)
		}
		hiveTypes := make([]string, len(t.PartitionKeys))
		for k, key := range t.PartitionKeys {
			sel = append(sel, ident(key.Name))
			hiveTypes[k] = literal(key.Name) + ": 'VARCHAR'"
		}
		read, err := reader(t, cols, types, files, "hive_partitioning = true, hive_types = {"+strings.Join(hiveTypes, ", ")+"}")
		if err != nil {
			return "", err
		}
		return "SELECT " + strings.Join(sel, ", ") + " FROM " + read, nil
	}
	var selects []string
	for _, p := range parts {
		read, err := reader(t, cols, types, p.files, "hive_partitioning = false")
		if err != nil {
			return "", err
		}
		row := slices.Clone(sel)
		for k, key := range t.PartitionKeys {
			row = append(row, literal(p.values[k])+" AS "+ident(key.Name))
		}
		selects = append(selects, "SELECT "+strings.Join(row, ", ")+" FROM "+read)
	}
	return strings.Join(selects, "\nUNION ALL "), nil
}

// reader is the table function that reads files, with the given partitioning options.
func reader(t catalog.Table, cols, types, files []string, partitioning string) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = literal(f)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	switch t.Classification {
	case "parquet":
		// union_by_name: a column missing from an older file reads as NULL, as in Athena.
		return "read_parquet(" + list + ", union_by_name = true, " + partitioning + ")", nil
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
		return fmt.Sprintf("read_json(%s, format = 'newline_delimited', compression = %s, columns = {%s}, %s)",
			list, literal(compression), strings.Join(spec, ", "), partitioning), nil
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
