package extract

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const mariaAllTypes = `CREATE TABLE all_types (
	id INT NOT NULL PRIMARY KEY,
	c_tinyint TINYINT, c_tinyint_u TINYINT UNSIGNED, c_smallint SMALLINT, c_mediumint MEDIUMINT,
	c_int INT, c_int_u INT UNSIGNED, c_bigint BIGINT, c_bigint_u BIGINT UNSIGNED,
	c_bool BOOLEAN, c_tinyint1 TINYINT(1),
	c_dec5_2 DECIMAL(5,2), c_dec18_4 DECIMAL(18,4), c_dec38_10 DECIMAL(38,10), c_dec65_30 DECIMAL(65,30),
	c_float FLOAT, c_double DOUBLE,
	c_char CHAR(10), c_varchar VARCHAR(100), c_tinytext TINYTEXT, c_text TEXT, c_mediumtext MEDIUMTEXT,
	c_longtext LONGTEXT, c_enum ENUM('draft','published'), c_set SET('a','b','c'), c_json JSON, c_uuid UUID,
	c_binary BINARY(4), c_varbinary VARBINARY(16), c_blob BLOB,
	c_date DATE, c_time TIME(6), c_datetime DATETIME(6), c_timestamp TIMESTAMP(3) NULL, c_year YEAR,
	c_bit1 BIT(1), c_bit8 BIT(8), c_bit64 BIT(64)
)`

