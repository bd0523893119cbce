package ctas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"

	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// Parquet storage of the KPI tables, as Athena CTAS writes it.
const (
	parquetSerDe  = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	parquetInput  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	parquetOutput = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
)

// cleanupTimeout bounds the best-effort calls made after ctx is cancelled or its deadline is near.
const cleanupTimeout = 10 * time.Second

// Run publishes req.KPI for req.Date: it heals the day's partition, runs the CTAS into a new run
// prefix, switches the partition to it (publish.go), then cleans up. On any error before the
// switch, the previous dt=Date partition is untouched (or healed, if it was on broken output). ctx's
// deadline (a Lambda's) is honoured: the query is stopped Config.StopMargin before it.
func (r *Runner) Run(ctx context.Context, req Request) (res Result, err error) {
	if err := r.check(&req); err != nil {
		return Result{}, fmt.Errorf("ctas: %w", err)
	}
	if at, ok := r.stopAt(ctx); ok && !r.now().Before(at) {
		return Result{}, fmt.Errorf("ctas %s %s: %w before the query started", req.KPI, req.Date, ErrDeadline)
	}
	runID := r.newRun(r.now())
	if !runIDRE.MatchString(runID) {
		return Result{}, fmt.Errorf("ctas: run id %q is not of the form 20060102T150405000Z-0a1b2c3d", runID)
	}
	tmp := TempTableName(req.KPI, req.Date, runID)
	if !identRE.MatchString(tmp) {
		return Result{}, fmt.Errorf("ctas: temporary table name %q is not a catalog identifier", tmp)
	}
	res = Result{
		KPI:      req.KPI,
		Date:     req.Date.String(),
		RunID:    runID,
		Location: "s3://" + r.cfg.AggregatedBucket + "/" + layout.KPIRunPrefix(req.KPI, req.Date, runID),
	}
	log := r.cfg.Logger.With("kpi", res.KPI, "date", res.Date, "run_id", runID)

	ctx, end := r.cfg.Tracer.Start(ctx, "ctas "+req.KPI, map[string]string{"kpi": res.KPI, "date": res.Date})
	defer func() {
		end(map[string]string{"query_id": res.QueryID},
			map[string]any{"bytes_scanned": res.BytesScanned, "engine_time_ms": res.EngineTimeMs}, err)
		attrs := []any{"query_id", res.QueryID, "bytes_scanned", res.BytesScanned,
			"engine_time_ms", res.EngineTimeMs, "location", res.Location}
		if err != nil {
			log.Error("ctas failed", append(attrs, "err", err.Error())...)
			return
		}
		log.Info("ctas published", attrs...)
	}()

	// A dead run may have left the day on output that is not ready or is gone: heal it while the
	// query runs (off the critical path: it touches only the KPI's own day, which the query does
	// not read), so that the day is readable even if this run fails. The heal ends before this
	// run's switch and before Run returns; the settle after the switch heals the day too.
	healed := make(chan struct{})
	go func() {
		defer close(healed)
		if err := r.pub.heal(ctx, req); err != nil {
			log.Warn("ctas: the day's partition not healed before the run", "err", err.Error())
		}
	}()
	defer func() { <-healed }()

	stmt := Statement(r.cfg.Database, tmp, res.Location, req.Select)
	if err := r.retry(ctx, "athena StartQueryExecution", func(ctx context.Context) error {
		out, err := r.athena.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
			QueryString:           aws.String(stmt),
			WorkGroup:             aws.String(r.cfg.Workgroup),
			QueryExecutionContext: &atypes.QueryExecutionContext{Database: aws.String(r.cfg.Database)},
			ResultConfiguration:   r.resultConfiguration(),
			// A retried start must not run the query twice.
			ClientRequestToken: aws.String(requestToken(runID, req)),
		})
		if err == nil {
			res.QueryID = aws.ToString(out.QueryExecutionId)
		}
		return err
	}); err != nil {
		return res, fmt.Errorf("ctas %s %s: start query: %w", req.KPI, res.Date, err)
	}

	stats, err := r.wait(ctx, res.QueryID)
	if err != nil {
		// A failed or stopped CTAS may still have registered the table; its data stays unreferenced
		// until the next successful run of the day deletes it.
		r.dropTemp(ctx, log, tmp)
		return res, fmt.Errorf("ctas %s %s: query %s: %w", req.KPI, res.Date, res.QueryID, err)
	}
	if stats != nil {
		res.BytesScanned = aws.ToInt64(stats.DataScannedInBytes)
		res.EngineTimeMs = aws.ToInt64(stats.EngineExecutionTimeInMillis)
	}

	<-healed
	table, err := r.publish(ctx, req, tmp, res.Location)
	if err != nil {
		r.dropTemp(ctx, log, tmp)
		return res, fmt.Errorf("ctas %s %s: %w", req.KPI, res.Date, err)
	}
	// The day is served from the new run from here on: cleanup failures are logged, not returned,
	// so that a retry does not redo a published day for nothing; the next run or the sweep
	// cleans up again.
	r.dropTemp(ctx, log, tmp)
	r.dropStaleTemps(ctx, log, req)
	// Another run's late write may have moved the partition to an older run; settle moves it to
	// the newest ready run. Unlike cleanup, a failure here may leave the day on older output, so
	// it is returned: a retry's run settles the day again.
	serving, err := r.pub.settle(ctx, req, table)
	if err != nil {
		return res, fmt.Errorf("ctas %s %s: %w", req.KPI, res.Date, err)
	}
	// Runs superseded more than the grace period ago go now; this run's predecessor stays for
	// readers that planned against it, until a later run or the sweep.
	if _, err := r.pub.collect(ctx, req); err != nil {
		log.Warn("ctas cleanup: superseded runs not deleted", "err", err.Error())
	}
	// An empty serving run is a partition that points at no run folder and no ready run to move
	// it to (output of an older runner): this run's location stands.
	if serving != "" && serving != runID {
		res.SupersededBy = serving
		res.Location = "s3://" + r.cfg.AggregatedBucket + "/" + layout.KPIRunPrefix(req.KPI, req.Date, serving)
		log.Info("ctas superseded: a newer run serves the day", "serving", serving)
	}
	r.record(log, req, res)
	return res, nil
}

