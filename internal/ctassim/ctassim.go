// Package ctassim stands in, in tests, for the part of Athena CTAS that moto's Athena does not
// do: moto takes a query through QUEUED, RUNNING and SUCCEEDED but runs no SQL, so a CREATE TABLE
// AS neither registers its table nor writes its output. Athena wraps a moto Athena client and does
// both when the CTAS starts, so that lambdas/ctas.Runner (and everything built on it: the aggregate
// handler, the backfill worker) runs unchanged against moto's Glue and S3:
//
//	sim := &ctassim.Athena{Client: athenaClient, Glue: glueClient, S3: s3Client,
//		Columns: ctassim.Columns("department_id bigint", "users bigint")}
//	runner, err := ctas.New(sim, glueClient, s3Client, cfg)
//
// Faults (throttling, FAILED queries, queries that never end) are not its business: wrap it.
package ctassim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/layout"
)

// AthenaAPI is the part of Athena the CTAS runner calls; *athena.Client is one.
type AthenaAPI interface {
	StartQueryExecution(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	GetQueryExecution(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
	StopQueryExecution(context.Context, *athena.StopQueryExecutionInput, ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error)
}

// GlueAPI is what registering a CTAS table takes; *glue.Client is one.
type GlueAPI interface {
	CreateTable(context.Context, *glue.CreateTableInput, ...func(*glue.Options)) (*glue.CreateTableOutput, error)
}

// S3API is what writing a CTAS output takes; *s3.Client is one.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var (
	_ AthenaAPI = (*athena.Client)(nil)
	_ AthenaAPI = (*Athena)(nil)
	_ GlueAPI   = (*glue.Client)(nil)
	_ S3API     = (*s3.Client)(nil)
)

// OutputObject is the name of the one object a simulated CTAS writes under its external_location.
const OutputObject = "20261125_000000_00001_part-0.parquet"

// Athena is an Athena client that simulates CTAS on top of moto's Athena. On StartQueryExecution
// of a CTAS as ctas.Statement renders it, it registers the temporary table in the statement's Glue
// database with the KPI's output columns and writes OutputObject under external_location, as
// Athena would; then it starts the query in moto. Any other statement is refused, so a runner that
// sends something else fails its test.
//
// Set the fields before the first call; change the columns afterwards only with SetColumns and
// SetKPIColumns. It is safe for concurrent use.
type Athena struct {
	// Client is moto's Athena. Required.
	Client AthenaAPI
	// Glue is moto's Glue, where the temporary table is registered. Required.
	Glue GlueAPI
	// S3 is moto's S3, where the output is written. Required.
	S3 S3API
	// Columns are the output columns of a CTAS whose KPI has none in KPIColumns. Required unless
	// KPIColumns names every KPI that runs.
	Columns []gtypes.Column
	// KPIColumns are the output columns of each KPI's CTAS, by KPI name (the first folder of the
	// external_location). Default: none, every KPI has Columns.
	KPIColumns map[string][]gtypes.Column
	// Statistics, if set, replace moto's statistics (all zero) in the answers for a query that
	// SUCCEEDED, as a runner reads bytes scanned and engine time from them. Default: moto's.
	Statistics *atypes.QueryExecutionStatistics

	mu sync.Mutex
}

// SetColumns changes the output columns of every KPI without its own (the Columns field).
func (a *Athena) SetColumns(cols []gtypes.Column) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Columns = cols
}

// SetKPIColumns changes the output columns of one KPI's CTAS.
func (a *Athena) SetKPIColumns(kpi string, cols []gtypes.Column) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.KPIColumns == nil {
		a.KPIColumns = map[string][]gtypes.Column{}
	}
	a.KPIColumns[kpi] = cols
}

func (a *Athena) columns(kpi string) []gtypes.Column {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.KPIColumns[kpi]; ok {
		return c
	}
	return a.Columns
}

// CTAS is what a CTAS statement of the runner says.
type CTAS struct {
	// Database and Table name the temporary table.
	Database, Table string
	// Bucket and Prefix are the external_location; Prefix ends with "/".
	Bucket, Prefix string
	// KPI and Date are the run's, read from the external_location
	// (layout.KPIRunPrefix: <kpi>/dt=<date>/run=<id>/).
	KPI, Date string
}

var (
	ctasRE     = regexp.MustCompile(`^CREATE TABLE "([a-z0-9_]+)"\."([a-z0-9_]+)"\nWITH \(.*external_location = 's3://([^/']+)/([^']+/)'\)\nAS\n`)
	locationRE = regexp.MustCompile(`^([a-z][a-z0-9_]*)/` + regexp.QuoteMeta(layout.PartitionKey) + `=([0-9]{4}-[0-9]{2}-[0-9]{2})/` +
		regexp.QuoteMeta(layout.RunKey) + `=[^/]+/$`)
)

