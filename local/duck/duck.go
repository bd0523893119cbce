// Package duck is the Athena of a local run: DuckDB executing the queries that the CTAS runner
// sends, over the tables of a local catalog (local/catalog) whose data is in a lake directory. It
// implements the runner's Athena port (StartQueryExecution, GetQueryExecution,
// StopQueryExecution) with Athena's semantics where the runner depends on them:
//
//   - A CTAS (CREATE TABLE ... WITH (external_location = ...) AS SELECT, as ctas.Statement writes
//     it) writes Parquet under the external location, which must be empty, and registers the
//     table in the catalog with Hive type names (bigint, int, double, string, decimal(p,s), date,
//     timestamp), as Athena does.
//   - A table reads the partitions that the catalog lists, at their locations, with the partition
//     value as its column (a string); files whose name starts with "_" or "." are not read; a
//     partition without files is empty; JSON tables read the catalog's column types.
//   - Queries run synchronously: a started query has ended when StartQueryExecution returns. A
//     repeated ClientRequestToken returns the first query's id and does not run it again.
//
// The session time zone is UTC unless Options.TimeZone says otherwise; KPI SQL rendered for the
// DuckDB dialect (queries.DuckDB) does not depend on it.
//
// DuckDB needs cgo. Built without it, Open returns ErrUnavailable, which says how to get it.
package duck

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/local/catalog"
)

// ErrUnavailable is Open's error in a build without cgo, in which DuckDB cannot link.
var ErrUnavailable = errors.New("the local engine (DuckDB) is not in this build: it needs cgo. " +
	"Build with CGO_ENABLED=1 and a C compiler (gcc or clang), e.g. `CGO_ENABLED=1 go build ./cmd/kpilake`, or use `make demo`")

// Available returns ErrUnavailable in a build without DuckDB, nil otherwise.
func Available() error {
	if !slices.Contains(sql.Drivers(), "duckdb") {
		return ErrUnavailable
	}
	return nil
}

// Options configure an Engine.
type Options struct {
	// TimeZone is the session time zone (IANA). Default: UTC, as Athena's.
	TimeZone string
	// Threads caps DuckDB's worker threads. Default: DuckDB's (one per core).
	Threads int
	// MemoryLimit caps DuckDB's memory, such as "1GB". Default: DuckDB's (80% of RAM).
	MemoryLimit string
}

// Engine runs queries on DuckDB over one local catalog. It is safe for concurrent use; queries
// run one at a time, as DuckDB's one session does.
type Engine struct {
	root string
	cat  *catalog.Catalog
	db   *sql.DB

	mu      sync.Mutex           // serializes queries and guards the fields below
	views   map[string]viewState // what each table's view was built from
	queries map[string]*atypes.QueryExecution
	tokens  map[string]string
}

// Open starts an in-memory DuckDB over the catalog cat, whose s3://bucket/key locations are
// files root/bucket/key.
func Open(root string, cat *catalog.Catalog, opts Options) (*Engine, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	// One connection: the session's settings and views hold for every query.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	zone := opts.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	if _, err := time.LoadLocation(zone); err != nil {
		db.Close()
		return nil, fmt.Errorf("duckdb: time zone %q: %w", zone, err)
	}
	// The metadata cache keeps each Parquet file's footer across queries, so a view over a year of
	// files does not reread every footer whenever a query binds it.
	stmts := []string{"SET TimeZone = " + literal(zone), "SET parquet_metadata_cache = true"}
	if opts.Threads > 0 {
		stmts = append(stmts, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	if opts.MemoryLimit != "" {
		stmts = append(stmts, "SET memory_limit = "+literal(opts.MemoryLimit))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb: %s: %w", s, err)
		}
	}
	if _, err := db.Exec("CREATE SCHEMA IF NOT EXISTS " + ident(cat.Database())); err != nil {
		db.Close()
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return &Engine{root: root, cat: cat, db: db, views: map[string]viewState{},
		queries: map[string]*atypes.QueryExecution{}, tokens: map[string]string{}}, nil
}

// Close closes DuckDB.
func (e *Engine) Close() error { return e.db.Close() }

// ctasRE matches ctas.Statement's CTAS.
var ctasRE = regexp.MustCompile(`(?s)^\s*CREATE TABLE "([a-z0-9_]+)"\."([a-z0-9_]+)"\s*WITH \((.*?)\)\s*AS\s*(.*)$`)

// propRE matches one WITH property, key = 'value'.
var propRE = regexp.MustCompile(`(\w+)\s*=\s*'((?:[^']|'')*)'`)

// StartQueryExecution runs the query to its end. A CTAS writes and registers its table; any other
// statement runs and its result is discarded (use Query for rows).
func (e *Engine) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, _ ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tok := aws.ToString(in.ClientRequestToken); tok != "" {
		if id, ok := e.tokens[tok]; ok {
			return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String(id)}, nil
		}
	}
	id := newID()
	q := &atypes.QueryExecution{
		QueryExecutionId: aws.String(id),
		Query:            in.QueryString,
		WorkGroup:        in.WorkGroup,
		Status: &atypes.QueryExecutionStatus{State: atypes.QueryExecutionStateRunning,
			SubmissionDateTime: aws.Time(time.Now())},
	}
	e.queries[id] = q
	if tok := aws.ToString(in.ClientRequestToken); tok != "" {
		e.tokens[tok] = id
	}
	start := time.Now()
	err := e.run(ctx, aws.ToString(in.QueryString))
	end := time.Now()
	q.Status.CompletionDateTime = aws.Time(end)
	q.Statistics = &atypes.QueryExecutionStatistics{
		EngineExecutionTimeInMillis: aws.Int64(end.Sub(start).Milliseconds()),
		TotalExecutionTimeInMillis:  aws.Int64(end.Sub(start).Milliseconds()),
	}
	if err != nil {
		q.Status.State = atypes.QueryExecutionStateFailed
		q.Status.StateChangeReason = aws.String(err.Error())
		q.Status.AthenaError = &atypes.AthenaError{ErrorCategory: aws.Int32(2), ErrorType: aws.Int32(1000),
			ErrorMessage: aws.String(err.Error()), Retryable: false}
	} else {
		q.Status.State = atypes.QueryExecutionStateSucceeded
	}
	return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String(id)}, nil
}