// resultConfiguration is the query's result configuration, or nil to leave it to the workgroup.
//
// A CTAS with external_location cannot run in a workgroup that enforces its settings, so the
// runner's workgroup does not, and in such a workgroup a client's settings win over the
// workgroup's. Athena encrypts a CTAS's table data with the query's result encryption; sending it
// with each query keeps the KPI data SSE-KMS with the lake key even if someone removes the
// workgroup's default, instead of trusting a setting the workgroup no longer enforces.
func (r *Runner) resultConfiguration() *atypes.ResultConfiguration {
	if r.cfg.ResultLocation == "" {
		return nil
	}
	return &atypes.ResultConfiguration{
		OutputLocation: aws.String(r.cfg.ResultLocation),
		EncryptionConfiguration: &atypes.EncryptionConfiguration{
			EncryptionOption: atypes.EncryptionOptionSseKms,
			KmsKey:           aws.String(r.cfg.ResultKMSKey),
		},
	}
}

// record emits the run's metrics; a failure to write them is logged, never returned.
func (r *Runner) record(log *slog.Logger, req Request, res Result) {
	dayStart := req.Date.Start(time.UTC)
	age := r.now().Sub(req.Date.AddDays(1).Start(r.cfg.TimeZone))
	err := r.cfg.Metrics.Record(map[string]string{metrics.DimKPI: req.KPI},
		map[string]any{"date": res.Date, "query_id": res.QueryID, "run_id": res.RunID, "location": res.Location},
		metrics.Value{Name: metrics.BytesScanned, Unit: metrics.Bytes, Value: float64(res.BytesScanned)},
		metrics.Value{Name: metrics.QueryEngineTime, Unit: metrics.Milliseconds, Value: float64(res.EngineTimeMs)},
		metrics.Value{Name: metrics.PublishedDay, Unit: metrics.Seconds, Value: float64(dayStart.Unix())},
		metrics.Value{Name: metrics.PublishedDayAge, Unit: metrics.Seconds, Value: age.Seconds()},
	)
	if err != nil {
		log.Warn("ctas metrics not written", "err", err.Error())
	}
}