// Parse reads a CTAS statement as ctas.Statement renders it; ok is false for anything else.
func Parse(query string) (c CTAS, ok bool) {
	m := ctasRE.FindStringSubmatch(query)
	if m == nil {
		return CTAS{}, false
	}
	c = CTAS{Database: m[1], Table: m[2], Bucket: m[3], Prefix: m[4]}
	if l := locationRE.FindStringSubmatch(c.Prefix); l != nil {
		c.KPI, c.Date = l[1], l[2]
	}
	return c, true
}

// StartQueryExecution registers the CTAS's table, writes its output and starts it in moto.
func (a *Athena) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	q := aws.ToString(in.QueryString)
	c, ok := Parse(q)
	if !ok {
		return nil, fmt.Errorf("ctassim: not a CTAS the runner would send:\n%s", q)
	}
	_, err := a.Glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(c.Database), TableInput: &gtypes.TableInput{
		Name: aws.String(c.Table), TableType: aws.String("EXTERNAL_TABLE"),
		StorageDescriptor: &gtypes.StorageDescriptor{Columns: a.columns(c.KPI), Location: aws.String("s3://" + c.Bucket + "/" + c.Prefix)},
	}})
	// Every run has its own temporary table, so a table found is this statement's own, created by
	// an attempt that the SDK retried (a loaded moto server has failed such a CreateTable once, in
	// a parallel run of the ctas tests). Athena would not fail the query for it.
	var exists *gtypes.AlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return nil, fmt.Errorf("ctassim: register %s: %w", c.Table, err)
	}
	if _, err := a.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(c.Prefix + OutputObject),
		Body: bytes.NewReader([]byte("PAR1"))}); err != nil {
		return nil, fmt.Errorf("ctassim: write output: %w", err)
	}
	return a.Client.StartQueryExecution(ctx, in, opts...)
}

// GetQueryExecution answers moto's state of the query, with Statistics once it has succeeded.
func (a *Athena) GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, opts ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	out, err := a.Client.GetQueryExecution(ctx, in, opts...)
	if err != nil || a.Statistics == nil || out.QueryExecution == nil || out.QueryExecution.Status == nil ||
		out.QueryExecution.Status.State != atypes.QueryExecutionStateSucceeded {
		return out, err
	}
	stats := *a.Statistics
	out.QueryExecution.Statistics = &stats
	return out, nil
}

// StopQueryExecution stops the query in moto.
func (a *Athena) StopQueryExecution(ctx context.Context, in *athena.StopQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error) {
	return a.Client.StopQueryExecution(ctx, in, opts...)
}

// ListQueryExecutions lists the workgroup's queries in moto.
func (a *Athena) ListQueryExecutions(ctx context.Context, in *athena.ListQueryExecutionsInput, opts ...func(*athena.Options)) (*athena.ListQueryExecutionsOutput, error) {
	l, ok := a.Client.(queryLister)
	if !ok {
		return nil, errors.New("ctassim: Client cannot list query executions")
	}
	return l.ListQueryExecutions(ctx, in, opts...)
}

// BatchGetQueryExecution answers each query as GetQueryExecution does (moto has no
// BatchGetQueryExecution); an unknown id is an UnprocessedQueryExecutionId.
func (a *Athena) BatchGetQueryExecution(ctx context.Context, in *athena.BatchGetQueryExecutionInput, opts ...func(*athena.Options)) (*athena.BatchGetQueryExecutionOutput, error) {
	out := &athena.BatchGetQueryExecutionOutput{}
	for _, id := range in.QueryExecutionIds {
		q, err := a.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)}, opts...)
		if err != nil || q.QueryExecution == nil {
			out.UnprocessedQueryExecutionIds = append(out.UnprocessedQueryExecutionIds, atypes.UnprocessedQueryExecutionId{QueryExecutionId: aws.String(id)})
			continue
		}
		out.QueryExecutions = append(out.QueryExecutions, *q.QueryExecution)
	}
	return out, nil
}

// queryLister is the listing a sweep needs of moto's Athena; *athena.Client is one.
type queryLister interface {
	ListQueryExecutions(context.Context, *athena.ListQueryExecutionsInput, ...func(*athena.Options)) (*athena.ListQueryExecutionsOutput, error)
}

var _ queryLister = (*athena.Client)(nil)

// Columns returns catalog columns from "name type" specs, such as Columns("department string",
// "users bigint").
func Columns(specs ...string) []gtypes.Column {
	out := make([]gtypes.Column, len(specs))
	for i, s := range specs {
		name, typ, _ := strings.Cut(s, " ")
		out[i] = gtypes.Column{Name: aws.String(name), Type: aws.String(typ)}
	}
	return out
}
