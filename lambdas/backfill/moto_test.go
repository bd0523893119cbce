package backfill_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kpilake/kpilake/internal/ctassim"
	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// TestMain runs the moto-backed tests, which wait far more than they compute (on moto's answers,
// and on the visibility timeouts, leases and retry delays they test), minParallel at a time.
func TestMain(m *testing.M) {
	testsvc.SetParallel(minParallel)
	testsvc.Main(m)
}

// minParallel is the least -parallel the package's tests run with unless it is given.
const minParallel = 8

// kpiColumns are the output columns of each KPI of the embedded catalog (queries/*.sql), as Athena
// would register them for its CTAS.
var kpiColumns = map[string][]gtypes.Column{
	"active_users_by_department": ctassim.Columns("department_id bigint", "active_users bigint"),
	"department_activity": ctassim.Columns("department_id bigint", "posts bigint", "comments bigint",
		"reactions bigint", "thanks bigint"),
	"engagement_score": ctassim.Columns("department_id bigint", "department_name string", "active_users bigint",
		"actions bigint", "engagement_score double"),
	"reactions_given_received": ctassim.Columns("user_id bigint", "reactions_given bigint", "reactions_received bigint",
		"thanks_given bigint", "thanks_received bigint"),
	"weekly_active_users_by_department": ctassim.Columns("department_id bigint", "active_users_7d bigint"),
}

// env is one test's slice of the moto server: its own Glue database, aggregated bucket, backfill
// queue and dead-letter queue, and a worker wired as the backfill Lambda wires it (the real
// aggregate handler, CTAS runner and KPI catalog), so tests share the server and run in parallel.
type env struct {
	*queues
	db, bucket string
	glue       *glue.Client
	s3         *s3.Client
}

var (
	envSeq       atomic.Int64
	motoSettings sync.Once
)

// envOptions shape an env.
type envOptions struct {
	// visibility is the backfill queue's visibility timeout, in whole seconds.
	visibility time.Duration
	// athena, if set, wraps the simulated Athena the runner calls (to inject faults).
	athena func(*ctassim.Athena) ctassim.AthenaAPI
	// overlap, if set, stands between the runner and Glue; newEnv points it at the env's client.
	overlap *overlapGlue
	// queue, if set, wraps the SQS client the worker calls.
	queue func(backfill.Queue) backfill.Queue
	// lease configures the worker; zero: its default.
	lease time.Duration
	// retryDelay configures the worker; zero: a second, not the worker's default minute, so that
	// a test that wants no job given back fails in seconds, not minutes, when one is.
	retryDelay time.Duration
	// timeout, if set, is each invocation's deadline, as Lambda's function timeout.
	timeout time.Duration
	// pollMax, if set, is the runner's longest wait between two looks at a running query;
	// default 5 ms, for queries that end at the first look.
	pollMax time.Duration
}