// requestToken is Athena's idempotency token for one run (32 to 128 characters).
func requestToken(runID string, req Request) string {
	t := runID + "-" + req.Date.String() + "-" + req.KPI
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

// wait polls the query until it ends, stopping it when ctx's deadline is near.
func (r *Runner) wait(ctx context.Context, queryID string) (*atypes.QueryExecutionStatistics, error) {
	delay := r.cfg.PollInitial
	for {
		var out *athena.GetQueryExecutionOutput
		err := r.retry(ctx, "athena GetQueryExecution", func(ctx context.Context) error {
			var err error
			out, err = r.athena.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(queryID)})
			return err
		})
		if err != nil {
			r.stop(ctx, queryID)
			return nil, fmt.Errorf("query stopped: %w", err)
		}
		var st atypes.QueryExecutionStatus
		if out.QueryExecution != nil && out.QueryExecution.Status != nil {
			st = *out.QueryExecution.Status
		}
		switch st.State {
		case atypes.QueryExecutionStateSucceeded:
			return out.QueryExecution.Statistics, nil
		case atypes.QueryExecutionStateFailed, atypes.QueryExecutionStateCancelled:
			if st.State == atypes.QueryExecutionStateFailed && st.AthenaError != nil && st.AthenaError.Retryable {
				return nil, fmt.Errorf("%w: %s", ErrQueryRetryable, describeFailure(st))
			}
			return nil, fmt.Errorf("%w: %s", ErrQueryFailed, describeFailure(st))
		}
		if err := r.sleep(ctx, delay); err != nil {
			r.stop(ctx, queryID)
			return nil, fmt.Errorf("query stopped: %w", err)
		}
		delay = min(2*delay, r.cfg.PollMax)
	}
}

func describeFailure(st atypes.QueryExecutionStatus) string {
	msg := string(st.State)
	if reason := aws.ToString(st.StateChangeReason); reason != "" {
		msg += ": " + reason
	}
	if e := st.AthenaError; e != nil {
		msg += fmt.Sprintf(" (AthenaError category %d type %d retryable %t: %s)",
			aws.ToInt32(e.ErrorCategory), aws.ToInt32(e.ErrorType), e.Retryable, aws.ToString(e.ErrorMessage))
	}
	return msg
}

// stop stops the query, best effort, even when ctx is already done.
func (r *Runner) stop(ctx context.Context, queryID string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := r.athena.StopQueryExecution(sctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(queryID)}); err != nil {
		r.cfg.Logger.Warn("ctas: stop query failed", "query_id", queryID, "err", err.Error())
	}
}

// stopAt is when the runner must give up: StopMargin before ctx's deadline.
func (r *Runner) stopAt(ctx context.Context) (time.Time, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return d.Add(-r.cfg.StopMargin), true
}

// sleep waits d, or less if the deadline margin comes first (then ErrDeadline), or ctx ends.
func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if at, ok := r.stopAt(ctx); ok {
		left := at.Sub(r.now())
		if left <= 0 {
			return fmt.Errorf("%w (stop margin %s)", ErrDeadline, r.cfg.StopMargin)
		}
		if left < d {
			d = left
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
	}
	if at, ok := r.stopAt(ctx); ok && !r.now().Before(at) {
		return fmt.Errorf("%w (stop margin %s)", ErrDeadline, r.cfg.StopMargin)
	}
	return nil
}

// throttleCodes are the error codes retried with backoff: Athena's and Glue's rate limits, and
// Glue's optimistic-locking conflict on concurrent catalog updates.
var throttleCodes = map[string]bool{
	"TooManyRequestsException":        true,
	"ThrottlingException":             true,
	"Throttling":                      true,
	"RequestLimitExceeded":            true,
	"SlowDown":                        true,
	"ConcurrentModificationException": true,
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && throttleCodes[ae.ErrorCode()]
}

// retry calls fn until it succeeds, fails with a non-throttling error, runs out of attempts, or
// the deadline margin leaves no time to wait (full-jitter exponential backoff).
func (r *Runner) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < r.cfg.RetryAttempts; attempt++ {
		if err = fn(ctx); err == nil || !isThrottle(err) {
			return err
		}
		if attempt == r.cfg.RetryAttempts-1 {
			break
		}
		ceiling := min(r.cfg.RetryBase<<attempt, r.cfg.RetryMax)
		if ceiling <= 0 { // shifted past the int64 range
			ceiling = r.cfg.RetryMax
		}
		wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
		r.cfg.Logger.Debug("ctas: throttled, retrying", "op", op, "attempt", attempt+1, "wait", wait.String())
		if serr := r.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: %w after %d attempts; last: %w", op, serr, attempt+1, err)
		}
	}
	return fmt.Errorf("%s: %w after %d attempts: %w", op, ErrThrottled, r.cfg.RetryAttempts, err)
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// publish makes the KPI table ready for the temp table's columns, marks the run ready and switches
// dt=Date to loc (the settle that follows says which run serves the day). It returns the KPI
// table.
func (r *Runner) publish(ctx context.Context, req Request, tmp, loc string) (*gtypes.Table, error) {
	var tmpTable *gtypes.Table
	if err := r.retry(ctx, "glue GetTable", func(ctx context.Context) error {
		out, err := r.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(tmp)})
		if err == nil {
			tmpTable = out.Table
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("read the output schema from temporary table %q: %w", tmp, err)
	}
	if tmpTable == nil || tmpTable.StorageDescriptor == nil || len(tmpTable.StorageDescriptor.Columns) == 0 {
		return nil, fmt.Errorf("temporary table %q has no columns; the CTAS produced no schema", tmp)
	}
	cols := tmpTable.StorageDescriptor.Columns

	table, err := r.kpiTable(ctx, req, cols)
	if err != nil {
		return nil, err
	}
	if pk := table.PartitionKeys; len(pk) != 1 || aws.ToString(pk[0].Name) != layout.PartitionKey {
		return nil, fmt.Errorf("%w: KPI table %q is not partitioned by %s alone; drop it and backfill, or fix its definition",
			ErrIncompatibleSchema, req.Table, layout.PartitionKey)
	}
	if err := compatible(req.Table, table.StorageDescriptor.Columns, cols); err != nil {
		return nil, fmt.Errorf("%w; the dt=%s partition still serves the previous run (new output left at %s)", err, req.Date, loc)
	}
	if err := r.pub.markReady(ctx, req, runOf(loc)); err != nil {
		return nil, err
	}
	if _, err := r.pub.switchPartition(ctx, req, table, loc); err != nil {
		return nil, err
	}
	return table, nil
}

