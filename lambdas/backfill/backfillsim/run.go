package backfillsim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Names of the simulated resources.
const (
	Database  = "kpilake_sim"
	Bucket    = "kpilake-aggregated-sim"
	Workgroup = "kpilake-sim"
	QueueURL  = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/kpilake-backfill"
	DLQURL    = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/kpilake-backfill-dlq"
)

// Run sends the scenario's jobs, works them with the real worker until the queue is empty, waits
// for the queries still running (those of crashed invocations) and accounts for every (KPI, day).
// It blocks for about Makespan × Scale of wall time.
func Run(ctx context.Context, sc Scenario) (Report, error) {
	sc.withDefaults()
	if err := sc.validate(); err != nil {
		return Report{}, fmt.Errorf("backfillsim: %w", err)
	}
	first, err := layout.ParseDay(sc.FirstDay)
	if err != nil {
		return Report{}, fmt.Errorf("backfillsim: FirstDay: %w", err)
	}
	cat, err := queries.Load()
	if sc.GeneratedKPIs > 0 {
		cat, err = GeneratedCatalog(sc.GeneratedKPIs)
	}
	if err != nil {
		return Report{}, err
	}
	waves, err := cat.Waves(sc.KPIs)
	if err != nil {
		return Report{}, fmt.Errorf("backfillsim: KPIs: %w", err)
	}
	kpis := slices.Concat(waves...)

	discard := slog.New(slog.DiscardHandler)
	w := newWorld(&sc, Database, Bucket)
	for _, name := range cat.Names() {
		k, _ := cat.KPI(name)
		w.dependsOn[name] = k.DependsOn
	}
	rc := ctas.Config{
		Database: Database, Workgroup: Workgroup, AggregatedBucket: Bucket,
		StopMargin:    sc.wall(sc.Runner.StopMargin),
		PollInitial:   sc.wall(sc.Runner.PollInitial),
		PollMax:       sc.wall(sc.Runner.PollMax),
		RetryAttempts: sc.Runner.RetryAttempts,
		RetryBase:     sc.wall(sc.Runner.RetryBase),
		RetryMax:      sc.wall(sc.Runner.RetryMax),
		Logger:        discard,
	}
	runner, err := ctas.New(athenaClient{w}, glueClient{w}, s3Client{w}, rc)
	if err != nil {
		return Report{}, err
	}
	q := newQueue(&sc)
	jst := time.FixedZone("JST", 9*60*60)
	// The simulated days are over: the worker's clock stands the morning after the last one.
	after := first.AddDays(sc.Days).Start(jst).Add(10 * time.Hour)
	// The state nodes read the source table's columns; the raw zone has no objects, so a state
	// day builds on the day before when that is published.
	for _, name := range cat.States() {
		k, _ := cat.KPI(name)
		t, _ := k.StateOf()
		src := layout.SourceTableName(t.Source, t.Table)
		w.tables[src] = &gtypes.Table{Name: aws.String(src), DatabaseName: aws.String(Database),
			StorageDescriptor: &gtypes.StorageDescriptor{Columns: []gtypes.Column{{Name: aws.String("id"), Type: aws.String("bigint")}}}}
	}
	keys := aggregate.StateKeys{}
	for _, t := range cat.Sources() {
		keys[t] = queries.DefaultStateKey
	}
	handler := aggregate.NewHandler(cat, Database, jst, runner, discard).WithState(keys, unchangedRaw{})
	worker, err := backfill.NewWorker(cat, handler,
		sqsClient{q: q, w: w}, backfill.Config{
			QueueURL: QueueURL, DeadLetterQueueURL: DLQURL,
			Lease:       max(wholeSeconds(sc.wall(sc.Lease)), backfill.MinLease),
			RetryDelay:  max(wholeSeconds(sc.wall(sc.RetryDelay)), time.Second),
			TimeZone:    jst,
			EarliestDay: first,
			Now:         func() time.Time { return after },
			Logger:      discard,
		})
	if err != nil {
		return Report{}, err
	}

	start := time.Now()
	requestID := fmt.Sprintf("sim-%d", sc.Seed)
	for i := range sc.Days {
		body, err := backfill.Job{RequestID: requestID, Date: first.AddDays(i).String()}.Body()
		if err != nil {
			return Report{}, err
		}
		q.send(body, start, 0)
	}
	for i := range sc.Malformed {
		q.send(fmt.Sprintf("not a job %d", i), start, 0)
	}
	e := &esm{sc: &sc, q: q, worker: worker, rng: rand.New(rand.NewPCG(sc.Seed, 0xe5))}
	e.run(ctx)
	end := time.Now()
	if err := ctx.Err(); err != nil {
		return Report{}, fmt.Errorf("backfillsim: stopped after %s of simulated time: %w", sc.sim(end.Sub(start)), err)
	}

	// Queries of crashed invocations run on; let them end, then look at what is left.
	w.mu.Lock()
	var last time.Time
	for _, q := range w.active {
		if q.end.After(last) {
			last = q.end
		}
	}
	w.mu.Unlock()
	if err := sleep(ctx, time.Until(last)); err != nil {
		return Report{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.settle(time.Now().Add(time.Hour)) // every query has ended; the margin covers timer slack

	r := Report{
		Scenario:   sc,
		Jobs:       sc.Days + sc.Malformed,
		Partitions: sc.Days * len(kpis),
		Makespan:   sc.sim(end.Sub(start)),
	}
	for _, kpi := range kpis {
		for i := range sc.Days {
			day := first.AddDays(i)
			r.QueryTime += BaseQueryTime(sc, kpi, day.String())
			r.account(w, kpi, day)
		}
	}
	r.Ideal = r.QueryTime / time.Duration(sc.Quota)
	r.LeakedTempTables = 0
	for name := range w.tables {
		if strings.HasPrefix(name, layout.TempTablePrefix) {
			r.LeakedTempTables++
		}
	}
	q.mu.Lock()
	r.DLQ, r.Continuations = len(q.dlq), q.continuations
	q.mu.Unlock()
	r.OutOfOrder = w.stats.outOfOrder
	r.Invocations, r.Crashed, r.TimedOut, r.Failed = e.invocations, e.crashed, e.timedOut, e.failed
	r.VisibilityChanges = int(q.changes.Load())
	r.Queries, r.QuotaThrottles, r.InjectedThrottles, r.MaxActive = w.stats.queries, w.stats.quotaThrottles, w.stats.injectedThrottles, w.stats.maxActive
	r.ObserveLag, r.ThrottleWait, r.Idle = sc.sim(w.stats.observeLag), sc.sim(w.stats.throttleWait), sc.sim(e.idle)
	r.Utilization = float64(sc.sim(w.stats.queryTime)) / float64(time.Duration(sc.Quota)*r.Makespan)
	return r, nil
}

// account checks one (KPI, day): its partition, its run prefixes and its publications.
func (r *Report) account(w *world, kpi string, day layout.Day) {
	table := layout.KPITableName(kpi)
	dayPrefix := layout.KPIPrefix(kpi) + day.Partition() + "/"
	runs, stray := map[string]bool{}, false
	i, _ := slices.BinarySearch(w.keys, dayPrefix)
	for ; i < len(w.keys) && strings.HasPrefix(w.keys[i], dayPrefix); i++ {
		rest, ok := strings.CutPrefix(strings.TrimPrefix(w.keys[i], dayPrefix), layout.RunKey+"=")
		id, _, inRun := strings.Cut(rest, "/")
		if !ok || !inRun {
			stray = true
			continue
		}
		runs[id] = true
	}
	p := w.partitions[table][day.String()]
	if p == nil || !runs[runOf(*p.StorageDescriptor.Location)] {
		r.Lost++
	}
	// Superseded runs stay for the grace period (readers holding their location finish), so a
	// day is duplicated when the partition is not on its newest run, or objects lie outside runs.
	newest := ""
	for id := range runs {
		newest = max(newest, id)
	}
	if stray || (p != nil && runOf(*p.StorageDescriptor.Location) != newest) {
		r.Duplicated++
	}
	if n := w.published[table+"/"+day.String()]; n > 1 {
		r.Republished += n - 1
	}
}

// runOf is the run id of a run location (…/run=<id>/), or "".
func runOf(location string) string {
	_, after, ok := strings.Cut(location, "/"+layout.RunKey+"=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, "/")
	return id
}

// wholeSeconds rounds d up to whole seconds, SQS's unit of visibility.
func wholeSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// unchangedRaw is a raw zone whose tables never changed.
type unchangedRaw struct{}

func (unchangedRaw) LastChange(context.Context, queries.SourceTable, layout.Day) (time.Time, bool, error) {
	return time.Time{}, false, nil
}
