package dbsvc

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Database is a running database server with TLS on a loopback port, reachable as its
// superuser. StopAll (or Stop) stops it and removes its data.
type Database struct {
	Host string
	Port int
	// User is the superuser, with no password (trust/normal auth on loopback only).
	User string
	TLS  TLSFiles

	proc *Process
}

// StartMariaDB initializes a data directory and starts mariadbd on a free loopback port. The
// returned server is this process's own: another test binary's server, which may take the free
// port first, is never returned.
func StartMariaDB() (*Database, error) {
	return startMariaDB(nil)
}

// startMariaDB is StartMariaDB with the port of each attempt from pick (nil: freePort); tests
// offer a taken port through it.
func startMariaDB(pick func() (int, error)) (_ *Database, err error) {
	bins, err := LookPath("mariadb-install-db", "mariadbd")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kpilake-mariadb-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	data := filepath.Join(dir, "data")
	// A temporary directory of its own: bootstraps running at once in /tmp (another test
	// binary's, or another test's) fail now and then on each other's temporary tables ("Unknown
	// table 'mysql.tmp_proxies_priv'").
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	installArgs := []string{"--no-defaults", "--user=root", "--skip-test-db", "--auth-root-authentication-method=normal"}
	install := func(data string) error {
		tmp := filepath.Join(filepath.Dir(data), "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return err
		}
		cmd := exec.Command(bins["mariadb-install-db"], append(installArgs, "--datadir="+data, "--tmpdir="+tmp)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
		}
		return nil
	}
	noChown := func(string) error { return nil }
	if err := initDataDir("mariadb", bins["mariadb-install-db"], installArgs, data, noChown, install); err != nil {
		return nil, err
	}
	tlsFiles, err := writeTLS(dir)
	if err != nil {
		return nil, err
	}
	return OnOwnPort("MariaDB", pick, func(port int) (*Database, error) {
		cmd := exec.Command(bins["mariadbd"], "--no-defaults", "--user=root", "--datadir="+data, "--tmpdir="+tmp,
			"--bind-address=127.0.0.1", "--port="+itoa(port), "--socket="+filepath.Join(dir, "mysqld.sock"),
			"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--skip-log-bin", "--skip-name-resolve",
			"--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=0", "--max-allowed-packet=64M",
			"--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin", "--default-time-zone=+00:00",
			"--ssl-ca="+tlsFiles.CA, "--ssl-cert="+tlsFiles.Cert, "--ssl-key="+tlsFiles.Key)
		p, err := StartProcess("mariadb", dir, cmd)
		if err != nil {
			return nil, err
		}
		if err := waitOwnData(p, port, data, mariaDBDataDir); err != nil {
			p.stopProcess()
			return nil, err
		}
		Keep(p)
		return &Database{Host: "127.0.0.1", Port: port, User: "root", TLS: tlsFiles, proc: p}, nil
	})
}

// Stop stops the server now and removes its data directory.
func (d *Database) Stop() { d.proc.Stop() }

// mariaDBDataDir asks the MariaDB server on port, as root, for its data directory.
func mariaDBDataDir(ctx context.Context, port int) (string, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", port)
	// Whatever holds the port may not speak MySQL; the error says so, not the driver's log.
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var dir string
	err = db.QueryRowContext(ctx, "SELECT @@datadir").Scan(&dir)
	return dir, err
}

// StartPostgreSQL initializes a cluster and starts postgres on a free loopback port. PostgreSQL
// refuses to run as root, so as root it runs as the postgres system user. The returned server is
// this process's own: another test binary's server, which may take the free port first, is never
// returned.
func StartPostgreSQL() (*Database, error) {
	return startPostgreSQL(nil)
}

