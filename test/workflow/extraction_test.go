//go:build !unit

package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/lambdas/extract"
)

// extractionOutput is the part of a successful execution's output that the tests read.
type extractionOutput struct {
	Plan struct {
		Date string `json:"date"`
	} `json:"plan"`
	Tables    []string         `json:"tables"`
	Extracted []extract.Result `json:"extracted"`
}

// succeeded checks that an execution succeeded and returns its output.
func (d *deployment) succeeded(t *testing.T, arn string, ex execution) extractionOutput {
	t.Helper()
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s, want SUCCEEDED (error %q, cause %q); history:\n%s", ex.Status, ex.Error, ex.Cause, d.history(t, arn))
	}
	var out extractionOutput
	if err := json.Unmarshal([]byte(ex.Output), &out); err != nil {
		t.Fatalf("execution output is not JSON: %v\n%s", err, ex.Output)
	}
	return out
}

// checkExtracted checks that exactly tables were extracted for the world's sample day: one
// Parquet object each, at the key the lake layout gives, with the rows the sample holds for the
// table's mode and without its excluded columns.
func (d *deployment) checkExtracted(t *testing.T, out extractionOutput, tables []string) {
	t.Helper()
	w := d.w
	if out.Plan.Date != w.day.String() {
		t.Errorf("planned day %q, want %s", out.Plan.Date, w.day)
	}
	var got []string
	for _, r := range out.Extracted {
		got = append(got, r.Table)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(tables)), slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("tables extracted (-want +got):\n%s", diff)
	}
	for _, r := range out.Extracted {
		spec, ok := w.spec.Table(r.Table)
		if !ok {
			continue
		}
		want := w.ds.Counts()[r.Table].Rows
		if spec.Mode == extract.Incremental {
			want = w.ds.RowsChangedSince(w.day)[r.Table]
		}
		key := extract.ObjectKey(sourceName, r.Table, w.day)
		if r.Key != key || r.Rows != int64(want) || r.Date != w.day.String() || r.Source != sourceName {
			t.Errorf("result of %s = %+v, want key %s, %d rows, date %s", r.Table, r, key, want, w.day)
		}
		f := d.parquet(t, key)
		if f.NumRows() != int64(want) {
			t.Errorf("s3://%s/%s holds %d rows, want %d", d.bucket, key, f.NumRows(), want)
		}
		for _, field := range f.Schema().Fields() {
			if slices.Contains(spec.Exclude, field.Name()) {
				t.Errorf("s3://%s/%s has column %s, which the source excludes", d.bucket, key, field.Name())
			}
		}
	}
}

func (d *deployment) parquet(t *testing.T, key string) *parquet.File {
	t.Helper()
	obj, err := d.w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		t.Fatalf("s3://%s/%s: %v", d.bucket, key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("s3://%s/%s is not Parquet: %v", d.bucket, key, err)
	}
	return f
}

// crawlerStarted checks that the workflow started the source's crawler. moto leaves a started
// crawl RUNNING until it is listed (see finishCrawls).
func (d *deployment) crawlerStarted(t *testing.T) {
	t.Helper()
	c, err := d.w.api.getCrawler(context.Background(), d.crawler)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "RUNNING" || c.LastCrawl == nil {
		t.Errorf("crawler %s is %s (last crawl %v), want RUNNING: started by the workflow", d.crawler, c.State, c.LastCrawl)
	}
}

func TestExtraction_ExtractsTheGivenTablesOfTheGivenDayThenStartsTheCrawler(t *testing.T) {
	t.Parallel()
	w := setup(t)
	d := w.deploy(t, nil)
	tables := []string{"users", "posts"}
	arn, ex := d.run(t, map[string]any{"date": w.day.String(), "tables": tables})
	d.checkExtracted(t, d.succeeded(t, arn, ex), tables)
	if got := d.extractCalls(t); len(got) != len(tables) {
		t.Errorf("extraction invoked for %v, want once per table %v", got, tables)
	}
	if n := len(d.plan.invocations()); n != 1 {
		t.Errorf("plan invoked %d times, want once", n)
	}
	d.crawlerStarted(t)
	if errs := d.taskFailures(t, arn); len(errs) != 0 {
		t.Errorf("tasks failed on the way: %v", errs)
	}
}

func TestExtraction_ExtractsEveryConfiguredTableWhenNoneIsGiven(t *testing.T) {
	t.Parallel()
	w := setup(t)
	d := w.deploy(t, nil)
	arn, ex := d.run(t, map[string]any{"date": w.day.String()})
	out := d.succeeded(t, arn, ex)
	if diff := cmp.Diff(w.configuredTables(), out.Tables); diff != "" {
		t.Errorf("$.tables after AllTables (-want +got):\n%s", diff)
	}
	d.checkExtracted(t, out, w.configuredTables())
	d.crawlerStarted(t)
}

