// Package ingest is the extract side of a local run: for one business day, it runs the real
// extractor (lambdas/extract) for every table of a source into a lakedir lake, from the embedded
// sample or from a real database, and writes the sample's access logs as Firehose delivers them.
//
// The lake's raw zone is the bucket "raw" of the lake (<root>/raw/), laid out as on AWS:
// raw/<source>/<table>/dt=D/<table>.parquet and raw/app_logs/<stream>/dt=D/*.json.gz.
package ingest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/sample"
)

// RawBucket is the lake's bucket that holds the raw zone.
const RawBucket = string(layout.Raw)

// Source is where one source's rows come from: the embedded sample (Sample) or a database
// (Database). Spec names the source and its tables.
type Source struct {
	Spec extract.SourceSpec
	ds   *sample.Dataset
	db   *database
}

// Sample is the embedded source: the sample's MySQL database, replayed as it stood at each
// extraction instant, with the tables the environments configure for it (embedded.Spec).
func Sample(ds *sample.Dataset) Source {
	return Source{Spec: embedded.Spec(ds), ds: ds}
}

// SpecFromEnvironment is the named database source of env as its extraction Lambda is told it
// (the same fields as infra/ingest.SourceSpec, which links the CDK).
func SpecFromEnvironment(env *config.Environment, name string) (extract.SourceSpec, error) {
	var names []string
	for _, src := range env.Sources {
		names = append(names, src.Name)
		if src.Name != name {
			continue
		}
		spec := extract.SourceSpec{Name: src.Name, Engine: extract.Engine(src.Engine), Database: src.Database,
			TimeZone: env.TimeZone, StoredTimeZone: src.StoredTimeZone}
		for _, t := range src.Tables {
			spec.Tables = append(spec.Tables, extract.TableSpec{Name: t.Name, Mode: extract.Mode(t.Mode),
				TimestampColumn: t.TimestampColumn, Exclude: t.Exclude, Hash: t.Hash})
		}
		return spec, nil
	}
	return extract.SourceSpec{}, fmt.Errorf("environment %s has no source %q (kpilake.environments.%s.sources in cdk.json has: %s)",
		env.Name, name, env.Name, strings.Join(names, ", "))
}

// database is a server given by a DSN: its credentials in the RDS secret shape, and its TLS.
type database struct {
	secret []byte
	roots  *x509.CertPool // nil: no TLS (loopback only)
}

// Database is the source spec read from the database at dsn:
//
//	mysql://user:password@host:3306/dbname        (MySQL, MariaDB, Aurora MySQL)
//	postgres://user:password@host:5432/dbname     (PostgreSQL; postgresql:// too)
//
// With ?ca=PATH (a PEM bundle) the connection uses TLS verified against it, and with
// ?ca=system against the system's roots; without ca it uses no TLS, which only a loopback host
// (localhost, 127.0.0.1, ::1) is allowed. The DSN's engine must be the spec's. The dbname is used
// when the spec names no Database.
func Database(dsn string, spec extract.SourceSpec) (Source, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return Source{}, fmt.Errorf("--dsn: %w; give mysql://user:password@host:port/dbname or postgres://...", err)
	}
	var engine extract.Engine
	port := 0
	switch u.Scheme {
	case "mysql", "mariadb":
		engine, port = extract.MySQL, 3306
	case "postgres", "postgresql":
		engine, port = extract.PostgreSQL, 5432
	default:
		return Source{}, fmt.Errorf("--dsn: scheme %q is not a database; use mysql:// (MySQL, MariaDB) or postgres://", u.Scheme)
	}
	if engine != spec.Engine {
		return Source{}, fmt.Errorf("--dsn is a %s database, but source %q is configured with engine %q; give a DSN of that engine", engine, spec.Name, spec.Engine)
	}
	if u.Port() != "" {
		if port, err = strconv.Atoi(u.Port()); err != nil {
			return Source{}, fmt.Errorf("--dsn: port %q is not a number", u.Port())
		}
	}
	if u.Hostname() == "" || u.User == nil || u.User.Username() == "" {
		return Source{}, errors.New("--dsn: give a user and a host: mysql://user:password@host:port/dbname")
	}
	password, _ := u.User.Password()
	db := &database{}
	switch ca := u.Query().Get("ca"); ca {
	case "":
	case "system":
		if db.roots, err = x509.SystemCertPool(); err != nil {
			return Source{}, fmt.Errorf("--dsn: ca=system: %w", err)
		}
	default:
		pem, err := os.ReadFile(ca)
		if err != nil {
			return Source{}, fmt.Errorf("--dsn: ca: %w", err)
		}
		db.roots = x509.NewCertPool()
		if !db.roots.AppendCertsFromPEM(pem) {
			return Source{}, fmt.Errorf("--dsn: ca: %s holds no PEM certificate", ca)
		}
	}
	if db.roots == nil && !isLoopback(u.Hostname()) {
		return Source{}, fmt.Errorf("--dsn: host %s is not a loopback address, so the connection needs TLS; add ?ca=PATH (the CA bundle of its certificate) or ?ca=system", u.Hostname())
	}
	db.secret, _ = json.Marshal(map[string]any{"username": u.User.Username(), "password": password, "host": u.Hostname(),
		"port": port, "dbname": strings.TrimPrefix(u.Path, "/"), "engine": string(engine)})
	return Source{Spec: spec, db: db}, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// secrets is the SecretsAPI stand-in that holds a DSN's credentials; they stay in memory.
