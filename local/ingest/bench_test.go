package ingest_test

import (
	"context"
	"testing"

	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/ingest"
	"github.com/kpilake/kpilake/sample"
)

// BenchmarkExtract_SampleWeek extracts every table of the default sample week, day by day at
// each day's extraction instant, from the embedded source into a lake directory, and writes the
// access logs: the extract side of `make demo`. It reports rows extracted per second.
func BenchmarkExtract_SampleWeek(b *testing.B) {
	benchmarkDays(b, sample.Config{})
}

// BenchmarkExtract_SampleYear is the same over a 365-day sample of 300 users.
func BenchmarkExtract_SampleYear(b *testing.B) {
	benchmarkDays(b, sample.Config{Days: 365, Users: 300})
}

func benchmarkDays(b *testing.B, cfg sample.Config) {
	ds := sample.Generate(cfg)
	src := ingest.Sample(ds)
	ctx := context.Background()
	var rows int64
	b.ResetTimer()
	for range b.N {
		lake := openLake(b)
		for _, d := range ds.Days() {
			res, err := ingest.Extract(ctx, lake, src, d, embedded.ExtractionTime(ds, d), ingest.Options{Salt: testSalt})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				rows += r.Rows
			}
			if _, _, err := ingest.WriteAccessLogs(ctx, lake, ds, embedded.AccessLogStream, d); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
