package ctas

// What crashed runs leave behind, and its cleanup: temporary tables (dropped by the next run of
// the day and by the sweep) and queries still running for no one (stopped by the sweep).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/kpilake/kpilake/layout"
)

// cleanupTimeout bounds the best-effort calls made after ctx is cancelled or its deadline is near.
const cleanupTimeout = 10 * time.Second

// TempTableName is the temporary table of one run: layout.TempTablePrefix<kpi>_<yyyymmdd>_<run id, lowercased,
// - as _>.
func TempTableName(kpi string, d layout.Day, runID string) string {
	return layout.TempTablePrefix + kpi + "_" + strings.ReplaceAll(d.String(), "-", "") + "_" + strings.ToLower(strings.ReplaceAll(runID, "-", "_"))
}

// tempRunStart is when the run of a temporary table started, from the run id part of its name
// (TempTableName: the run id lowercased, - as _); ok is false if it is not one.
func tempRunStart(part string) (time.Time, bool) {
	return layout.RunStart(strings.ToUpper(part[:min(len(part), 19)]) + strings.ReplaceAll(part[min(len(part), 19):], "_", "-"))
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

// tempTables lists the tables of the runner's database that match the Glue expression and keep.
func (r *Runner) tempTables(ctx context.Context, expression string, keep func(name string) bool) ([]string, error) {
	var names []string
	pages := glue.NewGetTablesPaginator(r.glue, &glue.GetTablesInput{DatabaseName: aws.String(r.cfg.Database),
		Expression: aws.String(expression)})
	for pages.HasMorePages() {
		page, err := retried(ctx, r.retry, "glue GetTables", func(ctx context.Context) (*glue.GetTablesOutput, error) {
			return pages.NextPage(ctx)
		})
		if err != nil {
			return nil, err
		}
		for _, t := range page.TableList {
			if name := aws.ToString(t.Name); keep(name) {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// dropTable deletes a table from the catalog. Glue's DeleteTable leaves the data in S3, which is
// what the KPI partition points at. The error is Glue's, unwrapped.
func (r *Runner) dropTable(ctx context.Context, name string) error {
	return r.retry(ctx, "glue DeleteTable", func(ctx context.Context) error {
		_, err := r.glue.DeleteTable(ctx, &glue.DeleteTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(name)})
		return err
	})
}

// dropTemp drops the temporary table, best effort, even when ctx is already done.
func (r *Runner) dropTemp(ctx context.Context, log *slog.Logger, tmp string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := r.dropTable(dctx, tmp); err != nil && !hasCode(err, "EntityNotFoundException") {
		log.Warn("ctas cleanup: temporary table not dropped", "table", tmp, "err", err.Error())
	}
}

// dropStaleTemps drops, best effort, the temporary tables of req's KPI and day that runs left
// behind when they crashed (a Lambda timeout, a killed process): those whose run started more than
// StaleTempAfter ago. Such a run cannot be in flight any more, unlike a superseded run, which may
// still be reading its temporary table's schema; dropping that one would fail it for nothing.
// Their output in S3 goes with the day's superseded runs, after the grace period (publisher.collect).
func (r *Runner) dropStaleTemps(ctx context.Context, log *slog.Logger, req Request) {
	prefix := TempTableName(req.KPI, req.Date, "")
	cutoff := r.now().Add(-r.cfg.StaleTempAfter)
	stale, err := r.tempTables(ctx, prefix+".*", func(name string) bool {
		// The expression is a pattern; only the exact form of TempTableName counts, so that
		// another KPI whose name extends this one's is never touched.
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return false
		}
		started, ok := tempRunStart(rest)
		return ok && started.Before(cutoff)
	})
	if err != nil {
		log.Warn("ctas cleanup: stale temporary tables not listed", "err", err.Error())
		return
	}
	for _, name := range stale {
		r.dropTemp(ctx, log, name)
	}
	if len(stale) > 0 {
		log.Info("ctas cleanup: dropped temporary tables of crashed runs", "tables", stale)
	}
}

// dropStaleTemps drops the temporary tables of crashed runs of kpis, in every day.
func (s *Sweeper) dropStaleTemps(ctx context.Context, kpis []string) (int, error) {
	r := s.r
	cutoff := r.now().Add(-r.cfg.StaleTempAfter)
	stale, err := r.tempTables(ctx, layout.TempTablePrefix+".*", func(name string) bool { return staleTemp(name, kpis, cutoff) })
	if err != nil {
		return 0, fmt.Errorf("sweep: list temporary tables: %w", err)
	}
	var errs []error
	n := 0
	for _, name := range stale {
		switch err := r.dropTable(ctx, name); {
		case err == nil:
			n++
		case !hasCode(err, "EntityNotFoundException"):
			errs = append(errs, fmt.Errorf("sweep: drop temporary table %q: %w", name, err))
		}
	}
	return n, errors.Join(errs...)
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
		execs, err := s.queryPage(ctx, pages)
		if err != nil {
			return n, err
		}
		for _, q := range execs {
			if !orphan(q, r.cfg.Database, kpis, cutoff) {
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
		// An empty page, too, ends the listing.
		if submittedBefore(execs, oldest) {
			break
		}
	}
	return n, errors.Join(errs...)
}

// queryPage reads the next page of the workgroup's queries, 50 per BatchGetQueryExecution.
func (s *Sweeper) queryPage(ctx context.Context, pages *athena.ListQueryExecutionsPaginator) ([]atypes.QueryExecution, error) {
	r := s.r
	page, err := retried(ctx, r.retry, "athena ListQueryExecutions", func(ctx context.Context) (*athena.ListQueryExecutionsOutput, error) {
		return pages.NextPage(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("sweep: list queries of workgroup %s: %w", r.cfg.Workgroup, err)
	}
	var execs []atypes.QueryExecution
	for ids := page.QueryExecutionIds; len(ids) > 0; {
		batch := ids[:min(len(ids), 50)]
		ids = ids[len(batch):]
		out, err := retried(ctx, r.retry, "athena BatchGetQueryExecution", func(ctx context.Context) (*athena.BatchGetQueryExecutionOutput, error) {
			return s.athena.BatchGetQueryExecution(ctx, &athena.BatchGetQueryExecutionInput{QueryExecutionIds: batch})
		})
		if err != nil {
			return nil, fmt.Errorf("sweep: read queries of workgroup %s: %w", r.cfg.Workgroup, err)
		}
		execs = append(execs, out.QueryExecutions...)
	}
	return execs, nil
}

// orphan reports whether q is a queued or running CTAS (Statement) of a crashed run of kpis:
// one whose temporary table is stale.
func orphan(q atypes.QueryExecution, database string, kpis []string, cutoff time.Time) bool {
	if q.Status == nil {
		return false
	}
	if st := q.Status.State; st != atypes.QueryExecutionStateQueued && st != atypes.QueryExecutionStateRunning {
		return false
	}
	return staleTemp(ctasTable(database, aws.ToString(q.Query)), kpis, cutoff)
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

// submittedBefore reports whether every query of execs was submitted before t; a query without
// a submission time was not.
func submittedBefore(execs []atypes.QueryExecution, t time.Time) bool {
	for _, q := range execs {
		var submitted time.Time
		if q.Status != nil {
			submitted = aws.ToTime(q.Status.SubmissionDateTime)
		}
		if submitted.IsZero() || !submitted.Before(t) {
			return false
		}
	}
	return true
}
