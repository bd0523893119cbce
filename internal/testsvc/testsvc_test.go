package testsvc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"net/http"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/kpilake/kpilake/internal/testsvc"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func TestMariaDB_AcceptsVerifiedTLS(t *testing.T) {
	t.Parallel()
	db := testsvc.MariaDB(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(db.TLS.CAPEM) {
		t.Fatal("CA PEM not parsed")
	}
	if err := mysql.RegisterTLSConfig("testsvc", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("mysql", fmt.Sprintf("%s@tcp(%s:%d)/?tls=testsvc", db.User, db.Host, db.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var name, cipher string
	if err := conn.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	if cipher == "" {
		t.Errorf("connection is not encrypted")
	}
}

func TestPostgreSQL_AcceptsVerifiedTLS(t *testing.T) {
	t.Parallel()
	db := testsvc.PostgreSQL(t)
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s:%d/postgres?sslmode=verify-full", db.User, db.Host, db.Port))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(db.TLS.CAPEM)
	cfg.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ssl bool
	if err := conn.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Errorf("connection is not encrypted")
	}
}

func TestMoto_Answers(t *testing.T) {
	t.Parallel()
	m := testsvc.MotoServer(t)
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(m.Endpoint + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("moto /moto-api/data.json: %s", resp.Status)
	}
}
