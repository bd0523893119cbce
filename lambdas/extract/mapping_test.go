package extract

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/parquet-go/parquet-go"
)

// describe renders a column's Parquet type as "PHYSICAL LOGICAL", like the file tests do.
func describe(n parquet.Node) string {
	s := n.Type().Kind().String()
	if lt := n.Type().LogicalType(); lt != nil {
		s += " " + lt.String()
	}
	return s
}

// TestTypeMapping_MatchesTheDocumentedTable is the table in doc.go, row by row.
func TestTypeMapping_MatchesTheDocumentedTable(t *testing.T) {
	const (
		i32  = "INT32 INT(32,true)"
		i64  = "INT64 INT(64,true)"
		str  = "BYTE_ARRAY STRING"
		tsUT = "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS)"
	)
	my := func(dataType, columnType string) Column {
		return Column{Name: "c", DataType: dataType, ColumnType: columnType, Unsigned: strings.Contains(columnType, "unsigned")}
	}
	num := func(c Column, p, s int) Column {
		c.Precision, c.Scale, c.HasPrecision = p, s, true
		return c
	}
	mysqlCases := []struct {
		col  Column
		want string // "" means unsupported
	}{
		{my("tinyint", "tinyint(4)"), i32},
		{my("tinyint", "tinyint(3) unsigned"), i32},
		{my("tinyint", "tinyint(1)"), "BOOLEAN"},
		{my("smallint", "smallint(6)"), i32},
		{my("smallint", "smallint(5) unsigned"), i32},
		{my("mediumint", "mediumint(9)"), i32},
		{my("mediumint", "mediumint(8) unsigned"), i32},
		{my("int", "int(11)"), i32},
		{my("int", "int(10) unsigned"), i64},
		{my("bigint", "bigint(20)"), i64},
		{my("bigint", "bigint(20) unsigned"), "FIXED_LEN_BYTE_ARRAY DECIMAL(20,0)"},
		{num(my("decimal", "decimal(5,2)"), 5, 2), "INT32 DECIMAL(5,2)"},
		{num(my("decimal", "decimal(9,0)"), 9, 0), "INT32 DECIMAL(9,0)"},
		{num(my("decimal", "decimal(10,0)"), 10, 0), "INT64 DECIMAL(10,0)"},
		{num(my("decimal", "decimal(18,4)"), 18, 4), "INT64 DECIMAL(18,4)"},
		{num(my("decimal", "decimal(19,4)"), 19, 4), "FIXED_LEN_BYTE_ARRAY DECIMAL(19,4)"},
		{num(my("decimal", "decimal(38,10)"), 38, 10), "FIXED_LEN_BYTE_ARRAY DECIMAL(38,10)"},
		{num(my("decimal", "decimal(39,0)"), 39, 0), str},
		{num(my("decimal", "decimal(65,30)"), 65, 30), str},
		{my("float", "float"), "FLOAT"},
		{my("double", "double"), "DOUBLE"},
		{my("char", "char(10)"), str},
		{my("varchar", "varchar(255)"), str},
		{my("tinytext", "tinytext"), str},
		{my("text", "text"), str},
		{my("mediumtext", "mediumtext"), str},
		{my("longtext", "longtext"), str},
		{my("enum", "enum('a','b')"), str},
		{my("set", "set('a','b')"), str},
		{my("json", "json"), str},
		{my("uuid", "uuid"), str},
		{my("binary", "binary(16)"), "BYTE_ARRAY"},
		{my("varbinary", "varbinary(16)"), "BYTE_ARRAY"},
		{my("blob", "blob"), "BYTE_ARRAY"},
		{my("longblob", "longblob"), "BYTE_ARRAY"},
		{my("date", "date"), "INT32 DATE"},
		{my("time", "time(6)"), str},
		{my("datetime", "datetime(6)"), tsUT},
		{my("timestamp", "timestamp(3)"), tsUT},
		{my("year", "year(4)"), i32},
		{num(my("bit", "bit(1)"), 1, 0), "BOOLEAN"},
		{num(my("bit", "bit(8)"), 8, 0), i64},
		{num(my("bit", "bit(64)"), 64, 0), "FIXED_LEN_BYTE_ARRAY DECIMAL(20,0)"},
		{my("geometry", "geometry"), ""},
		{my("point", "point"), ""},
		{my("vector", "vector(3)"), ""},
	}
	for _, tc := range mysqlCases {
		m, ok := (&mysqlDB{}).mapColumn(tc.col)
		got := ""
		if ok {
			got = describe(m.node())
		}
		if got != tc.want {
			t.Errorf("MySQL %s: %q, want %q", tc.col.ColumnType, got, tc.want)
		}
	}

	pg := func(dataType string) Column { return Column{Name: "c", DataType: dataType, ColumnType: dataType} }
	enum := pg("mood")
	enum.Enum = true
	pgCases := []struct {
		col  Column
		want string
	}{
		{pg("smallint"), i32},
		{pg("integer"), i32},
		{pg("bigint"), i64},
		{pg("boolean"), "BOOLEAN"},
		{num(pg("numeric"), 10, 2), "INT64 DECIMAL(10,2)"},
		{num(pg("numeric"), 38, 0), "FIXED_LEN_BYTE_ARRAY DECIMAL(38,0)"},
		{num(pg("numeric"), 5, -2), str},
		{pg("numeric"), str},
		{pg("real"), "FLOAT"},
		{pg("double precision"), "DOUBLE"},
		{pg("character"), str},
		{pg("character varying"), str},
		{pg("text"), str},
		{pg("citext"), str},
		{pg("uuid"), str},
		{enum, str},
		{pg("json"), str},
		{pg("jsonb"), str},
		{pg("inet"), str},
		{pg("bytea"), "BYTE_ARRAY"},
		{pg("date"), "INT32 DATE"},
		{pg("time without time zone"), str},
		{pg("time with time zone"), str},
		{pg("timestamp without time zone"), tsUT},
		{pg("timestamp with time zone"), tsUT},
		{num(pg("bit"), 1, 0), "BOOLEAN"},
		{num(pg("bit"), 8, 0), ""},
		{pg("point"), ""},
		{pg("interval"), ""},
		{pg("money"), ""},
		{pg("_int4"), ""},
	}
	for _, tc := range pgCases {
		m, ok := (&postgresDB{}).mapColumn(tc.col)
		got := ""
		if ok {
			got = describe(m.node())
		}
		if got != tc.want {
			t.Errorf("PostgreSQL %s (%d,%d): %q, want %q", tc.col.DataType, tc.col.Precision, tc.col.Scale, got, tc.want)
		}
	}
}