// newEnv builds an env.
func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	m := testsvc.MotoServer(t)
	motoSettings.Do(func() {
		// Every query ends at its first GetQueryExecution: the runner's polling is tested in
		// lambdas/ctas; here it would only slow a year of jobs down.
		if err := m.SetTransition("athena::execution", `{"progression":"immediate"}`); err != nil {
			t.Fatal(err)
		}
	})
	cfg := m.AWSConfig()
	n := envSeq.Add(1)
	e := &env{
		queues: newQueues(t, sqs.NewFromConfig(cfg), fmt.Sprintf("backfill-%d", n), opts.visibility),
		db:     fmt.Sprintf("backfill_%d", n),
		bucket: fmt.Sprintf("backfill-aggregated-%d", n),
		glue:   glue.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, testsvc.S3PathStyle),
	}
	e.timeout = opts.timeout
	ctx := context.Background()
	if _, err := e.glue.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gtypes.DatabaseInput{Name: aws.String(e.db)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region)}}); err != nil {
		t.Fatal(err)
	}

	sim := &ctassim.Athena{
		Client:     athena.NewFromConfig(cfg),
		Glue:       e.glue,
		S3:         e.s3,
		KPIColumns: maps.Clone(kpiColumns),
		// A KPI added to the catalog runs too, with columns of its own.
		Columns: ctassim.Columns("department_id bigint", "value bigint"),
	}
	var athenaAPI ctassim.AthenaAPI = sim
	if opts.athena != nil {
		athenaAPI = opts.athena(sim)
	}
	discard := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pollMax := 5 * time.Millisecond
	if opts.pollMax > 0 {
		pollMax = opts.pollMax
	}
	runnerCfg := ctas.Config{
		Database: e.db, Workgroup: "primary", AggregatedBucket: e.bucket,
		PollInitial: time.Millisecond, PollMax: pollMax,
		RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond,
		// For the tests whose invocations have a deadline of seconds (envOptions.timeout): time
		// to publish a query that ends just before the stop, on a loaded machine.
		StopMargin: 4 * time.Second,
		Logger:     discard,
	}
	// Two calls, because ctas.New takes its own, unexported, Glue interface.
	var runner *ctas.Runner
	var err error
	if og := opts.overlap; og != nil {
		og.Client = e.glue
		runner, err = ctas.New(athenaAPI, og, e.s3, runnerCfg)
	} else {
		runner, err = ctas.New(athenaAPI, e.glue, e.s3, runnerCfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	var queue backfill.Queue = e.sqs
	if opts.queue != nil {
		queue = opts.queue(e.sqs)
	}
	// The state of social.posts reads the table's columns from the catalog and its raw objects
	// from the bucket, which has none: a state day builds on the day before when that is published.
	if _, err := e.glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(e.db), TableInput: &gtypes.TableInput{
		Name: aws.String(layout.SourceTableName("social", "posts")), PartitionKeys: []gtypes.Column{{Name: aws.String(layout.PartitionKey), Type: aws.String("string")}},
		StorageDescriptor: &gtypes.StorageDescriptor{Columns: []gtypes.Column{{Name: aws.String("id"), Type: aws.String("bigint")}, {Name: aws.String("user_id"), Type: aws.String("bigint")}}},
	}}); err != nil {
		t.Fatal(err)
	}
	raw, err := plan.NewRawZone(e.s3, e.bucket)
	if err != nil {
		t.Fatal(err)
	}
	handler := aggregate.NewHandler(kpis, e.db, tokyo, runner, discard).
		WithState(aggregate.StateKeys{{Source: "social", Table: "posts"}: queries.DefaultStateKey}, raw)
	retryDelay := opts.retryDelay
	if retryDelay == 0 {
		retryDelay = time.Second
	}
	e.worker, err = backfill.NewWorker(kpis, handler, queue, backfill.Config{
		QueueURL: e.queueURL, DeadLetterQueueURL: e.dlqURL, Lease: opts.lease, RetryDelay: retryDelay, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// partitions returns the location of each dt partition of the KPI's table, by day.
func (e *env) partitions(t *testing.T, kpi string) map[string]string {
	t.Helper()
	locs := map[string]string{}
	p := glue.NewGetPartitionsPaginator(e.glue, &glue.GetPartitionsInput{DatabaseName: aws.String(e.db), TableName: aws.String(layout.KPITableName(kpi))})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		var nf *gtypes.EntityNotFoundException
		if errors.As(err, &nf) {
			return locs
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range page.Partitions {
			if len(part.Values) != 1 {
				t.Fatalf("partition %v of %s: want one value (dt)", part.Values, kpi)
			}
			if _, dup := locs[part.Values[0]]; dup {
				t.Errorf("%s has two partitions dt=%s", kpi, part.Values[0])
			}
			locs[part.Values[0]] = aws.ToString(part.StorageDescriptor.Location)
		}
	}
	return locs
}

// runs returns the run ids with objects in the bucket, by KPI and day.
func (e *env) runs(t *testing.T) map[string]map[string][]string {
	t.Helper()
	runs := map[string]map[string][]string{}
	p := s3.NewListObjectsV2Paginator(e.s3, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			parts := strings.Split(key, "/")
			day, okDay := strings.CutPrefix(parts[min(1, len(parts)-1)], layout.PartitionKey+"=")
			run, okRun := strings.CutPrefix(parts[min(2, len(parts)-1)], layout.RunKey+"=")
			if len(parts) != 4 || !okDay || !okRun {
				t.Errorf("object %s is not under <kpi>/dt=<day>/run=<id>/", key)
				continue
			}
			if runs[parts[0]] == nil {
				runs[parts[0]] = map[string][]string{}
			}
			if !slices.Contains(runs[parts[0]][day], run) {
				runs[parts[0]][day] = append(runs[parts[0]][day], run)
			}
		}
	}
	return runs
}

// tables lists the database's tables.
func (e *env) tables(t *testing.T) []string {
	t.Helper()
	var names []string
	p := glue.NewGetTablesPaginator(e.glue, &glue.GetTablesInput{DatabaseName: aws.String(e.db)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range page.TableList {
			names = append(names, aws.ToString(tb.Name))
		}
	}
	slices.Sort(names)
	return names
}

// checkPublishedOnce checks that each KPI of want has exactly one partition per day of want[kpi]
// and no other, pointing at the newest run of the (KPI, day) in S3 (a superseded run stays for
// the grace period, ctas.Config.SupersededGrace, so that readers holding its location finish);
// and that no temporary table is left.
func (e *env) checkPublishedOnce(t *testing.T, want map[string][]layout.Day) {
	t.Helper()
	runs := e.runs(t)
	var problems []string
	for _, kpi := range slices.Sorted(maps.Keys(want)) {
		days := want[kpi]
		parts := e.partitions(t, kpi)
		if len(parts) != len(days) {
			problems = append(problems, fmt.Sprintf("%s has %d partitions, want %d", kpi, len(parts), len(days)))
		}
		for _, d := range days {
			loc, ok := parts[d.String()]
			ids := runs[kpi][d.String()]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s dt=%s: no partition", kpi, d))
			case len(ids) == 0:
				problems = append(problems, fmt.Sprintf("%s dt=%s: partition at %s, but no run in S3", kpi, d, loc))
			case loc != "s3://"+e.bucket+"/"+layout.KPIRunPrefix(kpi, d, slices.Max(ids)):
				problems = append(problems, fmt.Sprintf("%s dt=%s: partition at %s, but the newest run in S3 is %s", kpi, d, loc, slices.Max(ids)))
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d problems, first ones:\n  %s", len(problems), strings.Join(problems[:min(len(problems), 10)], "\n  "))
	}
	for _, tb := range e.tables(t) {
		if !strings.HasPrefix(tb, "kpi_") && tb != layout.SourceTableName("social", "posts") {
			t.Errorf("table %s left in the database; want the KPI tables and the source table only (every temporary table dropped)", tb)
		}
	}
}

// every is want for checkPublishedOnce: each of kpis on each of days.
func every(kpis []string, days ...[]layout.Day) map[string][]layout.Day {
	want := map[string][]layout.Day{}
	for _, k := range kpis {
		for _, ds := range days {
			want[k] = append(want[k], ds...)
		}
	}
	return want
}

func days(first string, n int) []layout.Day {
	d, err := layout.ParseDay(first)
	if err != nil {
		panic(err)
	}
	out := make([]layout.Day, n)
	for i := range out {
		out[i] = d.AddDays(i)
	}
	return out
}

func TestBackfill_JobsInBatchesOfEverySizePublishEveryKPIOfEveryDayOnce(t *testing.T) {
	t.Parallel()
	// Long enough that no job comes back while a poller still works it, even on a loaded machine:
	// the stack sets it to six times the function's timeout.
	e := newEnv(t, envOptions{visibility: 5 * time.Minute})
	// Eleven days, where this test once ran a year (365 days, 2,190 KPI runs, five minutes of moto
	// calls): what moto adds to the in-memory year (TestWorker_AYearOfJobsIsWorkedOnceThroughTheQueue)
	// is the real calls and the real aggregate handler, runner, Glue and S3 behind the worker, and
	// eleven days exercise all of them: more jobs than one SendMessageBatch (10) and one receive
	// (10) take, events of several records and of one, worked by concurrent pollers of up to ten,
	// three and one, every KPI's table created by its first CTAS and its partitions added after,
	// and the state of social.posts built on the day before (a poller works its event's days in
	// order) across the end of a month, of February 29th and of a year. Each later day of a year
	// repeats one of these.
	ds := slices.Concat(days("2024-02-26", 6), days("2024-12-29", 5))
	ids := e.enqueue(t, e.jobs(t, ds)...)

	began := time.Now()
	e.drain(t, 10, 3, 1)
	t.Logf("%d jobs (%d KPI runs) drained in %s", len(ds), len(ds)*len(allKPIs), time.Since(began).Round(time.Millisecond))

	e.checkPublishedOnce(t, every(allKPIs, ds))
	for _, id := range ids {
		if got := e.deliveries[id]; !slices.Equal(got, []string{"1"}) {
			t.Errorf("message %s delivered with receive counts %v, want once", id, got)
		}
	}
	if e.largest < 2 {
		t.Errorf("the largest event held %d records; the pollers of ten and three should have received several at once", e.largest)
	}
	if len(e.reported) != 0 {
		t.Errorf("%d messages reported for redelivery: %v", len(e.reported), e.reported)
	}
	e.deadLetters(t, 0)
	out, err := e.glue.GetTable(context.Background(), &glue.GetTableInput{DatabaseName: aws.String(e.db),
		Name: aws.String(layout.KPITableName("engagement_score"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Table.StorageDescriptor.Columns; len(got) != len(kpiColumns["engagement_score"]) ||
		aws.ToString(got[4].Name) != "engagement_score" || aws.ToString(got[4].Type) != "double" {
		t.Errorf("engagement_score table columns %v, want the CTAS output's", got)
	}
}

func TestBackfill_DuplicateDeliveryPublishesEachDayOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{visibility: 5 * time.Minute})
	// The same job enqueued twice (an operator ran the request twice) and worked one after the other.
	// Two days (once three): the second day's state builds on the first, whose duplicate then
	// publishes it again underneath; a third day would only repeat the second.
	twice := days("2026-03-01", 2)
	bodies := e.jobs(t, twice)
	e.enqueue(t, append(slices.Clone(bodies), bodies...)...)
	e.drain(t, 1)
	// One message delivered again after it was worked (its delete was lost, or its visibility
	// timeout expired just before): the second invocation sees it with a higher receive count.
	again := days("2026-03-03", 2)
	e.enqueue(t, e.jobs(t, again)...)
	msgs := e.receive(t, int32(len(again)))
	for range 2 {
		if err := e.invoke(context.Background(), msgs); err != nil && !strings.Contains(err.Error(), "delete") {
			t.Fatal(err)
		}
	}

	e.checkPublishedOnce(t, every(allKPIs, twice, again))
	if len(e.reported) != 0 {
		t.Errorf("messages reported for redelivery: %v", e.reported)
	}
	e.deadLetters(t, 0)
}

func TestBackfill_ConcurrentDuplicateDeliveryPublishesEachDayOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{visibility: 5 * time.Minute})
	// One message delivered to two invocations at once (SQS delivers at least once), and the same
	// job enqueued twice and picked up by two pollers at the same time. Their runs overlap as they
	// happen to; TestBackfill_OverlappingDuplicatesLeaveThePartitionAtARunThatExists forces the
	// overlaps that matter. Two days each (once three): an event of more than one record, and
	// two days' duplicates on four pollers; a third day only adds KPI runs.
	once := days("2026-03-10", 2)
	e.enqueue(t, e.jobs(t, once)...)
	msgs := e.receive(t, int32(len(once)))
	var wg sync.WaitGroup
	for range 2 {
		// The second delete of a message may be refused; the lake is what is checked.
		wg.Go(func() { _ = e.invoke(context.Background(), msgs) })
	}
	wg.Wait()
	twice := days("2026-03-12", 2)
	bodies := e.jobs(t, twice)
	e.enqueue(t, append(slices.Clone(bodies), bodies...)...)
	e.drain(t, 1, 1, 2, 2)

	e.checkPublishedOnce(t, every(allKPIs, once, twice))
	if len(e.reported) != 0 {
		t.Errorf("messages reported for redelivery: %v", e.reported)
	}
	e.deadLetters(t, 0)
}

func TestBackfill_MalformedJobsGoToTheDLQAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{visibility: 5 * time.Minute})
	malformed := map[string]string{
		"bad JSON":         `{"request_id": "bf-test", "date": "2026-11-24"`,
		"unknown field":    `{"request_id": "bf-test", "date": "2026-11-24", "kpi": ["engagement_score"]}`,
		"bad date":         `{"request_id": "bf-test", "date": "2026-11-31"}`,
		"unknown KPI":      `{"request_id": "bf-test", "date": "2026-11-24", "kpis": ["daily_active_users"]}`,
		"empty request id": `{"request_id": "", "date": "2026-11-24"}`,
	}
	reasons := map[string]string{
		"bad JSON":         "body is not a job",
		"unknown field":    `unknown field "kpi"`,
		"bad date":         `field "date": date "2026-11-31"`,
		"unknown KPI":      `field "kpis": unknown KPI "daily_active_users"`,
		"empty request id": `field "request_id" is empty`,
	}
	names := slices.Sorted(maps.Keys(malformed))
	var bodies []string
	for _, n := range names {
		bodies = append(bodies, malformed[n])
	}
	good := days("2026-11-24", 1)
	bodies = append(bodies, e.jobs(t, good, "engagement_score")...)
	ids := e.enqueue(t, bodies...)
	e.drain(t, 10)

	for i, n := range names {
		if got := e.deliveries[ids[i]]; !slices.Equal(got, []string{"1"}) {
			t.Errorf("%s: delivered with receive counts %v, want once", n, got)
		}
	}
	if len(e.reported) != 0 {
		t.Errorf("malformed jobs reported for redelivery: %v", e.reported)
	}
	byOriginal := map[string]sqstypes.Message{}
	for _, m := range e.deadLetters(t, len(names)) {
		byOriginal[aws.ToString(m.MessageAttributes[backfill.AttrOriginalMessageID].StringValue)] = m
	}
	for i, n := range names {
		m, ok := byOriginal[ids[i]]
		if !ok {
			t.Errorf("%s: not in the dead-letter queue under its message id %s", n, ids[i])
			continue
		}
		if aws.ToString(m.Body) != malformed[n] {
			t.Errorf("%s: dead letter body %q, want the original %q", n, aws.ToString(m.Body), malformed[n])
		}
		if reason := aws.ToString(m.MessageAttributes[backfill.AttrError].StringValue); !strings.Contains(reason, reasons[n]) {
			t.Errorf("%s: %s = %q, want it to contain %q", n, backfill.AttrError, reason, reasons[n])
		}
	}
	// The well-formed job of the same batches went through.
	e.checkPublishedOnce(t, every([]string{"engagement_score"}, good))
}

// failingAthena answers FAILED, as Athena does for a query error, for the CTAS of the (KPI, day)s
// in fail ("kpi dt").
type failingAthena struct {
	*ctassim.Athena
	fail map[string]bool

	mu     sync.Mutex
	failed map[string]bool // query ids
}

func (f *failingAthena) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	out, err := f.Athena.StartQueryExecution(ctx, in, opts...)
	if c, ok := ctassim.Parse(aws.ToString(in.QueryString)); err == nil && ok && f.fail[c.KPI+" "+c.Date] {
		f.mu.Lock()
		f.failed[aws.ToString(out.QueryExecutionId)] = true
		f.mu.Unlock()
	}
	return out, err
}

