package run_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
	"github.com/kpilake/kpilake/sample"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// `local run --dsn` extracts the environment's source from a real MariaDB instead of the
// embedded sample, and the database's KPIs come out as from the embedded replay of the same data.
func TestLocalRun_FromMariaDBByDSN_PublishesWhatTheEmbeddedSampleDoes(t *testing.T) {
	ds := sample.Generate(sample.Config{Days: 2})
	day := ds.Days()[0]
	st, err := ds.AsOf(embedded.ExtractionTime(ds, day))
	if err != nil {
		t.Fatal(err)
	}
	srv := testsvc.MariaDB(t)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = srv.User, "tcp", net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port))
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root := sql.OpenDB(conn)
	defer root.Close()
	const name = "local_run_dsn"
	for _, stmt := range []string{
		"CREATE DATABASE " + name,
		"CREATE USER 'local_reader'@'127.0.0.1' IDENTIFIED BY 'not-a-secret'",
		"GRANT SELECT ON " + name + ".* TO 'local_reader'@'127.0.0.1'",
	} {
		if _, err := root.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		root.Exec("DROP DATABASE " + name)
		root.Exec("DROP USER 'local_reader'@'127.0.0.1'")
	})
	cfg.DBName = name
	dbConn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(dbConn)
	defer db.Close()
	if err := sample.Load(context.Background(), db, sample.MySQL, st); err != nil {
		t.Fatal(err)
	}

	runDay := func(dsn string, data *sample.Dataset) map[string][]string {
		t.Helper()
		env, err := run.SampleEnvironment()
		if err != nil {
			t.Fatal(err)
		}
		if dsn != "" {
			env.Sources[0].Database = name
		}
		kpis, err := queries.Load()
		if err != nil {
			t.Fatal(err)
		}
		lake := t.TempDir()
		bucket, err := lakedir.Open(lake)
		if err != nil {
			t.Fatal(err)
		}
		ingest, err := run.NewIngest(lake, env, data, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := run.Run(context.Background(), run.Options{Lake: lake, Env: env, KPIs: kpis, From: day, To: day,
			Bucket: bucket, Ingest: ingest, Engine: duck.Options{Threads: 1}, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Days[0].RowsExtracted == 0 {
			t.Fatalf("nothing extracted (dsn %q)", dsn)
		}
		got := published(t, rep)
		return map[string][]string{"department_activity": got["department_activity"], "reactions_given_received": got["reactions_given_received"]}
	}
	fromDB := runDay(fmt.Sprintf("mysql://local_reader:not-a-secret@%s/%s", cfg.Addr, name), nil)
	embeddedRun := runDay("", ds)
	if len(embeddedRun["department_activity"]) == 0 {
		t.Fatal("the embedded run published no department_activity")
	}
	if diff := cmp.Diff(embeddedRun, fromDB); diff != "" {
		t.Errorf("KPIs from the database (-embedded +dsn):\n%s", diff)
	}
}
