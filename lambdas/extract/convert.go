package extract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/parquet-go/parquet-go"
)

// converter turns one non-NULL value, as a driver returns it, into a Parquet value. The returned
// value may point into buffers that the converter reuses for the next row; the writer copies it.
// A converter returns a null Value for values that the lake stores as NULL (MySQL zero dates).
type converter func(v any) (parquet.Value, error)

// newConverter returns the converter for mapping m. stored is the zone of zone-less timestamps;
// salt keys the HMAC of hashed columns.
func newConverter(m mapping, stored *time.Location, salt []byte) converter {
	switch m.kind {
	case kindInt32:
		return func(v any) (parquet.Value, error) {
			i, err := toInt64(v)
			if err != nil {
				return parquet.Value{}, err
			}
			if i < math.MinInt32 || i > math.MaxInt32 {
				return parquet.Value{}, fmt.Errorf("value %d does not fit INT32", i)
			}
			return parquet.Int32Value(int32(i)), nil
		}
	case kindInt64:
		return func(v any) (parquet.Value, error) {
			i, err := toInt64(v)
			return parquet.Int64Value(i), err
		}
	case kindBool:
		return func(v any) (parquet.Value, error) {
			b, err := toBool(v)
			return parquet.BooleanValue(b), err
		}
	case kindBitBool:
		return func(v any) (parquet.Value, error) {
			u, err := bitsToUint(v)
			return parquet.BooleanValue(u != 0), err
		}
	case kindBitInt:
		return func(v any) (parquet.Value, error) {
			u, err := bitsToUint(v)
			if err == nil && u > math.MaxInt64 {
				err = fmt.Errorf("bit value %d does not fit INT64", u)
			}
			return parquet.Int64Value(int64(u)), err
		}
	case kindUnsignedBigint, kindBitUnsigned:
		buf := make([]byte, decimalBytes[20])
		return func(v any) (parquet.Value, error) {
			var u uint64
			var err error
			switch x := v.(type) {
			case []byte:
				if m.kind == kindBitUnsigned {
					u, err = bitsToUint(x)
				} else {
					u, err = strconv.ParseUint(string(x), 10, 64)
				}
			case uint64:
				u = x
			case int64:
				if x < 0 {
					err = fmt.Errorf("negative value %d in an unsigned column", x)
				}
				u = uint64(x)
			default:
				err = typeError(v, "an unsigned integer")
			}
			if err != nil {
				return parquet.Value{}, err
			}
			clear(buf)
			for i := len(buf) - 1; i >= 0 && u > 0; i-- {
				buf[i] = byte(u)
				u >>= 8
			}
			return parquet.FixedLenByteArrayValue(buf), nil
		}
	case kindDecimal:
		return decimalConverter(m.precision, m.scale)
	case kindFloat:
		return func(v any) (parquet.Value, error) {
			switch x := v.(type) {
			case float32:
				return parquet.FloatValue(x), nil
			case float64:
				return parquet.FloatValue(float32(x)), nil
			case []byte:
				f, err := strconv.ParseFloat(string(x), 32)
				return parquet.FloatValue(float32(f)), err
			case string:
				f, err := strconv.ParseFloat(x, 32)
				return parquet.FloatValue(float32(f)), err
			}
			return parquet.Value{}, typeError(v, "a float")
		}
	case kindDouble:
		return func(v any) (parquet.Value, error) {
			switch x := v.(type) {
			case float64:
				return parquet.DoubleValue(x), nil
			case float32:
				return parquet.DoubleValue(float64(x)), nil
			case []byte:
				f, err := strconv.ParseFloat(string(x), 64)
				return parquet.DoubleValue(f), err
			case string:
				f, err := strconv.ParseFloat(x, 64)
				return parquet.DoubleValue(f), err
			}
			return parquet.Value{}, typeError(v, "a double")
		}
	case kindString, kindBytes:
		return func(v any) (parquet.Value, error) {
			b, err := toBytes(v)
			return parquet.ByteArrayValue(b), err
		}
	case kindHash:
		mac := hmac.New(sha256.New, salt)
		out := make([]byte, 0, 2*sha256.Size)
		return func(v any) (parquet.Value, error) {
			b, err := toBytes(v)
			if err != nil {
				return parquet.Value{}, err
			}
			out = hashHex(mac, out[:0], b)
			return parquet.ByteArrayValue(out), nil
		}
	case kindDate:
		return func(v any) (parquet.Value, error) {
			switch x := v.(type) {
			case time.Time:
				return parquet.Int32Value(daysSinceEpoch(x.Year(), x.Month(), x.Day())), nil
			case []byte:
				y, mo, d, _, ok := parseDateTime(x)
				if !ok {
					return parquet.Value{}, fmt.Errorf("date %q is not YYYY-MM-DD", x)
				}
				if y == 0 || mo == 0 || d == 0 {
					return parquet.Value{}, nil // MySQL zero date: no date
				}
				return parquet.Int32Value(daysSinceEpoch(y, mo, d)), nil
			}
			return parquet.Value{}, typeError(v, "a date")
		}
	case kindTimestampUTC, kindTimestampLocal:
		loc := time.UTC
		if m.kind == kindTimestampLocal {
			loc = stored
		}
		return func(v any) (parquet.Value, error) {
			switch x := v.(type) {
			case time.Time:
				if m.kind == kindTimestampLocal {
					// pgx returns timestamp (without zone) as a UTC wall clock.
					x = time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), loc)
				}
				return parquet.Int64Value(x.UnixMilli()), nil
			case []byte:
				y, mo, d, clock, ok := parseDateTime(x)
				if !ok {
					return parquet.Value{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD hh:mm:ss[.ffffff]", x)
				}
				if y == 0 || mo == 0 || d == 0 {
					return parquet.Value{}, nil // MySQL zero date: no date
				}
				t := time.Date(y, mo, d, 0, 0, 0, int(clock), loc)
				return parquet.Int64Value(t.UnixMilli()), nil
			}
			return parquet.Value{}, typeError(v, "a timestamp")
		}
	}
	panic(fmt.Sprintf("extract: no converter for kind %d", m.kind))
}