func TestMariaDB_ExtractsEveryMappedType(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t, mariaAllTypes,
		`INSERT INTO all_types VALUES (1,
			-128, 255, -32768, 8388607,
			-2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
			TRUE, 0,
			-999.99, 99999999999999.9999, -9999999999999999999999999999.9999999999,
			'-12345678901234567890123456789012345.123456789012345678901234567890',
			3.1415927, -2.5e300,
			'abc', '日本語テキスト 🎌👍🏽', 'tiny', 'emoji 😀 と 漢字', 'medium', REPEAT('長', 1000),
			'published', 'a,c', '{"k": "値", "n": 1}', '123e4567-e89b-12d3-a456-426614174000',
			X'DEADBEEF', X'00FF00', X'0102',
			'2026-11-24', '23:59:59.123456', '2026-11-24 23:30:00.123456', '2026-11-24 14:30:00.999', 2026,
			b'1', b'10000001', b'1111111111111111111111111111111111111111111111111111111111111111')`,
		`INSERT INTO all_types (id) VALUES (2)`,
		`INSERT INTO all_types VALUES (3,
			127, 0, 32767, -8388608,
			2147483647, 0, 9223372036854775807, 0,
			FALSE, 2,
			0.01, -0.0001, 0.0000000001, '0.000000000000000000000000000001',
			0, 0,
			'', '', '', '', '', '',
			'draft', '', '[]', '00000000-0000-0000-0000-000000000000',
			X'00000000', X'', X'',
			'1970-01-01', '-838:59:59', '1000-01-01 00:00:00', '1970-01-01 00:00:01', 1901,
			b'0', b'0', b'0')`,
	)
	r := newRun(t, d, TableSpec{Name: "all_types"})
	r.spec.StoredTimeZone = "Asia/Tokyo"
	res := r.mustExtract(t, "all_types", "2026-11-24")

	if diff := cmp.Diff(Result{Source: "social", Table: "all_types", Date: "2026-11-24",
		Key: "social/all_types/dt=2026-11-24/all_types.parquet", Rows: 3, Mode: Snapshot}, res,
		cmpIgnoreRunFields); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	got := readParquet(t, d.aws.get(t, r.bucket, res.Key))
	if int64(len(d.aws.get(t, r.bucket, res.Key))) != res.Bytes {
		t.Errorf("Result.Bytes = %d, object size differs", res.Bytes)
	}

	wantColumns := []string{
		"id: INT32 INT(32,true) optional",
		"c_tinyint: INT32 INT(32,true) optional",
		"c_tinyint_u: INT32 INT(32,true) optional",
		"c_smallint: INT32 INT(32,true) optional",
		"c_mediumint: INT32 INT(32,true) optional",
		"c_int: INT32 INT(32,true) optional",
		"c_int_u: INT64 INT(64,true) optional",
		"c_bigint: INT64 INT(64,true) optional",
		"c_bigint_u: FIXED_LEN_BYTE_ARRAY DECIMAL(20,0) optional",
		"c_bool: BOOLEAN optional",
		"c_tinyint1: BOOLEAN optional",
		"c_dec5_2: INT32 DECIMAL(5,2) optional",
		"c_dec18_4: INT64 DECIMAL(18,4) optional",
		"c_dec38_10: FIXED_LEN_BYTE_ARRAY DECIMAL(38,10) optional",
		"c_dec65_30: BYTE_ARRAY STRING optional",
		"c_float: FLOAT optional",
		"c_double: DOUBLE optional",
		"c_char: BYTE_ARRAY STRING optional",
		"c_varchar: BYTE_ARRAY STRING optional",
		"c_tinytext: BYTE_ARRAY STRING optional",
		"c_text: BYTE_ARRAY STRING optional",
		"c_mediumtext: BYTE_ARRAY STRING optional",
		"c_longtext: BYTE_ARRAY STRING optional",
		"c_enum: BYTE_ARRAY STRING optional",
		"c_set: BYTE_ARRAY STRING optional",
		"c_json: BYTE_ARRAY STRING optional",
		"c_uuid: BYTE_ARRAY STRING optional",
		"c_binary: BYTE_ARRAY optional",
		"c_varbinary: BYTE_ARRAY optional",
		"c_blob: BYTE_ARRAY optional",
		"c_date: INT32 DATE optional",
		"c_time: BYTE_ARRAY STRING optional",
		"c_datetime: INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional",
		"c_timestamp: INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional",
		"c_year: INT32 INT(32,true) optional",
		"c_bit1: BOOLEAN optional",
		"c_bit8: INT64 INT(64,true) optional",
		"c_bit64: FIXED_LEN_BYTE_ARRAY DECIMAL(20,0) optional",
	}
	if diff := cmp.Diff(wantColumns, got.Columns); diff != "" {
		t.Errorf("Parquet schema (-want +got):\n%s", diff)
	}

	nulls := map[string]any{"id": int32(2)}
	for _, c := range wantColumns[1:] {
		nulls[c[:strings.Index(c, ":")]] = nil
	}
	want := []map[string]any{
		{
			"id": int32(1), "c_tinyint": int32(-128), "c_tinyint_u": int32(255), "c_smallint": int32(-32768),
			"c_mediumint": int32(8388607), "c_int": int32(-2147483648), "c_int_u": int64(4294967295),
			"c_bigint": int64(-9223372036854775808), "c_bigint_u": "18446744073709551615",
			"c_bool": true, "c_tinyint1": false,
			"c_dec5_2": "-999.99", "c_dec18_4": "99999999999999.9999",
			"c_dec38_10": "-9999999999999999999999999999.9999999999",
			"c_dec65_30": "-12345678901234567890123456789012345.123456789012345678901234567890",
			"c_float":    float32(3.1415927), "c_double": -2.5e300,
			"c_char": "abc", "c_varchar": "日本語テキスト 🎌👍🏽", "c_tinytext": "tiny", "c_text": "emoji 😀 と 漢字",
			"c_mediumtext": "medium", "c_longtext": strings.Repeat("長", 1000),
			"c_enum": "published", "c_set": "a,c", "c_json": `{"k": "値", "n": 1}`,
			"c_uuid":   "123e4567-e89b-12d3-a456-426614174000",
			"c_binary": []byte{0xde, 0xad, 0xbe, 0xef}, "c_varbinary": []byte{0, 0xff, 0}, "c_blob": []byte{1, 2},
			"c_date": "2026-11-24", "c_time": "23:59:59.123456",
			// DATETIME is a Tokyo wall clock here (StoredTimeZone); microseconds truncate to millis.
			"c_datetime":  ts("2026-11-24T14:30:00.123Z"),
			"c_timestamp": ts("2026-11-24T14:30:00.999Z"),
			"c_year":      int32(2026), "c_bit1": true, "c_bit8": int64(129), "c_bit64": "18446744073709551615",
		},
		nulls,
		{
			"id": int32(3), "c_tinyint": int32(127), "c_tinyint_u": int32(0), "c_smallint": int32(32767),
			"c_mediumint": int32(-8388608), "c_int": int32(2147483647), "c_int_u": int64(0),
			"c_bigint": int64(9223372036854775807), "c_bigint_u": "0",
			"c_bool": false, "c_tinyint1": true,
			"c_dec5_2": "0.01", "c_dec18_4": "-0.0001", "c_dec38_10": "0.0000000001",
			"c_dec65_30": "0.000000000000000000000000000001",
			"c_float":    float32(0), "c_double": float64(0),
			"c_char": "", "c_varchar": "", "c_tinytext": "", "c_text": "", "c_mediumtext": "", "c_longtext": "",
			"c_enum": "draft", "c_set": "", "c_json": "[]", "c_uuid": "00000000-0000-0000-0000-000000000000",
			"c_binary": []byte{0, 0, 0, 0}, "c_varbinary": []byte{}, "c_blob": []byte{},
			"c_date": "1970-01-01", "c_time": "-838:59:59.000000",
			// Before 1888 Tokyo's zone is local mean time, UTC+09:18:59.
			"c_datetime":  ts("0999-12-31T14:41:01Z"),
			"c_timestamp": ts("1970-01-01T00:00:01Z"),
			"c_year":      int32(1901), "c_bit1": false, "c_bit8": int64(0), "c_bit64": "0",
		},
	}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"kpilake.source": "social", "kpilake.table": "all_types",
		"kpilake.date": "2026-11-24", "kpilake.mode": "snapshot"}, got.Meta); diff != "" {
		t.Errorf("key-value metadata (-want +got):\n%s", diff)
	}
}

