// Command backfill is the Lambda that works backfill jobs from SQS: one business day's KPIs per
// message, through the same CTAS runner as the daily workflow.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/internal/startup"
	"github.com/kpilake/kpilake/layout"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	w, err := newWorker(log)
	if err != nil {
		log.Error("backfill: start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(w.Handle)
}

func newWorker(log *slog.Logger) (*backfill.Worker, error) {
	a, err := startup.Aggregate(context.Background(), os.Getenv, log)
	if err != nil {
		return nil, err
	}
	var earliest layout.Day
	if v := os.Getenv(contract.EnvBackfillEarliestDay); v != "" {
		if earliest, err = layout.ParseDay(v); err != nil {
			return nil, fmt.Errorf("config: %s: %w", contract.EnvBackfillEarliestDay, err)
		}
	}
	w, err := backfill.NewWorker(a.KPIs, a.Handler, sqs.NewFromConfig(a.AWS), backfill.Config{
		QueueURL:           os.Getenv(contract.EnvBackfillQueueURL),
		DeadLetterQueueURL: os.Getenv(contract.EnvBackfillDeadLetterQueueURL),
		TimeZone:           a.Location,
		EarliestDay:        earliest,
		Logger:             log,
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return w, nil
}
