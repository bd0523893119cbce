package catalog

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/layout"
)

// Crawler is the local stand-in of a Glue crawler over prefixes of the raw zone, configured as
// infra/catalog configures the real ones: one table per folder below a prefix (table level 2),
// named layout.CrawlerTablePrefix(source) + folder, one partition per dt=YYYY-MM-DD folder that
// holds a data file, and the schema of the table's newest data file.
type Crawler struct {
	// Name is the crawler's name in the events it sends (plan.Detail.CrawlerName).
	Name string
	// Root is the lake directory; Bucket the raw zone's bucket in it (Root/Bucket/...).
	Root, Bucket string
	// Prefixes are the raw-zone folders it crawls, such as "social/" or "app_logs/".
	Prefixes []string
}

// CrawlResult is what one crawl changed.
type CrawlResult struct {
	Tables     []string // tables created or whose columns changed
	Partitions int      // partitions added or moved
}

// Crawl catalogues every table and partition below the crawler's prefixes into c, with the
// settings of the deployed crawlers (infra/catalog): new folders only (a registered partition is
// not crawled again), table schemas logged but never updated (SchemaChangePolicy LOG), and
// partitions that inherit their table's schema. So a table's columns are those its first crawl
// found, combined over every file of that crawl (CombineCompatibleSchemas). Files whose name
// starts with "_" or "." are not data, as for Athena and Glue.
func (cr Crawler) Crawl(c *Catalog) (CrawlResult, error) {
	var res CrawlResult
	for _, prefix := range cr.Prefixes {
		source, _, _ := strings.Cut(prefix, "/")
		dir := filepath.Join(cr.Root, cr.Bucket, filepath.FromSlash(prefix))
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("crawler %s: %w", cr.Name, err)
		}
		for _, e := range entries {
			if !e.IsDir() || hidden(e.Name()) {
				continue
			}
			name := layout.CrawlerTablePrefix(source) + e.Name()
			created, parts, err := cr.crawlTable(c, name, prefix+e.Name()+"/")
			if err != nil {
				return res, fmt.Errorf("crawler %s: table %s: %w", cr.Name, name, err)
			}
			if created {
				res.Tables = append(res.Tables, name)
			}
			res.Partitions += parts
		}
	}
	return res, nil
}

// hidden is a name that Athena and the crawlers skip.
func hidden(name string) bool { return strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") }

// crawlTable catalogues one table folder (key prefix tablePrefix of the bucket): it creates the
// table if it is new, and registers the partitions it does not have.
func (cr Crawler) crawlTable(c *Catalog, name, tablePrefix string) (created bool, parts int, err error) {
	dir := filepath.Join(cr.Root, cr.Bucket, filepath.FromSlash(tablePrefix))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, 0, err
	}
	location := "s3://" + cr.Bucket + "/" + tablePrefix
	c.mu.Lock()
	known := map[string]bool{}
	t, exists := c.state.Tables[name]
	if exists {
		for k := range t.Partitions {
			known[k] = true
		}
	}
	c.mu.Unlock()
	type part struct {
		value string
		files []string
	}
	var found []part
	for _, e := range entries {
		value, ok := strings.CutPrefix(e.Name(), layout.PartitionKey+"=")
		if !e.IsDir() || !ok || known[value] {
			continue
		}
		if _, err := layout.ParseDay(value); err != nil {
			continue
		}
		files, err := DataFiles(filepath.Join(dir, e.Name()))
		if err != nil {
			return false, 0, err
		}
		if len(files) > 0 {
			found = append(found, part{value, files})
		}
	}
	if len(found) == 0 {
		return false, 0, nil
	}
	if !exists {
		var files []string
		for _, p := range found {
			files = append(files, p.files...)
		}
		format, cols, err := schemaOfFiles(files)
		if err != nil {
			return false, 0, err
		}
		if err := c.PutTable(&gtypes.TableInput{
			Name:              aws.String(name),
			TableType:         aws.String("EXTERNAL_TABLE"),
			Parameters:        map[string]string{"classification": format, "UPDATED_BY_CRAWLER": cr.Name},
			PartitionKeys:     []gtypes.Column{{Name: aws.String(layout.PartitionKey), Type: aws.String("string")}},
			StorageDescriptor: storageInput(format, location, cols),
		}); err != nil {
			return false, 0, err
		}
	}
	table, err := c.GetTable(context.Background(), &glue.GetTableInput{DatabaseName: aws.String(c.database), Name: aws.String(name)})
	if err != nil {
		return false, 0, err
	}
	add := make([]gtypes.PartitionInput, 0, len(found))
	for _, p := range found {
		sd := *table.Table.StorageDescriptor // partitions inherit the table's schema
		sd.Location = aws.String(location + layout.PartitionKey + "=" + p.value + "/")
		add = append(add, gtypes.PartitionInput{Values: []string{p.value}, StorageDescriptor: &sd})
	}
	if err := c.PutPartitions(name, add); err != nil {
		return false, 0, err
	}
	return !exists, len(add), nil
}

// schemaOfFiles combines the schemas of a first crawl's files: every column in order of first
// appearance, each with the widest of its types.
func schemaOfFiles(files []string) (string, []gtypes.Column, error) {
	var format string
	var order []string
	types := map[string]string{}
	for _, f := range files {
		ff, cols, err := schemaOf(f)
		if err != nil {
			return "", nil, err
		}
		if format == "" {
			format = ff
		} else if ff != format {
			return "", nil, fmt.Errorf("%s is %s, other files of the table are %s; a table holds one format", f, ff, format)
		}
		for _, col := range cols {
			n, t := aws.ToString(col.Name), aws.ToString(col.Type)
			old, seen := types[n]
			if !seen {
				order = append(order, n)
				types[n] = t
				continue
			}
			if old != t {
				types[n] = widen(old, t)
			}
		}
	}
	out := make([]gtypes.Column, len(order))
	for i, n := range order {
		out[i] = gtypes.Column{Name: aws.String(n), Type: aws.String(types[n])}
	}
	return format, out, nil
}