func (f *failingAthena) GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, opts ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	out, err := f.Athena.GetQueryExecution(ctx, in, opts...)
	f.mu.Lock()
	failed := f.failed[aws.ToString(in.QueryExecutionId)]
	f.mu.Unlock()
	if err == nil && failed {
		out.QueryExecution.Status = &atypes.QueryExecutionStatus{State: atypes.QueryExecutionStateFailed,
			StateChangeReason: aws.String("HIVE_BAD_DATA: Error parsing field value for field 3")}
	}
	return out, err
}

func TestBackfill_FailedQueryGoesToTheDLQAtOnce(t *testing.T) {
	t.Parallel()
	bad := days("2026-06-10", 1)[0]
	// Long: a job that came back would have to wait for it.
	e := newEnv(t, envOptions{visibility: 5 * time.Minute, athena: func(sim *ctassim.Athena) ctassim.AthenaAPI {
		return &failingAthena{Athena: sim, fail: map[string]bool{"department_activity " + bad.String(): true}, failed: map[string]bool{}}
	}})
	good := days("2026-06-11", 2)
	ids := e.enqueue(t, append(e.jobs(t, []layout.Day{bad}), e.jobs(t, good, "reactions_given_received")...)...)
	e.drain(t, 1, 2)

	for _, id := range ids {
		if got := e.deliveries[id]; !slices.Equal(got, []string{"1"}) || e.reported[id] != 0 {
			t.Errorf("job %s delivered %v, reported %d times; want once, never", id, got, e.reported[id])
		}
	}
	dead := e.deadLetters(t, 1)[0]
	if aws.ToString(dead.Body) != e.bodies[ids[0]] {
		t.Errorf("dead letter %q, want the failing job %q", aws.ToString(dead.Body), e.bodies[ids[0]])
	}
	attr := func(name string) string { return aws.ToString(dead.MessageAttributes[name].StringValue) }
	if got := attr(backfill.AttrErrorKind); got != backfill.KindQueryFailed {
		t.Errorf("%s = %q, want %q", backfill.AttrErrorKind, got, backfill.KindQueryFailed)
	}
	if reason := attr(backfill.AttrError); !strings.Contains(reason, "department_activity") || !strings.Contains(reason, "HIVE_BAD_DATA") {
		t.Errorf("%s = %q, want the KPI and Athena's reason", backfill.AttrError, reason)
	}

	// The good days are published; on the bad day, only the KPI that ran before the failure is:
	// not the failed one, the rest of its wave or the wave after it.
	e.checkPublishedOnce(t, map[string][]layout.Day{"active_users_by_department": {bad}, "reactions_given_received": good})
	for _, kpi := range []string{"department_activity", "engagement_score"} {
		if parts := e.partitions(t, kpi); len(parts) != 0 {
			t.Errorf("%s published %v although department_activity failed", kpi, parts)
		}
	}
	// The failed CTAS leaves its output unreferenced (the runner keeps the previous partition and
	// the next successful run of the day deletes it).
	if got := e.runs(t)["department_activity"][bad.String()]; len(got) != 1 {
		t.Errorf("department_activity dt=%s: %d unreferenced failed runs in S3, want 1", bad, len(got))
	}
}

