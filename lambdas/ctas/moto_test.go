package ctas

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/kpilake/kpilake/internal/ctassim"
	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/layout"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

const testKPI = "daily_active_users"

var testDay, _ = layout.ParseDay("2026-11-24")

// lake is one test's slice of the moto server: its own Glue database and aggregated bucket, so
// tests can share the server and run in parallel.
type lake struct {
	db, bucket string
	athena     *athena.Client
	glue       *glue.Client
	s3         *s3.Client
	sim        *ctasSim
	wg         string // the lake's own workgroup, once created (workgroup)
	wgOnce     sync.Once
}

var (
	lakeSeq      atomic.Int64
	motoSettings sync.Once
)

func newLake(t *testing.T) *lake {
	t.Helper()
	m := testsvc.MotoServer(t)
	motoSettings.Do(func() {
		// Queries go QUEUED -> RUNNING -> SUCCEEDED one GetQueryExecution at a time, so the runner polls.
		if err := m.SetTransition("athena::execution", `{"progression":"manual","times":1}`); err != nil {
			t.Fatal(err)
		}
	})
	cfg := m.AWSConfig()
	n := lakeSeq.Add(1)
	l := &lake{
		db:     fmt.Sprintf("lake_%d", n),
		bucket: fmt.Sprintf("aggregated-%d", n),
		athena: athena.NewFromConfig(cfg),
		glue:   glue.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, testsvc.S3PathStyle),
	}
	ctx := context.Background()
	// The names are this process's own, so "already exists" can only answer the SDK's retry of a
	// create that moto, busy with parallel tests, completed but answered too late.
	if _, err := l.glue.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gtypes.DatabaseInput{Name: aws.String(l.db)}}); err != nil && !hasCode(err, "AlreadyExistsException") {
		t.Fatal(err)
	}
	if _, err := l.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(l.bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region)}}); err != nil && !hasCode(err, "BucketAlreadyOwnedByYou") {
		t.Fatal(err)
	}
	l.sim = &ctasSim{Athena: &ctassim.Athena{Client: l.athena, Glue: l.glue, S3: l.s3, Columns: cols("department string", "users bigint")}}
	return l
}

