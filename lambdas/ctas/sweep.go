package ctas

// The Sweeper: the periodic pass over every KPI that stops and drops what crashed runs left
// (cleanup.go), settles the days off their newest ready run and deletes what the grace period
// allows (collect.go).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// sweepAthenaAPI is the part of Athena the sweep calls besides the runner's: finding the queries
// of crashed runs in the workgroup.
type sweepAthenaAPI interface {
	athenaAPI
	ListQueryExecutions(context.Context, *athena.ListQueryExecutionsInput, ...func(*athena.Options)) (*athena.ListQueryExecutionsOutput, error)
	BatchGetQueryExecution(context.Context, *athena.BatchGetQueryExecutionInput, ...func(*athena.Options)) (*athena.BatchGetQueryExecutionOutput, error)
}

// sweepGlueAPI is the part of Glue the sweep calls besides the runner's: a KPI's partitions in
// pages, instead of one read per day.
type sweepGlueAPI interface {
	glueAPI
	GetPartitions(context.Context, *glue.GetPartitionsInput, ...func(*glue.Options)) (*glue.GetPartitionsOutput, error)
}

var (
	_ sweepAthenaAPI = (*athena.Client)(nil)
	_ sweepGlueAPI   = (*glue.Client)(nil)
)

// Sweeper is the periodic backstop of the publish protocol (publish.go) for days that are never
// run again: it stops the queries of crashed runs, drops their temporary tables, settles every
// day off its newest ready run and deletes the runs the invariants let it delete. Each pass is
// idempotent, and a pass that dies at any point leaves no partition on deleted data (I3).
type Sweeper struct {
	r      *Runner
	athena sweepAthenaAPI
	glue   sweepGlueAPI
}

// NewSweeper returns a Sweeper over the given clients with the runner's Config (the same
// database, workgroup, bucket, StaleTempAfter and SupersededGrace as the runs it cleans up after).
func NewSweeper(a sweepAthenaAPI, g sweepGlueAPI, s s3API, cfg Config) (*Sweeper, error) {
	if a == nil || g == nil {
		return nil, errors.New("ctas.NewSweeper: the Athena and Glue clients are required")
	}
	r, err := New(a, g, s, cfg)
	if err != nil {
		return nil, fmt.Errorf("ctas.NewSweeper: %w", err)
	}
	return &Sweeper{r: r, athena: a, glue: g}, nil
}

// SweepResult counts what one pass removed or repaired.
type SweepResult struct {
	// QueriesStopped are running CTAS queries of crashed runs.
	QueriesStopped int `json:"queries_stopped"`
	// TempTablesDropped are temporary tables of crashed runs.
	TempTablesDropped int `json:"temp_tables_dropped"`
	// PartitionsSettled are days moved back to their newest ready run.
	PartitionsSettled int `json:"partitions_settled"`
	// RunsDeleted and ObjectsDeleted are superseded or crashed runs past the grace period.
	RunsDeleted    int `json:"runs_deleted"`
	ObjectsDeleted int `json:"objects_deleted"`
}

// Sweep makes one pass over the given KPIs (their temporary tables, queries, days and runs). It
// goes on past a KPI's error and returns all of them joined, with what it did.
func (s *Sweeper) Sweep(ctx context.Context, kpis []string) (SweepResult, error) {
	var res SweepResult
	var errs []error
	for _, k := range kpis {
		if err := layout.ValidateName("KPI", k); err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
	}
	// Queries first: a stopped query writes no more into the run folders swept below.
	n, err := s.stopOrphanQueries(ctx, kpis)
	res.QueriesStopped = n
	errs = append(errs, err)
	n, err = s.dropStaleTemps(ctx, kpis)
	res.TempTablesDropped = n
	errs = append(errs, err)
	for _, k := range kpis {
		errs = append(errs, s.sweepKPI(ctx, k, &res))
	}
	err = errors.Join(errs...)
	s.record(res, err)
	return res, err
}

// record emits the pass's counts as one EMF record; a failure to write it is logged.
func (s *Sweeper) record(res SweepResult, sweepErr error) {
	cfg := s.r.cfg
	log := cfg.Logger.With("queries_stopped", res.QueriesStopped, "temp_tables_dropped", res.TempTablesDropped,
		"partitions_settled", res.PartitionsSettled, "runs_deleted", res.RunsDeleted, "objects_deleted", res.ObjectsDeleted)
	if sweepErr != nil {
		log.Error("ctas sweep failed", "err", sweepErr.Error())
	} else {
		log.Info("ctas sweep done")
	}
	if cfg.Metrics == nil {
		return
	}
	if err := cfg.Metrics.Record(nil, nil,
		metrics.Value{Name: metrics.SweptQueries, Unit: metrics.Count, Value: float64(res.QueriesStopped)},
		metrics.Value{Name: metrics.SweptTempTables, Unit: metrics.Count, Value: float64(res.TempTablesDropped)},
		metrics.Value{Name: metrics.SettledPartitions, Unit: metrics.Count, Value: float64(res.PartitionsSettled)},
		metrics.Value{Name: metrics.SweptRuns, Unit: metrics.Count, Value: float64(res.RunsDeleted)},
		metrics.Value{Name: metrics.SweptObjects, Unit: metrics.Count, Value: float64(res.ObjectsDeleted)},
	); err != nil {
		log.Warn("ctas sweep metrics not written", "err", err.Error())
	}
}

