package ctas

// Run, step by step: a request, the run it starts, and what the run reports.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kpilake/kpilake/internal/rematch"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// Request names one (KPI, day) to publish.
type Request struct {
	// KPI is the catalog name of the KPI (snake_case). Required.
	KPI string
	// Date is the business day. Required.
	Date layout.Day
	// Select is the KPI's rendered SELECT for Date, produced by the KPI catalog. Required.
	Select string
	// Table is the KPI's catalog table. Default: layout.KPITableName(KPI).
	Table string
}

// Result describes a published (KPI, day).
type Result struct {
	KPI          string `json:"kpi"`
	Date         string `json:"date"`
	QueryID      string `json:"query_id"`
	BytesScanned int64  `json:"bytes_scanned"`
	EngineTimeMs int64  `json:"engine_time_ms"`
	// Location is the run prefix the dt=Date partition now points at: this run's, or that of the
	// newer run named by SupersededBy.
	Location string `json:"location"`
	RunID    string `json:"run_id"`
	// SupersededBy is the newer run that serves the day in place of this one (two runs of a day
	// overlapped); this run's output is deleted after the grace period. Empty when this run
	// serves the day.
	SupersededBy string `json:"superseded_by,omitempty"`
	// WaitingFor, set only by the aggregate handler, lists the inputs (tables, as source.table or
	// kpi name, with the partition) that the catalog does not have for the day yet: the KPI was
	// deferred, nothing was queried or published, and the run that brings the last input runs it.
	WaitingFor []string `json:"waiting_for,omitempty"`
}

var (
	// identRE is what the runner accepts as a table name it puts between double quotes.
	identRE = rematch.MustCompile(`^[a-z][a-z0-9_]*$`, 1, 255)
)

// Run publishes req.KPI for req.Date: it heals the day's partition, runs the CTAS into a new run
// prefix, switches the partition to it (publish.go), then cleans up. On any error before the
// switch, the previous dt=Date partition is untouched (or healed, if it was on broken output). ctx's
// deadline (a Lambda's) is honoured: the query is stopped Config.StopMargin before it.
func (r *Runner) Run(ctx context.Context, req Request) (res Result, err error) {
	rn, err := r.prepare(ctx, req)
	if err != nil {
		return Result{}, err
	}
	res = Result{KPI: rn.req.KPI, Date: rn.req.Date.String(), RunID: rn.id, Location: r.pub.location(rn.req, rn.id)}
	ctx, end := r.trace(ctx, rn)
	defer func() { end(res, err) }()
	healed := r.startHeal(ctx, rn)
	defer func() { <-healed }()

	if err := r.query(ctx, rn, &res); err != nil {
		return res, rn.fail(err)
	}
	<-healed
	table, err := r.publish(ctx, rn.req, rn.tmp, res.Location)
	if err != nil {
		r.dropTemp(ctx, rn.log, rn.tmp)
		return res, rn.fail(err)
	}
	// The day is served from the new run from here on: cleanup failures are logged, not returned,
	// so that a retry does not redo a published day for nothing; the next run or the sweep
	// cleans up again.
	r.dropTemp(ctx, rn.log, rn.tmp)
	r.dropStaleTemps(ctx, rn.log, rn.req)
	// Another run's late write may have moved the partition to an older run; settle moves it to
	// the newest ready run. Unlike cleanup, a failure here may leave the day on older output, so
	// it is returned: a retry's run settles the day again.
	serving, err := r.pub.settle(ctx, rn.req, table)
	if err != nil {
		return res, rn.fail(err)
	}
	// Runs superseded more than the grace period ago go now; this run's predecessor stays for
	// readers that planned against it, until a later run or the sweep.
	if _, err := r.pub.collect(ctx, rn.req); err != nil {
		rn.log.Warn("ctas cleanup: superseded runs not deleted", "err", err.Error())
	}
	r.servedBy(rn, &res, serving)
	r.record(rn.log, rn.req, res)
	return res, nil
}

// run is one Run: its checked request, its id, its temporary table and its log.
type run struct {
	req Request
	id  string
	tmp string
	log *slog.Logger
}

// fail wraps an error of the run's steps with the KPI and the day.
func (rn *run) fail(err error) error {
	return fmt.Errorf("ctas %s %s: %w", rn.req.KPI, rn.req.Date, err)
}

