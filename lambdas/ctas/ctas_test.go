package ctas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kpilake/kpilake/internal/ctassim"
	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/layout"
)

func TestStatement_WritesParquetZstdIntoTheRunPrefix(t *testing.T) {
	runID := "20261125T050615123Z-1f2e3d4c"
	tmp := TempTableName(testKPI, testDay, runID)
	loc := "s3://kpilake-prod-aggregated/" + layout.KPIRunPrefix(testKPI, testDay, runID)
	got := Statement("kpilake_prod", tmp, loc, "SELECT 1 AS x")
	want := `CREATE TABLE "kpilake_prod"."tmp_ctas_daily_active_users_20261124_20261125t050615123z_1f2e3d4c"
WITH (format = 'PARQUET', write_compression = 'ZSTD', external_location = 's3://kpilake-prod-aggregated/daily_active_users/dt=2026-11-24/run=20261125T050615123Z-1f2e3d4c/')
AS
SELECT 1 AS x`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statement (-want +got):\n%s", diff)
	}
}

func TestTempTableName_IsAnIdentifierForEveryRunID(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 5, 6, 15, 123e6, time.UTC)
	for _, id := range []string{layout.NewRunID(t0), layout.NewRunID(t0.Add(time.Millisecond))} {
		if tmp := TempTableName(testKPI, testDay, id); !identRE.MatchString(tmp) {
			t.Errorf("temporary table %q is not an identifier", tmp)
		}
	}
}

func TestRunner_SendsTheEncryptedResultConfigurationWithTheQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		location, key string
		want          *atypes.ResultConfiguration
	}{
		{name: "configured", location: "s3://query-results-1/athena/", key: "arn:aws:kms:ap-northeast-1:123456789012:key/k-1",
			want: &atypes.ResultConfiguration{OutputLocation: aws.String("s3://query-results-1/athena/"),
				EncryptionConfiguration: &atypes.EncryptionConfiguration{EncryptionOption: atypes.EncryptionOptionSseKms,
					KmsKey: aws.String("arn:aws:kms:ap-northeast-1:123456789012:key/k-1")}}},
		{name: "left to the workgroup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLake(t)
			r := l.runner(t, nil, nil, func(c *Config) { c.ResultLocation, c.ResultKMSKey = tc.location, tc.key })
			res := mustRun(t, r, context.Background())
			// moto keeps the result configuration a query was started with.
			out, err := l.athena.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(res.QueryID)})
			if err != nil {
				t.Fatal(err)
			}
			got := out.QueryExecution.ResultConfiguration
			if got != nil && got.OutputLocation == nil && got.EncryptionConfiguration == nil {
				got = nil
			}
			// Athena (and moto) answer with the query's own file under the location.
			if got != nil && tc.location != "" && strings.HasPrefix(aws.ToString(got.OutputLocation), tc.location+res.QueryID) {
				got.OutputLocation = aws.String(tc.location)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(atypes.ResultConfiguration{}, atypes.EncryptionConfiguration{})); diff != "" {
				t.Errorf("result configuration of query %s (-want +got):\n%s", res.QueryID, diff)
			}
		})
	}
}

