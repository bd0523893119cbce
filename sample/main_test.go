package sample_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/sample"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

var (
	dbSeq       atomic.Int64
	registerTLS sync.Once
)

// openDB connects over verified TLS to a new, empty database on the test server of engine.
func openDB(t *testing.T, engine string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("sample_%d", dbSeq.Add(1))
	var admin, db *sql.DB
	switch engine {
	case sample.MySQL:
		srv := testsvc.MariaDB(t)
		registerTLS.Do(func() {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(srv.TLS.CAPEM)
			if err := mysql.RegisterTLSConfig("sample-test", &tls.Config{RootCAs: pool, ServerName: srv.Host}); err != nil {
				t.Fatal(err)
			}
		})
		dsn := func(db string) string {
			return fmt.Sprintf("%s@tcp(%s:%d)/%s?tls=sample-test&parseTime=true", srv.User, srv.Host, srv.Port, db)
		}
		var err error
		if admin, err = sql.Open("mysql", dsn("")); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		if db, err = sql.Open("mysql", dsn(name)); err != nil {
			t.Fatal(err)
		}
	case sample.PostgreSQL:
		srv := testsvc.PostgreSQL(t)
		config := func(db string) *pgx.ConnConfig {
			cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=verify-full", srv.User, srv.Host, srv.Port, db))
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(srv.TLS.CAPEM)
			cfg.TLSConfig = &tls.Config{RootCAs: pool, ServerName: srv.Host}
			return cfg
		}
		admin = stdlib.OpenDB(*config("postgres"))
		waitUntilAccepting(t, admin)
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		db = stdlib.OpenDB(*config(name))
	default:
		t.Fatalf("engine %q", engine)
	}
	t.Cleanup(func() {
		db.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	return db
}

// forEachEngine runs f as a parallel subtest per engine, each with its own empty database.
func forEachEngine(t *testing.T, f func(t *testing.T, engine string, db *sql.DB)) {
	for _, engine := range []string{sample.MySQL, sample.PostgreSQL} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			f(t, engine, openDB(t, engine))
		})
	}
}

// waitUntilAccepting waits while PostgreSQL, already listening, still answers "the database
// system is starting up" (SQLSTATE 57P03).
func waitUntilAccepting(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := db.PingContext(context.Background())
		if err == nil {
			return
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "57P03" || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