// DataFiles lists the data files below dir, recursively, in name order: every file except those
// whose name (or a folder's) starts with "_" or ".", which Athena and the crawlers skip.
func DataFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return nil // a location without files reads as empty, as on S3
			}
			return err
		}
		if path != dir && hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// Serialization of the two formats of the raw zone, as the Glue crawler writes them.
const (
	parquetInput  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	parquetOutput = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
	parquetSerDe  = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	textInput     = "org.apache.hadoop.mapred.TextInputFormat"
	textOutput    = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
	jsonSerDe     = "org.openx.data.jsonserde.JsonSerDe"
)

func storageInput(format, location string, cols []gtypes.Column) *gtypes.StorageDescriptor {
	sd := &gtypes.StorageDescriptor{Location: aws.String(location), Columns: cols}
	if format == "parquet" {
		sd.InputFormat, sd.OutputFormat = aws.String(parquetInput), aws.String(parquetOutput)
		sd.SerdeInfo = &gtypes.SerDeInfo{SerializationLibrary: aws.String(parquetSerDe)}
	} else {
		sd.InputFormat, sd.OutputFormat = aws.String(textInput), aws.String(textOutput)
		sd.SerdeInfo = &gtypes.SerDeInfo{SerializationLibrary: aws.String(jsonSerDe)}
	}
	return sd
}

// schemaOf reads a data file's format (parquet or json) and columns with their Hive types.
func schemaOf(path string) (string, []gtypes.Column, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if string(magic) == "PAR1" {
		cols, err := parquetColumns(f)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", path, err)
		}
		return "parquet", cols, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", nil, err
	}
	var r io.Reader = f
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	cols, err := jsonColumns(r)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return "json", cols, nil
}

func parquetColumns(f *os.File) ([]gtypes.Column, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	var cols []gtypes.Column
	for _, field := range pf.Schema().Fields() {
		if !field.Leaf() {
			return nil, fmt.Errorf("column %q is nested; the local crawler reads flat Parquet only", field.Name())
		}
		cols = append(cols, gtypes.Column{Name: aws.String(strings.ToLower(field.Name())), Type: aws.String(hiveType(field.Type()))})
	}
	return cols, nil
}

// hiveType is the type name that Glue's crawler gives a Parquet leaf.
func hiveType(t parquet.Type) string {
	if lt := t.LogicalType(); lt != nil {
		s := lt.String()
		switch {
		case s == "STRING", s == "ENUM", s == "JSON", s == "UUID":
			return "string"
		case s == "DATE":
			return "date"
		case strings.HasPrefix(s, "TIMESTAMP"):
			return "timestamp"
		case strings.HasPrefix(s, "DECIMAL("):
			return strings.ToLower(s)
		case strings.HasPrefix(s, "INT(8"):
			return "tinyint"
		case strings.HasPrefix(s, "INT(16"):
			return "smallint"
		case strings.HasPrefix(s, "INT(32"):
			return "int"
		case strings.HasPrefix(s, "INT(64"):
			return "bigint"
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return "boolean"
	case parquet.Int32:
		return "int"
	case parquet.Int64:
		return "bigint"
	case parquet.Float:
		return "float"
	case parquet.Double:
		return "double"
	}
	return "binary"
}

// jsonSample is how many records the JSON classifier reads to infer the columns.
const jsonSample = 1000

// jsonColumns infers the columns of newline-delimited JSON records as Glue's JSON classifier
// does for flat records: whole numbers are int (bigint beyond 32 bits), other numbers double,
// true/false boolean, the rest string; columns in order of first appearance.
func jsonColumns(r io.Reader) ([]gtypes.Column, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var order []string
	types := map[string]string{}
	for n := 0; n < jsonSample && sc.Scan(); n++ {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(string(line)))
		dec.UseNumber()
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("record %d is not a JSON object: %w", n+1, err)
		}
		keys := make([]string, 0, len(rec))
		for k := range rec {
			keys = append(keys, k)
		}
		// A record's keys in the order they are written, for a stable column order.
		slices.SortFunc(keys, func(a, b string) int {
			return strings.Index(string(line), `"`+a+`"`) - strings.Index(string(line), `"`+b+`"`)
		})
		for _, k := range keys {
			name := strings.ToLower(k)
			t := jsonType(rec[k])
			if t == "" {
				continue
			}
			old, seen := types[name]
			if !seen {
				order = append(order, name)
			}
			types[name] = widen(old, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	cols := make([]gtypes.Column, len(order))
	for i, name := range order {
		cols[i] = gtypes.Column{Name: aws.String(name), Type: aws.String(types[name])}
	}
	return cols, nil
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return "boolean"
	case json.Number:
		if i, err := x.Int64(); err == nil {
			if i >= math.MinInt32 && i <= math.MaxInt32 {
				return "int"
			}
			return "bigint"
		}
		return "double"
	}
	return "string"
}

// widen merges two inferred types of one column.
func widen(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case (a == "int" && b == "bigint") || (a == "bigint" && b == "int"):
		return "bigint"
	case (a == "int" || a == "bigint" || a == "double") && (b == "int" || b == "bigint" || b == "double"):
		return "double"
	}
	return "string"
}
