// Command plan is the Lambda that turns a workflow trigger into the business day to aggregate.
package main

import (
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/queries"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	zone := os.Getenv(plan.EnvTimeZone)
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		log.Error("config: BUSINESS_TIME_ZONE must be an IANA time zone such as Asia/Tokyo", "value", zone, "err", err)
		os.Exit(1)
	}
	kpis, err := queries.Load()
	if err != nil {
		log.Error("config: the embedded KPI catalog does not load", "err", err)
		os.Exit(1)
	}
	lambda.Start(plan.NewHandler(loc, log, kpis).Handle)
}
