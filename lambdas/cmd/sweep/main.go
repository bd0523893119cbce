// Command sweep is the Lambda that an hourly schedule runs over the aggregated zone: it deletes
// superseded runs past their grace period, settles days left off their newest ready run, and
// drops the temporary tables (and stops the queries) of crashed runs (lambdas/ctas.Sweeper).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kpilake/kpilake/lambdas/internal/startup"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := startup.Sweep(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("sweep: start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