// startPostgreSQL is StartPostgreSQL with the port of each attempt from pick (nil: freePort);
// tests offer a taken port through it.
func startPostgreSQL(pick func() (int, error)) (_ *Database, err error) {
	bins, err := LookPath("initdb", "postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kpilake-postgres-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	asUser, chown, err := postgresUser()
	if err != nil {
		return nil, err
	}
	if err := chown(dir); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initArgs := []string{"-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"}
	initdb := func(data string) error {
		if out, err := asUser(bins["initdb"], append([]string{"-D", data}, initArgs...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("initdb: %w\n%s", err, out)
		}
		return nil
	}
	if err := initDataDir("postgres", bins["initdb"], initArgs, data, chown, initdb); err != nil {
		return nil, err
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
	return OnOwnPort("PostgreSQL", pick, func(port int) (*Database, error) {
		cmd := asUser(bins["postgres"], "-D", data, "-c", "listen_addresses=127.0.0.1", "-p", itoa(port),
			"-k", dir, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "ssl=on", "-c", "ssl_cert_file="+tlsFiles.Cert, "-c", "ssl_key_file="+tlsFiles.Key,
			"-c", "timezone=UTC")
		p, err := StartProcess("postgres", dir, cmd)
		if err != nil {
			return nil, err
		}
		// Fast shutdown: SIGTERM is PostgreSQL's smart shutdown, which waits for clients, and
		// runuser answers it by waiting two seconds before it kills the server.
		p.stopSignal = syscall.SIGINT
		if err := waitOwnData(p, port, data, postgreSQLDataDir); err != nil {
			p.stopProcess()
			return nil, err
		}
		Keep(p)
		return &Database{Host: "127.0.0.1", Port: port, User: "postgres", TLS: tlsFiles, proc: p}, nil
	})
}

// postgresUser returns how to run a PostgreSQL program and how to give it a directory:
// PostgreSQL refuses to run as root, so as root each runs as the postgres system user (runuser)
// in directories it owns; as anyone else, as the current user.
func postgresUser() (asUser func(name string, args ...string) *exec.Cmd, chown func(dir string) error, err error) {
	if os.Geteuid() != 0 {
		return exec.Command, func(string) error { return nil }, nil
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, nil, fmt.Errorf("runuser (to run PostgreSQL as postgres): %w", ErrMissing)
	}
	asUser = func(name string, args ...string) *exec.Cmd {
		return exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	chown = func(dir string) error {
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("chown %s: %w\n%s", dir, err, out)
		}
		return nil
	}
	return asUser, chown, nil
}

// postgreSQLDataDir asks the PostgreSQL server on port, as postgres, for its data directory.
func postgreSQLDataDir(ctx context.Context, port int) (string, error) {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var dir string
	err = conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir)
	return dir, err
}

// waitOwnData waits until the database server on port answers dataDir, the query of its data
// directory as its superuser, with data, the directory that p was started on: no other server
// can have it, as a server locks its data directory. It fails with ErrNotOwnPort as soon as the
// server there answers with another directory, or when p exits (it could not bind the port), and
// with another error if no server answers within a minute. A server listens before it has
// finished starting up, so a refused connection or a failed query is tried again.
func waitOwnData(p *Process, port int, data string, dataDir func(context.Context, int) (string, error)) error {
	want, err := os.Stat(data)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		// Ask first: if another server answers, it is not ours even when p has exited already.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var got string
		got, err = dataDir(ctx, port)
		cancel()
		if err == nil {
			// The server may spell the directory otherwise (MariaDB: its real path, with a
			// trailing slash).
			if fi, serr := os.Stat(got); serr == nil && os.SameFile(fi, want) {
				return nil
			}
			return fmt.Errorf("the %s server on port %d has data directory %s, not this one's %s: %w",
				p.name, port, got, data, ErrNotOwnPort)
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it answered on port %d (was the port taken?): %w; log:\n%s",
				p.name, port, ErrNotOwnPort, tail(filepath.Join(p.dir, p.name+".log")))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer on port %d within a minute: %v; log:\n%s", p.name, port, err, tail(filepath.Join(p.dir, p.name+".log")))
}