// GetQueryExecution returns a query's state and statistics.
func (e *Engine) GetQueryExecution(_ context.Context, in *athena.GetQueryExecutionInput, _ ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, ok := e.queries[aws.ToString(in.QueryExecutionId)]
	if !ok {
		return nil, &atypes.InvalidRequestException{Message: aws.String("QueryExecution " + aws.ToString(in.QueryExecutionId) + " was not found")}
	}
	c := *q
	st := *q.Status
	c.Status = &st
	return &athena.GetQueryExecutionOutput{QueryExecution: &c}, nil
}

// StopQueryExecution is accepted and does nothing: every query has ended when it was started.
func (e *Engine) StopQueryExecution(_ context.Context, in *athena.StopQueryExecutionInput, _ ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.queries[aws.ToString(in.QueryExecutionId)]; !ok {
		return nil, &atypes.InvalidRequestException{Message: aws.String("QueryExecution " + aws.ToString(in.QueryExecutionId) + " was not found")}
	}
	return &athena.StopQueryExecutionOutput{}, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// run executes one statement (e.mu is held). It does not measure the bytes a query scans.
func (e *Engine) run(ctx context.Context, query string) error {
	if err := e.refresh(ctx); err != nil {
		return err
	}
	m := ctasRE.FindStringSubmatch(query)
	if m == nil {
		_, err := e.db.ExecContext(ctx, query)
		return err
	}
	database, table, with, selectSQL := m[1], m[2], m[3], strings.TrimRight(strings.TrimSpace(m[4]), ";")
	props := map[string]string{}
	for _, p := range propRE.FindAllStringSubmatch(with, -1) {
		props[strings.ToLower(p[1])] = strings.ReplaceAll(p[2], "''", "'")
	}
	if database != e.cat.Database() {
		return fmt.Errorf("SCHEMA_NOT_FOUND: database %q does not exist (the local catalog is %q)", database, e.cat.Database())
	}
	if f := strings.ToLower(props["format"]); f != "parquet" {
		return fmt.Errorf("NOT_SUPPORTED: the local engine writes format = 'PARQUET' only, not %q", props["format"])
	}
	location := props["external_location"]
	dir, err := e.path(location)
	if err != nil {
		return err
	}
	if _, err := e.cat.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(database), Name: aws.String(table)}); err == nil {
		return fmt.Errorf("TABLE_ALREADY_EXISTS: table %s.%s already exists", database, table)
	}
	if files, err := os.ReadDir(dir); err == nil && len(files) > 0 {
		return fmt.Errorf("HIVE_PATH_ALREADY_EXISTS: target directory for table '%s.%s' already exists: %s", database, table, location)
	}
	cols, err := e.describe(ctx, selectSQL)
	if err != nil {
		return err
	}
	casts := make([]string, len(cols))
	gcols := make([]gtypes.Column, len(cols))
	for i, c := range cols {
		hive, duckType, err := outputType(c.typ)
		if err != nil {
			return fmt.Errorf("column %q: %w", c.name, err)
		}
		casts[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", ident(c.name), duckType, ident(c.name))
		gcols[i] = gtypes.Column{Name: aws.String(c.name), Type: aws.String(hive)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Written under a hidden name, then renamed: a reader never sees a half-written file.
	final := filepath.Join(dir, newID()+".parquet")
	tmp := filepath.Join(dir, "."+filepath.Base(final)+".tmp")
	copySQL := fmt.Sprintf("COPY (SELECT %s FROM (%s)) TO %s (FORMAT parquet, COMPRESSION zstd)",
		strings.Join(casts, ", "), selectSQL, literal(tmp))
	if _, err := e.db.ExecContext(ctx, copySQL); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	_, err = e.cat.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(database), TableInput: &gtypes.TableInput{
		Name:       aws.String(table),
		TableType:  aws.String("EXTERNAL_TABLE"),
		Parameters: map[string]string{"classification": "parquet", "EXTERNAL": "TRUE", "has_encrypted_data": "true"},
		StorageDescriptor: &gtypes.StorageDescriptor{
			Location: aws.String(location), Columns: gcols,
			InputFormat:  aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
			OutputFormat: aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
			SerdeInfo:    &gtypes.SerDeInfo{SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")},
		},
	}})
	if err != nil {
		return fmt.Errorf("register table %s.%s: %w", database, table, err)
	}
	return nil
}

type outCol struct{ name, typ string }

// describe returns the output columns of a SELECT.
func (e *Engine) describe(ctx context.Context, selectSQL string) ([]outCol, error) {
	rows, err := e.db.QueryContext(ctx, "DESCRIBE "+selectSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []outCol
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, outCol{name: fmt.Sprint(vals[0]), typ: fmt.Sprint(vals[1])})
	}
	return out, rows.Err()
}

