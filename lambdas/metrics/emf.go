// Package metrics writes CloudWatch embedded-metric-format (EMF) records: one JSON line per
// record on the function's standard output, which CloudWatch Logs turns into metrics. No API
// call, no extra latency, and the record stays searchable in the logs.
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/kpilake/kpilake/contract"
)

// Namespace is the CloudWatch namespace of every kpilake metric; the environment is a dimension.
const Namespace = "KpiLake"

// Unit is a CloudWatch unit.
type Unit string

// The units kpilake uses.
const (
	Count        Unit = "Count"
	Bytes        Unit = "Bytes"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
)

// Metric names, shared with the alarms and the dashboard (infra/observe).
const (
	// Extraction, dimensions Environment, Source, Table.
	RowsExtracted      = "RowsExtracted"
	BytesExtracted     = "BytesExtracted"
	ExtractionDuration = "ExtractionDuration"
	// Aggregation, dimensions Environment, KPI.
	BytesScanned    = "BytesScanned"
	QueryEngineTime = "QueryEngineTime"
	// PublishedDay is the business day a run published, as Unix seconds of the day's start (UTC
	// midnight of the date); its maximum over a period is the KPI's freshest day.
	PublishedDay = "PublishedDay"
	// PublishedDayAge is how long after the end of its day a partition was published, in
	// seconds: about a day for the daily run, more for a backfill.
	PublishedDayAge = "PublishedDayAge"
	// The sweep of the aggregated zone (lambdas/ctas.Sweeper), dimension Environment, one record
	// per pass: what it stopped, dropped, settled and deleted.
	SweptQueries      = "SweptQueries"
	SweptTempTables   = "SweptTempTables"
	SettledPartitions = "SettledPartitions"
	SweptRuns         = "SweptRuns"
	SweptObjects      = "SweptObjects"
	// NewestDayAge is, at each sweep (hourly), how long ago the newest day that a KPI's table
	// serves ended in the business time zone, in seconds (dimensions Environment, KPI); a KPI
	// that has published no day counts from 1970. The one freshness alarm of every KPI watches it.
	NewestDayAge = "NewestDayAge"
	// UnpublishedDays is, when a crawl is planned, how many days within the lookback have inputs
	// of the KPI and no publication that reflects them (dimensions Environment, KPI).
	UnpublishedDays = "UnpublishedDays"
	// UnpublishedDayAge is how long ago the newest input of the KPI's longest-waiting unpublished
	// day changed, in seconds; 0 when every day with inputs is published.
	UnpublishedDayAge = "UnpublishedDayAge"
)

// Dimension names.
const (
	DimEnvironment = "Environment"
	DimSource      = "Source"
	DimTable       = "Table"
	DimKPI         = "KPI"
)

// Value is one metric of a record.
type Value struct {
	Name  string
	Unit  Unit
	Value float64
}

// EMF writes records to W. The zero value is not usable; a nil *EMF records nothing, so callers
// need no check.
type EMF struct {
	w           io.Writer
	environment string
	now         func() time.Time
	mu          sync.Mutex
}

// New returns an EMF writer to w for the environment; a record carries it as its Environment
// dimension.
func New(w io.Writer, environment string) *EMF {
	return &EMF{w: w, environment: environment, now: time.Now}
}

// FromEnv writes to standard output for the environment named by KPILAKE_ENVIRONMENT.
func FromEnv() *EMF { return New(os.Stdout, os.Getenv(contract.EnvEnvironment)) }

// Record writes one record: the values under the dimensions dims (plus Environment), and props as
// searchable fields that are not metrics (query ids, keys). A write error is returned so that a
// caller may log it; metrics never fail a run.
func (e *EMF) Record(dims map[string]string, props map[string]any, values ...Value) error {
	if e == nil || len(values) == 0 {
		return nil
	}
	doc := make(map[string]any, len(dims)+len(props)+len(values)+2)
	for k, v := range props {
		doc[k] = v
	}
	names := make([]string, 0, len(dims)+1)
	for k, v := range dims {
		doc[k] = v
		names = append(names, k)
	}
	sort.Strings(names)
	if e.environment != "" {
		doc[DimEnvironment] = e.environment
		names = append([]string{DimEnvironment}, names...)
	}
	defs := make([]map[string]string, len(values))
	for i, v := range values {
		doc[v.Name] = v.Value
		defs[i] = map[string]string{"Name": v.Name, "Unit": string(v.Unit)}
	}
	doc["_aws"] = map[string]any{
		"Timestamp": e.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{names},
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("metrics: encode record: %w", err)
	}
	line = append(line, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(line); err != nil {
		return fmt.Errorf("metrics: write record: %w", err)
	}
	return nil
}
