// Command backfill is the Lambda that works backfill jobs from SQS: one business day's KPIs per
// message, through the same CTAS runner as the daily workflow.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/tracing"
	"github.com/kpilake/kpilake/queries"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("backfill: start-up failed", "err", err)
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
	w, err := backfill.NewWorker(kpis, aggregate.NewHandler(kpis, cfg.Database, loc, runner, log), sqs.NewFromConfig(awsCfg),
		backfill.Config{
			QueueURL:           os.Getenv(backfill.EnvQueueURL),
			DeadLetterQueueURL: os.Getenv(backfill.EnvDeadLetterQueueURL),
			Logger:             log,
		})
	if err != nil {
		return err
	}
	lambda.Start(w.Handle)
	return nil
}
