package ingest_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/go-sql-driver/mysql"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/ingest"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/sample"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

var testSalt = []byte("0123456789abcdef-local-test-salt")

func randName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func mustDay(t testing.TB, s string) layout.Day {
	t.Helper()
	d, err := layout.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func openLake(t testing.TB) *lakedir.Lake {
	t.Helper()
	l, err := lakedir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mariaDB loads st into a new database of the test MariaDB and returns DSNs of a read-only user
// that must use TLS (verified against the test CA) and of one that connects without TLS, on
// loopback.
func mariaDB(t testing.TB, st *sample.Dataset) (dbName, tlsDSN, plainDSN string) {
	t.Helper()
	srv := testsvc.MariaDB(t)
	name, user, password := randName("social_"), randName("ro_"), randName("pw:/@?'x")
	plainUser := randName("plain_")
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = srv.User, "tcp", net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port))
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root := sql.OpenDB(conn)
	defer root.Close()
	pw := strings.ReplaceAll(password, `'`, `''`)
	for _, s := range []string{
		"CREATE DATABASE " + name,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' REQUIRE SSL", user, pw),
		fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'%%'", name, user),
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", plainUser, pw),
		fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'127.0.0.1'", name, plainUser),
	} {
		if _, err := root.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
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
	t.Cleanup(func() {
		c, _ := mysql.NewConnector(cfg)
		db := sql.OpenDB(c)
		db.Exec("DROP DATABASE " + name)
		db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user))
		db.Exec(fmt.Sprintf("DROP USER '%s'@'127.0.0.1'", plainUser))
		db.Close()
	})
	host := net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port))
	tlsURL := url.URL{Scheme: "mysql", User: url.UserPassword(user, password), Host: host, Path: "/" + name,
		RawQuery: url.Values{"ca": {srv.TLS.CA}}.Encode()}
	plainURL := url.URL{Scheme: "mysql", User: url.UserPassword(plainUser, password), Host: host, Path: "/" + name}
	return name, tlsURL.String(), plainURL.String()
}

// parquetObject is a Parquet object read back: its schema, metadata and rows, each row its
// values' text (kind and value), sorted by the first column (id).
type parquetObject struct {
	Schema string
	Meta   map[string]string
	Rows   [][]string
}

