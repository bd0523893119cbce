// Command plan is the Lambda that turns a workflow trigger into the business day to aggregate and
// the KPI waves of that day.
package main

import (
	"fmt"
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
	h, err := newHandler(log, os.LookupEnv)
	if err != nil {
		log.Error("plan: start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// newHandler reads the configuration once, as the Lambda starts: the business time zone, the
// embedded KPI catalog and, when the aggregation workflow set it, the crawlers' prefixes, which
// must cover every raw table a KPI reads.
func newHandler(log *slog.Logger, env func(string) (string, bool)) (*plan.Handler, error) {
	zone, _ := env(plan.EnvTimeZone)
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		return nil, fmt.Errorf("config: %s must be an IANA time zone such as Asia/Tokyo, is %q", plan.EnvTimeZone, zone)
	}
	kpis, err := queries.Load()
	if err != nil {
		return nil, fmt.Errorf("config: the embedded KPI catalog does not load: %w", err)
	}
	// Without it (a stack without aggregation), only manual runs and schedules are planned.
	var triggers plan.Triggers
	if value, ok := env(plan.EnvCrawlers); ok {
		crawlers, err := plan.ParseCrawlers(value)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if triggers, err = plan.NewTriggers(crawlers, kpis); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return plan.NewHandler(loc, log, kpis, triggers), nil
}