// throttledAthena refuses every start of the CTAS of the (KPI, day)s in throttle ("kpi dt"), as
// Athena does while its active-query quota is full.
type throttledAthena struct {
	*ctassim.Athena
	throttle map[string]bool
}

func (f *throttledAthena) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	if c, ok := ctassim.Parse(aws.ToString(in.QueryString)); ok && f.throttle[c.KPI+" "+c.Date] {
		return nil, &atypes.TooManyRequestsException{Message: aws.String("You have exceeded the limit for the number of queries you can run concurrently."),
			Reason: atypes.ThrottleReasonConcurrentQueryLimitExceeded}
	}
	return f.Athena.StartQueryExecution(ctx, in, opts...)
}

func TestBackfill_ThrottledJobComesBackAfterItsRetryDelayThenSQSDeadLettersIt(t *testing.T) {
	t.Parallel()
	bad := days("2026-06-10", 1)[0]
	const retryDelay = time.Second
	// The queue's visibility timeout is long: only the worker's retry delay brings the job back soon.
	e := newEnv(t, envOptions{visibility: 5 * time.Minute, retryDelay: retryDelay, athena: func(sim *ctassim.Athena) ctassim.AthenaAPI {
		return &throttledAthena{Athena: sim, throttle: map[string]bool{"department_activity " + bad.String(): true}}
	}})
	good := days("2026-06-11", 2)
	ids := e.enqueue(t, append(e.jobs(t, []layout.Day{bad}), e.jobs(t, good, "reactions_given_received")...)...)
	began := time.Now()
	e.drain(t, 1, 2)
	// Delivered again 1 s, then 2 s after failing, and moved by SQS 4 s after the third failure.
	if took := time.Since(began); took > time.Minute {
		t.Errorf("drained after %s; a throttled job should come back after its retry delay, not the visibility timeout", took)
	}

	// The bad day's job publishes active_users_by_department, then hands the rest on; the
	// continuation starts with the throttled KPI and publishes nothing, delivery after delivery.
	if got := e.deliveries[ids[0]]; !slices.Equal(got, []string{"1"}) || e.reported[ids[0]] != 0 {
		t.Errorf("the bad day's job delivered %v, reported %d times; want once, handed on", got, e.reported[ids[0]])
	}
	var rest string
	for id, body := range e.bodies {
		if strings.Contains(body, `"continuation":1`) {
			rest = id
		}
	}
	if got, want := e.deliveries[rest], []string{"1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("the continuation %q delivered with receive counts %v, want %v", e.bodies[rest], got, want)
	}
	if got := e.reported[rest]; got != maxReceiveCount {
		t.Errorf("the continuation reported %d times, want %d", got, maxReceiveCount)
	}
	for _, id := range ids[1:] {
		if got := e.deliveries[id]; !slices.Equal(got, []string{"1"}) || e.reported[id] != 0 {
			t.Errorf("good job %s delivered %v, reported %d times; want once, never", id, got, e.reported[id])
		}
	}
	dead := e.deadLetters(t, 1)[0]
	if rest == "" || aws.ToString(dead.Body) != e.bodies[rest] {
		t.Errorf("dead letter %q, want the throttled continuation %q", aws.ToString(dead.Body), e.bodies[rest])
	}
	if _, ok := dead.MessageAttributes[backfill.AttrError]; ok {
		t.Errorf("the worker dead-lettered a job that may succeed later itself; SQS's redrive should have")
	}
	// Only the KPI of the bad day's first wave that ran before the throttled one is published, once
	// whatever the number of attempts.
	e.checkPublishedOnce(t, map[string][]layout.Day{"active_users_by_department": {bad}, "reactions_given_received": good})
}