func readObject(t testing.TB, lake *lakedir.Lake, key string) (parquetObject, []byte) {
	t.Helper()
	out, err := lake.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(ingest.RawBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	obj := parquetObject{Schema: f.Schema().String(), Meta: map[string]string{}}
	for _, kv := range f.Metadata().KeyValueMetadata {
		obj.Meta[kv.Key] = kv.Value
	}
	r := parquet.NewReader(f)
	defer r.Close()
	buf := make([]parquet.Row, 128)
	var ids []int64
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			var vals []string
			for _, v := range row {
				if v.IsNull() {
					vals = append(vals, "NULL")
					continue
				}
				vals = append(vals, v.Kind().String()+":"+v.String())
			}
			obj.Rows = append(obj.Rows, vals)
			ids = append(ids, row[0].Int64())
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	idx := make([]int, len(obj.Rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	sorted := make([][]string, len(idx))
	for i, j := range idx {
		sorted[i] = obj.Rows[j]
	}
	obj.Rows = sorted
	return obj, data
}

// TestEmbeddedAndMariaDB_WriteTheSameParquet extracts one day of the sample twice, from the
// embedded source at the extraction instant and from MariaDB loaded with the database as it
// stood at that instant, and compares the objects: same schema, same metadata, same rows. The
// rows are compared decoded and in id order, because MariaDB may return an incremental table in
// updated_at index order.
func TestEmbeddedAndMariaDB_WriteTheSameParquet(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	ctx := context.Background()
	for _, day := range []string{"2025-04-28", "2025-04-30"} { // a first day, and a day after a holiday
		t.Run(day, func(t *testing.T) {
			d := mustDay(t, day)
			at := embedded.ExtractionTime(ds, d)
			st, err := ds.AsOf(at)
			if err != nil {
				t.Fatal(err)
			}
			dbName, tlsDSN, _ := mariaDB(t, st)

			embeddedLake, mariaLake := openLake(t), openLake(t)
			got, err := ingest.Extract(ctx, embeddedLake, ingest.Sample(ds), d, at, ingest.Options{Salt: testSalt})
			if err != nil {
				t.Fatal(err)
			}
			spec := embedded.Spec(ds)
			spec.Database = dbName
			src, err := ingest.Database(tlsDSN, spec)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ingest.Extract(ctx, mariaLake, src, d, at, ingest.Options{Salt: testSalt})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(spec.Tables) || len(want) != len(spec.Tables) {
				t.Fatalf("extracted %d (embedded) and %d (MariaDB) tables, want %d", len(got), len(want), len(spec.Tables))
			}
			identical := 0
			for i := range got {
				g, w := got[i], want[i]
				if g.Key != w.Key || g.Rows != w.Rows {
					t.Errorf("%s: embedded wrote %d rows to %s, MariaDB %d rows to %s", g.Table, g.Rows, g.Key, w.Rows, w.Key)
				}
				if w.Rows == 0 && g.Table != sample.TableComments {
					t.Errorf("%s: no rows extracted; the comparison needs some", g.Table)
				}
				gObj, gBytes := readObject(t, embeddedLake, g.Key)
				wObj, wBytes := readObject(t, mariaLake, w.Key)
				if diff := gocmp.Diff(wObj, gObj); diff != "" {
					t.Errorf("%s: Parquet differs (-MariaDB +embedded):\n%s", g.Table, diff)
				}
				if bytes.Equal(gBytes, wBytes) {
					identical++
				}
			}
			t.Logf("%s: %d of %d objects are byte-identical too", day, identical, len(got))
		})
	}
}

// TestExtract_ReplayKeepsAnEditAfterMidnightAndASoftDelete replays day D at its 01:30
// extraction on the embedded path and checks the incremental contract of lambdas/extract
// ("Modes") with its own example: in Asia/Tokyo, a comment created at 23:00 and edited at 01:00
// the next morning is in dt=D with its edit; one soft-deleted at 00:30 is in dt=D with its
// deleted_at; one edited at 02:00, after the run, is in dt=D as it was; 00:00:00.000 of D is in
// and 23:59:59.999 the evening before is not.
func TestExtract_ReplayKeepsAnEditAfterMidnightAndASoftDelete(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	d := mustDay(t, "2026-11-24")
	local := func(day layout.Day, h, m int, ms int) time.Time {
		return day.Start(tokyo).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(ms)*time.Millisecond).UTC()
	}
	next := d.AddDays(1)
	comment := func(id int64, created time.Time, body string) sample.Comment {
		return sample.Comment{ID: id, PostID: 1, UserID: 1, Body: body, CreatedAt: created, UpdatedAt: created}
	}
	edited := comment(1, local(d, 23, 0, 0), "v1")
	deleted := comment(2, local(d, 22, 0, 0), "bye")
	late := comment(3, local(d, 12, 0, 0), "v1")
	atMidnight := comment(4, local(d, 0, 0, 0), "first of the day")
	before := comment(5, local(d, 0, 0, -1), "last of the day before")
	ds := &sample.Dataset{
		Config:   sample.Config{Location: tokyo, Start: d.AddDays(-1), Days: 3},
		Comments: []sample.Comment{before, atMidnight, late, deleted, edited},
		Earlier:  sample.Versions{Comments: map[int64]sample.Comment{1: edited, 2: deleted, 3: late}},
	}
	editedNow := edited
	editedNow.Body, editedNow.UpdatedAt = "v2", local(next, 1, 0, 0)
	deletedNow := deleted
	deletedNow.DeletedAt, deletedNow.UpdatedAt = ptr(local(next, 0, 30, 0)), local(next, 0, 30, 0)
	lateNow := late
	lateNow.Body, lateNow.UpdatedAt = "v2", local(next, 2, 0, 0)
	ds.Comments = []sample.Comment{before, atMidnight, lateNow, deletedNow, editedNow}

	at := embedded.ExtractionTime(ds, d)
	if want := local(next, 1, 30, 0); !at.Equal(want) {
		t.Fatalf("extraction of %s at %s, want %s (01:30 the next morning)", d, at, want)
	}
	src := ingest.Sample(ds)
	src.Spec.Tables = []extract.TableSpec{{Name: sample.TableComments, Mode: extract.Incremental, TimestampColumn: "updated_at"}}
	lake := openLake(t)
	// An earlier day of the table: this run is the day's increment, not the table's initial load.
	earlier := layout.TablePrefix(src.Spec.Name, sample.TableComments) + d.AddDays(-1).Partition() + "/earlier.parquet"
	if _, err := lake.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(ingest.RawBucket), Key: aws.String(earlier),
		Body: strings.NewReader("an earlier day")}); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Extract(context.Background(), lake, src, d, at, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	utc := func(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04:05.000") }
	row := func(c sample.Comment) map[string]string {
		del := "NULL"
		if c.DeletedAt != nil {
			del = utc(*c.DeletedAt)
		}
		return map[string]string{"body": c.Body, "updated_at": utc(c.UpdatedAt), "deleted_at": del}
	}
	want := map[int64]map[string]string{
		1: row(editedNow),  // edited after midnight, before the run: the edit
		2: row(deletedNow), // soft-deleted after midnight, before the run: with deleted_at
		3: row(late),       // edited after the run: as it was at the run
		4: row(atMidnight), // 00:00:00.000 of D: in
	}
	if diff := gocmp.Diff(want, bodyRows(t, lake, res[0].Key)); diff != "" {
		t.Errorf("dt=%s extracted at %s (-want +got):\n%s", d, utc(at), diff)
	}
}

func ptr[T any](v T) *T { return &v }

// bodyRows reads a posts or comments object into rows by id, values as text (timestamps as UTC wall
// clocks to the millisecond).
func bodyRows(t testing.TB, lake *lakedir.Lake, key string) map[int64]map[string]string {
	t.Helper()
	path, err := lake.Path(ingest.RawBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct {
		ID        int64      `parquet:"id"`
		Body      string     `parquet:"body"`
		UpdatedAt time.Time  `parquet:"updated_at,timestamp(millisecond)"`
		DeletedAt *time.Time `parquet:"deleted_at,timestamp(millisecond),optional"`
	}
	rows, err := parquet.Read[row](f, fileSize(t, path))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]map[string]string{}
	for _, p := range rows {
		del := "NULL"
		if p.DeletedAt != nil {
			del = p.DeletedAt.UTC().Format("2006-01-02 15:04:05.000")
		}
		out[p.ID] = map[string]string{"body": p.Body, "updated_at": p.UpdatedAt.UTC().Format("2006-01-02 15:04:05.000"), "deleted_at": del}
	}
	return out
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestExtract_WithoutTLSOnLoopbackOnly(t *testing.T) {
	ds := sample.Generate(sample.Config{Days: 2})
	d := ds.Days()[0]
	at := embedded.ExtractionTime(ds, d)
	st, err := ds.AsOf(at)
	if err != nil {
		t.Fatal(err)
	}
	dbName, _, plainDSN := mariaDB(t, st)
	spec := embedded.Spec(ds)
	spec.Database = dbName
	spec.Tables = spec.Tables[:1]
	src, err := ingest.Database(plainDSN, spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Extract(context.Background(), openLake(t), src, d, at, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Rows != int64(len(st.Departments)) {
		t.Errorf("extracted %d departments without TLS, want %d", res[0].Rows, len(st.Departments))
	}
	for _, dsn := range []string{"mysql://root@db.example.com:3306/social", "mysql://root@10.1.2.3/social", "postgres://u@127.0.0.1/x", "sqlite:///tmp/x"} {
		if _, err := ingest.Database(dsn, spec); err == nil {
			t.Errorf("Database(%q) succeeded; want an error (no TLS off loopback, or another engine)", dsn)
		}
	}
}

func TestWriteAccessLogs_AsFirehoseDeliversThem(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	lake := openLake(t)
	d := mustDay(t, "2025-04-28")
	key, n, err := ingest.WriteAccessLogs(context.Background(), lake, ds, embedded.AccessLogStream, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "app_logs/web_access/dt=2025-04-28/web_access-1-2025-04-28-00-00-00-local.json.gz"; key != want {
		t.Errorf("key %s, want %s", key, want)
	}
	path, _ := lake.Path(ingest.RawBucket, key)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := sample.WriteAccessLogs(&want, ds, d); err != nil {
		t.Fatal(err)
	}
	got := gunzip(t, raw)
	if got != want.String() || n != strings.Count(got, "\n") || n == 0 {
		t.Errorf("the object holds %d lines (n=%d), want the day's %d JSON lines", strings.Count(got, "\n"), n, strings.Count(want.String(), "\n"))
	}
	// A re-run replaces the day's object: one object per day.
	if _, _, err := ingest.WriteAccessLogs(context.Background(), lake, ds, embedded.AccessLogStream, d); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("%d objects in the partition after a re-run, want 1", len(ents))
	}
}

func gunzip(t testing.TB, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestSalt_IsMadeOnceAndKept(t *testing.T) {
	root := t.TempDir()
	a, err := ingest.Salt(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ingest.Salt(root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || len(a) < extract.MinSaltLength {
		t.Errorf("salts %q and %q; want one salt of at least %d bytes, kept", a, b, extract.MinSaltLength)
	}
	fi, err := os.Stat(filepath.Join(root, ".kpilake-hash-salt"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("salt file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	other, _ := ingest.Salt(t.TempDir())
	if bytes.Equal(a, other) {
		t.Error("two lakes got the same salt")
	}
}

// The embedded source describes each table as MariaDB's information_schema does, so the
// extractor maps its columns as it maps MariaDB's.
func TestEmbeddedColumns_AreWhatMariaDBReports(t *testing.T) {
	ds := sample.Generate(sample.Config{Days: 1})
	dbName, _, _ := mariaDB(t, ds)
	srv := testsvc.MariaDB(t)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = srv.User, "tcp", net.JoinHostPort(srv.Host, fmt.Sprint(srv.Port))
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	src, err := embedded.At(ds, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range sample.Tables() {
		rows, err := db.Query(`SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE
			FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, dbName, table)
		if err != nil {
			t.Fatal(err)
		}
		var want []extract.Column
		for rows.Next() {
			var c extract.Column
			var prec, scale sql.NullInt64
			if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &prec, &scale); err != nil {
				t.Fatal(err)
			}
			c.Precision, c.Scale, c.HasPrecision = int(prec.Int64), int(scale.Int64), prec.Valid
			c.Unsigned = strings.Contains(c.ColumnType, "unsigned")
			want = append(want, c)
		}
		rows.Close()
		got, _ := src.Columns(context.Background(), table)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-MariaDB +embedded):\n%s", table, diff)
		}
	}
}
