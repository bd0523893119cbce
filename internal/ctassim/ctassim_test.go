package ctassim_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kpilake/kpilake/internal/ctassim"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
)

const runID = "20261125T050615123Z-1f2e3d4c"

func statement(kpi, date string) string {
	d, err := layout.ParseDay(date)
	if err != nil {
		panic(err)
	}
	return ctas.Statement("kpilake_dev", ctas.TempTableName(kpi, d, runID),
		"s3://aggregated-bucket/"+layout.KPIRunPrefix(kpi, d, runID), "SELECT 1 AS x\nFROM t")
}

func TestParse_ReadsTheRunnersStatement(t *testing.T) {
	got, ok := ctassim.Parse(statement("engagement_score", "2026-11-24"))
	if !ok {
		t.Fatal("the runner's statement is not recognised")
	}
	want := ctassim.CTAS{
		Database: "kpilake_dev", Table: "tmp_ctas_engagement_score_20261124_20261125t050615123z_1f2e3d4c",
		Bucket: "aggregated-bucket", Prefix: "engagement_score/dt=2026-11-24/run=" + runID + "/",
		KPI: "engagement_score", Date: "2026-11-24",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	for _, q := range []string{"SELECT 1", "CREATE TABLE x AS SELECT 1", ""} {
		if _, ok := ctassim.Parse(q); ok {
			t.Errorf("Parse(%q) recognised a CTAS", q)
		}
	}
}

// fakes record the calls the simulator makes.
type fakes struct {
	mu      sync.Mutex
	tables  []*glue.CreateTableInput
	objects []string
	started int
	state   atypes.QueryExecutionState
	// createErr is CreateTable's answer, after recording the call.
	createErr error
}

func (f *fakes) StartQueryExecution(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String("q-1")}, nil
}

func (f *fakes) GetQueryExecution(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	return &athena.GetQueryExecutionOutput{QueryExecution: &atypes.QueryExecution{
		Status:     &atypes.QueryExecutionStatus{State: f.state},
		Statistics: &atypes.QueryExecutionStatistics{DataScannedInBytes: aws.Int64(0)},
	}}, nil
}

func (f *fakes) StopQueryExecution(context.Context, *athena.StopQueryExecutionInput, ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error) {
	return &athena.StopQueryExecutionOutput{}, nil
}

func (f *fakes) CreateTable(_ context.Context, in *glue.CreateTableInput, _ ...func(*glue.Options)) (*glue.CreateTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables = append(f.tables, in)
	if f.createErr != nil {
		return nil, f.createErr
	}
	return &glue.CreateTableOutput{}, nil
}

func (f *fakes) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects = append(f.objects, aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key))
	return &s3.PutObjectOutput{}, nil
}

func TestAthena_RegistersTheTableAndWritesTheOutputWithTheKPIsColumns(t *testing.T) {
	f := &fakes{}
	sim := &ctassim.Athena{Client: f, Glue: f, S3: f,
		Columns:    ctassim.Columns("department string", "users bigint"),
		KPIColumns: map[string][]gtypes.Column{"engagement_score": ctassim.Columns("department_id bigint", "engagement_score double")}}
	ctx := context.Background()
	for _, kpi := range []string{"engagement_score", "department_activity"} {
		if _, err := sim.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String(statement(kpi, "2026-11-24"))}); err != nil {
			t.Fatal(err)
		}
	}
	sim.SetKPIColumns("department_activity", ctassim.Columns("posts bigint"))
	if _, err := sim.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String(statement("department_activity", "2026-11-25"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1")}); err == nil ||
		!strings.Contains(err.Error(), "not a CTAS") {
		t.Errorf("a plain SELECT was started: %v", err)
	}

	if f.started != 3 || len(f.tables) != 3 {
		t.Fatalf("%d queries started, %d tables registered; want 3 and 3", f.started, len(f.tables))
	}
	for i, want := range [][]gtypes.Column{
		ctassim.Columns("department_id bigint", "engagement_score double"),
		ctassim.Columns("department string", "users bigint"),
		ctassim.Columns("posts bigint"),
	} {
		in := f.tables[i]
		if diff := cmp.Diff(want, in.TableInput.StorageDescriptor.Columns, cmpopts.IgnoreUnexported(gtypes.Column{})); diff != "" {
			t.Errorf("table %d columns (-want +got):\n%s", i, diff)
		}
		if aws.ToString(in.DatabaseName) != "kpilake_dev" || !strings.HasPrefix(aws.ToString(in.TableInput.Name), "tmp_ctas_") {
			t.Errorf("table %d registered as %s.%s", i, aws.ToString(in.DatabaseName), aws.ToString(in.TableInput.Name))
		}
	}
	if want := "aggregated-bucket/engagement_score/dt=2026-11-24/run=" + runID + "/" + ctassim.OutputObject; f.objects[0] != want {
		t.Errorf("output written to %s, want %s", f.objects[0], want)
	}
}

func TestAthena_ReportsStatisticsOnceTheQuerySucceeded(t *testing.T) {
	stats := &atypes.QueryExecutionStatistics{DataScannedInBytes: aws.Int64(4096), EngineExecutionTimeInMillis: aws.Int64(1500)}
	for _, tc := range []struct {
		state atypes.QueryExecutionState
		bytes int64
	}{
		{atypes.QueryExecutionStateRunning, 0},
		{atypes.QueryExecutionStateSucceeded, 4096},
	} {
		sim := &ctassim.Athena{Client: &fakes{state: tc.state}, Statistics: stats}
		out, err := sim.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String("q-1")})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToInt64(out.QueryExecution.Statistics.DataScannedInBytes); got != tc.bytes {
			t.Errorf("%s: %d bytes scanned, want %d", tc.state, got, tc.bytes)
		}
		if out.QueryExecution.Statistics == stats {
			t.Errorf("%s: the caller got the simulator's own statistics to modify", tc.state)
		}
	}
}

func TestAthena_StartsTheQueryWhenARetriedRegistrationFindsItsTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		started int
	}{
		{"already exists", &gtypes.AlreadyExistsException{Message: aws.String("Table already exists.")}, 1},
		{"other error", &gtypes.InternalServiceException{Message: aws.String("boom")}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakes{createErr: tc.err}
			sim := &ctassim.Athena{Client: f, Glue: f, S3: f, Columns: ctassim.Columns("x bigint")}
			_, err := sim.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{
				QueryString: aws.String(statement("engagement_score", "2026-11-24"))})
			if (err == nil) != (tc.started == 1) || f.started != tc.started {
				t.Errorf("error %v, %d queries started; want %d", err, f.started, tc.started)
			}
		})
	}
}

func TestAthena_BatchGetQueryExecutionAnswersEachQueryAsGetDoes(t *testing.T) {
	sim := &ctassim.Athena{Client: &fakes{state: atypes.QueryExecutionStateRunning}}
	out, err := sim.BatchGetQueryExecution(context.Background(), &athena.BatchGetQueryExecutionInput{QueryExecutionIds: []string{"q-1", "q-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.QueryExecutions) != 2 || len(out.UnprocessedQueryExecutionIds) != 0 {
		t.Fatalf("answered %d queries, %d unprocessed; want 2 and 0", len(out.QueryExecutions), len(out.UnprocessedQueryExecutionIds))
	}
	for _, q := range out.QueryExecutions {
		if q.Status.State != atypes.QueryExecutionStateRunning {
			t.Errorf("state %s, want RUNNING as GetQueryExecution answers", q.Status.State)
		}
	}
	if _, err := sim.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{}); err == nil {
		t.Error("ListQueryExecutions over a client that cannot list succeeded")
	}
}