// kpiTable returns the KPI table, creating it with cols on the KPI's first run.
func (r *Runner) kpiTable(ctx context.Context, req Request, cols []gtypes.Column) (*gtypes.Table, error) {
	get := func() (*gtypes.Table, error) {
		var t *gtypes.Table
		err := r.retry(ctx, "glue GetTable", func(ctx context.Context) error {
			out, err := r.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(req.Table)})
			if err == nil {
				t = out.Table
			}
			return err
		})
		return t, err
	}
	t, err := get()
	if err == nil {
		if t == nil || t.StorageDescriptor == nil {
			return nil, fmt.Errorf("KPI table %q has no storage descriptor; repair or delete it", req.Table)
		}
		return t, nil
	}
	if !hasCode(err, "EntityNotFoundException") {
		return nil, fmt.Errorf("read KPI table %q: %w", req.Table, err)
	}
	input := &gtypes.TableInput{
		Name:        aws.String(req.Table),
		Description: aws.String("KPI " + req.KPI + ", one partition per business day, written by Athena CTAS"),
		TableType:   aws.String("EXTERNAL_TABLE"),
		Parameters:  map[string]string{"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "ZSTD"},
		PartitionKeys: []gtypes.Column{{Name: aws.String(layout.PartitionKey), Type: aws.String("string"),
			Comment: aws.String("business day, YYYY-MM-DD")}},
		StorageDescriptor: &gtypes.StorageDescriptor{
			Columns:      cols,
			Location:     aws.String("s3://" + r.cfg.AggregatedBucket + "/" + layout.KPIPrefix(req.KPI)),
			InputFormat:  aws.String(parquetInput),
			OutputFormat: aws.String(parquetOutput),
			SerdeInfo: &gtypes.SerDeInfo{
				SerializationLibrary: aws.String(parquetSerDe),
				Parameters:           map[string]string{"serialization.format": "1"},
			},
		},
	}
	err = r.retry(ctx, "glue CreateTable", func(ctx context.Context) error {
		_, err := r.glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(r.cfg.Database), TableInput: input})
		return err
	})
	// Another run of the same KPI created it first: use theirs, and check the schema against it.
	if err != nil && !hasCode(err, "AlreadyExistsException") {
		return nil, fmt.Errorf("create KPI table %q: %w", req.Table, err)
	}
	if t, err = get(); err != nil {
		return nil, fmt.Errorf("read KPI table %q after creating it: %w", req.Table, err)
	}
	if t == nil || t.StorageDescriptor == nil {
		return nil, fmt.Errorf("KPI table %q has no storage descriptor; repair or delete it", req.Table)
	}
	return t, nil
}

