package ctas

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
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// staleTemp reports whether name is a temporary table of one of kpis whose run started before
// cutoff: such a run cannot be in flight (StaleTempAfter).
func staleTemp(name string, kpis []string, cutoff time.Time) bool {
	for _, k := range kpis {
		rest, ok := strings.CutPrefix(name, layout.TempTablePrefix+k+"_")
		// <yyyymmdd>_<run id>: a KPI whose name extends k's does not match here.
		if !ok || len(rest) < 9 || rest[8] != '_' || strings.Trim(rest[:8], "0123456789") != "" {
			continue
		}
		if started, ok := tempRunStart(rest[9:]); ok && started.Before(cutoff) {
			return true
		}
	}
	return false
}

// dropStaleTemps drops the temporary tables of crashed runs of kpis, in every day.
func (s *Sweeper) dropStaleTemps(ctx context.Context, kpis []string) (int, error) {
	r := s.r
	cutoff := r.now().Add(-r.cfg.StaleTempAfter)
	var stale []string
	pages := glue.NewGetTablesPaginator(s.glue, &glue.GetTablesInput{DatabaseName: aws.String(r.cfg.Database),
		Expression: aws.String(layout.TempTablePrefix + ".*")})
	for pages.HasMorePages() {
		var page *glue.GetTablesOutput
		err := r.retry(ctx, "glue GetTables", func(ctx context.Context) error {
			var err error
			page, err = pages.NextPage(ctx)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("sweep: list temporary tables: %w", err)
		}
		for _, t := range page.TableList {
			if name := aws.ToString(t.Name); staleTemp(name, kpis, cutoff) {
				stale = append(stale, name)
			}
		}
	}
	var errs []error
	n := 0
	for _, name := range stale {
		err := r.retry(ctx, "glue DeleteTable", func(ctx context.Context) error {
			_, err := s.glue.DeleteTable(ctx, &glue.DeleteTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(name)})
			return err
		})
		switch {
		case err == nil:
			n++
		case !hasCode(err, "EntityNotFoundException"):
			errs = append(errs, fmt.Errorf("sweep: drop temporary table %q: %w", name, err))
		}
	}
	return n, errors.Join(errs...)
}

// ctasTable is the table a CTAS statement (Statement) of database creates, or "".
func ctasTable(database, query string) string {
	rest, ok := strings.CutPrefix(query, `CREATE TABLE "`+database+`"."`)
	if !ok {
		return ""
	}
	table, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	return table
}

