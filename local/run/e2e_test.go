package run_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
	"github.com/kpilake/kpilake/sample"
)

// sampleRun runs the sample week through the pipeline into lake and returns the report.
func sampleRun(t *testing.T, lake string, ds *sample.Dataset, zone string) *run.Report {
	t.Helper()
	env, err := run.SampleEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := lakedir.Open(lake)
	if err != nil {
		t.Fatal(err)
	}
	ingest, err := run.NewIngest(lake, env, ds, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	days := ds.Days()
	rep, err := run.Run(context.Background(), run.Options{Lake: lake, Env: env, KPIs: kpis, From: days[0], To: days[len(days)-1],
		Bucket: bucket, Ingest: ingest, Engine: duck.Options{TimeZone: zone, Threads: 1}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// The sample week through `local run`: every KPI's numbers on every day equal the Go reference
// aggregates of the sample, computed from the database as it stood at the day's end; the
// two-source KPI waits for its second crawl; a re-run publishes nothing; every published run is
// ready, one per partition, with no temporary table left. The DuckDB session runs in a zone that
// is neither UTC nor the business zone.
func TestLocalRun_SampleWeek(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	lake := t.TempDir()
	rep := sampleRun(t, lake, ds, "America/Los_Angeles")

	t.Run("the lake records its environment", func(t *testing.T) {
		env, loc, ok, err := run.ReadLakeEnvironment(lake)
		if err != nil || !ok || env.Name != "sample" || loc.String() != "Asia/Tokyo" {
			t.Errorf("recorded environment %+v, %v, %v, %v; want sample in Asia/Tokyo", env, loc, ok, err)
		}
	})

	t.Run("every day's numbers equal the reference", func(t *testing.T) {
		got := published(t, rep)
		want := reference(t, ds)
		for _, kpi := range slices.Sorted(maps.Keys(want)) {
			if diff := cmp.Diff(want[kpi], got[kpi]); diff != "" {
				t.Errorf("%s (-reference +local run):\n%s", kpi, diff)
			}
		}
	})

	// Firehose files a record by its arrival: the week must hold records of signed-in users
	// stamped on one day that landed in the next day's partition, or the reference check above
	// would not tell event time from arrival day.
	t.Run("some records of a day land in the next day's partition", func(t *testing.T) {
		loc := ds.Config.Location
		late := 0
		for _, d := range ds.Days()[1:] {
			for _, rec := range lakeRecords(t, lake, d) {
				if rec.UserID != 0 && layout.DayOf(rec.Timestamp, loc).Before(d) {
					late++
				}
			}
		}
		if late == 0 {
			t.Error("no record of a signed-in user landed after its day; the arrival model exercises nothing")
		}
		t.Logf("%d records of signed-in users landed in the next day's partition", late)
	})

	t.Run("the two-source KPI waits for the second crawl", func(t *testing.T) {
		for _, d := range rep.Days {
			var deferred, publishedAfter []string
			for _, r := range d.Runs {
				if r.KPI != "engagement_score" || r.Date != d.Date {
					continue
				}
				if len(r.WaitingFor) > 0 {
					deferred = append(deferred, r.Crawler+": "+strings.Join(r.WaitingFor, ", "))
				} else {
					publishedAfter = append(publishedAfter, r.Crawler)
				}
			}
			wantDeferred := []string{"local-app_logs: kpi department_activity dt=" + d.Date + ", social.departments dt=" + d.Date}
			if diff := cmp.Diff(wantDeferred, deferred); diff != "" {
				t.Errorf("%s: deferrals (-want +got):\n%s", d.Date, diff)
			}
			if diff := cmp.Diff([]string{"local-social"}, publishedAfter); diff != "" {
				t.Errorf("%s: published after (-want +got):\n%s", d.Date, diff)
			}
		}
	})

	t.Run("a re-run publishes nothing and leaves one ready run per partition", func(t *testing.T) {
		again := sampleRun(t, lake, ds, "UTC")
		for _, d := range again.Days {
			if len(d.Runs) != 0 || d.RowsExtracted != 0 {
				t.Errorf("%s: the re-run extracted %d rows and ran %v", d.Date, d.RowsExtracted, d.Runs)
			}
		}
		if diff := cmp.Diff(published(t, rep), published(t, again)); diff != "" {
			t.Errorf("the re-run reads other numbers (-first +re-run):\n%s", diff)
		}
		cat, err := catalog.Open(filepath.Join(lake, catalog.FileName), run.Database)
		if err != nil {
			t.Fatal(err)
		}
		kpis, _ := queries.Load()
		for _, kpi := range kpis.Names() {
			for _, day := range ds.Days() {
				dir := filepath.Join(lake, run.AggregatedBucket, layout.KPIPrefix(kpi), day.Partition())
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Errorf("%s %s: %v", kpi, day, err)
					continue
				}
				var runs []string
				for _, e := range entries {
					runs = append(runs, e.Name())
				}
				if len(runs) != 1 || !strings.HasPrefix(runs[0], "run=") {
					t.Errorf("%s %s: %v, want one run folder", kpi, day, runs)
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, runs[0], ctas.ReadyMarker)); err != nil {
					t.Errorf("%s %s: the run is not ready: %v", kpi, day, err)
				}
				part, err := cat.GetPartition(context.Background(), &glue.GetPartitionInput{DatabaseName: aws.String(run.Database),
					TableName: aws.String(layout.KPITableName(kpi)), PartitionValues: []string{day.String()}})
				if err != nil {
					t.Errorf("%s %s: %v", kpi, day, err)
				} else if loc := aws.ToString(part.Partition.StorageDescriptor.Location); !strings.HasSuffix(loc, runs[0]+"/") {
					t.Errorf("%s %s: the partition names %s, not the run folder %s", kpi, day, loc, runs[0])
				}
			}
		}
		tmp, err := cat.GetTables(context.Background(), &glue.GetTablesInput{DatabaseName: aws.String(run.Database),
			Expression: aws.String(layout.TempTablePrefix + ".*")})
		if err != nil {
			t.Fatal(err)
		}
		if len(tmp.TableList) != 0 {
			t.Errorf("%d temporary tables left", len(tmp.TableList))
		}
	})
}

// published formats each KPI's published rows as "dt key=value ..." lines, sorted.
func published(t *testing.T, rep *run.Report) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, k := range rep.KPIs {
		dt := slices.Index(k.Columns, layout.PartitionKey)
		for _, row := range k.Rows {
			var parts []string
			for i, c := range k.Columns {
				if i != dt {
					parts = append(parts, c+"="+value(row[i]))
				}
			}
			out[k.Name] = append(out[k.Name], fmt.Sprint(row[dt])+" "+strings.Join(parts, " "))
		}
		slices.Sort(out[k.Name])
	}
	return out
}

func value(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprint(v)
}

// reference computes every KPI of the sample from sample.Dataset, day by day, each day from the
// database as it stood at the day's end (the last millisecond of the business day): the state
// that the KPIs' definitions read, whatever changed later.
func reference(t *testing.T, ds *sample.Dataset) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	add := func(kpi, line string) { out[kpi] = append(out[kpi], line) }
	days := ds.Days()
	for i, d := range days {
		_, end := ds.DayBounds(d)
		at, err := ds.AsOf(end.Add(-time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		day := d.String()
		active := at.ActiveUsersByDepartment(d)
		for dept, n := range active {
			add("active_users_by_department", fmt.Sprintf("%s department_id=%d active_users=%d", day, dept, n))
		}
		weekly := map[int64]map[int64]bool{}
		for j := max(0, i-6); j <= i; j++ {
			for _, a := range ds.AccessLogsOn(days[j]) {
				if a.UserID == 0 {
					continue
				}
				if weekly[a.DepartmentID] == nil {
					weekly[a.DepartmentID] = map[int64]bool{}
				}
				weekly[a.DepartmentID][a.UserID] = true
			}
		}
		for dept, users := range weekly {
			add("weekly_active_users_by_department", fmt.Sprintf("%s department_id=%d active_users_7d=%d", day, dept, len(users)))
		}
		posts, comments := at.PostsByDepartment(d), at.CommentsByDepartment(d)
		reactions, thanks := at.ReactionsByDepartment(d), at.ReactionsByDepartment(d, sample.ReactionThanks)
		depts := map[int64]bool{}
		for _, m := range []map[int64]int{posts, comments, reactions} {
			for dept := range m {
				depts[dept] = true
			}
		}
		for dept := range depts {
			add("department_activity", fmt.Sprintf("%s department_id=%d posts=%d comments=%d reactions=%d thanks=%d",
				day, dept, posts[dept], comments[dept], reactions[dept], thanks[dept]))
		}
		for user, g := range at.ReactionsGivenReceived(d) {
			add("reactions_given_received", fmt.Sprintf("%s user_id=%d reactions_given=%d reactions_received=%d thanks_given=%d thanks_received=%d",
				day, user, g.Given, g.Received, g.ThanksGiven, g.ThanksReceived))
		}
		names := map[int64]string{}
		for _, dep := range at.Departments {
			names[dep.ID] = dep.Name
		}
		for dept := range active {
			depts[dept] = true
		}
		for dept := range depts {
			score := "NULL"
			if active[dept] > 0 {
				s := float64(3*posts[dept]+2*comments[dept]+reactions[dept]+thanks[dept]) / float64(active[dept])
				score = fmt.Sprintf("%.2f", math.Round(s*100)/100)
			}
			add("engagement_score", fmt.Sprintf("%s department_id=%d department_name=%s active_users=%d actions=%d engagement_score=%s",
				day, dept, names[dept], active[dept], posts[dept]+comments[dept]+reactions[dept], score))
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// lakeRecords reads the access-log records that the run delivered into day's arrival partition.
func lakeRecords(t *testing.T, lake string, day layout.Day) []sample.AccessLog {
	t.Helper()
	dir := filepath.Join(lake, run.RawBucket, filepath.FromSlash(layout.AppLogStreamPrefix("web_access")), day.Partition())
	files, err := catalog.DataFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []sample.AccessLog
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(zr)
		for dec.More() {
			var rec sample.AccessLog
			if err := dec.Decode(&rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, rec)
		}
		fh.Close()
	}
	return out
}