var decimalRE = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// outputType maps a DuckDB result type to the Hive type that Athena's CTAS registers, and the
// DuckDB type written to Parquet for it. DuckDB's HUGEINT (its sum of integers) is written as
// bigint, Athena's type for the same sum.
func outputType(duck string) (hive, duckType string, err error) {
	switch t := strings.ToUpper(duck); t {
	case "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER":
		return "bigint", "BIGINT", nil
	case "INTEGER", "USMALLINT":
		return "int", "INTEGER", nil
	case "SMALLINT", "UTINYINT":
		return "smallint", "SMALLINT", nil
	case "TINYINT":
		return "tinyint", "TINYINT", nil
	case "DOUBLE":
		return "double", "DOUBLE", nil
	case "FLOAT":
		return "float", "FLOAT", nil
	case "BOOLEAN":
		return "boolean", "BOOLEAN", nil
	case "VARCHAR":
		return "string", "VARCHAR", nil
	case "DATE":
		return "date", "DATE", nil
	case "TIMESTAMP WITH TIME ZONE":
		return "timestamp", "TIMESTAMPTZ", nil
	case "TIMESTAMP", "TIMESTAMP_MS":
		return "timestamp", "TIMESTAMP", nil
	case "BLOB":
		return "binary", "BLOB", nil
	default:
		if m := decimalRE.FindStringSubmatch(t); m != nil {
			return "decimal(" + m[1] + "," + m[2] + ")", t, nil
		}
		return "", "", fmt.Errorf("NOT_SUPPORTED: the type %s has no Hive equivalent in a CTAS; cast it in the KPI's SELECT", duck)
	}
}

// inputType maps a catalog (Hive) type to the DuckDB type a table's column is read as. Parquet
// timestamps are instants (isAdjustedToUTC), which DuckDB reads as TIMESTAMP WITH TIME ZONE.
func inputType(hive string) (string, error) {
	switch t := strings.ToLower(strings.TrimSpace(hive)); {
	case t == "string" || strings.HasPrefix(t, "varchar") || strings.HasPrefix(t, "char"):
		return "VARCHAR", nil
	case t == "bigint":
		return "BIGINT", nil
	case t == "int" || t == "integer":
		return "INTEGER", nil
	case t == "smallint":
		return "SMALLINT", nil
	case t == "tinyint":
		return "TINYINT", nil
	case t == "double":
		return "DOUBLE", nil
	case t == "float":
		return "FLOAT", nil
	case t == "boolean":
		return "BOOLEAN", nil
	case t == "date":
		return "DATE", nil
	case t == "timestamp":
		return "TIMESTAMPTZ", nil
	case t == "binary":
		return "BLOB", nil
	case strings.HasPrefix(t, "decimal("):
		return strings.ToUpper(t), nil
	}
	return "", fmt.Errorf("the catalog type %q is not read by the local engine", hive)
}

// path maps s3://bucket/key to root/bucket/key.
func (e *Engine) path(location string) (string, error) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok || rest == "" || strings.Contains(rest, "..") {
		return "", fmt.Errorf("location %q is not an s3://bucket/prefix/ of the local lake", location)
	}
	return filepath.Join(e.root, filepath.FromSlash(rest)), nil
}

func ident(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Rows is a query's result: its column names and its rows, each value as database/sql scans it
// from DuckDB (nil for NULL).
type Rows struct {
	Columns []string
	Values  [][]any
}

// Query runs a SELECT over the catalog's tables and returns its rows.
func (e *Engine) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refresh(ctx); err != nil {
		return nil, err
	}
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &Rows{}
	if out.Columns, err = rows.Columns(); err != nil {
		return nil, err
	}
	for rows.Next() {
		vals := make([]any, len(out.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out.Values = append(out.Values, vals)
	}
	return out, rows.Err()
}
