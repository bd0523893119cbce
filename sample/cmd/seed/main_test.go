package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/sample"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func writeCA(t *testing.T, pem []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSeed_LoadsBothEnginesOverTLSAndWritesLogs(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{sample.MySQL, sample.PostgreSQL} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			var dsn, adminDSN string
			var ca []byte
			switch engine {
			case sample.MySQL:
				srv := testsvc.MariaDB(t)
				ca = srv.TLS.CAPEM
				adminDSN = fmt.Sprintf("%s@tcp(%s:%d)/mysql", srv.User, srv.Host, srv.Port)
				dsn = fmt.Sprintf("%s@tcp(%s:%d)/seed", srv.User, srv.Host, srv.Port)
			case sample.PostgreSQL:
				srv := testsvc.PostgreSQL(t)
				ca = srv.TLS.CAPEM
				adminDSN = fmt.Sprintf("postgres://%s@%s:%d/postgres?sslmode=require", srv.User, srv.Host, srv.Port)
				dsn = fmt.Sprintf("postgres://%s@%s:%d/seed?sslmode=require", srv.User, srv.Host, srv.Port)
			}
			caFile := writeCA(t, ca)
			admin, err := open(engine, adminDSN, ca)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			if err := retryStarting(func() error { _, err := admin.ExecContext(ctx, "CREATE DATABASE seed"); return err }); err != nil {
				t.Fatal(err)
			}

			logs := t.TempDir()
			args := []string{"-engine", engine, "-dsn", dsn, "-ca", caFile, "-days", "3", "-users", "20", "-seed", "4", "-logs", logs}
			var out, errOut bytes.Buffer
			if err := run(ctx, args, &out, &errOut); err != nil {
				t.Fatalf("seed %v: %v\n%s", args, err, errOut.String())
			}
			// A second run needs -drop.
			if err := run(ctx, args, &out, &errOut); err == nil || !strings.Contains(err.Error(), "drop them first") {
				t.Errorf("second run without -drop: err = %v", err)
			}
			if err := run(ctx, append(args, "-drop"), &out, &errOut); err != nil {
				t.Fatalf("second run with -drop: %v", err)
			}
			if !strings.Contains(out.String(), "loaded ") {
				t.Errorf("no summary in the output:\n%s", out.String())
			}

			ds := sample.Generate(sample.Config{Days: 3, Users: 20, Seed: 4})
			db, err := open(engine, dsn, ca)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var users, posts int
			if err := db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM posts)").Scan(&users, &posts); err != nil {
				t.Fatal(err)
			}
			if users != len(ds.Users) || posts != len(ds.Posts) {
				t.Errorf("database has %d users and %d posts, want %d and %d", users, posts, len(ds.Users), len(ds.Posts))
			}
			for _, d := range ds.Days() {
				var want bytes.Buffer
				if err := sample.WriteAccessLogs(&want, ds, d); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(logs, d.Partition(), "access.jsonl"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Errorf("%s: access logs differ from WriteAccessLogs", d)
				}
			}
		})
	}
}

func TestSeed_ExplainsBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-engine", "oracle", "-days", "0", "-start", "2025-13-01"}, &out, &errOut)
	if err != errUsage {
		t.Fatalf("err = %v, want errUsage", err)
	}
	for _, want := range []string{`-engine "oracle": use "mysql" or "postgresql"`, "-dsn is required", "-start: ", "-days is 0"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut.String())
		}
	}
}

func TestSeed_RejectsMySQLDSNWithoutDatabase(t *testing.T) {
	_, err := open(sample.MySQL, "root@tcp(127.0.0.1:3306)/", nil)
	if err == nil || !strings.Contains(err.Error(), "names no database") {
		t.Errorf("err = %v", err)
	}
}

// retryStarting retries f while PostgreSQL reports that it is still starting up.
func retryStarting(f func() error) error {
	var err error
	for range 300 {
		if err = f(); err == nil || !strings.Contains(err.Error(), "57P03") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