type secrets struct{ value string }

func (s secrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: &s.value}, nil
}

var _ extract.SecretsAPI = secrets{}

// localSecretID names the stand-in secret in the extractor's messages.
const localSecretID = "local:--dsn"

// Options tunes Extract.
type Options struct {
	// Salt keys the HMAC of hashed columns. Required when a table hashes a column (Salt reads
	// the lake's own).
	Salt []byte
	// Logger receives the extractor's record per table. Default: a logger that discards.
	Logger *slog.Logger
}

// Extract runs the real extractor for every table of src, in the spec's order, for business
// day d into the lake's raw zone, and returns each table's result (rows, bytes, key). The
// embedded sample is read as it stood at instant at (embedded.ExtractionTime for the daily
// run); a database is read as it is now. at is also the extractor's clock (extract.Config.Now),
// so that the daily run of d is not refused as a past snapshot day; zero means now. It stops at the first failure,
// naming the table; the tables before it stay extracted, and the failed one keeps its earlier
// object, if any.
func Extract(ctx context.Context, lake *lakedir.Lake, src Source, d layout.Day, at time.Time, opts Options) ([]extract.Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := extract.Config{Source: src.Spec, Bucket: RawBucket, Salt: opts.Salt, Logger: log}
	if !at.IsZero() {
		cfg.Now = func() time.Time { return at }
	}
	var e *extract.Extractor
	var err error
	switch {
	case src.ds != nil:
		rows, err := embedded.At(src.ds, at)
		if err != nil {
			return nil, err
		}
		e, err = extract.NewWithRows(cfg, rows, lake)
		if err != nil {
			return nil, err
		}
	case src.db != nil:
		cfg.SecretID, cfg.RootCAs, cfg.PlaintextLoopback = localSecretID, src.db.roots, src.db.roots == nil
		e, err = extract.New(cfg, secrets{string(src.db.secret)}, lake)
	default:
		err = errors.New("ingest.Extract: give a Source from Sample or Database")
	}
	if err != nil {
		return nil, err
	}
	var out []extract.Result
	for _, t := range src.Spec.Tables {
		res, err := e.Handle(ctx, extract.Request{Source: src.Spec.Name, Table: t.Name, Date: d.String()})
		if err != nil {
			return out, fmt.Errorf("extract %s.%s for %s: %w", src.Spec.Name, t.Name, d, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// saltFile holds the lake's hash salt, in the lake's root, outside every bucket.
const saltFile = ".kpilake-hash-salt"

// Salt returns the lake's hash salt, creating it on first use: 32 random bytes, hex-encoded, in
// <root>/.kpilake-hash-salt (mode 0600). A salt of its own per lake, rather than a fixed demo
// salt, keeps the hashes of a real database's columns (--dsn) from being reversed by anyone who
// reads the code (employee codes and the like have few values); being kept, it keeps them stable
// across re-runs of the same lake, so joins and idempotent re-runs hold.
func Salt(root string) ([]byte, error) {
	path := filepath.Join(root, saltFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, err
		}
		// Written whole, then linked into place: a concurrent first run reads a whole salt, and
		// only one salt wins.
		f, cerr := os.CreateTemp(root, saltFile+".tmp-*")
		if cerr != nil {
			return nil, fmt.Errorf("create the lake's hash salt: %w", cerr)
		}
		defer os.Remove(f.Name())
		_, werr := f.WriteString(hex.EncodeToString(raw[:]))
		if err := errors.Join(werr, f.Chmod(0o600), f.Close()); err != nil {
			return nil, fmt.Errorf("write the lake's hash salt: %w", err)
		}
		if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create the lake's hash salt %s: %w", path, err)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read the lake's hash salt: %w", err)
	}
	salt := []byte(strings.TrimSpace(string(b)))
	if len(salt) < extract.MinSaltLength {
		return nil, fmt.Errorf("the lake's hash salt %s holds %d bytes, fewer than %d; delete the file to have a new one made (hashes change)",
			path, len(salt), extract.MinSaltLength)
	}
	return salt, nil
}
