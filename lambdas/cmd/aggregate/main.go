// Command aggregate is the Lambda that aggregates one KPI for one business day with Athena CTAS.
package main

import (
	"context"
	"log/slog"
	"os"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kpilake/kpilake/lambdas/internal/startup"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	a, err := startup.Aggregate(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("aggregate: start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(a.Handler.Handle)
}
