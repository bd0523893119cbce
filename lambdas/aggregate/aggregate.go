// Package aggregate is the Lambda handler that aggregates one KPI for one business day: it renders
// the KPI's SQL from the catalog and runs it through the CTAS runner. Its errors are typed so that
// the workflow can tell what to retry by the error's name.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// RunnerConfig is the CTAS runner's configuration from the function's environment (getenv is
// os.Getenv). It fails naming every variable that is unset, so that a function deployed without
// its result settings does not start and run queries with whatever the workgroup holds.
func RunnerConfig(getenv func(string) string) (ctas.Config, error) {
	var missing []string
	get := func(name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	cfg := ctas.Config{
		Database:         get(contract.EnvDatabase),
		Workgroup:        get(contract.EnvWorkgroup),
		AggregatedBucket: get(contract.EnvAggregatedBucket),
		ResultLocation:   get(contract.EnvResultLocation),
		ResultKMSKey:     get(contract.EnvResultKMSKey),
	}
	if len(missing) > 0 {
		return ctas.Config{}, fmt.Errorf("environment: %s not set; the stack sets them on the function", strings.Join(missing, ", "))
	}
	if v := getenv(contract.EnvSupersededGrace); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return ctas.Config{}, fmt.Errorf("environment: %s is %q; give a positive Go duration such as 6h", contract.EnvSupersededGrace, v)
		}
		cfg.SupersededGrace = d
	}
	return cfg, nil
}

// Request is one (KPI, day).
type Request struct {
	KPI  string `json:"kpi"`
	Date string `json:"date"`
	// Trigger is the plan's: plan.TriggerEvent for a run that an event started, which first checks
	// that the KPI's inputs have the day (see Handler.Handle); empty or plan.TriggerManual runs at
	// once, as an operator or a backfill job asks.
	Trigger string `json:"trigger,omitempty"`
	// Crawled are the raw-zone prefixes of the crawl that started the run (plan.Plan.Crawled):
	// their tables are not waited for, since the crawl has just brought what the day has of them.
	Crawled []string `json:"crawled,omitempty"`
}

// InputError is a request no retry can fix: an unknown KPI, a bad date (contract.InputError).
type InputError = contract.InputError

// Error types, named for the workflow's Retry and Catch rules (Lambda reports an error by its
// Go type name).
type (
	// QueryFailed is a query that Athena ran and failed, or whose output does not fit the KPI
	// table; retrying runs the same query again, so the workflow does not.
	QueryFailed struct{ Err error }
	// AthenaThrottled means Athena's quota stayed full through the runner's own retries; the
	// workflow retries later, with a longer backoff.
	AthenaThrottled struct{ Err error }
)

func (e *QueryFailed) Error() string     { return e.Err.Error() }
func (e *QueryFailed) Unwrap() error     { return e.Err }
func (e *AthenaThrottled) Error() string { return e.Err.Error() }
func (e *AthenaThrottled) Unwrap() error { return e.Err }

// Runner runs one CTAS, and reads the catalog: whether a table has a day, since when a day is
// served, a table's columns; *ctas.Runner is one.
type Runner interface {
	Run(ctx context.Context, req ctas.Request) (ctas.Result, error)
	HasPartition(ctx context.Context, table string, day layout.Day) (bool, error)
	Serving(ctx context.Context, table string, day layout.Day) (start time.Time, ok bool, err error)
	Columns(ctx context.Context, table string) ([]string, error)
}

var _ Runner = (*ctas.Runner)(nil)

// RawChanges says when a raw table last changed up to a day (the S3 LastModified of its
// objects, slack included); *plan.RawZone is one.
type RawChanges interface {
	LastChange(ctx context.Context, t queries.SourceTable, through layout.Day) (last time.Time, ok bool, err error)
}

var _ RawChanges = (*plan.RawZone)(nil)

// Handler aggregates KPIs of one catalog into one database.
type Handler struct {
	kpis  *queries.Catalog
	names queries.Names
	run   Runner
	log   *slog.Logger
	keys  StateKeys
	raw   RawChanges
}

// NewHandler returns a handler that renders KPIs of kpis for database in the business zone loc.
func NewHandler(kpis *queries.Catalog, database string, loc *time.Location, run Runner, log *slog.Logger) *Handler {
	return &Handler{kpis: kpis, names: queries.Names{Database: database, Location: loc}, run: run, log: log}
}

// WithDialect renders the KPIs for another engine than Athena: a local run's DuckDB.
func (h *Handler) WithDialect(d queries.Dialect) *Handler {
	h.names.Dialect = d
	return h
}

// WithState lets the handler build state nodes (queries.KPI.StateOf): keys gives each
// incremental table's primary key, raw says when its partitions last changed. Without it, a state
// node is an InputError.
func (h *Handler) WithState(keys StateKeys, raw RawChanges) *Handler {
	h.keys, h.raw = keys, raw
	return h
}

