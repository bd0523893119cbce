package ctas

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kpilake/kpilake/lambdas/metrics"
)

func TestRunner_EmitsOneMetricRecordPerPublishedRun(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	var out bytes.Buffer
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2026, 11, 25, 3, 0, 0, 0, tokyo) // 03:00 the next morning in Tokyo
	r := l.runner(t, nil, nil, func(c *Config) {
		c.Metrics = metrics.New(&out, "dev")
		c.TimeZone = tokyo
	})
	r.now = func() time.Time { return published }
	res := mustRun(t, r, context.Background())

	recs, err := metrics.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1:\n%s", len(recs), out.String())
	}
	rec := recs[0]
	if rec.Dimensions[metrics.DimKPI] != testKPI || rec.Dimensions[metrics.DimEnvironment] != "dev" || len(rec.Dimensions) != 2 {
		t.Errorf("dimensions %v", rec.Dimensions)
	}
	want := map[string]metrics.Value{
		metrics.BytesScanned:    {Name: metrics.BytesScanned, Unit: metrics.Bytes, Value: float64(res.BytesScanned)},
		metrics.QueryEngineTime: {Name: metrics.QueryEngineTime, Unit: metrics.Milliseconds, Value: float64(res.EngineTimeMs)},
		// 2026-11-24 as UTC midnight, whatever the business zone.
		metrics.PublishedDay: {Name: metrics.PublishedDay, Unit: metrics.Seconds, Value: float64(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Unix())},
		// The Tokyo day ended at midnight; published three hours later.
		metrics.PublishedDayAge: {Name: metrics.PublishedDayAge, Unit: metrics.Seconds, Value: 3 * 3600},
	}
	for k, v := range want {
		if rec.Values[k] != v {
			t.Errorf("%s = %+v, want %+v", k, rec.Values[k], v)
		}
	}
	if rec.Fields["query_id"] != res.QueryID || rec.Fields["date"] != testDay.String() || rec.Fields["location"] != res.Location {
		t.Errorf("fields %v, want the query id, date and location of %+v", rec.Fields, res)
	}
}

func TestRunner_EmitsNoMetricsForAFailedRun(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	var out bytes.Buffer
	fa := &faultyAthena{athenaAPI: l.sim, startThrottles: 1000}
	r := l.runner(t, fa, nil, func(c *Config) { c.Metrics = metrics.New(&out, "dev"); c.RetryAttempts = 2 })
	if _, err := r.Run(context.Background(), request()); err == nil {
		t.Fatal("run succeeded under endless throttling")
	}
	if out.Len() != 0 {
		t.Errorf("a failed run wrote metrics: %s", out.String())
	}
}

// Each pass records, per KPI, how long ago the newest day its table serves ended in the business
// zone (metrics.NewestDayAge): the gauge that the one freshness alarm of every KPI watches. A KPI
// that has published no day counts from 1970.
func TestSweep_RecordsEachKPIsNewestDayAge(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	l.publishRuns(t, testDay.AddDays(-1), "20261124T050000000Z-00000001")
	l.publishRuns(t, testDay, "20261125T050000000Z-00000001")
	var out bytes.Buffer
	sw := l.sweeper(t, nil, nil, func(c *Config) { c.Metrics = metrics.New(&out, "dev"); c.TimeZone = tokyo })
	now := time.Date(2026, 11, 25, 5, 0, 0, 0, tokyo) // testDay (2026-11-24) ended five hours ago in Tokyo
	sw.r.now = func() time.Time { return now }
	if _, err := sw.Sweep(context.Background(), []string{testKPI, "never_published"}); err != nil {
		t.Fatal(err)
	}
	recs, err := metrics.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ages := map[string]metrics.Value{}
	for _, r := range recs {
		if v, ok := r.Values[metrics.NewestDayAge]; ok {
			if len(r.Dimensions) != 2 || r.Dimensions[metrics.DimEnvironment] != "dev" {
				t.Errorf("dimensions %v, want Environment and KPI", r.Dimensions)
			}
			ages[r.Dimensions[metrics.DimKPI]] = v
		}
	}
	want := map[string]metrics.Value{
		testKPI:           {Name: metrics.NewestDayAge, Unit: metrics.Seconds, Value: 5 * 3600},
		"never_published": {Name: metrics.NewestDayAge, Unit: metrics.Seconds, Value: float64(now.Unix())},
	}
	if len(ages) != len(want) {
		t.Errorf("ages recorded %v, want one per KPI %v", ages, want)
	}
	for k, v := range want {
		if ages[k] != v {
			t.Errorf("%s: %+v, want %+v", k, ages[k], v)
		}
	}
}
