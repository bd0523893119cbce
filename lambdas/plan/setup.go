package plan

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/queries"
)

// Setup builds the plan function's handler from its environment (env is os.LookupEnv), once as
// it starts: the business time zone, the embedded KPI catalog and, when the aggregation workflow
// set the crawlers (contract.EnvCrawlers), the lake that the crawls' due days are read from, through s3
// and glue. A bad or missing setting is an error that names the variable.
func Setup(log *slog.Logger, env func(string) (string, bool), s3 objectLister, glue partitionLister, m *metrics.EMF) (*Handler, error) {
	zone, _ := env(contract.EnvTimeZone)
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		return nil, fmt.Errorf("config: %s must be an IANA time zone such as Asia/Tokyo, is %q", contract.EnvTimeZone, zone)
	}
	kpis, err := queries.Load()
	if err != nil {
		return nil, fmt.Errorf("config: the embedded KPI catalog does not load: %w", err)
	}
	value, ok := env(contract.EnvCrawlers)
	if !ok {
		// A stack without aggregation: only manual runs are planned.
		return NewHandler(loc, log, kpis, Triggers{}), nil
	}
	crawlers, err := ParseCrawlers(value)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	triggers, err := NewTriggers(crawlers, kpis)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	bucket, _ := env(contract.EnvRawBucket)
	database, _ := env(contract.EnvDatabase)
	lookback := DefaultLookbackDays
	if v, ok := env(contract.EnvLookbackDays); ok {
		if lookback, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("config: %s is %q; give a whole number of days", contract.EnvLookbackDays, v)
		}
	}
	lake, err := NewLake(s3, glue, bucket, database, lookback)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if v, ok := env(contract.EnvLogLateness); ok {
		lateness, err := time.ParseDuration(v)
		if err != nil || lateness < 0 || lateness >= 24*time.Hour {
			return nil, fmt.Errorf("config: %s is %q; give a duration under a day, such as 30m (the stack sets it from logCrawlTime)", contract.EnvLogLateness, v)
		}
		lake.WithLogLateness(lateness)
	} else if kpis.ReadsEvents() {
		return nil, fmt.Errorf("config: %s is not set, and KPIs read log streams by event time; the stack sets it from logCrawlTime: deploy the stack again", contract.EnvLogLateness)
	}
	return NewHandler(loc, log, kpis, triggers).WithLake(lake, kpis, m, nil), nil
}