// sweepKPI settles and collects every day of one KPI that has runs in the aggregated zone. The
// partitions are read once, at the start: a read older than the deletions is still safe, since
// no write can name a deletable run any more (I1, I3).
func (s *Sweeper) sweepKPI(ctx context.Context, kpi string, res *SweepResult) error {
	table, err := s.kpiTable(ctx, kpi)
	if err != nil {
		return err
	}
	partitions := map[string]string{}
	if table != nil {
		if partitions, err = s.partitions(ctx, kpi); err != nil {
			return err
		}
	}
	s.recordAge(kpi, partitions)
	days, err := s.runsByDay(ctx, kpi)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range slices.Sorted(maps.Keys(days)) {
		day, err := layout.ParseDay(d)
		if err != nil {
			continue // not a day folder of ours
		}
		req := Request{KPI: kpi, Date: day, Table: layout.KPITableName(kpi)}
		errs = append(errs, s.sweepDay(ctx, req, table, partitions, days[d], res))
	}
	if err := errors.Join(errs...); err != nil {
		s.r.cfg.Logger.Warn("ctas sweep: KPI not fully swept", "kpi", kpi, "err", err.Error())
		return err
	}
	return nil
}

// sweepDay moves the day's partition (as partitions, read at the start of the pass, has it) to
// the day's newest ready run if it is off it, then deletes the day's runs that I3 allows. table
// is nil when the KPI has none.
func (s *Sweeper) sweepDay(ctx context.Context, req Request, table *gtypes.Table, partitions map[string]string,
	runs map[string]*runState, res *SweepResult) error {
	p := s.r.pub
	current, exists := partitions[req.Date.String()]
	serving := runOf(current)
	if _, move := settleTarget(runs, serving, exists); move && table != nil {
		var err error
		if serving, err = p.settle(ctx, req, table); err != nil {
			return fmt.Errorf("sweep %s %s: %w", req.KPI, req.Date, err)
		}
		res.PartitionsSettled++
		// The settle marked the run it moved away from; list again to see that marker.
		if runs, err = p.dayRuns(ctx, req); err != nil {
			return fmt.Errorf("sweep %s %s: %w", req.KPI, req.Date, err)
		}
	}
	c, err := p.collectRuns(ctx, req, runs, serving)
	res.RunsDeleted += c.runs
	res.ObjectsDeleted += c.objects
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return nil
}

// recordAge emits metrics.NewestDayAge of the KPI: how long ago the newest day of its partitions
// ended in the business zone, or, without one, since 1970. A failure to write it is logged.
func (s *Sweeper) recordAge(kpi string, partitions map[string]string) {
	cfg := s.r.cfg
	if cfg.Metrics == nil {
		return
	}
	now := s.r.now()
	age := float64(now.Unix())
	var newest layout.Day
	found := false
	for d := range partitions {
		if day, err := layout.ParseDay(d); err == nil && (!found || newest.Before(day)) {
			newest, found = day, true
		}
	}
	if found {
		age = max(now.Sub(newest.AddDays(1).Start(cfg.TimeZone)).Seconds(), 0)
	}
	if err := cfg.Metrics.Record(map[string]string{metrics.DimKPI: kpi}, nil,
		metrics.Value{Name: metrics.NewestDayAge, Unit: metrics.Seconds, Value: age}); err != nil {
		cfg.Logger.Warn("ctas sweep: newest day's age not written", "kpi", kpi, "err", err.Error())
	}
}

// kpiTable reads the KPI's table; nil if it does not exist yet.
func (s *Sweeper) kpiTable(ctx context.Context, kpi string) (*gtypes.Table, error) {
	name := layout.KPITableName(kpi)
	table, err := s.r.getTable(ctx, name)
	if hasCode(err, "EntityNotFoundException") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: read KPI table %q: %w", name, err)
	}
	if table == nil || table.StorageDescriptor == nil {
		return nil, fmt.Errorf("sweep: KPI table %q has no storage descriptor; repair or delete it", name)
	}
	return table, nil
}

// partitions maps each day of the KPI's table to its partition's location.
func (s *Sweeper) partitions(ctx context.Context, kpi string) (map[string]string, error) {
	out := map[string]string{}
	name := layout.KPITableName(kpi)
	pages := glue.NewGetPartitionsPaginator(s.glue, &glue.GetPartitionsInput{DatabaseName: aws.String(s.r.cfg.Database),
		TableName: aws.String(name)})
	for pages.HasMorePages() {
		page, err := retried(ctx, s.r.retry, "glue GetPartitions", func(ctx context.Context) (*glue.GetPartitionsOutput, error) {
			return pages.NextPage(ctx)
		})
		if err != nil {
			return nil, fmt.Errorf("sweep: read partitions of %q: %w", name, err)
		}
		for _, p := range page.Partitions {
			if len(p.Values) == 1 && p.StorageDescriptor != nil {
				out[p.Values[0]] = aws.ToString(p.StorageDescriptor.Location)
			}
		}
	}
	return out, nil
}

// runsByDay lists the KPI's runs in the aggregated zone, by day (YYYY-MM-DD).
func (s *Sweeper) runsByDay(ctx context.Context, kpi string) (map[string]map[string]*runState, error) {
	r := s.r
	prefix := layout.KPIPrefix(kpi) + layout.PartitionKey + "="
	days := map[string]map[string]*runState{}
	err := listObjects(ctx, r.s3, r.cfg.AggregatedBucket, prefix, func(key string, modified time.Time) {
		day, rest, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
		if !ok {
			return
		}
		id, name, ok := runKey(rest)
		if !ok {
			return
		}
		if days[day] == nil {
			days[day] = map[string]*runState{}
		}
		addObject(days[day], id, key, name, modified)
	})
	if err != nil {
		return nil, fmt.Errorf("sweep: list s3://%s/%s: %w", r.cfg.AggregatedBucket, prefix, err)
	}
	return days, nil
}