// errDied answers every call of a worker that has died: nothing leaves a dead Lambda.
var errDied = errors.New("the invocation has died")

// mortal lets one invocation die mid-query: while armed, the CTAS's start waits for kill; once
// killed, every Athena and SQS call of the worker fails, as if its process were gone.
type mortal struct {
	armed, dead atomic.Bool
	started     chan struct{} // closed when the armed start is reached
	killed      chan struct{}
	lastBeat    atomic.Int64 // UnixNano when the last visibility change that reached the queue was sent
	lastBeatEnd atomic.Int64 // and when its answer came back: the queue applied it in between
}

type mortalAthena struct {
	ctassim.AthenaAPI
	m *mortal
}

func (a mortalAthena) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	if a.m.armed.Load() {
		close(a.m.started)
		<-a.m.killed
	}
	if a.m.dead.Load() {
		return nil, errDied
	}
	return a.AthenaAPI.StartQueryExecution(ctx, in, opts...)
}

type mortalQueue struct {
	backfill.Queue
	m *mortal
}

func (q mortalQueue) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if q.m.dead.Load() {
		return nil, errDied
	}
	sent := time.Now()
	out, err := q.Queue.ChangeMessageVisibility(ctx, in, opts...)
	if err == nil {
		q.m.lastBeat.Store(sent.UnixNano())
		q.m.lastBeatEnd.Store(time.Now().UnixNano())
	}
	return out, err
}