// compatible reports whether got (the query's output) has the same column names and types, in the
// same order, as the KPI table's want, naming every difference.
func compatible(table string, want, got []gtypes.Column) error {
	norm := func(cs []gtypes.Column) ([]col, map[string]string) {
		out, byName := make([]col, len(cs)), map[string]string{}
		for i, c := range cs {
			out[i] = col{strings.ToLower(aws.ToString(c.Name)), strings.ToLower(aws.ToString(c.Type))}
			byName[out[i].name] = out[i].typ
		}
		return out, byName
	}
	w, wByName := norm(want)
	g, gByName := norm(got)
	var problems []string
	for _, c := range g {
		if t, ok := wByName[c.name]; !ok {
			problems = append(problems, fmt.Sprintf("new column %s %s", c.name, c.typ))
		} else if t != c.typ {
			problems = append(problems, fmt.Sprintf("column %s changed type from %s to %s", c.name, t, c.typ))
		}
	}
	for _, c := range w {
		if _, ok := gByName[c.name]; !ok {
			problems = append(problems, fmt.Sprintf("missing column %s %s", c.name, c.typ))
		}
	}
	if len(problems) == 0 {
		for i := range w {
			if w[i].name != g[i].name {
				problems = append(problems, fmt.Sprintf("columns reordered: table has %s, query gives %s", names(w), names(g)))
				break
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the query's output does not match KPI table %q: %s; keep the KPI's columns "+
		"(add new ones as a new KPI) or drop the table and backfill every day",
		ErrIncompatibleSchema, table, strings.Join(problems, "; "))
}

// col is a catalog column, lowercased.
type col struct{ name, typ string }

func names(cs []col) string {
	ns := make([]string, len(cs))
	for i, c := range cs {
		ns[i] = c.name
	}
	return "(" + strings.Join(ns, ", ") + ")"
}

// dropTemp deletes the temporary table from the catalog, best effort. Glue's DeleteTable leaves
// the data in S3, which is what the KPI partition now points at.
func (r *Runner) dropTemp(ctx context.Context, log *slog.Logger, tmp string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := r.retry(dctx, "glue DeleteTable", func(ctx context.Context) error {
		_, err := r.glue.DeleteTable(ctx, &glue.DeleteTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(tmp)})
		return err
	})
	if err != nil && !hasCode(err, "EntityNotFoundException") {
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
	var stale []string
	p := glue.NewGetTablesPaginator(r.glue, &glue.GetTablesInput{DatabaseName: aws.String(r.cfg.Database),
		Expression: aws.String(prefix + ".*")})
	for p.HasMorePages() {
		var page *glue.GetTablesOutput
		err := r.retry(ctx, "glue GetTables", func(ctx context.Context) error {
			var err error
			page, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			log.Warn("ctas cleanup: stale temporary tables not listed", "err", err.Error())
			return
		}
		for _, t := range page.TableList {
			name := aws.ToString(t.Name)
			// The expression is a pattern; only the exact form of TempTableName counts, so that
			// another KPI whose name extends this one's is never touched.
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok {
				continue
			}
			if started, ok := tempRunStart(rest); ok && started.Before(cutoff) {
				stale = append(stale, name)
			}
		}
	}
	for _, name := range stale {
		r.dropTemp(ctx, log, name)
	}
	if len(stale) > 0 {
		log.Info("ctas cleanup: dropped temporary tables of crashed runs", "tables", stale)
	}
}

// tempRunStart is when the run of a temporary table started, from the run id part of its name
// (TempTableName: the run id lowercased, - as _); ok is false if it is not one.
func tempRunStart(part string) (time.Time, bool) {
	return layout.RunStart(strings.ToUpper(part[:min(len(part), 19)]) + strings.ReplaceAll(part[min(len(part), 19):], "_", "-"))
}

// HasPartition reports whether the catalog table (of the runner's database) has the partition
// dt=day; a table that does not exist has none. The aggregate handler asks it of a KPI's inputs
// before it runs the KPI for a crawler's event.
func (r *Runner) HasPartition(ctx context.Context, table string, day layout.Day) (bool, error) {
	_, exists, err := r.pub.readPartition(ctx, Request{Table: table, Date: day})
	return exists, err
}

// Serving is when the run that serves table's partition of day started, as the run id in the
// partition's location records it; ok is false when the table has no such partition, and start
// is the zero time when the location names no run.
func (r *Runner) Serving(ctx context.Context, table string, day layout.Day) (start time.Time, ok bool, err error) {
	loc, exists, err := r.pub.readPartition(ctx, Request{Table: table, Date: day})
	if err != nil || !exists {
		return time.Time{}, false, err
	}
	start, _ = layout.RunStart(layout.RunOf(loc))
	return start, true, nil
}

// Columns lists the columns of the catalog table table, in order, without its partition keys.
func (r *Runner) Columns(ctx context.Context, table string) ([]string, error) {
	var cols []string
	err := r.retry(ctx, "glue GetTable", func(ctx context.Context) error {
		out, err := r.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(r.cfg.Database), Name: aws.String(table)})
		if err != nil {
			return err
		}
		cols = cols[:0]
		if out.Table != nil && out.Table.StorageDescriptor != nil {
			for _, c := range out.Table.StorageDescriptor.Columns {
				cols = append(cols, aws.ToString(c.Name))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the columns of %q: %w", table, err)
	}
	return cols, nil
}