// Render returns k's SELECT for day. A KPI renders from the catalog alone. A state node reads the
// lake first: the source table's columns, and whether the previous day's state can be built on,
// which it can when that day is published by a run that started after the last change of every
// raw partition up to that day. Otherwise (the first day, a new state table, a re-extraction or a
// backfill that reached an earlier day after the previous state was built) the state is rebuilt
// from every partition up to the day, so that it is right in whatever order its days are built.
func (h *Handler) Render(ctx context.Context, k *queries.KPI, day layout.Day) (string, error) {
	src, ok := k.StateOf()
	if !ok {
		sql, err := k.Render(day, h.names)
		if err != nil {
			return "", &InputError{Err: fmt.Errorf("render %s for %s: %w", k.Name, day, err)}
		}
		return sql, nil
	}
	if h.raw == nil {
		return "", &InputError{Err: fmt.Errorf("render %s for %s: this handler builds no state nodes (no %s); deploy the stack again", k.Name, day, contract.EnvStateKeys)}
	}
	key, ok := h.keys[src]
	if !ok {
		return "", &InputError{Err: fmt.Errorf("render %s for %s: %s has no primary key in %s (it has %s): a KPI reads the state of a table that is not incremental in this environment; read it with {{ source }}, or make it incremental",
			k.Name, day, src, contract.EnvStateKeys, h.keys.list())}
	}
	cols, err := h.run.Columns(ctx, layout.SourceTableName(src.Source, src.Table))
	if err != nil {
		return "", fmt.Errorf("render %s for %s: %w", k.Name, day, err)
	}
	q := queries.StateQuery{Columns: cols, Key: key}
	prev := day.AddDays(-1)
	served, published, err := h.run.Serving(ctx, layout.KPITableName(k.Name), prev)
	if err != nil {
		return "", fmt.Errorf("render %s for %s: %w", k.Name, day, err)
	}
	if published {
		last, changed, err := h.raw.LastChange(ctx, src, prev)
		if err != nil {
			return "", fmt.Errorf("render %s for %s: %w", k.Name, day, err)
		}
		q.FromPrevious = !changed || served.After(last)
	}
	h.log.InfoContext(ctx, "state query", "kpi", k.Name, "date", day.String(), "from_previous", q.FromPrevious)
	sql, err := k.RenderState(day, h.names, q)
	if err != nil {
		return "", &InputError{Err: fmt.Errorf("render %s for %s: %w", k.Name, day, err)}
	}
	return sql, nil
}

// Handle aggregates one KPI for one day and returns what the runner published.
//
// A run that an event started (plan.TriggerEvent) runs the KPI only when the catalog has the day
// of every table it reads that the run's own crawl did not bring: its upstream KPIs' tables and
// the raw tables outside req.Crawled. Otherwise it returns the missing inputs in WaitingFor and
// publishes nothing. (A raw table of the crawl itself may lack the day, say no access logs at all:
// the KPI then publishes what the day has, as before.) A KPI that reads the sources of two crawlers
// (the access logs and a database) is planned after each crawl; so the first crawl of the day
// defers it, and the second one, which brings its last input, publishes it: the day is never
// published, nor counted as fresh, from one source alone.
func (h *Handler) Handle(ctx context.Context, req Request) (ctas.Result, error) {
	res, err := h.handle(ctx, req)
	if err != nil {
		h.log.ErrorContext(ctx, "aggregate failed", "kpi", req.KPI, "date", req.Date, "err", err,
			"error_type", fmt.Sprintf("%T", err))
	}
	return res, err
}

func (h *Handler) handle(ctx context.Context, req Request) (ctas.Result, error) {
	day, err := layout.ParseDay(req.Date)
	if err != nil {
		return ctas.Result{}, &InputError{Err: fmt.Errorf("field \"date\": %w", err)}
	}
	k, ok := h.kpis.KPI(req.KPI)
	if !ok {
		return ctas.Result{}, &InputError{Err: fmt.Errorf("field \"kpi\": %q is not a KPI of the catalog (%s)",
			req.KPI, strings.Join(h.kpis.Names(), ", "))}
	}
	if req.Trigger == plan.TriggerEvent {
		waiting, err := h.missingInputs(ctx, k, day, req.Crawled)
		if err != nil {
			return ctas.Result{}, err
		}
		if len(waiting) > 0 {
			h.log.InfoContext(ctx, "aggregate deferred: inputs of the day not in the catalog yet",
				"kpi", k.Name, "date", day.String(), "waiting_for", waiting)
			return ctas.Result{KPI: k.Name, Date: day.String(), WaitingFor: waiting}, nil
		}
	}
	sql, err := h.Render(ctx, k, day)
	if err != nil {
		return ctas.Result{}, err
	}
	res, err := h.run.Run(ctx, ctas.Request{KPI: k.Name, Date: day, Select: sql})
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, ctas.ErrThrottled):
		return res, &AthenaThrottled{err}
	case errors.Is(err, ctas.ErrQueryFailed), errors.Is(err, ctas.ErrIncompatibleSchema):
		return res, &QueryFailed{err}
	}
	return res, err
}

// missingInputs lists the tables that k reads, outside the crawled prefixes, and that have no
// partition for day: upstream KPIs as "kpi <name> dt=...", raw tables as "<source>.<table> dt=...".
func (h *Handler) missingInputs(ctx context.Context, k *queries.KPI, day layout.Day, crawled []string) ([]string, error) {
	type input struct{ name, table string }
	var inputs []input
	for _, up := range k.DependsOn {
		inputs = append(inputs, input{"kpi " + up, layout.KPITableName(up)})
	}
	for _, src := range k.Sources {
		if plan.Catalogues(crawled, src) {
			continue
		}
		inputs = append(inputs, input{src.String(), layout.SourceTableName(src.Source, src.Table)})
	}
	var missing []string
	for _, in := range inputs {
		ok, err := h.run.HasPartition(ctx, in.table, day)
		if err != nil {
			return nil, fmt.Errorf("check the inputs of %s for %s: %w", k.Name, day, err)
		}
		if !ok {
			missing = append(missing, in.name+" "+day.Partition())
		}
	}
	return missing, nil
}