func hashHex(mac hash.Hash, dst, value []byte) []byte {
	mac.Reset()
	mac.Write(value)
	var sum [sha256.Size]byte
	return hex.AppendEncode(dst, mac.Sum(sum[:0]))
}

// HashValue is what a hashed column holds for a value whose text (or, for binary columns,
// bytes) is value: the lower-case hex HMAC-SHA256 keyed with salt.
func HashValue(salt, value []byte) string {
	return string(hashHex(hmac.New(sha256.New, salt), nil, value))
}

func typeError(v any, want string) error {
	if inf, ok := v.(pgtype.InfinityModifier); ok {
		return &unrepresentableError{value: "PostgreSQL " + inf.String(), as: want,
			views: []string{"NULLIF(%[1]s, '" + inf.String() + "') AS %[1]s, which gives NULL instead"}}
	}
	return fmt.Errorf("driver returned %T where %s was expected", v, want)
}

// unrepresentableError is a value that the column's Parquet type cannot hold: PostgreSQL's NaN
// (and infinities) in a numeric with precision, and its infinite dates and timestamps. The data,
// not the run, is at fault, so retrying cannot help: writeParquet makes it an *InputError that
// names the table, the column and the row, and says how to extract the table anyway.
type unrepresentableError struct {
	// value is the value as the database shows it, such as "PostgreSQL numeric NaN".
	value string
	// as is what the column is written as, such as "a DECIMAL(10,2)" or "a timestamp".
	as string
	// views are select-list expressions of a view that reads the column, with %[1]s for its
	// quoted name.
	views []string
}

func (e *unrepresentableError) Error() string {
	return fmt.Sprintf("%s has no Parquet representation as %s", e.value, e.as)
}

// fix says how to extract the table despite the value, for column col.
func (e *unrepresentableError) fix(col string) string {
	views := make([]string, len(e.views))
	quoted := `"` + strings.ReplaceAll(col, `"`, `""`) + `"`
	for i, v := range e.views {
		views[i] = fmt.Sprintf(v, quoted)
	}
	return fmt.Sprintf(`exclude the column ("exclude": [%q]) or hash it ("hash": [%q]) in the table's configuration, `+
		"or extract a view of the table that selects %s", col, col, strings.Join(views, "; or "))
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("value %d does not fit INT64", x)
		}
		return int64(x), nil
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, typeError(v, "an integer")
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil // MySQL tinyint(1): any non-zero value is true
	case []byte:
		return parseBoolText(string(x))
	case string:
		return parseBoolText(x)
	}
	return false, typeError(v, "a boolean")
}