func (q mortalQueue) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if q.m.dead.Load() {
		return nil, errDied
	}
	return q.Queue.SendMessage(ctx, in, opts...)
}

func TestBackfill_CrashedDeliveryComesBackAfterTheLease(t *testing.T) {
	t.Parallel()
	const lease = backfill.MinLease
	m := &mortal{started: make(chan struct{}), killed: make(chan struct{})}
	e := newEnv(t, envOptions{visibility: 5 * time.Minute, lease: lease,
		athena: func(sim *ctassim.Athena) ctassim.AthenaAPI { return mortalAthena{AthenaAPI: sim, m: m} },
		queue:  func(q backfill.Queue) backfill.Queue { return mortalQueue{Queue: q, m: m} },
	})
	day := days("2026-05-01", 1)
	e.enqueue(t, e.jobs(t, day, "reactions_given_received")...)
	msgs := e.receive(t, 1)
	m.armed.Store(true)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		// Whatever it reports is lost with the process; the event source mapping deletes nothing.
		_, _ = e.worker.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{
			MessageId: aws.ToString(msgs[0].MessageId), ReceiptHandle: aws.ToString(msgs[0].ReceiptHandle),
			Body: aws.ToString(msgs[0].Body), Attributes: msgs[0].Attributes, EventSource: "aws:sqs", EventSourceARN: e.queueARN,
		}}})
	}()
	<-m.started
	// Alive past two leases: the heartbeat keeps the job invisible.
	time.Sleep(2 * lease)
	if got := e.tryReceive(t); len(got) != 0 {
		t.Fatalf("the job of a live worker was delivered again after %s: %v", 2*lease, got)
	}
	m.dead.Store(true)
	m.armed.Store(false)
	close(m.killed)
	died := time.Now()
	<-returned
	m.dead.Store(false) // the next invocation is a new process

	var again []sqstypes.Message
	for again == nil && time.Since(died) < time.Minute {
		time.Sleep(100 * time.Millisecond)
		again = e.tryReceive(t)
	}
	// The lease runs from the last heartbeat that reached the queue, which on a loaded machine
	// may be well before the crash: measure from it, not from the crash. The queue applied it
	// between the call and its answer, which a loaded machine can set seconds apart: the job is
	// back no sooner than a lease after the call and no later than a lease after the answer.
	back := time.Since(time.Unix(0, m.lastBeat.Load()))
	backFromAnswer := time.Since(time.Unix(0, m.lastBeatEnd.Load()))
	if m.lastBeat.Load() == 0 || m.lastBeat.Load() > died.UnixNano() {
		t.Fatalf("no heartbeat before the crash (last %d, crash %d)", m.lastBeat.Load(), died.UnixNano())
	}
	if len(again) != 1 {
		t.Fatalf("the crashed job did not come back within a minute (the queue's visibility timeout is 5 minutes): %v", again)
	}
	// Moto's timer and the polling add a little.
	if back < lease*3/4-time.Second || backFromAnswer > lease+2*time.Second {
		t.Errorf("the crashed job came back %s after the last heartbeat was sent, %s after it was answered (%s after the crash); want about the lease, %s",
			back.Round(time.Millisecond), backFromAnswer.Round(time.Millisecond), time.Since(died).Round(time.Millisecond), lease)
	}
	if rc := again[0].Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]; rc != "2" {
		t.Errorf("receive count %s, want 2", rc)
	}
	if err := e.invoke(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	e.checkPublishedOnce(t, every([]string{"reactions_given_received"}, day))
	e.deadLetters(t, 0)
}

