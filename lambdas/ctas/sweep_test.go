package ctas

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/internal/ctassim"
	"github.com/kpilake/kpilake/layout"
)

// sweeper returns a Sweeper over the lake with the runners' settings (a nil athena: the lake's
// simulated CTAS; a nil s3: the lake's bucket).
func (l *lake) sweeper(t *testing.T, a sweepAthenaAPI, s s3API, tweak func(*Config)) *Sweeper {
	t.Helper()
	if a == nil {
		a = l.sim
	}
	if s == nil {
		s = l.s3
	}
	r := l.runner(t, nil, nil, tweak)
	sw, err := NewSweeper(a, l.glue, s, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

// agedS3 makes objects look older than moto wrote them, as time passing would: LastModified of
// each key under a prefix in age goes back by its duration (moto cannot backdate an object).
type agedS3 struct {
	s3API
	age map[string]time.Duration
}

func (a agedS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out, err := a.s3API.ListObjectsV2(ctx, in, o...)
	if err != nil {
		return out, err
	}
	for i, obj := range out.Contents {
		for prefix, d := range a.age {
			if strings.HasPrefix(aws.ToString(obj.Key), prefix) {
				out.Contents[i].LastModified = aws.Time(aws.ToTime(obj.LastModified).Add(-d))
			}
		}
	}
	return out, nil
}

// crashingS3 fails every DeleteObjects after the first n, as a sweep killed mid-way stops.
type crashingS3 struct {
	s3API
	mu sync.Mutex
	n  int
}

func (c *crashingS3) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	c.mu.Lock()
	c.n--
	dead := c.n < 0
	c.mu.Unlock()
	if dead {
		return nil, errKilled
	}
	return c.s3API.DeleteObjects(ctx, in, o...)
}

// stopRecorder records the queries the sweep stops.
type stopRecorder struct {
	sweepAthenaAPI
	mu      sync.Mutex
	stopped []string
}

func (s *stopRecorder) StopQueryExecution(ctx context.Context, in *athena.StopQueryExecutionInput, o ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error) {
	s.mu.Lock()
	s.stopped = append(s.stopped, aws.ToString(in.QueryExecutionId))
	s.mu.Unlock()
	return s.sweepAthenaAPI.StopQueryExecution(ctx, in, o...)
}

// publishRuns runs the day d once per id, in order, and returns their run prefixes.
func (l *lake) publishRuns(t *testing.T, d layout.Day, ids ...string) []string {
	t.Helper()
	var prefixes []string
	for _, id := range ids {
		r := l.runner(t, nil, nil, func(c *Config) { c.Workgroup = l.workgroup(t) })
		fixedRun(r, id)
		req := request()
		req.Date = d
		if _, err := r.Run(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		prefixes = append(prefixes, layout.KPIRunPrefix(testKPI, d, id))
	}
	return prefixes
}

// workgroup creates (once) the lake's own Athena workgroup, so that a sweep lists only its
// test's queries.
func (l *lake) workgroup(t *testing.T) string {
	t.Helper()
	l.wgOnce.Do(func() {
		name := "wg-" + l.db
		if _, err := l.athena.CreateWorkGroup(context.Background(), &athena.CreateWorkGroupInput{Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		l.wg = name
	})
	return l.wg
}

// keysUnder lists the bucket's keys under prefix.
func (l *lake) keysUnder(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := l.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// partitionOf is the location of the KPI table's partition for d.
func (l *lake) partitionOf(t *testing.T, d layout.Day) string {
	t.Helper()
	r := l.runner(t, nil, nil, nil)
	loc, _, err := r.pub.readPartition(context.Background(), Request{Table: layout.KPITableName(testKPI), Date: d})
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// The sweep deletes superseded runs past the grace period and crashed runs, keeps the serving run
// and runs within the grace, drops a stale temporary table and stops its running query, cleans up
// a day that is never run again, and does nothing more on a second pass.
func TestSweep_DeletesWhatTheGraceAllowsAndDropsWhatCrashedRunsLeft(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	ctx := context.Background()
	wg := l.workgroup(t)
	tweak := func(c *Config) { c.Workgroup = wg }
	const past = DefaultSupersededGrace + time.Hour

	// testDay: r1 superseded by r2 past the grace, r2 superseded by r3 just now, r3 serving.
	day := l.publishRuns(t, testDay, "20261124T050000000Z-00000001", "20261124T060000000Z-00000002", "20261124T070000000Z-00000003")
	// A day that is never run again: q1 superseded past the grace, q2 serving, and a crashed run.
	quiet := testDay.AddDays(-1)
	old := l.publishRuns(t, quiet, "20261123T050000000Z-00000001", "20261123T060000000Z-00000002")
	crashed := layout.KPIRunPrefix(testKPI, quiet, "20261123T040000000Z-0000dead")
	l.put(t, crashed+ctassim.OutputObject)
	aged := agedS3{s3API: l.s3, age: map[string]time.Duration{
		day[0]: past, day[1] + ReadyMarker: past, old[0]: past, old[1] + ReadyMarker: past}}

	// Temporary tables: a crashed run's (with its query still running), a run in flight, another
	// KPI's (not swept).
	now := time.Now()
	staleID := layout.NewRunID(now.Add(-DefaultStaleTempAfter - time.Minute))
	stale := TempTableName(testKPI, quiet, staleID)
	inFlight := TempTableName(testKPI, quiet, layout.NewRunID(now.Add(-time.Minute)))
	otherKPI := TempTableName("other_kpi", quiet, staleID)
	for _, name := range []string{stale, inFlight, otherKPI} {
		l.createTemp(t, name)
	}
	start := func(table string) string {
		out, err := l.athena.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{WorkGroup: aws.String(wg),
			QueryString: aws.String(Statement(l.db, table, "s3://"+l.bucket+"/"+layout.KPIRunPrefix(testKPI, quiet, staleID), "SELECT 1"))})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueryExecutionId)
	}
	staleQuery := start(stale)
	start(inFlight)

	rec := &stopRecorder{sweepAthenaAPI: l.sim}
	sw := l.sweeper(t, rec, aged, tweak)
	res, err := sw.Sweep(ctx, []string{testKPI})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		what   string
		prefix string
		kept   bool
	}{
		{"run superseded past the grace", day[0], false},
		{"run superseded within the grace", day[1], true},
		{"serving run", day[2], true},
		{"run superseded past the grace, of a day never run again", old[0], false},
		{"serving run of a day never run again", old[1], true},
		{"crashed run of a day never run again", crashed, false},
	} {
		if got := len(l.keysUnder(t, c.prefix)) > 0; got != c.kept {
			t.Errorf("%s (%s): kept %t, want %t", c.what, c.prefix, got, c.kept)
		}
	}
	if got, want := l.partitionOf(t, testDay), "s3://"+l.bucket+"/"+day[2]; got != want {
		t.Errorf("partition of %s at %q, want %q", testDay, got, want)
	}
	if got, want := l.partitionOf(t, quiet), "s3://"+l.bucket+"/"+old[1]; got != want {
		t.Errorf("partition of %s at %q, want %q", quiet, got, want)
	}
	tables := l.tables(t)
	if slices.Contains(tables, stale) {
		t.Errorf("stale temporary table %s not dropped", stale)
	}
	for _, keep := range []string{inFlight, otherKPI} {
		if !slices.Contains(tables, keep) {
			t.Errorf("temporary table %s dropped; it may be in flight or is not a swept KPI's", keep)
		}
	}
	if !slices.Equal(rec.stopped, []string{staleQuery}) {
		t.Errorf("stopped queries %v, want only the crashed run's %s", rec.stopped, staleQuery)
	}
	want := SweepResult{QueriesStopped: 1, TempTablesDropped: 1, RunsDeleted: 3, ObjectsDeleted: 7}
	if res != want {
		t.Errorf("first pass %+v, want %+v", res, want)
	}

	rec.stopped = nil
	res, err = sw.Sweep(ctx, []string{testKPI})
	if err != nil {
		t.Fatal(err)
	}
	if res != (SweepResult{}) || len(rec.stopped) != 0 {
		t.Errorf("second pass %+v, stopped %v; want nothing left to do", res, rec.stopped)
	}
}

// A sweep killed between its deletions leaves every partition on data, and the next pass
// finishes the job.
func TestSweep_ACrashMidSweepLeavesNoPartitionOnDeletedData(t *testing.T) {
	for _, deletes := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("killed after %d deletions", deletes), func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			ctx := context.Background()
			runs := l.publishRuns(t, testDay, "20261124T050000000Z-00000001", "20261124T060000000Z-00000002")
			aged := agedS3{s3API: l.s3, age: map[string]time.Duration{runs[0]: DefaultSupersededGrace + time.Hour,
				runs[1] + ReadyMarker: DefaultSupersededGrace + time.Hour}}
			crash := &crashingS3{s3API: aged, n: deletes}
			if _, err := l.sweeper(t, nil, crash, nil).Sweep(ctx, []string{testKPI}); !errors.Is(err, errKilled) {
				t.Fatalf("sweep error = %v, want it killed", err)
			}
			l.checkServesData(t, "after the killed sweep")
			if _, err := l.sweeper(t, nil, aged, nil).Sweep(ctx, []string{testKPI}); err != nil {
				t.Fatal(err)
			}
			l.checkServesData(t, "after the next sweep")
			if left := l.keysUnder(t, runs[0]); len(left) > 0 {
				t.Errorf("superseded run left after the next sweep: %v", left)
			}
		})
	}
}