// cmpIgnoreRunFields ignores what varies between runs.
var cmpIgnoreRunFields = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "Bytes" || s == "DurationMs"
}, cmp.Ignore())

func TestMariaDB_ZeroDatesBecomeNull(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t, "CREATE TABLE legacy (id INT, d DATE, dt DATETIME)",
		"SET SESSION sql_mode = ''",
		"INSERT INTO legacy VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2026-00-00', '2026-11-24 01:02:03')")
	r := newRun(t, d, TableSpec{Name: "legacy"})
	got := readParquet(t, d.aws.get(t, r.bucket, r.mustExtract(t, "legacy", "2026-11-24").Key))
	want := []map[string]any{
		{"id": int32(1), "d": nil, "dt": nil},
		{"id": int32(2), "d": nil, "dt": ts("2026-11-24T01:02:03Z")},
	}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// incrementalRows straddle the start of the business day 2026-11-24 in Asia/Tokyo,
// 2026-11-23T15:00Z. The window has no end: the next day's rows are in.
var incrementalRows = []struct {
	id      int
	utc     string // the instant
	tokyo   string // the same instant on a Tokyo wall clock
	inRange bool
}{
	{1, "2026-11-23 14:59:59.999999", "2026-11-23 23:59:59.999999", false},
	{2, "2026-11-23 15:00:00.000000", "2026-11-24 00:00:00.000000", true},
	{3, "2026-11-24 14:30:00.000000", "2026-11-24 23:30:00.000000", true}, // 23:30 Tokyo: that day
	{4, "2026-11-24 14:59:59.999000", "2026-11-24 23:59:59.999000", true},
	{5, "2026-11-24 15:00:00.000000", "2026-11-25 00:00:00.000000", true},
	{6, "2026-11-24 16:10:00.000000", "2026-11-25 01:10:00.000000", true}, // changed before the 01:30 run
}

func wantIncrementalIDs() []any {
	var ids []any
	for _, r := range incrementalRows {
		if r.inRange {
			ids = append(ids, int32(r.id))
		}
	}
	return ids
}

func ids(rows []map[string]any) []any {
	out := []any{}
	for _, r := range rows {
		out = append(out, r["id"])
	}
	return out
}

