package testsvc

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Database is a running database server with TLS, reachable as its superuser.
type Database struct {
	Host string
	Port int
	// User is the superuser, with no password (trust/normal auth on loopback only).
	User string
	TLS  TLSFiles
}

var mariaOnce, pgOnce once[*Database]

// MariaDB returns the MariaDB server of this test binary (MySQL protocol), starting it on first use.
func MariaDB(t testing.TB) *Database {
	t.Helper()
	return mariaOnce.get(t, "MariaDB", StartMariaDB)
}

// PostgreSQL returns the PostgreSQL server of this test binary, starting it on first use.
func PostgreSQL(t testing.TB) *Database {
	t.Helper()
	return pgOnce.get(t, "PostgreSQL", StartPostgreSQL)
}

// StartMariaDB initializes a data directory and starts mariadbd on a free loopback port.
func StartMariaDB() (*Database, error) {
	bins, err := lookPath("mariadb-install-db", "mariadbd")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kpilake-mariadb-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	install := exec.Command(bins["mariadb-install-db"], "--no-defaults", "--user=root", "--datadir="+data,
		"--skip-test-db", "--auth-root-authentication-method=normal")
	if out, err := install.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	tlsFiles, err := writeTLS(dir)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bins["mariadbd"], "--no-defaults", "--user=root", "--datadir="+data,
		"--bind-address=127.0.0.1", "--port="+itoa(port), "--socket="+filepath.Join(dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--skip-log-bin", "--skip-name-resolve",
		"--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=0", "--max-allowed-packet=64M",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin", "--default-time-zone=+00:00",
		"--ssl-ca="+tlsFiles.CA, "--ssl-cert="+tlsFiles.Cert, "--ssl-key="+tlsFiles.Key)
	p, err := start("mariadb", dir, cmd)
	if err != nil {
		return nil, err
	}
	register(p)
	if err := waitTCP(p, fmt.Sprintf("127.0.0.1:%d", port), 60*time.Second); err != nil {
		return nil, err
	}
	err = waitReady(p, func(ctx context.Context) error {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Net, cfg.Addr = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", port)
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return err
		}
		db := sql.OpenDB(conn)
		defer db.Close()
		return db.PingContext(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &Database{Host: "127.0.0.1", Port: port, User: "root", TLS: tlsFiles}, nil
}

// StartPostgreSQL initializes a cluster and starts postgres on a free loopback port. PostgreSQL
// refuses to run as root, so as root it runs as the postgres system user.
func StartPostgreSQL() (*Database, error) {
	bins, err := lookPath("initdb", "postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kpilake-postgres-")
	if err != nil {
		return nil, err
	}
	asUser := func(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
	if os.Geteuid() == 0 {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return nil, fmt.Errorf("runuser (to run PostgreSQL as postgres): %w", errMissing)
		}
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %w\n%s", dir, err, out)
		}
		asUser = func(name string, args ...string) *exec.Cmd {
			return exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asUser(bins["initdb"], "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	tlsFiles, err := writeTLS(dir)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tlsFiles.Key, 0o600); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:postgres", tlsFiles.Key, tlsFiles.Cert, tlsFiles.CA).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown: %w\n%s", err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := asUser(bins["postgres"], "-D", data, "-c", "listen_addresses=127.0.0.1", "-p", itoa(port),
		"-k", dir, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "ssl=on", "-c", "ssl_cert_file="+tlsFiles.Cert, "-c", "ssl_key_file="+tlsFiles.Key,
		"-c", "timezone=UTC")
	p, err := start("postgres", dir, cmd)
	if err != nil {
		return nil, err
	}
	register(p)
	if err := waitTCP(p, fmt.Sprintf("127.0.0.1:%d", port), 60*time.Second); err != nil {
		return nil, err
	}
	err = waitReady(p, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.Ping(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &Database{Host: "127.0.0.1", Port: port, User: "postgres", TLS: tlsFiles}, nil
}

// waitReady retries ping until the server answers queries (a server listens before it has
// finished starting up), the process exits, or a minute passes.
func waitReady(p *proc, ping func(context.Context) error) error {
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting; log:\n%s", p.name, tail(filepath.Join(p.dir, p.name+".log")))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s is not ready after a minute: %v; log:\n%s", p.name, err, tail(filepath.Join(p.dir, p.name+".log")))
}