func parseBoolText(s string) (bool, error) {
	switch s {
	case "1", "t", "true":
		return true, nil
	case "0", "f", "false":
		return false, nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i != 0, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// bitsToUint reads a MySQL BIT value: big-endian raw bytes.
func bitsToUint(v any) (uint64, error) {
	b, ok := v.([]byte)
	if !ok {
		if i, err := toInt64(v); err == nil && i >= 0 {
			return uint64(i), nil
		}
		return 0, typeError(v, "BIT bytes")
	}
	if len(b) > 8 {
		return 0, fmt.Errorf("bit value of %d bytes does not fit 64 bits", len(b))
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u, nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func toBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		// The writer copies the bytes; nothing writes through this slice.
		return unsafe.Slice(unsafe.StringData(x), len(x)), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	}
	return nil, typeError(v, "text or bytes")
}

func daysSinceEpoch(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// parseDateTime parses MySQL's text form "YYYY-MM-DD[ hh:mm:ss[.ffffff]]". clock is the time of
// day in nanoseconds.
func parseDateTime(b []byte) (y int, m time.Month, d int, clock int64, ok bool) {
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, len(s) > 0
	}
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, 0, false
	}
	var ok1, ok2, ok3 bool
	var mm int
	y, ok1 = num(b[0:4])
	mm, ok2 = num(b[5:7])
	d, ok3 = num(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, 0, false
	}
	m = time.Month(mm)
	rest := b[10:]
	if len(rest) == 0 {
		return y, m, d, 0, true
	}
	if len(rest) < 9 || (rest[0] != ' ' && rest[0] != 'T') || rest[3] != ':' || rest[6] != ':' {
		return 0, 0, 0, 0, false
	}
	h, ok1 := num(rest[1:3])
	mi, ok2 := num(rest[4:6])
	s, ok3 := num(rest[7:9])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, 0, false
	}
	clock = (int64(h)*3600 + int64(mi)*60 + int64(s)) * int64(time.Second)
	if frac := rest[9:]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) > 10 {
			return 0, 0, 0, 0, false
		}
		digits := frac[1:]
		f, ok := num(digits)
		if !ok {
			return 0, 0, 0, 0, false
		}
		for i := len(digits); i < 9; i++ {
			f *= 10
		}
		clock += int64(f)
	}
	return y, m, d, clock, true
}

// decimalConverter writes decimal text ("-123.45") as DECIMAL(p,s) in the physical type that
// decimalNode chose for p.
func decimalConverter(p, s int) converter {
	var buf []byte
	if p > 18 {
		buf = make([]byte, decimalBytes[p])
	}
	var bi big.Int
	return func(v any) (parquet.Value, error) {
		text, err := toBytes(v)
		if err != nil {
			return parquet.Value{}, err
		}
		digits, neg, err := unscaledDigits(text, s, p)
		if err != nil {
			return parquet.Value{}, err
		}
		if p <= 18 {
			n, err := strconv.ParseInt(string(digits), 10, 64)
			if err != nil {
				return parquet.Value{}, err
			}
			if neg {
				n = -n
			}
			if p <= 9 {
				return parquet.Int32Value(int32(n)), nil
			}
			return parquet.Int64Value(n), nil
		}
		if _, ok := bi.SetString(string(digits), 10); !ok {
			return parquet.Value{}, fmt.Errorf("decimal %q is not a number", text)
		}
		if neg {
			bi.Neg(&bi)
		}
		twosComplement(buf, &bi)
		return parquet.FixedLenByteArrayValue(buf), nil
	}
}

// unscaledDigits turns "-12.3" at scale 2 into "1230", negative. It rejects values with more
// fractional digits than scale or more digits than precision rather than rounding them.
// PostgreSQL's NaN and infinities are an *unrepresentableError.
func unscaledDigits(text []byte, scale, precision int) (digits []byte, neg bool, err error) {
	s := text
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if string(s) == "NaN" || string(s) == "Infinity" {
		return nil, false, &unrepresentableError{
			value: "PostgreSQL numeric " + string(text),
			as:    fmt.Sprintf("a DECIMAL(%d,%d)", precision, scale),
			views: []string{
				"%[1]s::double precision AS %[1]s, which keeps it",
				fmt.Sprintf("CAST(NULLIF(%%[1]s, '%s') AS numeric(%d,%d)) AS %%[1]s, which gives NULL instead", text, precision, scale),
			},
		}
	}
	intPart, frac := s, []byte(nil)
	for i, c := range s {
		if c == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	if len(intPart) == 0 && len(frac) == 0 {
		return nil, false, fmt.Errorf("decimal %q is not a number", text)
	}
	for len(frac) > scale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) > scale {
		return nil, false, fmt.Errorf("decimal %q has more than %d fractional digits", text, scale)
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	digits = make([]byte, 0, len(intPart)+scale)
	digits = append(digits, intPart...)
	digits = append(digits, frac...)
	for i := len(frac); i < scale; i++ {
		digits = append(digits, '0')
	}
	if !isDigits(digits) {
		return nil, false, fmt.Errorf("decimal %q is not a number", text)
	}
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	if len(digits) > precision {
		return nil, false, fmt.Errorf("decimal %q has more than %d digits", text, precision)
	}
	return digits, neg, nil
}

// twosComplement writes v big-endian in two's complement, sign-extended to len(buf) bytes.
func twosComplement(buf []byte, v *big.Int) {
	if v.Sign() >= 0 {
		v.FillBytes(buf)
		return
	}
	// -v = ^(v-1): write |v|-1 and invert.
	abs := new(big.Int).Neg(v)
	abs.Sub(abs, big.NewInt(1))
	abs.FillBytes(buf)
	for i := range buf {
		buf[i] = ^buf[i]
	}
}
