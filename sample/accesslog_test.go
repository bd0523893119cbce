package sample_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/sample"
)

// deliveredLine is the documented record shape, with keys in order; user_id and department_id
// come together or not at all.
var deliveredLine = regexp.MustCompile(`^\{"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",` +
	`("user_id":[1-9]\d*,"department_id":[1-9]\d*,)?"method":"(GET|POST|PATCH|DELETE)","path":"/[^"]*",` +
	`"status":[1-5]\d\d,"latency_ms":\d+,"user_agent":"[^"]+"\}$`)

func TestWriteAccessLogs_WritesTheDeliveredShapeForOneDay(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	for _, d := range ds.Days() {
		var buf bytes.Buffer
		if err := sample.WriteAccessLogs(&buf, ds, d); err != nil {
			t.Fatal(err)
		}
		written := buf.String()
		start, end := ds.DayBounds(d)
		var got []sample.AccessLog
		sc := bufio.NewScanner(strings.NewReader(written))
		for sc.Scan() {
			line := sc.Text()
			if !deliveredLine.MatchString(line) {
				t.Fatalf("%s: line does not have the documented shape:\n%s", d, line)
			}
			var a sample.AccessLog
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatal(err)
			}
			if a.Timestamp.Before(start) || !a.Timestamp.Before(end) {
				t.Errorf("%s: record at %v is outside the day [%v, %v)", d, a.Timestamp, start, end)
			}
			if n := len(got); n > 0 && a.Timestamp.Before(got[n-1].Timestamp) {
				t.Errorf("%s: records out of timestamp order", d)
			}
			got = append(got, a)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ds.AccessLogsOn(d), got); diff != "" {
			t.Errorf("%s: written records differ from AccessLogsOn (-want +got):\n%s", d, diff)
		}
		// Active users computed from the written file, as the KPI SQL will.
		users := map[int64]map[float64]bool{}
		for _, line := range strings.Split(strings.TrimSpace(written), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if id, ok := m["user_id"].(float64); ok {
				dept := int64(m["department_id"].(float64))
				if users[dept] == nil {
					users[dept] = map[float64]bool{}
				}
				users[dept][id] = true
			}
		}
		fromFile := map[int64]int{}
		for dept, us := range users {
			fromFile[dept] = len(us)
		}
		if diff := cmp.Diff(ds.ActiveUsersByDepartment(d), fromFile); diff != "" {
			t.Errorf("%s: ActiveUsersByDepartment differs from the written records (-helper +file):\n%s", d, diff)
		}
	}
}

func TestWriteAccessLogs_KeepsPathsReadable(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	var buf bytes.Buffer
	if err := sample.WriteAccessLogs(&buf, ds, ds.Config.Start); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, `\u0026`) || strings.Contains(out, `\u003c`) {
		t.Error("records escape & or < as \\u00XX; write them as they are")
	}
	if !strings.Contains(out, `"path":"/api/search?q=%E`) {
		t.Error("no URL-encoded Japanese search query in the first day's records")
	}
	for _, want := range []string{`"path":"/healthz"`, `"path":"/login"`, `"method":"POST","path":"/api/posts"`, `"status":201`} {
		if !strings.Contains(out, want) {
			t.Errorf("no record with %s on the first day", want)
		}
	}
}
