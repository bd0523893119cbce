package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Record is one parsed EMF record: its metric values, dimensions and other fields.
type Record struct {
	Timestamp  int64
	Namespace  string
	Dimensions map[string]string
	Values     map[string]Value
	Fields     map[string]any
}

// Parse reads the EMF records among the lines of out (other lines, such as slog's, are skipped)
// and checks each against the rules CloudWatch applies: a millisecond timestamp, a namespace,
// every dimension a string field, every metric a numeric field with a known unit, and at most 30
// dimensions and 100 metrics per record. Tests use it on what a function printed.
func Parse(out []byte) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		r, err := parseRecord(line)
		if err != nil {
			return recs, fmt.Errorf("line %d: %w", n, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

var units = map[Unit]bool{Count: true, Bytes: true, Milliseconds: true, Seconds: true, "None": true}

func parseRecord(line []byte) (Record, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(line, &doc); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit Unit   `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(doc["_aws"], &meta); err != nil {
		return Record{}, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil || *meta.Timestamp < 1e12 {
		return Record{}, errors.New("_aws.Timestamp must be Unix milliseconds")
	}
	if len(meta.CloudWatchMetrics) != 1 {
		return Record{}, fmt.Errorf("_aws.CloudWatchMetrics has %d directives; kpilake writes one", len(meta.CloudWatchMetrics))
	}
	d := meta.CloudWatchMetrics[0]
	r := Record{Timestamp: *meta.Timestamp, Namespace: d.Namespace, Dimensions: map[string]string{},
		Values: map[string]Value{}, Fields: map[string]any{}}
	if d.Namespace == "" {
		return r, errors.New("namespace is empty")
	}
	if len(d.Dimensions) != 1 || len(d.Dimensions[0]) == 0 || len(d.Dimensions[0]) > 30 {
		return r, fmt.Errorf("dimensions %v: want one set of 1 to 30 names", d.Dimensions)
	}
	for _, k := range d.Dimensions[0] {
		var v string
		if err := json.Unmarshal(doc[k], &v); err != nil || v == "" {
			return r, fmt.Errorf("dimension %q is not a non-empty string field", k)
		}
		r.Dimensions[k] = v
	}
	if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
		return r, fmt.Errorf("%d metrics: want 1 to 100", len(d.Metrics))
	}
	for _, m := range d.Metrics {
		var v float64
		if err := json.Unmarshal(doc[m.Name], &v); err != nil {
			return r, fmt.Errorf("metric %q is not a numeric field", m.Name)
		}
		if !units[m.Unit] {
			return r, fmt.Errorf("metric %q: unit %q is not one kpilake uses", m.Name, m.Unit)
		}
		r.Values[m.Name] = Value{Name: m.Name, Unit: m.Unit, Value: v}
	}
	for k, raw := range doc {
		if _, dim := r.Dimensions[k]; dim || k == "_aws" {
			continue
		}
		if _, metric := r.Values[k]; metric {
			continue
		}
		var v any
		_ = json.Unmarshal(raw, &v)
		r.Fields[k] = v
	}
	return r, nil
}