func TestDecimalBytes_IsTheShortestWidth(t *testing.T) {
	for p, want := range map[int]int{1: 1, 2: 1, 3: 2, 4: 2, 9: 4, 10: 5, 18: 8, 19: 9, 20: 9, 38: 16} {
		if got := decimalBytes[p]; got != want {
			t.Errorf("decimalBytes[%d] = %d, want %d", p, got, want)
		}
	}
}

func TestDecimalConverter_WritesUnscaledTwosComplement(t *testing.T) {
	tests := []struct {
		p, s int
		in   string
		want any // int32, int64 or the FIXED_LEN_BYTE_ARRAY as a big.Int string
	}{
		{5, 2, "-999.99", int32(-99999)},
		{5, 2, "0.01", int32(1)},
		{5, 2, "1.5", int32(150)}, // fewer fractional digits than the scale
		{5, 2, "-0.00", int32(0)},
		{18, 4, "99999999999999.9999", int64(999999999999999999)},
		{38, 10, "-9999999999999999999999999999.9999999999", "-99999999999999999999999999999999999999"},
		{38, 0, "1", "1"},
		{20, 0, "-1", "-1"},
	}
	for _, tc := range tests {
		v, err := decimalConverter(tc.p, tc.s)([]byte(tc.in))
		if err != nil {
			t.Errorf("%s as DECIMAL(%d,%d): %v", tc.in, tc.p, tc.s, err)
			continue
		}
		var got any
		switch v.Kind() {
		case parquet.Int32:
			got = v.Int32()
		case parquet.Int64:
			got = v.Int64()
		default:
			b := v.ByteArray()
			if len(b) != decimalBytes[tc.p] {
				t.Errorf("%s: %d bytes, want %d", tc.in, len(b), decimalBytes[tc.p])
			}
			n := new(big.Int).SetBytes(b)
			if b[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			got = n.String()
		}
		if got != tc.want {
			t.Errorf("%s as DECIMAL(%d,%d) = %v, want %v", tc.in, tc.p, tc.s, got, tc.want)
		}
	}
	for _, bad := range []string{"NaN", "1.234", "123456.7", "1e5", "abc", ""} {
		if _, err := decimalConverter(5, 2)([]byte(bad)); err == nil {
			t.Errorf("%q as DECIMAL(5,2): no error", bad)
		}
	}
	// PostgreSQL's special numerics are the data's fault, not the run's: they must end as an
	// InputError, which retrying cannot fix. (A numeric with precision holds NaN only; the
	// infinities reach here through a domain or a view.)
	for _, special := range []string{"NaN", "Infinity", "-Infinity"} {
		for _, p := range []int{5, 18, 30} {
			_, err := decimalConverter(p, 2)([]byte(special))
			var u *unrepresentableError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), fmt.Sprintf("PostgreSQL numeric %s has no Parquet representation as a DECIMAL(%d,2)", special, p)) {
				t.Errorf("%q as DECIMAL(%d,2): err = %v, want an *unrepresentableError", special, p, err)
			}
		}
	}
}