// overlapGlue makes the next two runs of one (KPI, day) overlap at the partition switch: both read
// the partition before either writes it, then the newer run (by run id) writes first. With
// lateOlder, the older run's write waits until the newer run has read the partition once more
// after its own write (the runner's check that it still serves the day), as a write slowed down by
// Glue's throttling or a ConcurrentModificationException retried with backoff could.
type overlapGlue struct {
	*glue.Client
	lateOlder bool

	armed         atomic.Bool
	reads, writes barrier
	mu            sync.Mutex
	locations     []string
	newerWrote    chan struct{} // the newer run's write returned
	newerReread   chan struct{} // the newer run read the partition after its write
	rereadSeen    bool
}

func newOverlapGlue(lateOlder bool) *overlapGlue {
	return &overlapGlue{lateOlder: lateOlder, newerWrote: make(chan struct{}), newerReread: make(chan struct{})}
}

// barrier releases its callers once two have arrived (or after a while, so that a test whose runs
// do not overlap fails instead of hanging).
type barrier struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *barrier) wait() {
	b.mu.Lock()
	if b.all == nil {
		b.all = make(chan struct{})
	}
	b.arrived++
	if b.arrived == 2 {
		close(b.all)
	}
	all := b.all
	b.mu.Unlock()
	waitOrTimeout(all)
}

func waitOrTimeout(c <-chan struct{}) {
	select {
	case <-c:
	case <-time.After(10 * time.Second):
	}
}

func (g *overlapGlue) GetPartition(ctx context.Context, in *glue.GetPartitionInput, opts ...func(*glue.Options)) (*glue.GetPartitionOutput, error) {
	if !g.armed.Load() {
		return g.Client.GetPartition(ctx, in, opts...)
	}
	g.reads.wait()
	// While the older run waits to write, the first read after the newer run's write is the
	// newer run's own.
	reread := false
	select {
	case <-g.newerWrote:
		g.mu.Lock()
		reread, g.rereadSeen = !g.rereadSeen, true
		g.mu.Unlock()
	default:
	}
	out, err := g.Client.GetPartition(ctx, in, opts...)
	if reread {
		close(g.newerReread)
	}
	return out, err
}

// write lets the newer of the two runs write the partition first; later writes go through.
func (g *overlapGlue) write(in *gtypes.PartitionInput, do func() error) error {
	if !g.armed.Load() {
		return do()
	}
	loc := aws.ToString(in.StorageDescriptor.Location)
	g.mu.Lock()
	if len(g.locations) == 2 { // a later write (the newer run moving the partition forward again)
		g.mu.Unlock()
		return do()
	}
	g.locations = append(g.locations, loc)
	g.mu.Unlock()
	g.writes.wait()
	g.mu.Lock()
	newer := slices.Max(g.locations) == loc
	g.mu.Unlock()
	switch {
	case newer:
		err := do()
		close(g.newerWrote)
		return err
	case g.lateOlder:
		waitOrTimeout(g.newerReread)
	default:
		waitOrTimeout(g.newerWrote)
	}
	return do()
}

func (g *overlapGlue) CreatePartition(ctx context.Context, in *glue.CreatePartitionInput, opts ...func(*glue.Options)) (out *glue.CreatePartitionOutput, err error) {
	err = g.write(in.PartitionInput, func() error {
		out, err = g.Client.CreatePartition(ctx, in, opts...)
		return err
	})
	return out, err
}

func (g *overlapGlue) UpdatePartition(ctx context.Context, in *glue.UpdatePartitionInput, opts ...func(*glue.Options)) (out *glue.UpdatePartitionOutput, err error) {
	err = g.write(in.PartitionInput, func() error {
		out, err = g.Client.UpdatePartition(ctx, in, opts...)
		return err
	})
	return out, err
}

// TestBackfill_OverlappingDuplicatesLeaveThePartitionAtARunThatExists delivers one job to two
// invocations at once (SQS delivers at least once; a visibility timeout can expire mid-job) and
// makes their runs overlap at the partition switch, the newer run writing first.
func TestBackfill_OverlappingDuplicatesLeaveThePartitionAtARunThatExists(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		published bool // the day was published before
		lateOlder bool
	}{
		{name: "first publication of the day"},
		{name: "republication", published: true},
		{name: "first publication, the older run's create after the newer run's check", lateOlder: true},
		{name: "republication, the older run's update after the newer run's check", published: true, lateOlder: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			og := newOverlapGlue(tc.lateOlder)
			e := newEnv(t, envOptions{visibility: 5 * time.Minute, overlap: og})
			day := days("2026-04-01", 1)
			job := e.jobs(t, day, "reactions_given_received")
			if tc.published {
				e.enqueue(t, job...)
				e.drain(t, 1)
			}
			og.armed.Store(true)
			e.enqueue(t, job...)
			msgs := e.receive(t, 1)
			var wg sync.WaitGroup
			for range 2 {
				// The second delete of the message may be refused; the lake is what is checked.
				wg.Go(func() { _ = e.invoke(context.Background(), msgs) })
			}
			wg.Wait()
			e.checkPublishedOnce(t, every([]string{"reactions_given_received"}, day))
		})
	}
}

