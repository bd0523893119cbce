package extract

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPostgreSQL_ExtractsEveryMappedType(t *testing.T) {
	t.Parallel()
	d := newPostgres(t, newAWS(t))
	d.exec(t, "CREATE EXTENSION IF NOT EXISTS citext",
		"CREATE TYPE mood AS ENUM ('sad', 'happy', '😀')",
		"CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)",
		"CREATE DOMAIN moment AS timestamptz",
		`CREATE TABLE all_types (
			id integer PRIMARY KEY,
			c_smallint smallint, c_integer integer, c_bigint bigint, c_boolean boolean,
			c_num5_2 numeric(5,2), c_num18_4 numeric(18,4), c_num38_10 numeric(38,10), c_num_free numeric,
			c_num50_5 numeric(50,5),
			c_real real, c_double double precision,
			c_char char(5), c_varchar varchar(50), c_text text, c_citext citext, c_uuid uuid, c_enum mood,
			c_json json, c_jsonb jsonb, c_bytea bytea,
			c_date date, c_time time(6), c_timetz timetz, c_ts timestamp(6), c_tstz timestamptz(6),
			c_bit1 bit(1), c_inet inet, c_domain positive_int, c_domain_ts moment
		)`,
		`INSERT INTO all_types VALUES (1,
			-32768, -2147483648, -9223372036854775808, true,
			-999.99, 99999999999999.9999, -9999999999999999999999999999.9999999999,
			123456789012345678901234567890.123456789, -1.5,
			3.1415927, 1e-300,
			'ab', '日本語テキスト 🎌👍🏽', 'emoji 😀 と 漢字', 'MiXeD', '123e4567-e89b-12d3-a456-426614174000', '😀',
			'{"k": "値", "n": 1}', '{"n": 1, "k": "値"}', '\xdeadbeef',
			'2026-11-24', '23:59:59.123456', '12:00:00+09', '2026-11-24 23:30:00.123456', '2026-11-24 23:30:00.999+09',
			B'1', '192.168.0.1/24', 7, '2026-11-24 00:00:00+09')`,
		`INSERT INTO all_types (id) VALUES (2)`,
		`INSERT INTO all_types VALUES (3,
			32767, 2147483647, 9223372036854775807, false,
			0.01, -0.0001, 0.0000000001, -0.000000000000000000000000000000000000000001, 0,
			0, 0,
			'', '', '', '', '00000000-0000-0000-0000-000000000000', 'sad',
			'[]', '[]', '',
			'0001-01-01', '00:00:00', '00:00:00+00', '1970-01-01 00:00:00', '1969-12-31 23:59:59.9995+00',
			B'0', '::1', 1, '1970-01-01 00:00:00+00')`,
	)
	r := newRun(t, d, TableSpec{Name: "all_types"})
	r.spec.StoredTimeZone = "America/Los_Angeles"
	res := r.mustExtract(t, "all_types", "2026-11-24")
	got := readParquet(t, d.aws.get(t, r.bucket, res.Key))

	wantColumns := []string{
		"id: INT32 INT(32,true) optional",
		"c_smallint: INT32 INT(32,true) optional",
		"c_integer: INT32 INT(32,true) optional",
		"c_bigint: INT64 INT(64,true) optional",
		"c_boolean: BOOLEAN optional",
		"c_num5_2: INT32 DECIMAL(5,2) optional",
		"c_num18_4: INT64 DECIMAL(18,4) optional",
		"c_num38_10: FIXED_LEN_BYTE_ARRAY DECIMAL(38,10) optional",
		"c_num_free: BYTE_ARRAY STRING optional",
		"c_num50_5: BYTE_ARRAY STRING optional",
		"c_real: FLOAT optional",
		"c_double: DOUBLE optional",
		"c_char: BYTE_ARRAY STRING optional",
		"c_varchar: BYTE_ARRAY STRING optional",
		"c_text: BYTE_ARRAY STRING optional",
		"c_citext: BYTE_ARRAY STRING optional",
		"c_uuid: BYTE_ARRAY STRING optional",
		"c_enum: BYTE_ARRAY STRING optional",
		"c_json: BYTE_ARRAY STRING optional",
		"c_jsonb: BYTE_ARRAY STRING optional",
		"c_bytea: BYTE_ARRAY optional",
		"c_date: INT32 DATE optional",
		"c_time: BYTE_ARRAY STRING optional",
		"c_timetz: BYTE_ARRAY STRING optional",
		"c_ts: INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional",
		"c_tstz: INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional",
		"c_bit1: BOOLEAN optional",
		"c_inet: BYTE_ARRAY STRING optional",
		"c_domain: INT32 INT(32,true) optional",
		"c_domain_ts: INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional",
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
			"id": int32(1), "c_smallint": int32(-32768), "c_integer": int32(-2147483648),
			"c_bigint": int64(-9223372036854775808), "c_boolean": true,
			"c_num5_2": "-999.99", "c_num18_4": "99999999999999.9999",
			"c_num38_10": "-9999999999999999999999999999.9999999999",
			"c_num_free": "123456789012345678901234567890.123456789", "c_num50_5": "-1.50000",
			"c_real": float32(3.1415927), "c_double": 1e-300,
			// char(n) loses its padding, as in MySQL.
			"c_char": "ab", "c_varchar": "日本語テキスト 🎌👍🏽", "c_text": "emoji 😀 と 漢字", "c_citext": "MiXeD",
			"c_uuid": "123e4567-e89b-12d3-a456-426614174000", "c_enum": "😀",
			"c_json": `{"k": "値", "n": 1}`, "c_jsonb": `{"k": "値", "n": 1}`,
			"c_bytea": []byte{0xde, 0xad, 0xbe, 0xef},
			"c_date":  "2026-11-24", "c_time": "23:59:59.123456", "c_timetz": "12:00:00+09",
			// timestamp is a Los Angeles wall clock here (StoredTimeZone, UTC-8 in November).
			"c_ts":   ts("2026-11-25T07:30:00.123Z"),
			"c_tstz": ts("2026-11-24T14:30:00.999Z"),
			"c_bit1": true, "c_inet": "192.168.0.1/24",
			"c_domain": int32(7), "c_domain_ts": ts("2026-11-23T15:00:00Z"),
		},
		nulls,
		{
			"id": int32(3), "c_smallint": int32(32767), "c_integer": int32(2147483647),
			"c_bigint": int64(9223372036854775807), "c_boolean": false,
			"c_num5_2": "0.01", "c_num18_4": "-0.0001", "c_num38_10": "0.0000000001",
			"c_num_free": "-0.000000000000000000000000000000000000000001", "c_num50_5": "0.00000",
			"c_real": float32(0), "c_double": float64(0),
			"c_char": "", "c_varchar": "", "c_text": "", "c_citext": "",
			"c_uuid": "00000000-0000-0000-0000-000000000000", "c_enum": "sad",
			"c_json": "[]", "c_jsonb": "[]", "c_bytea": []byte{},
			"c_date": "0001-01-01", "c_time": "00:00:00", "c_timetz": "00:00:00+00",
			"c_ts": ts("1970-01-01T08:00:00Z"),
			// Sub-millisecond digits are dropped toward the past, also before 1970.
			"c_tstz": ts("1969-12-31T23:59:59.999Z"),
			"c_bit1": false, "c_inet": "::1/128",
			"c_domain": int32(1), "c_domain_ts": ts("1970-01-01T00:00:00Z"),
		},
	}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestPostgreSQL_IncrementalSelectsFromTheBusinessMidnight(t *testing.T) {
	t.Parallel()
	d := newPostgres(t, newAWS(t))
	d.exec(t,
		"CREATE TABLE tstz (id int, changed timestamptz)",
		"CREATE TABLE ts_utc (id int, changed timestamp)",
		"CREATE TABLE ts_tokyo (id int, changed timestamp)")
	for _, row := range incrementalRows {
		d.exec(t,
			"INSERT INTO tstz VALUES ("+itoa(row.id)+", '"+row.utc+"+00')",
			"INSERT INTO ts_utc VALUES ("+itoa(row.id)+", '"+row.utc+"')",
			"INSERT INTO ts_tokyo VALUES ("+itoa(row.id)+", '"+row.tokyo+"')")
	}
	for _, tc := range []struct{ table, stored string }{
		{"tstz", "America/Los_Angeles"}, // timestamptz is an instant whatever StoredTimeZone says
		{"ts_utc", "UTC"},
		{"ts_tokyo", "Asia/Tokyo"},
	} {
		t.Run(tc.table+" stored in "+tc.stored, func(t *testing.T) {
			r := newRun(t, d, TableSpec{Name: tc.table, Mode: Incremental, TimestampColumn: "changed"})
			r.spec.StoredTimeZone = tc.stored
			got := readParquet(t, d.aws.get(t, r.bucket, r.mustExtract(t, tc.table, "2026-11-24").Key))
			if diff := cmp.Diff(wantIncrementalIDs(), ids(got.Rows)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostgreSQL_ExcludesAndHashesColumns(t *testing.T) {
	t.Parallel()
	d := newPostgres(t, newAWS(t))
	d.exec(t, "CREATE TABLE users (id bigint, name text, email text, phone text, avatar bytea, joined timestamptz)",
		`INSERT INTO users VALUES (42, '山田 太郎', 'taro@example.com', '090', '\xcafe', '2026-11-24 09:00:00+09'),
			(43, 'Ann', NULL, NULL, NULL, NULL)`)
	r := newRun(t, d, TableSpec{Name: "users", Exclude: []string{"phone"}, Hash: []string{"email", "id", "avatar", "joined"}})
	got := readParquet(t, d.aws.get(t, r.bucket, r.mustExtract(t, "users", "2026-11-24").Key))
	want := []map[string]any{
		{"id": HashValue(testSalt, []byte("42")), "name": "山田 太郎", "email": HashValue(testSalt, []byte("taro@example.com")),
			"avatar": HashValue(testSalt, []byte{0xca, 0xfe}), "joined": HashValue(testSalt, []byte("2026-11-24 00:00:00+00"))},
		{"id": HashValue(testSalt, []byte("43")), "name": "Ann", "email": nil, "avatar": nil, "joined": nil},
	}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if _, ok := got.Rows[0]["phone"]; ok {
		t.Errorf("excluded column phone is in the file")
	}
}

// TestPostgreSQL_FailedRerunKeepsThePreviousDay fails a rerun on a value that has no Parquet
// form, after several parts have been uploaded: the first run's object must survive.
func TestPostgreSQL_FailedRerunKeepsThePreviousDay(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newPostgres(t, a)
	d.exec(t, "CREATE TABLE events (id int, at timestamptz, payload bytea)",
		`INSERT INTO events SELECT i, '2026-11-24 00:00:00+09',
			(SELECT string_agg(sha512((i * 100 + j)::text::bytea), ''::bytea) FROM generate_series(1, 16) j)
			FROM generate_series(1, 600) i`)
	r := newRun(t, d, TableSpec{Name: "events"})
	first := r.mustExtract(t, "events", "2026-11-24")
	previous := a.get(t, r.bucket, first.Key)

	d.exec(t, "INSERT INTO events VALUES (601, 'infinity', NULL)")
	f := &faultyS3{S3API: a.s3}
	e := r.extractor(t, func(c *Config) { c.RowGroupRows = 50 }) // row groups reach the pipe early
	e.s3, e.partSize = f, 64<<10
	_, err := e.Handle(context.Background(), Request{Source: "social", Table: "events", Date: "2026-11-24"})
	if err == nil || !strings.Contains(err.Error(), `table social.events, column "at", row 601: PostgreSQL infinity has no Parquet representation`) {
		t.Fatalf("err = %v", err)
	}
	if len(f.parts) < 2 || f.aborts != 1 || f.completes != 0 {
		t.Errorf("parts %v, aborts %d, completes %d; want several parts, 1 abort, no complete", f.parts, f.aborts, f.completes)
	}
	if string(previous) != string(a.get(t, r.bucket, first.Key)) {
		t.Errorf("the previous object changed")
	}
	if n := a.pendingUploads(t, r.bucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

func TestPostgreSQL_BadInputFailsClearly(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newPostgres(t, a)
	d.exec(t, "CREATE TABLE places (id int, location point, tags text[])")
	d.exec(t, `CREATE TABLE accounts ("Id" int, id int, "Name" text)`)
	for _, tc := range []struct {
		name  string
		table TableSpec
		want  string
		input bool
	}{
		{"unknown table", TableSpec{Name: "ghosts"}, `source "social" has no table "ghosts"`, true},
		{"unknown column in Exclude", TableSpec{Name: "places", Exclude: []string{"loc"}},
			`table social.places: Exclude names column "loc", which the table does not have (columns: id, location, tags)`, true},
		{"unsupported types", TableSpec{Name: "places"},
			`column "location" has type point, which has no Parquet mapping; add "location" to the table's Exclude list (or Hash it) to extract the rest of the table; ` +
				`table social.places: column "tags" has type _text, which has no Parquet mapping`, true},
		// Glue and Athena fold column names to lower case: "Id" and id would be one column.
		{"columns that differ only in case", TableSpec{Name: "accounts"},
			`table social.accounts: columns "Id" and "id" differ only in case, and Glue and Athena fold names to lower case; Exclude one of them (or extract a view that renames it)`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(t, d, tc.table)
			_, err := r.extract(t, tc.table.Name, "2026-11-24")
			if tc.input {
				wantInputError(t, err, tc.want)
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if keys := a.keys(t, r.bucket); len(keys) != 0 {
				t.Errorf("objects %v, want none", keys)
			}
		})
	}
	t.Run("excluding one of two columns that differ in case works", func(t *testing.T) {
		d.exec(t, `INSERT INTO accounts VALUES (1, 2, 'a')`)
		r := newRun(t, d, TableSpec{Name: "accounts", Exclude: []string{"Id"}})
		got := readParquet(t, d.aws.get(t, r.bucket, r.mustExtract(t, "accounts", "2026-11-24").Key))
		want := []map[string]any{{"id": int32(2), "Name": "a"}}
		if diff := cmp.Diff(want, got.Rows); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
	t.Run("excluding the unsupported columns works", func(t *testing.T) {
		d.exec(t, "INSERT INTO places VALUES (1, '(1,2)', '{a}')")
		r := newRun(t, d, TableSpec{Name: "places", Exclude: []string{"location"}, Hash: []string{"tags"}})
		got := readParquet(t, d.aws.get(t, r.bucket, r.mustExtract(t, "places", "2026-11-24").Key))
		want := []map[string]any{{"id": int32(1), "tags": HashValue(testSalt, []byte("{a}"))}}
		if diff := cmp.Diff(want, got.Rows); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
}

// NaN in a numeric with precision, and infinite dates and timestamps, have no Parquet form. That
// is the data's doing: the run fails at once with an InputError (the workflow does not retry
// it) that names the table, the column and the row and says how to extract the table anyway,
// and no object appears.
func TestPostgreSQL_ValuesWithoutAParquetFormAreInputErrors(t *testing.T) {
	t.Parallel()
	a := newAWS(t)
	d := newPostgres(t, a)
	d.exec(t,
		"CREATE TABLE prices (id int, amount numeric(10,2), precise numeric(30,5))",
		"INSERT INTO prices VALUES (1, 1.5, 2), (2, 'NaN', 3), (3, 4, 'NaN')",
		"CREATE TABLE events (id int, at timestamptz, day date)",
		"INSERT INTO events VALUES (1, now(), '2026-11-24'), (2, '-infinity', '2026-11-24'), (3, now(), 'infinity')")
	for _, tc := range []struct {
		name  string
		table TableSpec
		want  []string
	}{
		{"NaN in a numeric stored as INT64 DECIMAL", TableSpec{Name: "prices", Exclude: []string{"precise"}}, []string{
			`table social.prices, column "amount", row 2: PostgreSQL numeric NaN has no Parquet representation as a DECIMAL(10,2)`,
			`exclude the column ("exclude": ["amount"]) or hash it ("hash": ["amount"])`,
			`extract a view of the table that selects "amount"::double precision AS "amount", which keeps it; ` +
				`or CAST(NULLIF("amount", 'NaN') AS numeric(10,2)) AS "amount", which gives NULL instead`}},
		{"NaN in a numeric stored as FIXED_LEN_BYTE_ARRAY DECIMAL", TableSpec{Name: "prices", Exclude: []string{"amount"}}, []string{
			`table social.prices, column "precise", row 3: PostgreSQL numeric NaN has no Parquet representation as a DECIMAL(30,5)`,
			`"exclude": ["precise"]`}},
		{"infinite timestamptz", TableSpec{Name: "events"}, []string{
			`table social.events, column "at", row 2: PostgreSQL -infinity has no Parquet representation as a timestamp`,
			`"exclude": ["at"]`, `NULLIF("at", '-infinity') AS "at"`}},
		{"infinite date", TableSpec{Name: "events", Exclude: []string{"at"}}, []string{
			`table social.events, column "day", row 3: PostgreSQL infinity has no Parquet representation as a date`,
			`NULLIF("day", 'infinity') AS "day"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(t, d, tc.table)
			_, err := r.extract(t, tc.table.Name, "2026-11-24")
			for _, w := range tc.want {
				wantInputError(t, err, w)
			}
			if keys := a.keys(t, r.bucket); len(keys) != 0 {
				t.Errorf("objects %v, want none", keys)
			}
			if n := a.pendingUploads(t, r.bucket); n != 0 {
				t.Errorf("%d multipart uploads left open", n)
			}
		})
	}
	// The fixes the message offers work.
	t.Run("a view that casts NaN to double precision, or to NULL", func(t *testing.T) {
		d.exec(t,
			`CREATE VIEW prices_double AS SELECT id, "amount"::double precision AS "amount" FROM prices`,
			`CREATE VIEW prices_null AS SELECT id, CAST(NULLIF("amount", 'NaN') AS numeric(10,2)) AS "amount" FROM prices`,
			"GRANT SELECT ON prices_double, prices_null TO "+d.user)
		r := newRun(t, d, TableSpec{Name: "prices_double"}, TableSpec{Name: "prices_null"}, TableSpec{Name: "prices", Hash: []string{"amount"}, Exclude: []string{"precise"}})
		got := readParquet(t, a.get(t, r.bucket, r.mustExtract(t, "prices_double", "2026-11-24").Key))
		if v, _ := got.Rows[1]["amount"].(float64); len(got.Rows) != 3 || !math.IsNaN(v) {
			t.Errorf("prices_double rows %v, want NaN in row 2", got.Rows)
		}
		got = readParquet(t, a.get(t, r.bucket, r.mustExtract(t, "prices_null", "2026-11-24").Key))
		want := []map[string]any{{"id": int32(1), "amount": "1.50"}, {"id": int32(2), "amount": nil}, {"id": int32(3), "amount": "4.00"}}
		if diff := cmp.Diff(want, got.Rows); diff != "" {
			t.Errorf("prices_null rows (-want +got):\n%s", diff)
		}
		if got.Columns[1] != "amount: INT64 DECIMAL(10,2) optional" {
			t.Errorf("prices_null.amount is %s, want the table's DECIMAL(10,2)", got.Columns[1])
		}
		got = readParquet(t, a.get(t, r.bucket, r.mustExtract(t, "prices", "2026-11-24").Key))
		if got.Rows[1]["amount"] != HashValue(testSalt, []byte("NaN")) {
			t.Errorf("hashed NaN = %v, want the hash of its text", got.Rows[1]["amount"])
		}
	})
}

func TestPostgreSQL_SessionIsReadOnly(t *testing.T) {
	t.Parallel()
	d := newPostgres(t, newAWS(t))
	d.exec(t, "CREATE TABLE users (id int)")
	creds := dbCredentials{Username: d.server.User, Host: d.server.Host, Port: d.server.Port}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := openPostgres(ctx, creds, d.name, d.rootCAs(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	var ssl bool
	if err := db.tx.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Errorf("connection is not TLS (ssl=%v, err=%v)", ssl, err)
	}
	_, err = db.tx.Exec(ctx, "INSERT INTO users VALUES (1)")
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("INSERT in the extraction session: err = %v, want a read-only error", err)
	}
}
