// Command aggregate is the Lambda that aggregates one KPI for one business day with Athena CTAS.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/tracing"
	"github.com/kpilake/kpilake/queries"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("aggregate: start-up failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	loc, err := time.LoadLocation(os.Getenv(aggregate.EnvTimeZone))
	if err != nil {
		return err
	}
	kpis, err := queries.Load()
	if err != nil {
		return err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return err
	}
	tracing.InstrumentAWS(&awsCfg)
	cfg, err := aggregate.RunnerConfig(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Logger, cfg.Tracer, cfg.Metrics, cfg.TimeZone = log, tracing.Backend{}, metrics.FromEnv(), loc
	runner, err := ctas.NewFromConfig(awsCfg, cfg)
	if err != nil {
		return err
	}
	lambda.Start(aggregate.NewHandler(kpis, cfg.Database, loc, runner, log).Handle)
	return nil
}
