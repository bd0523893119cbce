package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/ingest"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/queries"
	"github.com/kpilake/kpilake/sample"
)

// noKPITables is a Glue catalog without KPI tables yet.
type noKPITables struct{}

func (noKPITables) GetPartitions(context.Context, *glue.GetPartitionsInput, ...func(*glue.Options)) (*glue.GetPartitionsOutput, error) {
	return nil, &gtypes.EntityNotFoundException{Message: aws.String("no such table")}
}

// The real plan reads the local lake as it reads S3: after three days extracted (and their
// access logs delivered) at their extraction instants, each raw table's day last changed at its
// day's extraction, the LastModified of the extractor's multipart upload (its initiation), found
// through a paginated listing that starts after the span's first day (and, for a log stream read
// by event time, ends with the arrival day after the span).
func TestPlan_ReadsEachDaysExtractionFromTheLake(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	days := ds.Days()[:3]
	var now time.Time
	lake, err := lakedir.Open(t.TempDir(), lakedir.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, d := range ds.Days() {
		now = embedded.ExtractionTime(ds, d)
		if _, err := ingest.Extract(ctx, lake, ingest.Sample(ds), d, now, ingest.Options{Salt: testSalt}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ingest.WriteAccessLogs(ctx, lake, ds, embedded.AccessLogStream, d); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := plan.NewLake(lake, noKPITables{}, ingest.RawBucket, "kpilake", 7)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := pl.Read(ctx, cat, cat.Names(), plan.Span{From: days[1], To: days[2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Raw) == 0 {
		t.Fatal("the plan read no raw table")
	}
	for src, got := range snap.Raw {
		for _, d := range days[1:] {
			if _, ok := got[d]; !ok {
				t.Errorf("%s.%s: the plan read no dt=%s", src.Source, src.Table, d)
			}
		}
		last := days[2]
		if src.Source == layout.AppLogsSource {
			// Read by event time: the arrival day after the span holds the late records of its end.
			last = last.AddDays(layout.LogLateDays)
			if len(snap.Landed[src][last]) == 0 {
				t.Errorf("%s.%s: the plan read no object landed in dt=%s", src.Source, src.Table, last)
			}
		}
		for d, at := range got {
			if last.Before(d) {
				t.Errorf("%s.%s: the plan read dt=%s, after the span", src.Source, src.Table, d)
			}
			if want := embedded.ExtractionTime(ds, d); !at.Equal(want) {
				t.Errorf("%s.%s dt=%s last changed %v, want its extraction %v", src.Source, src.Table, d, at, want)
			}
		}
	}
}