// The schedule's own input, with the time EventBridge Scheduler fills in on the day after the
// sample day, makes the workflow extract the sample day: the day before the scheduled time in
// the business time zone.
func TestExtraction_ScheduledRunExtractsTheBusinessDayBefore(t *testing.T) {
	t.Parallel()
	w := setup(t)
	props := w.app.properties(w.app.schedule)
	target, _ := props["Target"].(map[string]any)
	input, _ := target["Input"].(string)
	const placeholder = "<aws.scheduler.scheduled-time>"
	if !strings.Contains(input, placeholder) {
		t.Fatalf("schedule Input %q does not pass the scheduled time", input)
	}
	expr, _ := props["ScheduleExpression"].(string)
	var minute, hour int
	if _, err := fmt.Sscanf(expr, "cron(%d %d ", &minute, &hour); err != nil {
		t.Fatalf("ScheduleExpression %q: want a daily cron with a fixed minute and hour: %v", expr, err)
	}
	loc, err := time.LoadLocation(w.app.timeZone)
	if err != nil {
		t.Fatal(err)
	}
	next := w.day.AddDays(1).Start(loc)
	fired := time.Date(next.Year(), next.Month(), next.Day(), hour, minute, 0, 0, loc).UTC().Format(time.RFC3339)
	var in any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(input, placeholder, fired)), &in); err != nil {
		t.Fatal(err)
	}

	d := w.deploy(t, nil)
	arn, ex := d.run(t, in)
	d.checkExtracted(t, d.succeeded(t, arn, ex), w.configuredTables())
	d.crawlerStarted(t)
}

// moto keeps a crawl RUNNING until ListCrawls has looked at it once (its default glue::crawl
// transition); finishCrawls is that look, so a test decides when a running crawler finishes.
func (d *deployment) finishCrawls(t *testing.T) []string {
	t.Helper()
	states, err := d.w.api.listCrawls(context.Background(), d.crawler)
	if err != nil {
		t.Fatal(err)
	}
	return states
}

// retryInterval sets the IntervalSeconds of the retrier of state that handles errorName. The
// extraction waits a minute between attempts to start a running crawler; the test waits one
// second instead, and changes nothing else.
func retryInterval(state, errorName string, seconds int) func(*testing.T, map[string]any) {
	return func(t *testing.T, def map[string]any) {
		t.Helper()
		states, _ := def["States"].(map[string]any)
		st, _ := states[state].(map[string]any)
		retry, _ := st["Retry"].([]any)
		for _, r := range retry {
			r, _ := r.(map[string]any)
			if errs, _ := r["ErrorEquals"].([]any); slices.Contains(errs, any(errorName)) {
				r["IntervalSeconds"] = seconds
				return
			}
		}
		t.Fatalf("state %s has no retrier for %s: %v", state, errorName, st["Retry"])
	}
}

func TestExtraction_WaitsForARunningCrawlerThenStartsIt(t *testing.T) {
	t.Parallel()
	w := setup(t)
	const running = "Glue.CrawlerRunningException"
	d := w.deploy(t, retryInterval("StartCrawler", running, 1))
	ctx := context.Background()
	// A crawl that someone started by hand, still running when the workflow wants to start it.
	if err := w.api.call(ctx, "glue", "StartCrawler", map[string]any{"Name": d.crawler}, nil); err != nil {
		t.Fatal(err)
	}
	arn := d.start(t, map[string]any{"date": w.day.String(), "tables": []string{"departments"}})

	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(d.taskFailures(t, arn), running) {
		ex, err := w.api.describeExecution(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Status != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("execution %s without a failed attempt %s; history:\n%s", ex.Status, running, d.history(t, arn))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if crawls := d.finishCrawls(t); len(crawls) != 1 || crawls[0] != "COMPLETED" {
		t.Fatalf("crawls %v, want the hand-started one, now COMPLETED", crawls)
	}

	ex := d.wait(t, arn)
	d.checkExtracted(t, d.succeeded(t, arn, ex), []string{"departments"})
	for _, e := range d.taskFailures(t, arn) {
		if e != running {
			t.Errorf("a task failed with %s; only %s was expected", e, running)
		}
	}
	d.crawlerStarted(t)
	if crawls := d.finishCrawls(t); len(crawls) != 2 {
		t.Errorf("crawls %v, want the hand-started one and the workflow's", crawls)
	}
}

// alertMessages waits for the messages the alert topic delivered to the deployment's queue.
func (d *deployment) alertMessages(t *testing.T) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		bodies, err := d.w.api.receiveMessages(context.Background(), d.alertQueue)
		if err != nil {
			t.Fatal(err)
		}
		if len(bodies) > 0 || time.Now().After(deadline) {
			var msgs []map[string]string
			for _, b := range bodies {
				var envelope map[string]any
				if err := json.Unmarshal([]byte(b), &envelope); err != nil {
					t.Fatalf("SNS delivered %q, not an SNS notification: %v", b, err)
				}
				msg := map[string]string{}
				for k, v := range envelope {
					if s, ok := v.(string); ok {
						msg[k] = s
					}
				}
				msgs = append(msgs, msg)
			}
			return msgs
		}
	}
}

