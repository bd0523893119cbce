package metrics

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRecord_WritesOneValidEMFLine(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "dev")
	e.now = func() time.Time { return time.UnixMilli(1_795_000_000_123) }
	if err := e.Record(map[string]string{DimSource: "social", DimTable: "users"}, map[string]any{"key": "social/users/dt=2026-11-24/part.parquet"},
		Value{RowsExtracted, Count, 1200}, Value{BytesExtracted, Bytes, 4096}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines, want 1:\n%s", n, buf.String())
	}
	recs, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{
		Timestamp:  1_795_000_000_123,
		Namespace:  Namespace,
		Dimensions: map[string]string{DimEnvironment: "dev", DimSource: "social", DimTable: "users"},
		Values: map[string]Value{
			RowsExtracted:  {RowsExtracted, Count, 1200},
			BytesExtracted: {BytesExtracted, Bytes, 4096},
		},
		Fields: map[string]any{"key": "social/users/dt=2026-11-24/part.parquet"},
	}}
	if d := cmp.Diff(want, recs); d != "" {
		t.Errorf("record (-want +got):\n%s", d)
	}
}

func TestRecord_NilAndEmptyRecordNothing(t *testing.T) {
	var e *EMF
	if err := e.Record(nil, nil, Value{BytesScanned, Bytes, 1}); err != nil {
		t.Error(err)
	}
	var buf bytes.Buffer
	if err := New(&buf, "dev").Record(map[string]string{DimKPI: "x"}, nil); err != nil || buf.Len() != 0 {
		t.Errorf("a record without values wrote %q, %v", buf.String(), err)
	}
}

func TestRecord_ConcurrentRecordsStayWholeLines(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "prod")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.Record(map[string]string{DimKPI: "k"}, nil, Value{BytesScanned, Bytes, float64(i)})
		}()
	}
	wg.Wait()
	recs, err := Parse(buf.Bytes())
	if err != nil || len(recs) != 50 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestRecord_ReturnsWriteErrors(t *testing.T) {
	if err := New(failingWriter{}, "dev").Record(map[string]string{DimKPI: "k"}, nil, Value{BytesScanned, Bytes, 1}); err == nil {
		t.Error("no error from a failing writer")
	}
}

func TestParse_RejectsWhatCloudWatchRejects(t *testing.T) {
	head := `{"_aws":{"Timestamp":1795000000123,"CloudWatchMetrics":[{"Namespace":"KpiLake","Dimensions":[["KPI"]],"Metrics":[{"Name":"BytesScanned","Unit":"Bytes"}]}]}`
	tests := []struct {
		name, line, want string
	}{
		{"seconds timestamp", strings.Replace(head, "1795000000123", "1795000000", 1) + `,"KPI":"k","BytesScanned":1}`, "Unix milliseconds"},
		{"missing dimension field", head + `,"BytesScanned":1}`, `dimension "KPI"`},
		{"numeric dimension", head + `,"KPI":3,"BytesScanned":1}`, `dimension "KPI"`},
		{"string metric", head + `,"KPI":"k","BytesScanned":"1"}`, `metric "BytesScanned"`},
		{"unknown unit", strings.Replace(head, `"Bytes"}`, `"Furlongs"}`, 1) + `,"KPI":"k","BytesScanned":1}`, "unit"},
		{"empty namespace", strings.Replace(head, `"KpiLake"`, `""`, 1) + `,"KPI":"k","BytesScanned":1}`, "namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(`{"level":"INFO","msg":"not a record"}` + "\n" + tt.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("err = %v, want one naming line 2 and %q", err, tt.want)
			}
		})
	}
}