func TestConverters_HandleEdgeValues(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	conv := func(k kind) converter { return newConverter(mapping{kind: k}, tokyo, testSalt) }
	tests := []struct {
		name string
		k    kind
		in   any
		want parquet.Value
	}{
		{"int32 from bytes", kindInt32, []byte("-5"), parquet.Int32Value(-5)},
		{"int32 from int16", kindInt32, int16(-5), parquet.Int32Value(-5)},
		{"bool tinyint(1) = 2", kindBool, int64(2), parquet.BooleanValue(true)},
		{"bool pg text", kindBool, "0", parquet.BooleanValue(false)},
		{"bit(1)", kindBitBool, []byte{1}, parquet.BooleanValue(true)},
		{"bit(16)", kindBitInt, []byte{1, 0}, parquet.Int64Value(256)},
		{"unsigned bigint from bytes", kindUnsignedBigint, []byte("18446744073709551615"),
			parquet.FixedLenByteArrayValue([]byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
		{"unsigned bigint from int64", kindUnsignedBigint, int64(1),
			parquet.FixedLenByteArrayValue([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1})},
		{"date text", kindDate, []byte("1969-12-31"), parquet.Int32Value(-1)},
		{"zero date", kindDate, []byte("0000-00-00"), parquet.Value{}},
		{"pg date", kindDate, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), parquet.Int32Value(20781)},
		{"datetime text in stored zone", kindTimestampLocal, []byte("2026-11-24 09:00:00.1239"),
			parquet.Int64Value(time.Date(2026, 11, 24, 0, 0, 0, 123e6, time.UTC).UnixMilli())},
		{"pg timestamp wall clock in stored zone", kindTimestampLocal, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC),
			parquet.Int64Value(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).UnixMilli())},
		{"timestamp text in UTC", kindTimestampUTC, []byte("2026-11-24 09:00:00"),
			parquet.Int64Value(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC).UnixMilli())},
		{"pg timestamptz", kindTimestampUTC, time.Date(2026, 11, 24, 18, 0, 0, 0, tokyo),
			parquet.Int64Value(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC).UnixMilli())},
		{"float from float64", kindFloat, 0.5, parquet.FloatValue(0.5)},
		{"double from float32", kindDouble, float32(0.5), parquet.DoubleValue(0.5)},
	}
	for _, tc := range tests {
		got, err := conv(tc.k)(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !parquet.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		k    kind
		in   any
		want string
	}{
		{"int32 overflow", kindInt32, int64(math.MaxInt32 + 1), "does not fit INT32"},
		{"pg infinity", kindTimestampUTC, pgtype.Infinity, "PostgreSQL infinity has no Parquet representation"},
		{"pg -infinity date", kindDate, pgtype.NegativeInfinity, "PostgreSQL -infinity has no Parquet representation"},
		{"bad datetime", kindTimestampLocal, []byte("2026-11-24T09"), "is not YYYY-MM-DD hh:mm:ss"},
		{"unexpected type", kindString, 1.5, "driver returned float64 where text or bytes was expected"},
	} {
		if _, err := conv(tc.k)(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestHashValue_IsHexHMACSHA256(t *testing.T) {
	// RFC 4231 test case 2.
	got := HashValue([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("HashValue = %s, want %s", got, want)
	}
	c := newConverter(mapping{kind: kindHash}, time.UTC, []byte("Jefe"))
	v, err := c("what do ya want for nothing?")
	if err != nil || string(v.ByteArray()) != want {
		t.Errorf("hash converter = %q, %v", v.ByteArray(), err)
	}
}

func TestParseDateTime(t *testing.T) {
	type out struct {
		Y, M, D int
		Clock   time.Duration
		OK      bool
	}
	for in, want := range map[string]out{
		"2026-11-24":                 {2026, 11, 24, 0, true},
		"2026-11-24 23:30:00":        {2026, 11, 24, 23*time.Hour + 30*time.Minute, true},
		"2026-11-24 23:30:00.5":      {2026, 11, 24, 23*time.Hour + 30*time.Minute + 500*time.Millisecond, true},
		"2026-11-24 00:00:00.000001": {2026, 11, 24, time.Microsecond, true},
		"0000-00-00 00:00:00":        {0, 0, 0, 0, true},
		"2026-11-24 23:30":           {OK: false},
		"2026/11/24":                 {OK: false},
		"2026-11-24 23:30:00.":       {OK: false},
	} {
		y, m, d, clock, ok := parseDateTime([]byte(in))
		got := out{y, int(m), d, time.Duration(clock), ok}
		if !ok {
			got = out{OK: false}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parseDateTime(%q) (-want +got):\n%s", in, diff)
		}
	}
}