func TestMariaDB_IncrementalSelectsFromTheBusinessMidnight(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t,
		"CREATE TABLE dt_utc (id INT, changed DATETIME(6))",
		"CREATE TABLE dt_tokyo (id INT, changed DATETIME(6))",
		"CREATE TABLE ts_col (id INT, changed TIMESTAMP(6) NULL)",
		"CREATE TABLE bad_col (id INT, changed DATE)")
	for _, row := range incrementalRows {
		d.exec(t,
			"INSERT INTO dt_utc VALUES ("+itoa(row.id)+", '"+row.utc+"')",
			"INSERT INTO dt_tokyo VALUES ("+itoa(row.id)+", '"+row.tokyo+"')",
			"INSERT INTO ts_col VALUES ("+itoa(row.id)+", '"+row.utc+"')") // session zone is UTC
	}
	inc := func(name string) TableSpec {
		return TableSpec{Name: name, Mode: Incremental, TimestampColumn: "changed"}
	}
	for _, tc := range []struct {
		table, stored string
	}{
		{"dt_utc", "UTC"},
		{"dt_tokyo", "Asia/Tokyo"},
		{"ts_col", "Asia/Tokyo"}, // TIMESTAMP is stored in UTC whatever StoredTimeZone says
	} {
		t.Run(tc.table+" stored in "+tc.stored, func(t *testing.T) {
			r := newRun(t, d, inc(tc.table))
			r.spec.StoredTimeZone = tc.stored
			res := r.mustExtract(t, tc.table, "2026-11-24")
			if res.Mode != Incremental {
				t.Errorf("Mode = %q", res.Mode)
			}
			got := readParquet(t, d.aws.get(t, r.bucket, res.Key))
			if diff := cmp.Diff(wantIncrementalIDs(), ids(got.Rows)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("snapshot of the same table has every row", func(t *testing.T) {
		r := newRun(t, d, TableSpec{Name: "dt_utc"})
		got := readParquet(t, d.aws.get(t, r.bucket, r.mustExtract(t, "dt_utc", "2026-11-24").Key))
		if len(got.Rows) != len(incrementalRows) {
			t.Errorf("snapshot has %d rows, want %d", len(got.Rows), len(incrementalRows))
		}
	})
	t.Run("DATE column is rejected", func(t *testing.T) {
		r := newRun(t, d, inc("bad_col"))
		_, err := r.extract(t, "bad_col", "2026-11-24")
		wantInputError(t, err, `TimestampColumn "changed" has type date; use a DATETIME or TIMESTAMP column`)
	})
}

func TestMariaDB_ExcludesAndHashesColumns(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t, "CREATE TABLE users (id BIGINT, name VARCHAR(50), email VARCHAR(100), phone VARCHAR(20), avatar VARBINARY(8))",
		"INSERT INTO users VALUES (42, '山田 太郎', 'taro@example.com', '090-0000-0000', X'CAFE'), (43, 'Ann', NULL, NULL, NULL)")
	r := newRun(t, d, TableSpec{Name: "users", Exclude: []string{"phone"}, Hash: []string{"email", "id", "avatar"}})
	res := r.mustExtract(t, "users", "2026-11-24")
	got := readParquet(t, d.aws.get(t, r.bucket, res.Key))
	wantCols := []string{"id: BYTE_ARRAY STRING optional", "name: BYTE_ARRAY STRING optional",
		"email: BYTE_ARRAY STRING optional", "avatar: BYTE_ARRAY STRING optional"}
	if diff := cmp.Diff(wantCols, got.Columns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	want := []map[string]any{
		{"id": HashValue(testSalt, []byte("42")), "name": "山田 太郎", "email": HashValue(testSalt, []byte("taro@example.com")),
			"avatar": HashValue(testSalt, []byte{0xca, 0xfe})},
		{"id": HashValue(testSalt, []byte("43")), "name": "Ann", "email": nil, "avatar": nil},
	}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if len(want[0]["email"].(string)) != 64 {
		t.Errorf("hash %q is not 64 hex digits", want[0]["email"])
	}
	if strings.Contains(r.logs.String(), string(testSalt)) {
		t.Errorf("the salt appears in the logs")
	}
}

func TestMariaDB_RerunReplacesTheDay(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t, "CREATE TABLE posts (id INT, body TEXT)", "INSERT INTO posts VALUES (1, 'first')")
	r := newRun(t, d, TableSpec{Name: "posts"})
	first := r.mustExtract(t, "posts", "2026-11-24")
	d.exec(t, "INSERT INTO posts VALUES (2, 'second')", "UPDATE posts SET body = 'edited' WHERE id = 1")
	second := r.mustExtract(t, "posts", "2026-11-24")
	if first.Key != second.Key {
		t.Fatalf("keys differ: %s, %s", first.Key, second.Key)
	}
	got := readParquet(t, d.aws.get(t, r.bucket, second.Key))
	want := []map[string]any{{"id": int32(1), "body": "edited"}, {"id": int32(2), "body": "second"}}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Errorf("rows after rerun (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{second.Key}, d.aws.keys(t, r.bucket)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if n := d.aws.pendingUploads(t, r.bucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

// TestMariaDB_FailedRerunKeepsThePreviousDay fails a rerun at S3 (a part upload) and at the run's
// deadline. The first run's object must survive each, and no multipart upload may stay open.
func TestMariaDB_FailedRerunKeepsThePreviousDay(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newMariaDB(t, a)
	d.exec(t, "CREATE TABLE blobs (id INT, payload VARBINARY(2048))",
		"INSERT INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_600")
	r := newRun(t, d, TableSpec{Name: "blobs"})
	first := r.mustExtract(t, "blobs", "2026-11-24")
	previous := a.get(t, r.bucket, first.Key)
	d.exec(t, "INSERT INTO blobs VALUES (9999, X'00')")

	smallParts := func(e *Extractor) { e.partSize = 64 << 10 }
	tests := []struct {
		name string
		s3   func(S3API) S3API
		ctx  func() (context.Context, context.CancelFunc)
		want string
	}{
		{
			name: "part 2 fails",
			s3:   func(api S3API) S3API { return &faultyS3{S3API: api, failPart: 2} },
			want: "upload part 2",
		},
		{
			name: "deadline passes mid-stream",
			s3:   func(api S3API) S3API { return &faultyS3{S3API: api, stallPart: 2} },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 2*time.Second)
			},
			want: "deadline exceeded",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := tc.s3(a.s3)
			e := r.extractor(t, func(c *Config) { c.CleanupMargin = time.Millisecond })
			e.s3 = fake
			smallParts(e)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			_, err := e.Handle(ctx, Request{Source: "social", Table: "blobs", Date: "2026-11-24"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			f := fake.(*faultyS3)
			if f.aborts != 1 || f.completes != 0 {
				t.Errorf("aborts = %d, completes = %d; want 1, 0", f.aborts, f.completes)
			}
			if !bytesEqual(previous, a.get(t, r.bucket, first.Key)) {
				t.Errorf("the previous object changed")
			}
			if n := a.pendingUploads(t, r.bucket); n != 0 {
				t.Errorf("%d multipart uploads left open", n)
			}
		})
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestMariaDB_BadInputFailsClearlyAndKeepsThePreviousDay(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newMariaDB(t, a)
	d.exec(t, "CREATE TABLE users (id INT, name VARCHAR(20))", "INSERT INTO users VALUES (1, 'a')",
		"CREATE TABLE places (id INT, location POINT)")
	closedPort := func() int {
		// A port that nothing listens on: the MariaDB port plus a random offset is not good
		// enough, so take a free one.
		return freePort(t)
	}()

	tests := []struct {
		name   string
		tables []TableSpec
		req    Request
		secret map[string]any // replaces the secret's fields
		want   []string
		input  bool // an *InputError
	}{
		{
			name: "unknown table", tables: []TableSpec{{Name: "ghosts"}},
			req:  Request{Table: "ghosts"},
			want: []string{`source "social" has no table "ghosts"`}, input: true,
		},
		{
			name: "table not configured", req: Request{Table: "secrets"},
			want: []string{`table "secrets" is not configured for source "social" (configured: users)`}, input: true,
		},
		{
			name: "unknown column in Exclude", tables: []TableSpec{{Name: "users", Exclude: []string{"emial"}}},
			req:  Request{Table: "users"},
			want: []string{`table social.users: Exclude names column "emial", which the table does not have (columns: id, name)`}, input: true,
		},
		{
			name: "unknown columns in Hash and TimestampColumn",
			tables: []TableSpec{{Name: "users", Hash: []string{"mail"}, Mode: Incremental,
				TimestampColumn: "updated_at"}},
			req:   Request{Table: "users"},
			want:  []string{`Hash names column "mail"`, `TimestampColumn names column "updated_at"`},
			input: true,
		},
		{
			name: "unsupported type", tables: []TableSpec{{Name: "places"}},
			req:   Request{Table: "places"},
			want:  []string{`table social.places: column "location" has type point, which has no Parquet mapping; add "location" to the table's Exclude list`},
			input: true,
		},
		{
			name: "date that is not a date", req: Request{Table: "users", Date: "2026-02-30"},
			want: []string{`date "2026-02-30" is not a day in the form YYYY-MM-DD`}, input: true,
		},
		{
			name: "wrong source", req: Request{Source: "sales", Table: "users"},
			want: []string{`source "sales" is not this function's source "social"`}, input: true,
		},
		{
			name: "wrong password", req: Request{Table: "users"},
			secret: map[string]any{"password": "not-the-password"},
			want:   []string{"connect to mysql database", "Access denied"},
		},
		{
			name: "unreachable database", req: Request{Table: "users"},
			secret: map[string]any{"port": closedPort},
			want:   []string{"connect to mysql database", "connection refused"},
		},
		{
			name: "secret for another engine", req: Request{Table: "users"},
			secret: map[string]any{"engine": "postgres"},
			want:   []string{`is for engine "postgres" but the source's Engine is "mysql"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tables := tc.tables
			if tables == nil {
				tables = []TableSpec{{Name: "users"}}
			}
			r := newRun(t, d, tables...)
			if tc.secret != nil {
				v := d.secretValue()
				for k, x := range tc.secret {
					v[k] = x
				}
				secretDB := *d
				secretDB.secretARN = a.secret(t, v)
				r.db = &secretDB
			}
			// A previous run's object for the day, which a failed run must leave alone.
			table := tc.req.Table
			prevKey := r.key(table, "2026-11-24")
			a.put(t, r.bucket, prevKey, []byte("previous day"))

			req := tc.req
			if req.Source == "" {
				req.Source = "social"
			}
			if req.Date == "" {
				req.Date = "2026-11-24"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := r.extractor(t).Handle(ctx, req)
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if got := errors.Is(err, ErrBadRequest); got != tc.input {
				t.Errorf("errors.Is(err, ErrBadRequest) = %v, want %v", got, tc.input)
			}
			if strings.Contains(err.Error(), d.password) || strings.Contains(r.logs.String(), d.password) {
				t.Errorf("the password leaked into the error or the logs")
			}
			keys := slices.DeleteFunc(a.keys(t, r.bucket), func(k string) bool { return strings.Contains(k, "/dt=2000-01-01/") })
			if diff := cmp.Diff([]string{prevKey}, keys); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if got := string(a.get(t, r.bucket, prevKey)); got != "previous day" {
				t.Errorf("previous object = %q", got)
			}
			if n := a.pendingUploads(t, r.bucket); n != 0 {
				t.Errorf("%d multipart uploads left open", n)
			}
			logs := logRecords(t, &r.logs)
			if len(logs) != 1 || logs[0]["level"] != "ERROR" || logs[0]["table"] != table {
				t.Errorf("logs = %v, want one ERROR record for table %q", logs, table)
			}
		})
	}
}

func TestMariaDB_VerifiesTheServerCertificate(t *testing.T) {
	t.Parallel()
	d := newMariaDB(t, newAWS(t))
	d.exec(t, "CREATE TABLE users (id INT)")
	r := newRun(t, d, TableSpec{Name: "users"})
	_, err := r.extract(t, "users", "2026-11-24", func(c *Config) { c.RootCAs = otherCA(t) })
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate verification error", err)
	}
}

// otherCA is a pool with a CA that signed nothing the servers present.
func otherCA(t *testing.T) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func TestMariaDB_SessionIsReadOnly(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newMariaDB(t, a)
	d.exec(t, "CREATE TABLE users (id INT)")
	// The read-only user could not write anyway; use root to show that the session refuses.
	v := d.secretValue()
	v["username"], v["password"] = d.server.User, ""
	creds := dbCredentials{Username: d.server.User, Host: d.server.Host, Port: d.server.Port}
	db, err := openMySQL(context.Background(), creds, d.name, d.rootCAs(t), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	_, err = db.conn.ExecContext(context.Background(), "INSERT INTO users VALUES (1)")
	if err == nil || !strings.Contains(err.Error(), "READ ONLY") {
		t.Errorf("INSERT in the extraction session: err = %v, want a read-only error", err)
	}
}
