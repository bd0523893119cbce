package duck_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/lakedir"
)

const db = "kpilake"

type post struct {
	ID        int64     `parquet:"id,optional"`
	UserID    int64     `parquet:"user_id,optional"`
	CreatedAt time.Time `parquet:"created_at,optional,timestamp(millisecond)"`
}

func writeParquet(t *testing.T, path string, rows []post) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[post](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeLogs writes newline-delimited JSON, gzipped, under a name without .gz (as Firehose names
// its files).
func writeLogs(t *testing.T, path string, recs []map[string]any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, r := range recs {
		b, _ := json.Marshal(r)
		zw.Write(append(b, '\n'))
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lake is a local lake with two days of posts (and a marker file that is not data), one day of
// access logs, an empty partition, and the catalog that the crawlers made of it.
func lake(t *testing.T) (string, *catalog.Catalog) {
	t.Helper()
	root := t.TempDir()
	tok, _ := time.LoadLocation("Asia/Tokyo")
	at := func(d string, h int) time.Time {
		day, _ := layout.ParseDay(d)
		return day.Start(tok).Add(time.Duration(h) * time.Hour)
	}
	raw := filepath.Join(root, "raw")
	writeParquet(t, filepath.Join(raw, "social/posts/dt=2026-11-24/part-0.parquet"), []post{
		{1, 10, at("2026-11-24", 0)}, {2, 11, at("2026-11-24", 23)}, {3, 10, at("2026-11-24", 12)},
	})
	writeParquet(t, filepath.Join(raw, "social/posts/dt=2026-11-25/part-0.parquet"), []post{{4, 12, at("2026-11-25", 1)}})
	// A marker and a hidden temporary file: never data.
	os.WriteFile(filepath.Join(raw, "social/posts/dt=2026-11-25/_SUCCESS"), []byte("not parquet"), 0o644)
	os.WriteFile(filepath.Join(raw, "social/posts/dt=2026-11-25/.part-1.tmp"), []byte("not parquet"), 0o644)
	writeLogs(t, filepath.Join(raw, "app_logs/web_access/dt=2026-11-24/web_access-1-2026-11-24-00-00-00-abc"), []map[string]any{
		{"timestamp": "2026-11-24T00:00:01.000Z", "user_id": 10, "status": 200, "path": "/a"},
		{"timestamp": "2026-11-24T10:00:00.000Z", "status": 204, "path": "/health"},
	})
	cat, err := catalog.Open(filepath.Join(root, catalog.FileName), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range []catalog.Crawler{
		{Name: "social", Root: root, Bucket: "raw", Prefixes: []string{"social/"}},
		{Name: "logs", Root: root, Bucket: "raw", Prefixes: []string{"app_logs/"}},
	} {
		if _, err := cr.Crawl(cat); err != nil {
			t.Fatal(err)
		}
	}
	return root, cat
}

func open(t *testing.T, root string, cat *catalog.Catalog, zone string) *duck.Engine {
	t.Helper()
	e, err := duck.Open(root, cat, duck.Options{TimeZone: zone, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func query(t *testing.T, e *duck.Engine, q string) []string {
	t.Helper()
	rows, err := e.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	var out []string
	for _, r := range rows.Values {
		s := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				s[i] = "NULL"
			} else if tm, ok := v.(time.Time); ok {
				s[i] = tm.UTC().Format(time.RFC3339)
			} else {
				s[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(s, " | "))
	}
	return out
}

func TestCrawl_CataloguesTablesPartitionsAndTypesAsGlue(t *testing.T) {
	_, cat := lake(t)
	ctx := context.Background()
	posts, err := cat.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(db), Name: aws.String("social_posts")})
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range posts.Table.StorageDescriptor.Columns {
		cols = append(cols, *c.Name+" "+*c.Type)
	}
	if diff := cmp.Diff([]string{"id bigint", "user_id bigint", "created_at timestamp"}, cols); diff != "" {
		t.Errorf("social_posts columns (-want +got):\n%s", diff)
	}
	logs, err := cat.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(db), Name: aws.String("app_logs_web_access")})
	if err != nil {
		t.Fatal(err)
	}
	cols = nil
	for _, c := range logs.Table.StorageDescriptor.Columns {
		cols = append(cols, *c.Name+" "+*c.Type)
	}
	if diff := cmp.Diff([]string{"path string", "status int", "timestamp string", "user_id int"}, cols); diff != "" {
		t.Errorf("app_logs_web_access columns (-want +got):\n%s", diff)
	}
	parts, err := cat.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: aws.String(db), TableName: aws.String("social_posts"),
		Expression: aws.String("dt >= '2026-11-25' AND dt <= '2026-11-30'")})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Partitions) != 1 || parts.Partitions[0].Values[0] != "2026-11-25" ||
		*parts.Partitions[0].StorageDescriptor.Location != "s3://raw/social/posts/dt=2026-11-25/" {
		t.Errorf("partitions from 2026-11-25: %+v", parts.Partitions)
	}
}

// The differences between Athena (Trino over Glue) and DuckDB that the engine must hide, each in a
// session whose time zone is neither UTC nor the business zone.
func TestEngine_ReadsTheCatalogAsAthenaDoes(t *testing.T) {
	root, cat := lake(t)
	e := open(t, root, cat, "America/Los_Angeles")
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"partition value is a string column from the catalog",
			`SELECT dt, count(*) FROM kpilake.social_posts GROUP BY dt ORDER BY dt`,
			[]string{"2026-11-24 | 3", "2026-11-25 | 1"}},
		{"marker and hidden files are not read",
			`SELECT count(*) FROM kpilake.social_posts WHERE dt = '2026-11-25'`, []string{"1"}},
		{"timestamps are instants whatever the session zone",
			`SELECT id FROM kpilake.social_posts WHERE created_at >= TIMESTAMPTZ '2026-11-24 14:00:00+00:00' ORDER BY id`,
			[]string{"2", "4"}},
		{"JSON logs read with the catalog's types, missing fields NULL",
			`SELECT user_id, status + 1, typeof(status) FROM kpilake.app_logs_web_access ORDER BY timestamp`,
			[]string{"10 | 201 | INTEGER", "NULL | 205 | INTEGER"}},
		{"a day without a partition is empty, not an error",
			`SELECT count(*) FROM kpilake.social_posts WHERE dt = '2026-11-26'`, []string{"0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, query(t, e, tc.query)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Athena reads a partition's objects when it runs a query: an object that lands in a partition the
// catalog already lists (Firehose adds them all day) is read by the next query, with no crawl.
func TestEngine_ReadsAnObjectAddedToAPartitionTheCatalogAlreadyLists(t *testing.T) {
	root, cat := lake(t)
	e := open(t, root, cat, "UTC")
	const q = `SELECT count(*) FROM kpilake.app_logs_web_access WHERE dt = '2026-11-24'`
	if diff := cmp.Diff([]string{"2"}, query(t, e, q)); diff != "" {
		t.Fatalf("before (-want +got):\n%s", diff)
	}
	writeLogs(t, filepath.Join(root, "raw/app_logs/web_access/dt=2026-11-24/web_access-1-2026-11-24-00-05-00-def"), []map[string]any{
		{"timestamp": "2026-11-24T00:04:00.000Z", "user_id": 11, "status": 200, "path": "/b"},
	})
	if diff := cmp.Diff([]string{"3"}, query(t, e, q)); diff != "" {
		t.Errorf("after an object landed (-want +got):\n%s", diff)
	}
}

// The CTAS runner publishes through the engine and the catalog exactly as through Athena and Glue:
// the temporary table is registered with Hive type names, the KPI partition names the run, the run
// is marked ready, and the temporary table is gone.
func TestEngine_RunsTheRunnersCTAS(t *testing.T) {
	root, cat := lake(t)
	e := open(t, root, cat, "Europe/Berlin")
	bucket, err := lakedir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ctas.New(e, cat, bucket, ctas.Config{Database: db, Workgroup: "local", AggregatedBucket: "aggregated",
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), PollInitial: time.Millisecond, PollMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	day, _ := layout.ParseDay("2026-11-24")
	ctx := context.Background()
	res, err := r.Run(ctx, ctas.Request{KPI: "posts_per_user", Date: day, Select: `SELECT user_id, count(*) AS posts, sum(id) AS id_sum, avg(id) AS mean
		FROM kpilake.social_posts WHERE dt = '2026-11-24' GROUP BY user_id`})
	if err != nil {
		t.Fatal(err)
	}
	kpi, err := cat.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(db), Name: aws.String("kpi_posts_per_user")})
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range kpi.Table.StorageDescriptor.Columns {
		cols = append(cols, *c.Name+" "+*c.Type)
	}
	// DuckDB's count is BIGINT and its sum of BIGINT a HUGEINT; Athena registers both as bigint.
	if diff := cmp.Diff([]string{"user_id bigint", "posts bigint", "id_sum bigint", "mean double"}, cols); diff != "" {
		t.Errorf("KPI table columns (-want +got):\n%s", diff)
	}
	part, err := cat.GetPartition(ctx, &glue.GetPartitionInput{DatabaseName: aws.String(db), TableName: aws.String("kpi_posts_per_user"),
		PartitionValues: []string{"2026-11-24"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *part.Partition.StorageDescriptor.Location, "s3://aggregated/"+layout.KPIRunPrefix("posts_per_user", day, res.RunID); got != want {
		t.Errorf("partition location = %s, want %s", got, want)
	}
	ready, err := catalog.DataFiles(filepath.Join(root, "aggregated", layout.KPIRunPrefix("posts_per_user", day, res.RunID)))
	if err != nil || len(ready) != 1 {
		t.Errorf("run folder data files = %v, %v; want one Parquet file", ready, err)
	}
	marker := filepath.Join(root, "aggregated", layout.KPIRunPrefix("posts_per_user", day, res.RunID), ctas.ReadyMarker)
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the run is not marked ready: %v", err)
	}
	tables, _ := cat.GetTables(ctx, &glue.GetTablesInput{DatabaseName: aws.String(db), Expression: aws.String(layout.TempTablePrefix + ".*")})
	if len(tables.TableList) != 0 {
		t.Errorf("temporary tables left: %d", len(tables.TableList))
	}
	if diff := cmp.Diff([]string{"10 | 2 | 4 | 2", "11 | 1 | 2 | 2"},
		query(t, e, `SELECT user_id, posts, id_sum, CAST(mean AS INTEGER) FROM kpilake.kpi_posts_per_user WHERE dt = '2026-11-24' ORDER BY user_id`)); diff != "" {
		t.Errorf("published rows (-want +got):\n%s", diff)
	}
}

func TestEngine_CTASFailsAsAthenaDoes(t *testing.T) {
	root, cat := lake(t)
	e := open(t, root, cat, "")
	ctx := context.Background()
	start := func(q, token string) *atypes.QueryExecution {
		t.Helper()
		out, err := e.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String(q), ClientRequestToken: aws.String(token)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: out.QueryExecutionId})
		if err != nil {
			t.Fatal(err)
		}
		return got.QueryExecution
	}
	ok := ctas.Statement(db, "tmp_a", "s3://aggregated/a/", "SELECT 1 AS x")
	first := start(ok, "t1")
	if first.Status.State != atypes.QueryExecutionStateSucceeded {
		t.Fatalf("first CTAS: %s %s", first.Status.State, aws.ToString(first.Status.StateChangeReason))
	}
	if again := start(ok, "t1"); *again.QueryExecutionId != *first.QueryExecutionId {
		t.Errorf("a repeated request token started query %s, want %s again", *again.QueryExecutionId, *first.QueryExecutionId)
	}
	for _, tc := range []struct{ name, query, reason string }{
		{"table exists", ok, "TABLE_ALREADY_EXISTS"},
		{"location not empty", ctas.Statement(db, "tmp_b", "s3://aggregated/a/", "SELECT 1 AS x"), "HIVE_PATH_ALREADY_EXISTS"},
		{"SQL error", ctas.Statement(db, "tmp_c", "s3://aggregated/c/", "SELECT nope FROM kpilake.social_posts"), "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := start(tc.query, tc.name)
			if q.Status.State != atypes.QueryExecutionStateFailed || !strings.Contains(aws.ToString(q.Status.StateChangeReason), tc.reason) {
				t.Errorf("state %s, reason %q; want FAILED naming %s", q.Status.State, aws.ToString(q.Status.StateChangeReason), tc.reason)
			}
		})
	}
}