// stopOrphanQueries stops the workgroup's queued or running CTAS queries of crashed runs of kpis
// (their temporary table is stale: the run that waits for it is gone). A query runs within
// Athena's DML timeout, so the listing (newest first) ends at a page submitted entirely before
// the grace period.
func (s *Sweeper) stopOrphanQueries(ctx context.Context, kpis []string) (int, error) {
	r := s.r
	now := r.now()
	cutoff, oldest := now.Add(-r.cfg.StaleTempAfter), now.Add(-r.cfg.SupersededGrace)
	var errs []error
	n := 0
	pages := athena.NewListQueryExecutionsPaginator(s.athena, &athena.ListQueryExecutionsInput{WorkGroup: aws.String(r.cfg.Workgroup)})
	for pages.HasMorePages() {
		var page *athena.ListQueryExecutionsOutput
		err := r.retry(ctx, "athena ListQueryExecutions", func(ctx context.Context) error {
			var err error
			page, err = pages.NextPage(ctx)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("sweep: list queries of workgroup %s: %w", r.cfg.Workgroup, err)
		}
		if len(page.QueryExecutionIds) == 0 {
			break
		}
		var execs []atypes.QueryExecution
		for ids := page.QueryExecutionIds; len(ids) > 0; {
			batch := ids[:min(len(ids), 50)]
			ids = ids[len(batch):]
			err := r.retry(ctx, "athena BatchGetQueryExecution", func(ctx context.Context) error {
				out, err := s.athena.BatchGetQueryExecution(ctx, &athena.BatchGetQueryExecutionInput{QueryExecutionIds: batch})
				if err == nil {
					execs = append(execs, out.QueryExecutions...)
				}
				return err
			})
			if err != nil {
				return n, fmt.Errorf("sweep: read queries of workgroup %s: %w", r.cfg.Workgroup, err)
			}
		}
		older := true
		for _, q := range execs {
			var state atypes.QueryExecutionState
			var submitted time.Time
			if q.Status != nil {
				state, submitted = q.Status.State, aws.ToTime(q.Status.SubmissionDateTime)
			}
			if submitted.IsZero() || !submitted.Before(oldest) {
				older = false
			}
			if state != atypes.QueryExecutionStateQueued && state != atypes.QueryExecutionStateRunning {
				continue
			}
			if !staleTemp(ctasTable(r.cfg.Database, aws.ToString(q.Query)), kpis, cutoff) {
				continue
			}
			id := aws.ToString(q.QueryExecutionId)
			if err := r.retry(ctx, "athena StopQueryExecution", func(ctx context.Context) error {
				_, err := s.athena.StopQueryExecution(ctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)})
				return err
			}); err != nil {
				errs = append(errs, fmt.Errorf("sweep: stop query %s of a crashed run: %w", id, err))
				continue
			}
			n++
		}
		if older {
			break
		}
	}
	return n, errors.Join(errs...)
}

// sweepKPI settles and collects every day of one KPI that has runs in the aggregated zone. The
// partitions are read once, at the start: a read older than the deletions is still safe, since
// no write can name a deletable run any more (I1, I3).
func (s *Sweeper) sweepKPI(ctx context.Context, kpi string, res *SweepResult) error {
	r, p := s.r, s.r.pub
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
		runs := days[d]
		current, exists := partitions[d]
		serving := runOf(current)
		if _, move := settleTarget(runs, serving, exists); move && table != nil {
			if serving, err = p.settle(ctx, req, table); err != nil {
				errs = append(errs, fmt.Errorf("sweep %s %s: %w", kpi, d, err))
				continue
			}
			res.PartitionsSettled++
			// The settle marked the run it moved away from; list again to see that marker.
			if runs, err = p.dayRuns(ctx, req); err != nil {
				errs = append(errs, fmt.Errorf("sweep %s %s: %w", kpi, d, err))
				continue
			}
		}
		c, err := p.collectRuns(ctx, req, runs, serving)
		res.RunsDeleted += c.runs
		res.ObjectsDeleted += c.objects
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.cfg.Logger.Warn("ctas sweep: KPI not fully swept", "kpi", kpi, "err", err.Error())
		return err
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
	var table *gtypes.Table
	name := layout.KPITableName(kpi)
	err := s.r.retry(ctx, "glue GetTable", func(ctx context.Context) error {
		out, err := s.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(s.r.cfg.Database), Name: aws.String(name)})
		if err == nil {
			table = out.Table
		}
		return err
	})
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
		var page *glue.GetPartitionsOutput
		err := s.r.retry(ctx, "glue GetPartitions", func(ctx context.Context) error {
			var err error
			page, err = pages.NextPage(ctx)
			return err
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
	pages := s3.NewListObjectsV2Paginator(r.s3, &s3.ListObjectsV2Input{Bucket: aws.String(r.cfg.AggregatedBucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("sweep: list s3://%s/%s: %w", r.cfg.AggregatedBucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			day, rest, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
			if !ok {
				continue
			}
			id, name, ok := runKey(rest)
			if !ok {
				continue
			}
			if days[day] == nil {
				days[day] = map[string]*runState{}
			}
			if days[day][id] == nil {
				days[day][id] = &runState{}
			}
			days[day][id].add(key, name, aws.ToTime(o.LastModified))
		}
	}
	return days, nil
}