func TestRun_RejectsInvalidRequestsBeforeCallingAWS(t *testing.T) {
	r, err := New(&faultyAthena{}, &faultyGlue{}, nil, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket"})
	if err == nil {
		t.Fatal("New accepted a nil S3 client")
	}
	r, err = New(&faultyAthena{}, &faultyGlue{}, &nopS3{}, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"KPI not snake_case", Request{KPI: "Daily-Users", Date: testDay, Select: "SELECT 1"}, "not snake_case"},
		{"KPI injection", Request{KPI: `x"; DROP TABLE y; --`, Date: testDay, Select: "SELECT 1"}, "not snake_case"},
		{"no date", Request{KPI: testKPI, Select: "SELECT 1"}, "Date is required"},
		{"empty select", Request{KPI: testKPI, Date: testDay, Select: " ;\n"}, "Select is empty"},
		{"table injection", Request{KPI: testKPI, Date: testDay, Select: "SELECT 1", Table: `t" AS SELECT`}, "not a catalog identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Run(context.Background(), tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// recTracer records the one span of a run.
type recTracer struct {
	mu                sync.Mutex
	name              string
	start, end        map[string]string
	metadata          map[string]any
	err               error
	started, finished int
}

func (r *recTracer) Start(ctx context.Context, name string, ann map[string]string) (context.Context, EndFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.name, r.start, r.started = name, ann, r.started+1
	return ctx, func(ann map[string]string, md map[string]any, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.end, r.metadata, r.err, r.finished = ann, md, err, r.finished+1
	}
}

func TestRunner_FirstRunCreatesTableAndPublishesPartition(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	var logs bytes.Buffer
	tr := &recTracer{}
	r := l.runner(t, nil, nil, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		c.Tracer = tr
	})
	ctx := context.Background()
	res := mustRun(t, r, ctx)

	if got, want := l.partition(t), l.location(res); got != want {
		t.Errorf("partition dt=%s at %q, want %q", testDay, got, want)
	}
	if res.Location != l.location(res) || res.KPI != testKPI || res.Date != testDay.String() || res.QueryID == "" {
		t.Errorf("result %+v", res)
	}
	if got, want := l.tables(t), []string{layout.KPITableName(testKPI)}; !slices.Equal(got, want) {
		t.Errorf("tables %v, want %v (the temporary table dropped)", got, want)
	}
	run := layout.KPIRunPrefix(testKPI, testDay, res.RunID)
	if got, want := l.keys(t), []string{run + ctassim.OutputObject, run + ReadyMarker}; !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v: the run's output kept after the temporary table is dropped, marked ready", got, want)
	}

	out, err := l.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(l.db), Name: aws.String(layout.KPITableName(testKPI))})
	if err != nil {
		t.Fatal(err)
	}
	tb := out.Table
	sd := tb.StorageDescriptor
	if aws.ToString(tb.TableType) != "EXTERNAL_TABLE" ||
		len(tb.PartitionKeys) != 1 || aws.ToString(tb.PartitionKeys[0].Name) != "dt" || aws.ToString(tb.PartitionKeys[0].Type) != "string" ||
		aws.ToString(sd.Location) != "s3://"+l.bucket+"/"+testKPI+"/" ||
		aws.ToString(sd.InputFormat) != parquetInput || aws.ToString(sd.OutputFormat) != parquetOutput ||
		aws.ToString(sd.SerdeInfo.SerializationLibrary) != parquetSerDe {
		t.Errorf("KPI table not an external Parquet table partitioned by dt at the KPI prefix: %+v / %+v", tb, sd)
	}
	if err := compatible("kpi", sd.Columns, cols("department string", "users bigint")); err != nil {
		t.Errorf("KPI table columns: %v", err)
	}

	if q := l.sim.queries; len(q) != 1 || !strings.Contains(q[0], "GROUP BY department") || !strings.Contains(q[0], "external_location = '"+res.Location+"'") {
		t.Errorf("queries sent: %q", q)
	}

	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log is not one JSON line: %v\n%s", err, logs.String())
	}
	for _, k := range []string{"kpi", "date", "query_id", "bytes_scanned", "engine_time_ms", "location", "run_id"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log line lacks %q: %s", k, logs.String())
		}
	}
	if tr.started != 1 || tr.finished != 1 || tr.err != nil ||
		tr.start["kpi"] != testKPI || tr.start["date"] != testDay.String() || tr.end["query_id"] != res.QueryID {
		t.Errorf("span: %+v", tr)
	}
	if _, ok := tr.metadata["bytes_scanned"]; !ok {
		t.Errorf("span metadata lacks bytes_scanned: %v", tr.metadata)
	}
	if _, ok := tr.metadata["engine_time_ms"]; !ok {
		t.Errorf("span metadata lacks engine_time_ms: %v", tr.metadata)
	}
}

