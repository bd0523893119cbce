// Package startup wires, once as a Lambda starts, the functions that run the CTAS runner (the
// daily aggregate function, the backfill worker and the sweep) from their environment, so that
// they start the same way and fail the same way on a bad one.
package startup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/lambdas/tracing"
	"github.com/kpilake/kpilake/queries"
)

// Aggregation is what Aggregate builds.
type Aggregation struct {
	// Handler aggregates one KPI for one day.
	Handler *aggregate.Handler
	// KPIs is the embedded KPI catalog the handler renders.
	KPIs *queries.Catalog
	// AWS is the traced AWS configuration, for the caller's own clients.
	AWS aws.Config
	// Location is the business time zone.
	Location *time.Location
}

// Aggregate builds the handler of one KPI-day from getenv: the business time zone, the embedded
// KPI catalog and a CTAS runner over traced AWS clients.
func Aggregate(ctx context.Context, getenv func(string) string, log *slog.Logger) (Aggregation, error) {
	zone := getenv(contract.EnvTimeZone)
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		// LoadLocation("") is UTC: a function without its zone would aggregate the wrong days.
		return Aggregation{}, fmt.Errorf("config: %s must be an IANA time zone such as Asia/Tokyo, is %q", contract.EnvTimeZone, zone)
	}
	kpis, err := queries.Load()
	if err != nil {
		return Aggregation{}, fmt.Errorf("config: the embedded KPI catalog does not load: %w", err)
	}
	cfg, err := aggregate.RunnerConfig(getenv)
	if err != nil {
		return Aggregation{}, fmt.Errorf("config: %w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Aggregation{}, fmt.Errorf("aws config: %w", err)
	}
	tracing.InstrumentAWS(&awsCfg)
	cfg.Logger, cfg.Tracer, cfg.TimeZone = log, tracing.Backend{}, loc
	cfg.Metrics = metrics.New(os.Stdout, getenv(contract.EnvEnvironment))
	runner, err := ctas.NewFromConfig(awsCfg, cfg)
	if err != nil {
		return Aggregation{}, fmt.Errorf("ctas runner: %w", err)
	}
	h := aggregate.NewHandler(kpis, cfg.Database, loc, runner, log)
	if len(kpis.States()) > 0 {
		keys, err := aggregate.ParseStateKeys(getenv(contract.EnvStateKeys))
		if err != nil {
			return Aggregation{}, fmt.Errorf("config: %w", err)
		}
		raw, err := plan.NewRawZone(s3.NewFromConfig(awsCfg), getenv(contract.EnvRawBucket))
		if err != nil {
			return Aggregation{}, fmt.Errorf("config: the catalog has state nodes (%v): %w", kpis.States(), err)
		}
		h.WithState(keys, raw)
	}
	return Aggregation{Handler: h, KPIs: kpis, AWS: awsCfg, Location: loc}, nil
}

// SweepRequest is the sweep function's input. The schedule sends {}.
type SweepRequest struct {
	// KPIs limits a pass to these KPIs of the catalog (an operator's run); empty means all.
	KPIs []string `json:"kpis,omitempty"`
}

// Sweep builds the handler of the periodic sweep of the aggregated zone (ctas.Sweeper) from
// getenv, with the same runner configuration as Aggregate: the same database, workgroup, bucket
// and grace as the runs whose leftovers it removes.
func Sweep(ctx context.Context, getenv func(string) string, log *slog.Logger) (func(context.Context, SweepRequest) (ctas.SweepResult, error), error) {
	kpis, err := queries.Load()
	if err != nil {
		return nil, fmt.Errorf("config: the embedded KPI catalog does not load: %w", err)
	}
	cfg, err := aggregate.RunnerConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	tracing.InstrumentAWS(&awsCfg)
	cfg.Logger = log
	cfg.Metrics = metrics.New(os.Stdout, getenv(contract.EnvEnvironment))
	// The zone in which a KPI's newest day ends, for its age (metrics.NewestDayAge); UTC if unset.
	if zone := getenv(contract.EnvTimeZone); zone != "" {
		if cfg.TimeZone, err = time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("config: %s must be an IANA time zone such as Asia/Tokyo, is %q", contract.EnvTimeZone, zone)
		}
	}
	sw, err := ctas.NewSweeperFromConfig(awsCfg, cfg)
	if err != nil {
		return nil, fmt.Errorf("ctas sweeper: %w", err)
	}
	all := kpis.Names()
	return func(ctx context.Context, req SweepRequest) (ctas.SweepResult, error) {
		names := all
		if len(req.KPIs) > 0 {
			for _, k := range req.KPIs {
				if !slices.Contains(all, k) {
					return ctas.SweepResult{}, fmt.Errorf("sweep: unknown KPI %q; give names from queries/ (%v)", k, all)
				}
			}
			names = req.KPIs
		}
		return sw.Sweep(ctx, names)
	}, nil
}