// prepare checks req and names its run. It refuses to start a query inside the stop margin.
func (r *Runner) prepare(ctx context.Context, req Request) (*run, error) {
	if err := r.check(&req); err != nil {
		return nil, fmt.Errorf("ctas: %w", err)
	}
	if at, ok := r.stopAt(ctx); ok && !r.now().Before(at) {
		return nil, fmt.Errorf("ctas %s %s: %w before the query started", req.KPI, req.Date, ErrDeadline)
	}
	id := r.newRun(r.now())
	if _, ok := layout.RunStart(id); !ok {
		return nil, fmt.Errorf("ctas: run id %q is not of the form 20060102T150405000Z-0a1b2c3d (layout.NewRunID)", id)
	}
	tmp := TempTableName(req.KPI, req.Date, id)
	if !identRE.MatchString(tmp) {
		return nil, fmt.Errorf("ctas: temporary table name %q is not a catalog identifier", tmp)
	}
	log := r.cfg.Logger.With("kpi", req.KPI, "date", req.Date.String(), "run_id", id)
	return &run{req: req, id: id, tmp: tmp, log: log}, nil
}

// check validates req and fills in its defaults: the table name, the SELECT without a trailing
// semicolon.
func (r *Runner) check(req *Request) error {
	var errs []error
	if err := layout.ValidateName("KPI", req.KPI); err != nil {
		errs = append(errs, err)
	}
	if req.Date.IsZero() {
		errs = append(errs, errors.New("Date is required"))
	}
	if req.Table == "" && req.KPI != "" {
		req.Table = layout.KPITableName(req.KPI)
	}
	if !identRE.MatchString(req.Table) {
		errs = append(errs, fmt.Errorf("Table %q is not a catalog identifier (lowercase letters, digits, _)", req.Table))
	}
	req.Select = strings.TrimRight(strings.TrimSpace(req.Select), "; \n\t")
	if req.Select == "" {
		errs = append(errs, errors.New("Select is empty; render the KPI's query for the day first"))
	}
	return errors.Join(errs...)
}

// trace opens the run's span. The function it returns ends the span and logs the run's outcome.
func (r *Runner) trace(ctx context.Context, rn *run) (context.Context, func(Result, error)) {
	ctx, end := r.cfg.Tracer.Start(ctx, "ctas "+rn.req.KPI, map[string]string{"kpi": rn.req.KPI, "date": rn.req.Date.String()})
	return ctx, func(res Result, err error) {
		end(map[string]string{"query_id": res.QueryID},
			map[string]any{"bytes_scanned": res.BytesScanned, "engine_time_ms": res.EngineTimeMs}, err)
		attrs := []any{"query_id", res.QueryID, "bytes_scanned", res.BytesScanned,
			"engine_time_ms", res.EngineTimeMs, "location", res.Location}
		if err != nil {
			rn.log.Error("ctas failed", append(attrs, "err", err.Error())...)
			return
		}
		rn.log.Info("ctas published", attrs...)
	}
}

// startHeal heals the day's partition in the background (publish.go, I4); the channel closes when
// the heal is over.
//
// A dead run may have left the day on output that is not ready or is gone: healing it while the
// query runs (off the critical path: it touches only the KPI's own day, which the query does not
// read) makes the day readable even if this run fails. Run waits for the heal before its switch
// and before it returns; the settle after the switch heals the day too.
func (r *Runner) startHeal(ctx context.Context, rn *run) <-chan struct{} {
	healed := make(chan struct{})
	go func() {
		defer close(healed)
		if err := r.heal(ctx, rn.req); err != nil {
			rn.log.Warn("ctas: the day's partition not healed before the run", "err", err.Error())
		}
	}()
	return healed
}

// servedBy records in res the run that serves the day, if a newer run than this one does. An
// empty serving run is a partition that points at no run folder and no ready run to move it to
// (output of an older runner): this run's location stands.
func (r *Runner) servedBy(rn *run, res *Result, serving string) {
	if serving == "" || serving == rn.id {
		return
	}
	res.SupersededBy = serving
	res.Location = r.pub.location(rn.req, serving)
	rn.log.Info("ctas superseded: a newer run serves the day", "serving", serving)
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