// runner returns a Runner over the lake, with a simulated CTAS under faults (nil: none).
func (l *lake) runner(t *testing.T, a athenaAPI, g glueAPI, tweak func(*Config)) *Runner {
	t.Helper()
	if a == nil {
		a = l.sim
	}
	if g == nil {
		g = l.glue
	}
	cfg := Config{
		Database: l.db, Workgroup: "primary", AggregatedBucket: l.bucket,
		PollInitial: 5 * time.Millisecond, PollMax: 20 * time.Millisecond,
		RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(a, g, l.s3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func request() Request {
	return Request{KPI: testKPI, Date: testDay,
		Select: "SELECT department, count(DISTINCT user_id) AS users\nFROM raw.app_logs_access\nWHERE dt = '2026-11-24'\nGROUP BY department"}
}

// partition returns the location of the KPI table's partition for testDay, or "" if there is none.
func (l *lake) partition(t *testing.T) string {
	t.Helper()
	out, err := l.glue.GetPartition(context.Background(), &glue.GetPartitionInput{DatabaseName: aws.String(l.db),
		TableName: aws.String(layout.KPITableName(testKPI)), PartitionValues: []string{testDay.String()}})
	if hasCode(err, "EntityNotFoundException") {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Partition.StorageDescriptor.Location)
}

func (l *lake) partitionCount(t *testing.T) int {
	t.Helper()
	out, err := l.glue.GetPartitions(context.Background(), &glue.GetPartitionsInput{DatabaseName: aws.String(l.db),
		TableName: aws.String(layout.KPITableName(testKPI))})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Partitions)
}

// tables lists the database's tables.
func (l *lake) tables(t *testing.T) []string {
	t.Helper()
	out, err := l.glue.GetTables(context.Background(), &glue.GetTablesInput{DatabaseName: aws.String(l.db)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range out.TableList {
		names = append(names, aws.ToString(tb.Name))
	}
	sort.Strings(names)
	return names
}

// keys lists the objects of the KPI's day.
func (l *lake) keys(t *testing.T) []string {
	t.Helper()
	out, err := l.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket),
		Prefix: aws.String(layout.KPIPrefix(testKPI) + testDay.Partition() + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	return keys
}

func (l *lake) put(t *testing.T, key string) {
	t.Helper()
	if _, err := l.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(key),
		Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
}

// cols returns catalog columns from "name type" specs.
func cols(specs ...string) []gtypes.Column { return ctassim.Columns(specs...) }

// ctasSim is the shared CTAS stand-in (moto's Athena does not run SQL), recording the statements
// that reach it.
type ctasSim struct {
	*ctassim.Athena
	mu      sync.Mutex
	queries []string
}

func (s *ctasSim) setColumns(c []gtypes.Column) { s.SetColumns(c) }

func (s *ctasSim) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	s.mu.Lock()
	s.queries = append(s.queries, aws.ToString(in.QueryString))
	s.mu.Unlock()
	return s.Athena.StartQueryExecution(ctx, in, opts...)
}

// faultyAthena injects the answers moto cannot give: throttling, FAILED queries, queries that never end.
type faultyAthena struct {
	athenaAPI
	mu             sync.Mutex
	startThrottles int                          // StartQueryExecution answers TooManyRequestsException this many times
	getThrottles   int                          // GetQueryExecution answers ThrottlingException this many times
	status         *atypes.QueryExecutionStatus // if set, GetQueryExecution answers it instead of moto's
	starts, gets   int
	stopped        []string
}

func (f *faultyAthena) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	f.mu.Lock()
	f.starts++
	throttle := f.starts <= f.startThrottles
	f.mu.Unlock()
	if throttle {
		return nil, &atypes.TooManyRequestsException{Message: aws.String("Rate exceeded"), Reason: atypes.ThrottleReasonConcurrentQueryLimitExceeded}
	}
	return f.athenaAPI.StartQueryExecution(ctx, in, opts...)
}

func (f *faultyAthena) GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, opts ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	f.mu.Lock()
	f.gets++
	throttle, status := f.gets <= f.getThrottles, f.status
	f.mu.Unlock()
	if throttle {
		return nil, &apiError{code: "ThrottlingException"}
	}
	out, err := f.athenaAPI.GetQueryExecution(ctx, in, opts...)
	if err != nil || status == nil {
		return out, err
	}
	out.QueryExecution.Status = status
	return out, nil
}

func (f *faultyAthena) StopQueryExecution(ctx context.Context, in *athena.StopQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error) {
	f.mu.Lock()
	f.stopped = append(f.stopped, aws.ToString(in.QueryExecutionId))
	f.mu.Unlock()
	return f.athenaAPI.StopQueryExecution(ctx, in, opts...)
}

// faultyGlue answers ConcurrentModificationException to the first partition updates or creates.
type faultyGlue struct {
	glueAPI
	mu        sync.Mutex
	conflicts int
}

func (f *faultyGlue) conflict() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conflicts > 0 {
		f.conflicts--
		return &gtypes.ConcurrentModificationException{Message: aws.String("partition changed")}
	}
	return nil
}

func (f *faultyGlue) CreatePartition(ctx context.Context, in *glue.CreatePartitionInput, opts ...func(*glue.Options)) (*glue.CreatePartitionOutput, error) {
	if err := f.conflict(); err != nil {
		return nil, err
	}
	return f.glueAPI.CreatePartition(ctx, in, opts...)
}

func (f *faultyGlue) UpdatePartition(ctx context.Context, in *glue.UpdatePartitionInput, opts ...func(*glue.Options)) (*glue.UpdatePartitionOutput, error) {
	if err := f.conflict(); err != nil {
		return nil, err
	}
	return f.glueAPI.UpdatePartition(ctx, in, opts...)
}

// apiError is a service error with only a code, as the SDK returns for codes it has no type for.
type apiError struct{ code string }

func (e *apiError) Error() string                 { return "api error " + e.code }
func (e *apiError) ErrorCode() string             { return e.code }
func (e *apiError) ErrorMessage() string          { return e.code }
func (e *apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

var _ smithy.APIError = (*apiError)(nil)

// location is where res's run wrote, as the partition should point.
func (l *lake) location(res Result) string {
	return "s3://" + l.bucket + "/" + layout.KPIRunPrefix(testKPI, testDay, res.RunID)
}

// nopS3 is an empty bucket, for tests that never reach the cleanup.
type nopS3 struct{}

func (nopS3) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return &s3.ListObjectsV2Output{}, nil
}

func (nopS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return &s3.PutObjectOutput{}, nil
}

func (nopS3) DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	return &s3.DeleteObjectsOutput{}, nil
}

func mustRun(t *testing.T, r *Runner, ctx context.Context) Result {
	t.Helper()
	res, err := r.Run(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	return res
}
