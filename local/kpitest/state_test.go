package kpitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
)

// The state of social.posts on the real runner and engine: built day after day, each day on the
// day before; then, after a re-extraction of the first day, in the order a parallel backfill may
// take (the last day first). Whatever the order, each day's state is the latest version per post
// up to the day, and a day is built on its previous day's state only when that state is newer
// than every raw partition it covers.
func TestState_AnyBuildOrderGivesTheLatestRowPerKeyUpToTheDay(t *testing.T) {
	ctx := context.Background()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	root := t.TempDir()
	lc, err := catalog.Open(filepath.Join(root, catalog.FileName), run.Database)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := duck.Open(root, lc, duck.Options{TimeZone: SessionTimeZone(tokyo), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	bucket, err := lakedir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	runner, err := ctas.New(engine, lc, bucket, ctas.Config{Database: run.Database, Workgroup: run.Workgroup,
		AggregatedBucket: run.AggregatedBucket, Logger: log, TimeZone: tokyo, PollInitial: time.Millisecond, PollMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := plan.NewRawZone(bucket, run.RawBucket)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	posts := queries.SourceTable{Source: "social", Table: "posts"}
	agg := aggregate.NewHandler(cat, run.Database, tokyo, runner, log).WithDialect(queries.DuckDB).
		WithState(aggregate.StateKeys{posts: {"id"}}, raw)
	day := func(s string) layout.Day {
		d, err := layout.ParseDay(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cols := []Column{{"id", "bigint"}, {"user_id", "bigint"}, {"deleted_at", "timestamp"}}
	write := func(d string, rows ...string) {
		t.Helper()
		tb := &Table{Columns: cols}
		for i, r := range rows {
			tb.Rows = append(tb.Rows, Row{Line: i + 1, Fields: strings.Split(r, "|")})
		}
		file := filepath.Join(root, run.RawBucket, filepath.FromSlash(layout.TablePartitionPrefix("social", "posts", day(d))), "posts.parquet")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeParquet(ctx, engine, file, tb); err != nil {
			t.Fatal(err)
		}
		cr := catalog.Crawler{Name: "raw", Root: root, Bucket: run.RawBucket, Prefixes: []string{layout.SourcePrefix("social")}}
		if _, err := cr.Crawl(lc); err != nil {
			t.Fatal(err)
		}
	}
	const state = "state_social_posts"
	// build runs the state of d and returns whether it was built on the previous day's state.
	build := func(d string) bool {
		t.Helper()
		logs.Reset()
		if _, err := agg.Handle(ctx, aggregate.Request{KPI: state, Date: d}); err != nil {
			t.Fatalf("state of %s: %v", d, err)
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg          string `json:"msg"`
				FromPrevious bool   `json:"from_previous"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "state query" {
				return rec.FromPrevious
			}
		}
		t.Fatalf("state of %s: no state query logged:\n%s", d, logs.String())
		return false
	}
	rows := func(d string) []string {
		t.Helper()
		res, err := engine.Query(ctx, fmt.Sprintf(`SELECT id, user_id, deleted_at IS NOT NULL FROM %s.%s WHERE %s = ? ORDER BY id`,
			ident(run.Database), ident(layout.KPITableName(state)), layout.PartitionKey), d)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res.Values {
			out = append(out, fmt.Sprintf("P%v by %v deleted=%v", r[0], r[1], r[2]))
		}
		return out
	}
	check := func(d string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, rows(d)); diff != "" {
			t.Errorf("state of %s (-want +got):\n%s", d, diff)
		}
	}

	write("2026-11-23", "1|1|NULL", "2|2|NULL")
	write("2026-11-24", "3|3|NULL")
	write("2026-11-25", "2|2|2026-11-25 10:00:00.000+09:00")
	time.Sleep(1100 * time.Millisecond) // past the second of slack on the partitions' LastModified
	for _, c := range []struct {
		day          string
		fromPrevious bool
	}{{"2026-11-23", false}, {"2026-11-24", true}, {"2026-11-25", true}} {
		if got := build(c.day); got != c.fromPrevious {
			t.Errorf("in order: state of %s built on the day before: %t, want %t", c.day, got, c.fromPrevious)
		}
	}
	check("2026-11-23", "P1 by 1 deleted=false", "P2 by 2 deleted=false")
	check("2026-11-24", "P1 by 1 deleted=false", "P2 by 2 deleted=false", "P3 by 3 deleted=false")
	check("2026-11-25", "P1 by 1 deleted=false", "P2 by 2 deleted=true", "P3 by 3 deleted=false")

	// The first day is extracted again (P1 now deleted, a P4 found); a backfill's jobs run the
	// last day first. Every later state is older than that partition, so each day is rebuilt
	// from every partition, and is right, whatever the order.
	write("2026-11-23", "1|1|2026-11-23 12:00:00.000+09:00", "2|2|NULL", "4|4|NULL")
	time.Sleep(1100 * time.Millisecond)
	for _, d := range []string{"2026-11-25", "2026-11-24", "2026-11-23"} {
		if build(d) {
			t.Errorf("after the re-extraction: state of %s built on a previous state older than the partition", d)
		}
	}
	check("2026-11-23", "P1 by 1 deleted=true", "P2 by 2 deleted=false", "P4 by 4 deleted=false")
	check("2026-11-24", "P1 by 1 deleted=true", "P2 by 2 deleted=false", "P3 by 3 deleted=false", "P4 by 4 deleted=false")
	check("2026-11-25", "P1 by 1 deleted=true", "P2 by 2 deleted=true", "P3 by 3 deleted=false", "P4 by 4 deleted=false")

	// The daily run the next morning builds on the day before again, now that it is current.
	write("2026-11-26", "5|1|NULL")
	if !build("2026-11-26") {
		t.Error("the next day: not built on the day before, which is current")
	}
	check("2026-11-26", "P1 by 1 deleted=true", "P2 by 2 deleted=true", "P3 by 3 deleted=false", "P4 by 4 deleted=false", "P5 by 1 deleted=false")
}
