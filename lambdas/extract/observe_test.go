package extract

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/kpilake/kpilake/lambdas/metrics"
)

// spanRecorder records the spans an extraction opens.
type spanRecorder struct {
	mu    sync.Mutex
	names []string
	start []map[string]string
	meta  []map[string]any
	errs  []error
}

func (s *spanRecorder) Start(ctx context.Context, name string, ann map[string]string) (context.Context, func(map[string]string, map[string]any, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names, s.start = append(s.names, name), append(s.start, ann)
	return ctx, func(_ map[string]string, md map[string]any, err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.meta, s.errs = append(s.meta, md), append(s.errs, err)
	}
}

func TestMariaDB_EmitsMetricsAndASpanPerTable(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t, "CREATE TABLE posts (id INT, body TEXT)", "INSERT INTO posts VALUES (1, 'first'), (2, 'second'), (3, 'third')")
	r := newRun(t, d, TableSpec{Name: "posts"})
	var out bytes.Buffer
	spans := &spanRecorder{}
	observe := func(c *Config) { c.Metrics = metrics.New(&out, "dev"); c.Tracer = spans }
	res := r.mustExtract(t, "posts", "2026-11-24", observe)

	recs, err := metrics.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d metric records, want 1:\n%s", len(recs), out.String())
	}
	rec := recs[0]
	if rec.Dimensions[metrics.DimSource] != "social" || rec.Dimensions[metrics.DimTable] != "posts" || rec.Dimensions[metrics.DimEnvironment] != "dev" {
		t.Errorf("dimensions %v", rec.Dimensions)
	}
	for name, want := range map[string]metrics.Value{
		metrics.RowsExtracted:      {Name: metrics.RowsExtracted, Unit: metrics.Count, Value: 3},
		metrics.BytesExtracted:     {Name: metrics.BytesExtracted, Unit: metrics.Bytes, Value: float64(res.Bytes)},
		metrics.ExtractionDuration: {Name: metrics.ExtractionDuration, Unit: metrics.Milliseconds, Value: float64(res.DurationMs)},
	} {
		if rec.Values[name] != want {
			t.Errorf("%s = %+v, want %+v", name, rec.Values[name], want)
		}
	}
	if rec.Fields["key"] != res.Key || rec.Fields["date"] != "2026-11-24" {
		t.Errorf("fields %v", rec.Fields)
	}
	if len(spans.names) != 1 || spans.names[0] != "extract social.posts" ||
		spans.start[0]["source"] != "social" || spans.start[0]["table"] != "posts" || spans.start[0]["date"] != "2026-11-24" ||
		spans.meta[0]["rows"] != int64(3) || spans.errs[0] != nil {
		t.Errorf("spans: %+v", spans)
	}

	// A failed extraction ends its span with the error and records no metrics.
	out.Reset()
	if _, err := r.extract(t, "missing_table", "2026-11-24", observe); err == nil {
		t.Fatal("extracting an unknown table succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("a failed extraction wrote metrics: %s", out.String())
	}
	if len(spans.errs) != 2 || spans.errs[1] == nil || !errors.Is(spans.errs[1], ErrBadRequest) {
		t.Errorf("the failed extraction's span error = %v, want the input error", spans.errs)
	}
}
