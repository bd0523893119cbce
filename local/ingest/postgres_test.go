package ingest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/ingest"
	"github.com/kpilake/kpilake/sample"
)

// A postgres:// DSN extracts the environment's tables from PostgreSQL over verified TLS: the
// same rows per table as the embedded source writes for the same data.
func TestExtract_FromPostgreSQLByDSN(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	d := ds.Days()[2]
	at := embedded.ExtractionTime(ds, d)
	st, err := ds.AsOf(at)
	if err != nil {
		t.Fatal(err)
	}
	srv := testsvc.PostgreSQL(t)
	name, user, password := randName("social_"), randName("ro_"), randName("pw:/@?'x")
	open := func(db string) *sql.DB {
		cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", srv.User, net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port)), db))
		if err != nil {
			t.Fatal(err)
		}
		return stdlib.OpenDB(*cfg)
	}
	root := open("postgres")
	defer root.Close()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The server accepts connections a moment before it accepts logins (57P03).
		_, err := root.ExecContext(ctx, "CREATE DATABASE "+name)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "57P03") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := root.ExecContext(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", user, strings.ReplaceAll(password, "'", "''"))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		root := open("postgres")
		defer root.Close()
		root.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		root.Exec("DROP ROLE " + user)
	})
	db := open(name)
	defer db.Close()
	if err := sample.Load(ctx, db, sample.PostgreSQL, st); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+user); err != nil {
		t.Fatal(err)
	}
	spec := embedded.Spec(ds)
	spec.Engine, spec.Database = extract.PostgreSQL, name
	dsn := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port)),
		Path: "/" + name, RawQuery: url.Values{"ca": {srv.TLS.CA}}.Encode()}
	src, err := ingest.Database(dsn.String(), spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ingest.Extract(ctx, openLake(t), src, d, at, ingest.Options{Salt: testSalt})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ingest.Extract(ctx, openLake(t), ingest.Sample(ds), d, at, ingest.Options{Salt: testSalt})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].Table != want[i].Table || got[i].Rows != want[i].Rows || got[i].Key != want[i].Key {
			t.Errorf("PostgreSQL wrote %d rows of %s to %s; embedded %d rows of %s to %s",
				got[i].Rows, got[i].Table, got[i].Key, want[i].Rows, want[i].Table, want[i].Key)
		}
	}
}

// Extracting a day again replaces its object: one object per partition, no upload left over.
func TestExtract_RerunReplacesTheDaysObject(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	d := ds.Days()[0]
	lake := openLake(t)
	for range 2 {
		if _, err := ingest.Extract(context.Background(), lake, ingest.Sample(ds), d, embedded.ExtractionTime(ds, d), ingest.Options{Salt: testSalt}); err != nil {
			t.Fatal(err)
		}
	}
	path, _ := lake.Path(ingest.RawBucket, "social")
	var objects []string
	for _, tbl := range sample.Tables() {
		ents, err := readDir(path + "/" + tbl + "/dt=" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, ents...)
	}
	if len(objects) != len(sample.Tables()) {
		t.Errorf("objects after a re-run: %v, want one per table", objects)
	}
	if ids, _ := lake.Uploads(); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

func readDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}
