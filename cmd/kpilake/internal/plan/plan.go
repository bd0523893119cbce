// Package plan turns an operator's backfill request into a plan: the days to re-aggregate (one
// queue message each), the KPIs in dependency waves, and an estimate of what Athena will scan
// and bill. Nothing here sends anything; the plan is what the operator reads before --yes.
package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Request is a backfill request as the operator gave it on the command line.
type Request struct {
	// Env names the environment, for messages.
	Env string
	// From and To are the first and last business day, YYYY-MM-DD, both included.
	From, To string
	// KPIs to rebuild; their dependents are rebuilt too. Empty means the whole catalog.
	KPIs []string
	// MaxDays is the longest range the environment allows (backfill.maxDays in cdk.json).
	MaxDays int
	// Today is the business day now in the environment's time zone; a range that ends after it
	// is rejected (its raw data does not exist yet). Zero skips the check.
	Today layout.Day
	// TimeZone names the zone of Today, for messages.
	TimeZone string
}

// Plan is a validated request: what a backfill will send and run.
type Plan struct {
	Env      string
	From, To layout.Day
	// KPIs are the requested KPIs, sorted and without duplicates; nil means the whole catalog.
	// They go into every job as they are: the worker adds the dependents itself.
	KPIs []string
	// Waves are the KPIs each job runs, dependents included, in dependency order.
	Waves [][]string
	// Estimate is what Athena will scan; nil when the plan was not estimated.
	Estimate *Estimate
}

// New validates r against the catalog and returns the plan. The error lists every problem at
// once, each naming the flag to fix.
func New(cat *queries.Catalog, r Request) (*Plan, error) {
	var errs []error
	from, err := layout.ParseDay(r.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("--from: %w", err))
	}
	to, terr := layout.ParseDay(r.To)
	if terr != nil {
		errs = append(errs, fmt.Errorf("--to: %w", terr))
	}
	if err == nil && terr == nil {
		switch n := DaysBetween(from, to); {
		case to.Before(from):
			errs = append(errs, fmt.Errorf("--from %s is after --to %s; swap them", from, to))
		case r.MaxDays > 0 && n > r.MaxDays:
			errs = append(errs, fmt.Errorf("--from %s --to %s spans %d days; environment %s allows at most %d per request (backfill.maxDays in cdk.json): split the range",
				from, to, n, r.Env, r.MaxDays))
		}
		if !r.Today.IsZero() && r.Today.Before(to) {
			errs = append(errs, fmt.Errorf("--to %s is after today (%s in %s): its raw data does not exist yet",
				to, r.Today, cmp.Or(r.TimeZone, "the environment's time zone")))
		}
	}
	kpis := slices.Clone(r.KPIs)
	for i, k := range kpis {
		kpis[i] = strings.TrimSpace(k)
	}
	slices.Sort(kpis)
	kpis = slices.Compact(kpis)
	if len(kpis) == 0 {
		kpis = nil
	}
	waves, err := cat.Waves(kpis)
	if err != nil {
		errs = append(errs, fmt.Errorf("--kpi: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Plan{Env: r.Env, From: from, To: to, KPIs: kpis, Waves: waves}, nil
}

// DaysBetween counts the days from from to to, both included (0 if to is before from).
func DaysBetween(from, to layout.Day) int {
	if to.Before(from) {
		return 0
	}
	return int(to.Start(time.UTC).Sub(from.Start(time.UTC)).Hours()/24) + 1
}

// Days lists the plan's days in order.
func (p *Plan) Days() []layout.Day {
	n := DaysBetween(p.From, p.To)
	days := make([]layout.Day, n)
	for i := range days {
		days[i] = p.From.AddDays(i)
	}
	return days
}

// DayCount is the number of days, hence of jobs.
func (p *Plan) DayCount() int { return DaysBetween(p.From, p.To) }

// Selected lists every KPI the plan runs, wave by wave.
func (p *Plan) Selected() []string { return slices.Concat(p.Waves...) }

// Queries is the number of Athena queries the plan runs: one per KPI and day.
func (p *Plan) Queries() int { return p.DayCount() * len(p.Selected()) }

// Jobs returns the queue messages of the plan for one request: one per day, in day order.
func (p *Plan) Jobs(requestID string) []backfill.Job {
	days := p.Days()
	jobs := make([]backfill.Job, len(days))
	for i, d := range days {
		jobs[i] = backfill.Job{RequestID: requestID, Date: d.String(), KPIs: slices.Clone(p.KPIs)}
	}
	return jobs
}