func TestRunner_RerunIsIdempotentAndKeepsTheSupersededRunForTheGrace(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	r := l.runner(t, nil, nil, nil)
	// Leftovers of an older, failed run and another day, which must stay.
	stale := layout.KPIRunPrefix(testKPI, testDay, "20200101T000000000Z-00000000") + "part-0.parquet"
	otherDay := layout.KPIRunPrefix(testKPI, testDay.AddDays(-1), "20200101T000000000Z-00000000") + "part-0.parquet"
	l.put(t, stale)
	l.put(t, otherDay)

	first := mustRun(t, r, context.Background())
	second := mustRun(t, r, context.Background())

	if first.RunID == second.RunID {
		t.Fatalf("two runs share the id %q", first.RunID)
	}
	if got, want := l.partition(t), l.location(second); got != want {
		t.Errorf("partition at %q, want the second run's %q", got, want)
	}
	if n := l.partitionCount(t); n != 1 {
		t.Errorf("%d partitions, want 1", n)
	}
	// The crashed run (unready, started long ago) goes at once; the first run stays for readers
	// that planned against it, marked superseded, until the grace period has passed.
	run, prev := layout.KPIRunPrefix(testKPI, testDay, second.RunID), layout.KPIRunPrefix(testKPI, testDay, first.RunID)
	if got, want := l.keys(t), []string{prev + ctassim.OutputObject, prev + ReadyMarker, prev + SupersededMarker,
		run + ctassim.OutputObject, run + ReadyMarker}; !slices.Equal(got, want) {
		t.Errorf("objects of the day %v\nwant %v", got, want)
	}
	r.now = func() time.Time { return time.Now().Add(DefaultSupersededGrace + time.Minute) }
	third := mustRun(t, r, context.Background())
	run = layout.KPIRunPrefix(testKPI, testDay, third.RunID)
	if got, want := l.keys(t), []string{run + ctassim.OutputObject, run + ReadyMarker}; !slices.Equal(got, want) {
		t.Errorf("objects of the day past the grace %v\nwant only the third run's %v", got, want)
	}
	if got, want := l.tables(t), []string{layout.KPITableName(testKPI)}; !slices.Equal(got, want) {
		t.Errorf("tables %v, want %v", got, want)
	}
	out, err := l.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(otherDay)})
	if err != nil || out == nil {
		t.Errorf("another day's object was touched: %v", err)
	}
}

// checkStillServes checks that a failed run left the day as first published it: the partition
// at first's output, and no table but the KPI's (the failed run's temporary table dropped).
func (l *lake) checkStillServes(t *testing.T, first Result) {
	t.Helper()
	if got := l.partition(t); got != l.location(first) {
		t.Errorf("partition moved to %q; want the first run's %q", got, l.location(first))
	}
	if got, want := l.tables(t), []string{layout.KPITableName(testKPI)}; !slices.Equal(got, want) {
		t.Errorf("tables %v, want %v (temporary table dropped)", got, want)
	}
}

func TestRunner_NeverSwitchesBackToAnOlderRun(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	r := l.runner(t, nil, nil, nil)
	first := mustRun(t, r, context.Background())
	// A newer run (say, a duplicate job) published while this one was still running.
	newer := "s3://" + l.bucket + "/" + layout.KPIRunPrefix(testKPI, testDay, "99991231T235959999Z-ffffffff")
	l.put(t, layout.KPIRunPrefix(testKPI, testDay, "99991231T235959999Z-ffffffff")+"part-0.parquet")
	l.put(t, layout.KPIRunPrefix(testKPI, testDay, "99991231T235959999Z-ffffffff")+ReadyMarker)
	in := &glue.GetPartitionInput{DatabaseName: aws.String(l.db), TableName: aws.String(layout.KPITableName(testKPI)),
		PartitionValues: []string{testDay.String()}}
	out, err := l.glue.GetPartition(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sd := *out.Partition.StorageDescriptor
	sd.Location = aws.String(newer)
	if _, err := l.glue.UpdatePartition(context.Background(), &glue.UpdatePartitionInput{DatabaseName: in.DatabaseName,
		TableName: in.TableName, PartitionValueList: in.PartitionValues,
		PartitionInput: &gtypes.PartitionInput{Values: in.PartitionValues, StorageDescriptor: &sd}}); err != nil {
		t.Fatal(err)
	}
	second := mustRun(t, r, context.Background())
	if second.RunID <= first.RunID {
		t.Fatalf("run ids not increasing: %s then %s", first.RunID, second.RunID)
	}
	if got := l.partition(t); got != newer {
		t.Errorf("partition at %q, want it to stay at the newer run's %q", got, newer)
	}
}

func TestRunner_LeavesNewerRunsObjectsAlone(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	r := l.runner(t, nil, nil, nil)
	newer := layout.KPIRunPrefix(testKPI, testDay, "99991231T235959999Z-ffffffff") + "part-0.parquet"
	l.put(t, newer)
	res := mustRun(t, r, context.Background())
	run := layout.KPIRunPrefix(testKPI, testDay, res.RunID)
	if got, want := l.keys(t), []string{run + ctassim.OutputObject, run + ReadyMarker, newer}; !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v: the run's output and the concurrent newer run's", got, want)
	}
	if got := l.partition(t); got != l.location(res) {
		t.Errorf("partition at %q", got)
	}
}

