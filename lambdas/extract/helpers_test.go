package extract

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests use Asia/Tokyo; it must resolve without system zoneinfo

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/layout"
)

// parallel is how many of the tests that talk to the databases and moto run at once: they wait
// on them more than they compute. TestExtract_MemoryStaysBounded, which measures the process's
// heap, is not one of them: it runs alone, before them.
const parallel = 4

func TestMain(m *testing.M) {
	testsvc.SetParallel(parallel)
	testsvc.Main(m)
}

// testSalt keys hashed columns in the tests.
var testSalt = []byte("0123456789abcdef-test-salt")

// aws is one moto server's clients.
type awsClients struct {
	moto *testsvc.Moto
	s3   *s3.Client
	sm   *secretsmanager.Client
}

func newAWS(t testing.TB) *awsClients {
	t.Helper()
	m := testsvc.MotoServer(t)
	cfg := m.AWSConfig()
	return &awsClients{
		moto: m,
		s3:   s3.NewFromConfig(cfg, testsvc.S3PathStyle),
		sm:   secretsmanager.NewFromConfig(cfg),
	}
}

func randName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// bucket creates an empty bucket for one test.
func (a *awsClients) bucket(t testing.TB) string {
	t.Helper()
	name := strings.ReplaceAll(randName("raw-"), "_", "-")
	_, err := a.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket: &name,
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// secret stores an RDS-style secret and returns its ARN.
func (a *awsClients) secret(t testing.TB, value map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(randName("kpilake/test/")), SecretString: aws.String(string(raw)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return *out.ARN
}

func (a *awsClients) get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	out, err := a.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (a *awsClients) put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	_, err := a.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
}

// keys lists every object key in the bucket.
func (a *awsClients) keys(t testing.TB, bucket string) []string {
	t.Helper()
	out, err := a.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// pendingUploads counts multipart uploads that were neither completed nor aborted.
func (a *awsClients) pendingUploads(t testing.TB, bucket string) int {
	t.Helper()
	out, err := a.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// testDB is a per-test database with a read-only user whose secret is in moto.
type testDB struct {
	engine    Engine
	admin     *sql.DB   // MySQL: root on the test database
	pg        *pgx.Conn // PostgreSQL: the superuser on the test database
	name      string
	user      string
	password  string
	server    *testsvc.Database
	secretARN string
	aws       *awsClients
}

func (d *testDB) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		var err error
		if d.engine == MySQL {
			_, err = d.admin.Exec(s)
		} else {
			_, err = d.pg.Exec(context.Background(), s)
		}
		if err != nil {
			t.Fatalf("%s\n%v", s, err)
		}
	}
}

func (d *testDB) secretValue() map[string]any {
	engine := "mysql"
	if d.engine == PostgreSQL {
		engine = "postgres"
	}
	return map[string]any{"username": d.user, "password": d.password, "host": d.server.Host,
		"port": d.server.Port, "dbname": d.name, "engine": engine}
}

func (d *testDB) rootCAs(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(d.server.TLS.CAPEM) {
		t.Fatal("testsvc CA PEM does not parse")
	}
	return pool
}

// newMariaDB creates a database and a read-only user (TLS required) on the test MariaDB.
func newMariaDB(t testing.TB, a *awsClients) *testDB {
	t.Helper()
	srv := testsvc.MariaDB(t)
	d := &testDB{engine: MySQL, server: srv, aws: a, name: randName("t_"), user: randName("ro_"), password: randName("pw-'\"x")}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = srv.User, "tcp", net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port))
	cfg.MultiStatements = true
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	root, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rootDB := sql.OpenDB(root)
	if _, err := rootDB.Exec("CREATE DATABASE " + d.name); err != nil {
		t.Fatal(err)
	}
	pw := strings.ReplaceAll(d.password, `'`, `''`)
	for _, s := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' REQUIRE SSL", d.user, pw),
		fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'%%'", d.name, d.user),
	} {
		if _, err := rootDB.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	rootDB.Close()
	cfg.DBName = d.name
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.admin = sql.OpenDB(conn)
	t.Cleanup(func() {
		d.admin.Exec("DROP DATABASE " + d.name)
		d.admin.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", d.user))
		d.admin.Close()
	})
	d.secretARN = a.secret(t, d.secretValue())
	return d
}