// slowAthena keeps every CTAS running for took after its start, and counts the CTAS of each
// (KPI, day) ("kpi dt") seen to succeed.
type slowAthena struct {
	ctassim.AthenaAPI
	took time.Duration

	mu        sync.Mutex
	started   map[string]time.Time // query id -> start
	runOf     map[string]string    // query id -> "kpi dt"
	succeeded map[string]int       // "kpi dt" -> CTAS that succeeded
}

func (a *slowAthena) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	out, err := a.AthenaAPI.StartQueryExecution(ctx, in, opts...)
	if err == nil {
		c, _ := ctassim.Parse(aws.ToString(in.QueryString))
		a.mu.Lock()
		a.started[aws.ToString(out.QueryExecutionId)] = time.Now()
		a.runOf[aws.ToString(out.QueryExecutionId)] = c.KPI + " " + c.Date
		a.mu.Unlock()
	}
	return out, err
}

func (a *slowAthena) GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, opts ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	out, err := a.AthenaAPI.GetQueryExecution(ctx, in, opts...)
	if err != nil || out.QueryExecution == nil || out.QueryExecution.Status == nil {
		return out, err
	}
	id := aws.ToString(in.QueryExecutionId)
	a.mu.Lock()
	defer a.mu.Unlock()
	st := out.QueryExecution.Status
	switch {
	case st.State != atypes.QueryExecutionStateSucceeded:
	case time.Since(a.started[id]) < a.took:
		st.State = atypes.QueryExecutionStateRunning
	default:
		a.succeeded[a.runOf[id]]++
		delete(a.runOf, id) // counted once, however often it is read
	}
	return out, err
}

func TestBackfill_ADayLongerThanAnInvocationIsHandedOnAndPublishedOnce(t *testing.T) {
	// Not parallel: its invocations have seconds, and the load of the parallel tests on moto and
	// the machine can slow a publish enough to cut it at the deadline, which reruns a KPI.
	// A query takes 2 s and an invocation has 12 s, of which the worker's stop margin (a sixth of
	// the 6 s lease) and the runner's (4 s) leave 7 s: a day's six KPIs take two invocations.
	// The runner looks at a running query every 50 ms at most: at the default 5 ms, the 2 s
	// queries cost moto 400 calls each.
	slow := &slowAthena{took: 2 * time.Second, started: map[string]time.Time{}, runOf: map[string]string{}, succeeded: map[string]int{}}
	e := newEnv(t, envOptions{visibility: 5 * time.Minute, lease: 6 * time.Second, retryDelay: time.Second, timeout: 12 * time.Second,
		pollMax: 50 * time.Millisecond, athena: func(sim *ctassim.Athena) ctassim.AthenaAPI { slow.AthenaAPI = sim; return slow }})
	// Two days (once three), one a poller: both days handed on at once, their continuations
	// numbered per day; a third day waited for a free poller and added 7 s of queries to the
	// serial part of the run.
	ds := days("2026-07-01", 2)
	ids := e.enqueue(t, e.jobs(t, ds)...)
	// One message an invocation, as the stack's event source mapping (infra/backfill.BatchSize):
	// each job has the invocation's whole time.
	e.drain(t, 1, 1)

	e.checkPublishedOnce(t, every(allKPIs, ds))
	for _, d := range ds {
		for _, k := range allKPIs {
			if n := slow.succeeded[k+" "+d.String()]; n != 1 {
				t.Errorf("%s dt=%s: %d CTAS succeeded, want exactly 1", k, d, n)
			}
		}
	}
	if len(e.reported) != 0 {
		t.Errorf("messages reported for redelivery: %v; each invocation should hand on what it could not finish", e.reported)
	}
	e.deadLetters(t, 0)
	// Each day's job, then its continuations: the same request and day, counted up.
	continuations := map[string][]float64{}
	for id, body := range e.bodies {
		var j map[string]any
		if err := json.Unmarshal([]byte(body), &j); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids, id) {
			continue
		}
		if j["request_id"] != "bf-test" {
			t.Errorf("continuation %s of request %v, want bf-test", body, j["request_id"])
		}
		n, _ := j["continuation"].(float64)
		continuations[j["date"].(string)] = append(continuations[j["date"].(string)], n)
	}
	for _, d := range ds {
		got := continuations[d.String()]
		slices.Sort(got)
		if len(got) < 1 || got[0] != 1 || got[len(got)-1] != float64(len(got)) {
			t.Errorf("dt=%s: continuations %v; want the day handed on at least once, numbered 1, 2, ...", d, got)
		}
	}
}