func TestRunner_IncompatibleSchemaFailsAndKeepsPreviousPartition(t *testing.T) {
	for _, tc := range []struct {
		name    string
		columns []string
		want    []string
	}{
		{"extra column", []string{"department string", "users bigint", "sessions bigint"}, []string{"new column sessions bigint"}},
		{"missing column", []string{"department string"}, []string{"missing column users bigint"}},
		{"changed type", []string{"department string", "users double"}, []string{"column users changed type from bigint to double"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			r := l.runner(t, nil, nil, nil)
			first := mustRun(t, r, context.Background())

			l.sim.setColumns(cols(tc.columns...))
			_, err := r.Run(context.Background(), request())
			if !errors.Is(err, ErrIncompatibleSchema) {
				t.Fatalf("error = %v, want ErrIncompatibleSchema", err)
			}
			for _, w := range append(tc.want, "kpi_"+testKPI, "previous run") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			l.checkStillServes(t, first)
			if keys := l.keys(t); !slices.ContainsFunc(keys, func(k string) bool {
				return strings.HasPrefix(k, layout.KPIRunPrefix(testKPI, testDay, first.RunID))
			}) {
				t.Errorf("the served run's objects were deleted: %v", keys)
			}
		})
	}
}

func TestRunner_RetriesThrottlingAndSucceeds(t *testing.T) {
	for _, tc := range []struct {
		name           string
		startThrottles int
		getThrottles   int
		glueConflicts  int
	}{
		{"athena TooManyRequestsException on start", 3, 0, 0},
		{"athena ThrottlingException while polling", 0, 2, 0},
		{"glue ConcurrentModificationException on the partition", 0, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			fa := &faultyAthena{athenaAPI: l.sim, startThrottles: tc.startThrottles, getThrottles: tc.getThrottles}
			fg := &faultyGlue{glueAPI: l.glue, conflicts: tc.glueConflicts}
			r := l.runner(t, fa, fg, nil)
			res := mustRun(t, r, context.Background())
			if got := l.partition(t); got != l.location(res) {
				t.Errorf("partition at %q, want %q", got, l.location(res))
			}
			if fa.starts != tc.startThrottles+1 {
				t.Errorf("%d StartQueryExecution calls, want %d", fa.starts, tc.startThrottles+1)
			}
			if len(l.sim.queries) != 1 {
				t.Errorf("%d queries reached Athena, want 1", len(l.sim.queries))
			}
			if fg.conflicts != 0 {
				t.Errorf("%d conflicts left: not retried", fg.conflicts)
			}
		})
	}
}

func TestRunner_FailsClearlyWhenThrottlingOutlastsRetries(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	fa := &faultyAthena{athenaAPI: l.sim, startThrottles: 100}
	r := l.runner(t, fa, nil, func(c *Config) { c.RetryAttempts = 4 })
	_, err := r.Run(context.Background(), request())
	if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), "TooManyRequestsException") {
		t.Fatalf("error = %v, want ErrThrottled naming TooManyRequestsException", err)
	}
	if fa.starts != 4 {
		t.Errorf("%d attempts, want 4", fa.starts)
	}
	if got := l.partition(t); got != "" {
		t.Errorf("a partition was created at %q", got)
	}
}

func TestRunner_KeepsPreviousPartitionWhenQueryFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		retryable bool
		want, not error
	}{
		{"a failure Athena will repeat", false, ErrQueryFailed, ErrQueryRetryable},
		{"a failure Athena marks retryable", true, ErrQueryRetryable, ErrQueryFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			ctx := context.Background()
			first := mustRun(t, l.runner(t, nil, nil, nil), ctx)

			fa := &faultyAthena{athenaAPI: l.sim, status: &atypes.QueryExecutionStatus{
				State:             atypes.QueryExecutionStateFailed,
				StateChangeReason: aws.String("COLUMN_NOT_FOUND: line 1:8: Column 'user_id' cannot be resolved"),
				AthenaError: &atypes.AthenaError{ErrorCategory: aws.Int32(2), ErrorType: aws.Int32(1006),
					ErrorMessage: aws.String("Column 'user_id' cannot be resolved"), Retryable: tc.retryable},
			}}
			_, err := l.runner(t, fa, nil, nil).Run(ctx, request())
			if !errors.Is(err, tc.want) || errors.Is(err, tc.not) {
				t.Fatalf("error = %v, want %v and not %v", err, tc.want, tc.not)
			}
			for _, w := range []string{"FAILED", "COLUMN_NOT_FOUND", "category 2 type 1006", testKPI, testDay.String()} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			l.checkStillServes(t, first)
			if len(fa.stopped) != 0 {
				t.Errorf("a failed query was stopped: %v", fa.stopped)
			}
		})
	}
}