// newPostgres creates a database and a read-only role on the test PostgreSQL. Tables created
// later in public are readable by the role.
func newPostgres(t testing.TB, a *awsClients) *testDB {
	t.Helper()
	srv := testsvc.PostgreSQL(t)
	ctx := context.Background()
	d := &testDB{engine: PostgreSQL, server: srv, aws: a, name: randName("t_"), user: randName("ro_"), password: randName("pw-'\"x")}
	connect := func(db string) *pgx.Conn {
		// The server accepts connections a moment before it accepts logins.
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", srv.User, srv.Host, srv.Port, db))
			if err == nil {
				return c
			}
			if !strings.Contains(err.Error(), "57P03") || time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	root := connect("postgres")
	pw := strings.ReplaceAll(d.password, `'`, `''`)
	for _, s := range []string{
		"CREATE DATABASE " + d.name,
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", d.user, pw),
	} {
		if _, err := root.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	root.Close(ctx)
	d.pg = connect(d.name)
	d.exec(t,
		"GRANT USAGE ON SCHEMA public TO "+d.user,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "+d.user)
	t.Cleanup(func() {
		d.pg.Close(ctx)
		root := connect("postgres")
		defer root.Close(ctx)
		root.Exec(ctx, "DROP DATABASE "+d.name+" WITH (FORCE)")
		root.Exec(ctx, "DROP ROLE "+d.user)
	})
	d.secretARN = a.secret(t, d.secretValue())
	return d
}

// run is one extraction environment: a database, a bucket, and the spec to extract with.
type run struct {
	db     *testDB
	bucket string
	spec   SourceSpec
	logs   bytes.Buffer
}

// newRun makes a bucket that holds an earlier day of each incremental table (earlierDay), as
// after the table's first run, so that a run extracts the daily increment; the tests of the
// initial load start from an empty bucket.
func newRun(t testing.TB, db *testDB, tables ...TableSpec) *run {
	t.Helper()
	r := &run{db: db, bucket: db.aws.bucket(t), spec: SourceSpec{
		Name: "social", Engine: db.engine, Tables: tables, TimeZone: "Asia/Tokyo",
	}}
	for _, tb := range tables {
		if tb.Mode == Incremental {
			db.aws.put(t, r.bucket, earlierDayKey(r.spec.Name, tb.Name), []byte("an earlier day"))
		}
	}
	return r
}

// earlierDayKey is an object of a day long before the tests' days: the table is not new.
func earlierDayKey(source, table string) string {
	return layout.TablePrefix(source, table) + "dt=2000-01-01/earlier.parquet"
}

// dailyRunOfTestDay is the instant of the daily run of 2026-11-24, the day most tests extract:
// 01:30 the next morning in Asia/Tokyo, the tests' business zone.
func dailyRunOfTestDay() time.Time { return time.Date(2026, 11, 24, 16, 30, 0, 0, time.UTC) }

// extractor builds the Extractor through New, as the Lambda main does. edit may change the
// config first.
func (r *run) extractor(t testing.TB, edit ...func(*Config)) *Extractor {
	t.Helper()
	cfg := Config{
		Source: r.spec, Bucket: r.bucket, SecretID: r.db.secretARN, RootCAs: r.db.rootCAs(t), Salt: testSalt,
		Logger: slog.New(slog.NewJSONHandler(&r.logs, nil)), Now: dailyRunOfTestDay,
	}
	for _, f := range edit {
		f(&cfg)
	}
	e, err := New(cfg, r.db.aws.sm, r.db.aws.s3)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (r *run) extract(t testing.TB, table, date string, edit ...func(*Config)) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.extractor(t, edit...).Handle(ctx, Request{Source: r.spec.Name, Table: table, Date: date})
}

func (r *run) mustExtract(t testing.TB, table, date string, edit ...func(*Config)) Result {
	t.Helper()
	res, err := r.extract(t, table, date, edit...)
	if err != nil {
		t.Fatalf("extract %s %s: %v", table, date, err)
	}
	return res
}

func (r *run) key(table, date string) string {
	d, err := layout.ParseDay(date)
	if err != nil {
		panic(err)
	}
	return ObjectKey(r.spec.Name, table, d)
}

// parquetFile is a Parquet object read back: its column types and its rows as Go values.
type parquetFile struct {
	// Columns maps each column, in file order, to "PHYSICAL LOGICAL repetition".
	Columns []string
	Rows    []map[string]any
	Meta    map[string]string
}

func openParquet(t testing.TB, data []byte) *parquet.File {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open Parquet: %v", err)
	}
	return f
}

// readParquet decodes a Parquet object: DECIMAL as its decimal text, DATE as YYYY-MM-DD,
// TIMESTAMP as time.Time in UTC, STRING as string, other columns as their physical Go type.
func readParquet(t testing.TB, data []byte) parquetFile {
	t.Helper()
	f := openParquet(t, data)
	var out parquetFile
	out.Meta = map[string]string{}
	for _, kv := range f.Metadata().KeyValueMetadata {
		out.Meta[kv.Key] = kv.Value
	}
	fields := f.Schema().Fields()
	for _, fld := range fields {
		desc := fld.Type().Kind().String()
		if lt := fld.Type().LogicalType(); lt != nil {
			desc += " " + lt.String()
		}
		if fld.Optional() {
			desc += " optional"
		}
		out.Columns = append(out.Columns, fld.Name()+": "+desc)
	}
	r := parquet.NewReader(f)
	defer r.Close()
	buf := make([]parquet.Row, 64)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			m := map[string]any{}
			for _, v := range row {
				fld := fields[v.Column()]
				m[fld.Name()] = decodeValue(fld, v)
			}
			out.Rows = append(out.Rows, m)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read Parquet rows: %v", err)
		}
	}
	return out
}

func decodeValue(fld parquet.Field, v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	var logical format.LogicalTypeValue
	if lt := fld.Type().LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch lt := logical.(type) {
	case *format.DecimalType:
		var unscaled *big.Int
		switch v.Kind() {
		case parquet.Int32:
			unscaled = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			unscaled = big.NewInt(v.Int64())
		default:
			b := v.ByteArray()
			unscaled = new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		return formatDecimal(unscaled, int(lt.Scale))
	case *format.DateType:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02")
	case *format.TimestampType:
		return time.UnixMilli(v.Int64()).UTC()
	case *format.StringType:
		return string(v.ByteArray())
	}
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return v.Int32()
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return v.Float()
	case parquet.Double:
		return v.Double()
	default:
		return bytes.Clone(v.ByteArray())
	}
}

func formatDecimal(unscaled *big.Int, scale int) string {
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits
}

// ts parses an RFC 3339 instant for expectations.
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// logRecords decodes the JSON log lines.
func logRecords(t testing.TB, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}
