// Command seed loads the kpilake sample source (an enterprise social network) into a local MySQL,
// MariaDB or PostgreSQL database, and optionally writes the matching access logs as Firehose
// would deliver them. It is for trying the project locally; the tests use package sample directly.
//
//	go run ./sample/cmd/seed -engine mysql -dsn 'root@tcp(127.0.0.1:3306)/social'
//	go run ./sample/cmd/seed -engine postgresql -dsn 'postgres://postgres@127.0.0.1:5432/social' -days 14 -users 200 -seed 7
//	go run ./sample/cmd/seed -engine mysql -dsn 'app@tcp(db:3306)/social' -ca ca.pem -drop -logs ./app_logs
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/sample"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("engine", "", `database engine: "mysql" (MySQL, MariaDB) or "postgresql" (required)`)
	dsn := fs.String("dsn", "", "data source name of the target database (required); mysql: user:pass@tcp(host:3306)/db, postgresql: postgres://user:pass@host:5432/db")
	caFile := fs.String("ca", "", "PEM file of the CA that signed the server's certificate: connect over verified TLS")
	drop := fs.Bool("drop", false, "drop the sample tables first, if they exist (otherwise they must not exist)")
	logsDir := fs.String("logs", "", "also write the access logs, one file per day: DIR/dt=YYYY-MM-DD/access.jsonl")
	start := fs.String("start", sample.DefaultStart, "first business day, YYYY-MM-DD")
	days := fs.Int("days", sample.DefaultDays, "number of business days")
	users := fs.Int("users", sample.DefaultUsers, "number of users")
	departments := fs.Int("departments", sample.DefaultDepartments, "number of departments (the last one is soft-deleted)")
	postsPerDay := fs.Float64("posts-per-day", sample.DefaultPostsPerDay, "mean posts on a working day")
	seed := fs.Int64("seed", 0, "random seed: the same flags always give the same data")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./sample/cmd/seed -engine mysql|postgresql -dsn DSN [flags]\n\n"+
			"Creates the sample tables (departments, users, posts, comments, reactions) and loads a\n"+
			"deterministic dataset. The second day is a holiday without activity (with the default\n"+
			"-start, 2025-04-29, Shōwa Day).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	var problems []string
	if *engine != sample.MySQL && *engine != sample.PostgreSQL {
		problems = append(problems, fmt.Sprintf(`-engine %q: use "mysql" or "postgresql"`, *engine))
	}
	if *dsn == "" {
		problems = append(problems, "-dsn is required")
	}
	startDay, err := layout.ParseDay(*start)
	if err != nil {
		problems = append(problems, "-start: "+err.Error())
	}
	cfg := sample.Config{Seed: *seed, Start: startDay, Days: *days, Users: *users, Departments: *departments, PostsPerDay: *postsPerDay}
	// Zero would mean "the default" to sample.Config; on the command line it is a mistake.
	for _, f := range []struct {
		name string
		v    float64
	}{{"days", float64(*days)}, {"users", float64(*users)}, {"departments", float64(*departments)}, {"posts-per-day", *postsPerDay}} {
		if f.v <= 0 {
			problems = append(problems, fmt.Sprintf("-%s is %v; give a positive number", f.name, f.v))
		}
	}
	if len(problems) == 0 {
		if err := cfg.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "seed: %s\nRun with -h for usage.\n", strings.Join(problems, "\nseed: "))
		return errUsage
	}
	var caPEM []byte
	if *caFile != "" {
		if caPEM, err = os.ReadFile(*caFile); err != nil {
			return fmt.Errorf("-ca: %w", err)
		}
	}

	db, err := open(*engine, *dsn, caPEM)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to the %s database: %w", *engine, err)
	}

	began := time.Now()
	ds := sample.Generate(cfg)
	if *drop {
		if err := sample.Drop(ctx, db, *engine); err != nil {
			return err
		}
	}
	if err := sample.Load(ctx, db, *engine, ds); err != nil {
		return err
	}
	counts := ds.Counts()
	total := 0
	for _, table := range sample.Tables() {
		c := counts[table]
		total += c.Rows
		fmt.Fprintf(stdout, "%-12s %7d rows (%d soft-deleted)\n", table, c.Rows, c.SoftDeleted)
	}
	fmt.Fprintf(stdout, "loaded %d rows for %s to %s (days in %s; holidays: %s) in %s\n",
		total, ds.Config.Start, ds.Config.Start.AddDays(ds.Config.Days-1), ds.Config.Location, days2str(ds.Config.Holidays),
		time.Since(began).Round(time.Millisecond))

	if *logsDir != "" {
		for _, d := range ds.Days() {
			path := filepath.Join(*logsDir, d.Partition(), "access.jsonl")
			if err := writeLogs(path, ds, d); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "wrote %d access-log records under %s\n", len(ds.AccessLogs), *logsDir)
	}
	return nil
}

func writeLogs(path string, ds *sample.Dataset, d layout.Day) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sample.WriteAccessLogs(f, ds, d); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// open connects with the engine's driver; with a CA, over TLS verified against it.
func open(engine, dsn string, caPEM []byte) (*sql.DB, error) {
	var rootCAs *x509.CertPool
	if caPEM != nil {
		rootCAs = x509.NewCertPool()
		if !rootCAs.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("-ca: no PEM certificate in the file")
		}
	}
	switch engine {
	case sample.MySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("-dsn: %w (mysql form: user:password@tcp(host:3306)/database)", err)
		}
		if cfg.DBName == "" {
			return nil, fmt.Errorf("-dsn %q names no database; add one, such as %s", dsn, "root@tcp(127.0.0.1:3306)/social")
		}
		if rootCAs != nil {
			host, _, err := net.SplitHostPort(cfg.Addr)
			if err != nil {
				host = cfg.Addr
			}
			cfg.TLS = &tls.Config{RootCAs: rootCAs, ServerName: host, MinVersion: tls.VersionTLS12}
		}
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(connector), nil
	default:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("-dsn: %w (postgresql form: postgres://user:password@host:5432/database)", err)
		}
		if rootCAs != nil {
			cfg.TLSConfig = &tls.Config{RootCAs: rootCAs, ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
			cfg.Fallbacks = nil // no plaintext fallback
		}
		return stdlib.OpenDB(*cfg), nil
	}
}

func days2str(ds []layout.Day) string {
	if len(ds) == 0 {
		return "none"
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}