func TestRunner_StopsQueryNearDeadlineAndKeepsPreviousPartition(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	first := mustRun(t, l.runner(t, nil, nil, nil), context.Background())

	fa := &faultyAthena{athenaAPI: l.sim, status: &atypes.QueryExecutionStatus{State: atypes.QueryExecutionStateRunning}}
	r := l.runner(t, fa, nil, func(c *Config) { c.StopMargin = 1200 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	began := time.Now()
	res, err := r.Run(ctx, request())
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("error = %v, want ErrDeadline", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("Run returned after %s, past the stop margin", took)
	}
	if ctx.Err() != nil {
		t.Errorf("Run returned after the deadline itself")
	}
	if !slices.Equal(fa.stopped, []string{res.QueryID}) {
		t.Errorf("stopped %v, want [%s]", fa.stopped, res.QueryID)
	}
	out, gerr := l.athena.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(res.QueryID)})
	if gerr != nil || out.QueryExecution.Status.State != atypes.QueryExecutionStateCancelled {
		t.Errorf("query not cancelled in Athena: %v %v", gerr, out)
	}
	if got := l.partition(t); got != l.location(first) {
		t.Errorf("partition moved to %q; want the first run's %q", got, l.location(first))
	}
	if got, want := l.tables(t), []string{layout.KPITableName(testKPI)}; !slices.Equal(got, want) {
		t.Errorf("tables %v, want %v (temporary table dropped)", got, want)
	}
}

func TestRunner_DoesNotStartAQueryInsideTheStopMargin(t *testing.T) {
	fa := &faultyAthena{}
	r, err := New(fa, &faultyGlue{}, &nopS3{}, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket", StopMargin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.Run(ctx, request()); !errors.Is(err, ErrDeadline) {
		t.Errorf("error = %v, want ErrDeadline", err)
	}
	if fa.starts != 0 {
		t.Errorf("a query was started %d times", fa.starts)
	}
}

func TestRunner_RefusesAKPITableNotPartitionedByDay(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	if _, err := l.glue.CreateTable(context.Background(), &glue.CreateTableInput{DatabaseName: aws.String(l.db), TableInput: &gtypes.TableInput{
		Name: aws.String(layout.KPITableName(testKPI)), TableType: aws.String("EXTERNAL_TABLE"),
		StorageDescriptor: &gtypes.StorageDescriptor{Columns: cols("department string", "users bigint")},
	}}); err != nil {
		t.Fatal(err)
	}
	_, err := l.runner(t, nil, nil, nil).Run(context.Background(), request())
	if !errors.Is(err, ErrIncompatibleSchema) || !strings.Contains(err.Error(), "not partitioned by dt") {
		t.Fatalf("error = %v, want ErrIncompatibleSchema naming dt", err)
	}
	if got, want := l.tables(t), []string{layout.KPITableName(testKPI)}; !slices.Equal(got, want) {
		t.Errorf("tables %v, want %v (temporary table dropped)", got, want)
	}
}

func TestNewFromConfig_RaisesTheSDKRetryBudget(t *testing.T) {
	r, err := NewFromConfig(aws.Config{Region: testsvc.Region}, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.athena.(*athena.Client).Options().Retryer.MaxAttempts(); got != SDKRetryAttempts {
		t.Errorf("athena retryer makes %d attempts, want %d", got, SDKRetryAttempts)
	}
	if got := r.glue.(*glue.Client).Options().Retryer.MaxAttempts(); got != SDKRetryAttempts {
		t.Errorf("glue retryer makes %d attempts, want %d", got, SDKRetryAttempts)
	}
}