func TestExtraction_UnknownTableFailsWithoutRetryAndAlerts(t *testing.T) {
	t.Parallel()
	w := setup(t)
	d := w.deploy(t, nil)
	const unknown = "no_such_table"
	arn, ex := d.run(t, map[string]any{"date": w.day.String(), "tables": []string{"departments", unknown}})

	if ex.Status != "FAILED" || ex.Error != "ExtractionFailed" {
		t.Fatalf("execution %s with error %q, want FAILED with ExtractionFailed; history:\n%s", ex.Status, ex.Error, d.history(t, arn))
	}
	if !strings.Contains(ex.Cause, unknown) {
		t.Errorf("execution cause %q does not name the table", ex.Cause)
	}
	calls := d.extractCalls(t)
	if n := count(calls, unknown); n != 1 {
		t.Errorf("extraction invoked %d times for %s (%v), want once: an InputError is not retried", n, unknown, calls)
	}
	if n := count(calls, "departments"); n > 1 {
		t.Errorf("extraction invoked %d times for departments (%v), want at most once", n, calls)
	}
	if diff := cmp.Diff([]string{"InputError"}, d.taskFailures(t, arn)); diff != "" {
		t.Errorf("failed task attempts (-want +got):\n%s", diff)
	}

	msgs := d.alertMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("alert topic delivered %d messages, want 1: %v", len(msgs), msgs)
	}
	if subject := msgs[0]["Subject"]; !strings.Contains(subject, sourceName) {
		t.Errorf("alert subject %q does not name the source", subject)
	}
	var alert map[string]string
	if err := json.Unmarshal([]byte(msgs[0]["Message"]), &alert); err != nil {
		t.Fatalf("alert message %q is not the JSON the workflow publishes: %v", msgs[0]["Message"], err)
	}
	if alert["source"] != sourceName || alert["error"] != "InputError" || !strings.Contains(alert["cause"], unknown) || alert["execution"] != arn {
		t.Errorf("alert %v, want source %s, error InputError, the cause naming %s and execution %s", alert, sourceName, unknown, arn)
	}
	if c, err := w.api.getCrawler(context.Background(), d.crawler); err != nil || c.LastCrawl != nil {
		t.Errorf("crawler %s was started (%+v, %v) although the extraction failed", d.crawler, c, err)
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// A past day of a snapshot table is refused (lambdas/extract, "Modes"): the workflow passes the
// execution input's "force" to every table's request, false when it is not given, and does not
// retry the refusal. The day's partition stays as the daily run wrote it; forced, the run
// succeeds; a "force" that is not a boolean fails before any table is extracted.
func TestExtraction_PastSnapshotDayIsRefusedWithoutRetryUnlessForced(t *testing.T) {
	t.Parallel()
	w := setup(t)
	d := w.deploy(t, nil)
	tables := []string{"users"}
	arn, ex := d.run(t, map[string]any{"date": w.day.String(), "tables": tables})
	d.succeeded(t, arn, ex)
	key := extract.ObjectKey(sourceName, "users", w.day)
	daily := d.objectBytes(t, key)

	d.finishCrawls(t)
	d.clock.Store(d.now().AddDate(0, 0, 7).UnixNano())
	arn, ex = d.run(t, map[string]any{"date": w.day.String(), "tables": tables})
	if ex.Status != "FAILED" || ex.Error != "ExtractionFailed" || !strings.Contains(ex.Cause, "force") {
		t.Fatalf("execution %s with error %q, cause %q; want FAILED, ExtractionFailed, a cause that says how to force; history:\n%s",
			ex.Status, ex.Error, ex.Cause, d.history(t, arn))
	}
	if diff := cmp.Diff([]string{"InputError"}, d.taskFailures(t, arn)); diff != "" {
		t.Errorf("failed task attempts (-want +got):\n%s", diff)
	}
	if !bytes.Equal(daily, d.objectBytes(t, key)) {
		t.Errorf("the refused run changed s3://%s/%s", d.bucket, key)
	}

	d.finishCrawls(t)
	arn, ex = d.run(t, map[string]any{"date": w.day.String(), "tables": tables, "force": true})
	d.succeeded(t, arn, ex)
	var forces []bool
	for _, p := range d.extract.invocations() {
		var req extract.Request
		if err := json.Unmarshal(p, &req); err != nil {
			t.Fatal(err)
		}
		forces = append(forces, req.Force)
	}
	if diff := cmp.Diff([]bool{false, false, true}, forces); diff != "" {
		t.Errorf("force of each extraction request (-want +got):\n%s", diff)
	}

	arn, ex = d.run(t, map[string]any{"date": w.day.String(), "tables": tables, "force": "yes"})
	if ex.Status != "FAILED" || !strings.Contains(ex.Cause, `"force" must be true or false`) {
		t.Errorf("force \"yes\": execution %s, cause %q; want FAILED naming force; history:\n%s", ex.Status, ex.Cause, d.history(t, arn))
	}
	if n := len(d.extract.invocations()); n != 3 {
		t.Errorf("force \"yes\" invoked the extraction (%d invocations, want 3)", n)
	}
}

func (d *deployment) objectBytes(t *testing.T, key string) []byte {
	t.Helper()
	obj, err := d.w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		t.Fatalf("s3://%s/%s: %v", d.bucket, key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
