package extract

import (
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// kind is the Parquet representation a column is written with; doc.go has the table.
type kind int

const (
	kindInt32 kind = iota + 1
	kindInt64
	kindBool
	kindBitBool // MySQL BIT(1): one raw byte
	kindBitInt  // MySQL BIT(2..63): raw big-endian bytes
	kindDecimal
	kindUnsignedBigint // MySQL BIGINT UNSIGNED: DECIMAL(20,0)
	kindBitUnsigned    // MySQL BIT(64): DECIMAL(20,0)
	kindFloat
	kindDouble
	kindString
	kindBytes
	kindDate
	kindTimestampUTC   // an instant: MySQL TIMESTAMP (session in UTC), PostgreSQL timestamptz
	kindTimestampLocal // a wall clock in StoredTimeZone: MySQL DATETIME, PostgreSQL timestamp
	kindHash
)

// Column is one column of a source table as information_schema describes it (a RowSource
// describes its tables with it).
type Column struct {
	Name string
	// DataType is information_schema's DATA_TYPE, lower case (PostgreSQL: the udt name for
	// USER-DEFINED types).
	DataType string
	// ColumnType is the full declared type, for messages (MySQL COLUMN_TYPE, PostgreSQL
	// data_type or udt name with its modifiers).
	ColumnType string
	// Precision and Scale of numeric types; HasPrecision is false when the type has none
	// (PostgreSQL numeric without a precision). BIT columns carry their length in Precision.
	Precision, Scale int
	HasPrecision     bool
	Unsigned         bool
	// Enum marks a PostgreSQL enum type.
	Enum bool
}

// mapping is how one column is written.
type mapping struct {
	kind             kind
	precision, scale int // kindDecimal
}

// maxDecimalPrecision is the largest DECIMAL precision Athena (Trino) reads.
const maxDecimalPrecision = 38

// decimalMapping maps a decimal of precision p and scale s to DECIMAL(p,s) when Athena can read
// it, and to its canonical text otherwise.
func decimalMapping(p, s int) mapping {
	if p < 1 || p > maxDecimalPrecision || s < 0 || s > p {
		return mapping{kind: kindString}
	}
	return mapping{kind: kindDecimal, precision: p, scale: s}
}

// unsupportedTypeError says a column has no Parquet mapping, and how to get past it.
type unsupportedTypeError struct {
	table, column, typ string
}

func (e *unsupportedTypeError) Error() string {
	return fmt.Sprintf("table %s: column %q has type %s, which has no Parquet mapping; "+
		"add %q to the table's Exclude list (or Hash it) to extract the rest of the table",
		e.table, e.column, e.typ, e.column)
}

// node is the Parquet schema node of a mapping; every column is OPTIONAL.
func (m mapping) node() parquet.Node {
	var n parquet.Node
	switch m.kind {
	case kindInt32:
		n = parquet.Leaf(parquet.Int32Type)
	case kindInt64, kindBitInt:
		n = parquet.Leaf(parquet.Int64Type)
	case kindBool, kindBitBool:
		n = parquet.Leaf(parquet.BooleanType)
	case kindDecimal:
		n = decimalNode(m.precision, m.scale)
	case kindUnsignedBigint, kindBitUnsigned:
		n = decimalNode(20, 0)
	case kindFloat:
		n = parquet.Leaf(parquet.FloatType)
	case kindDouble:
		n = parquet.Leaf(parquet.DoubleType)
	case kindString, kindHash:
		n = parquet.String()
	case kindBytes:
		n = parquet.Leaf(parquet.ByteArrayType)
	case kindDate:
		n = parquet.Date()
	case kindTimestampUTC, kindTimestampLocal:
		n = parquet.Timestamp(parquet.Millisecond)
	default:
		panic(fmt.Sprintf("extract: no Parquet node for kind %d", m.kind))
	}
	return parquet.Optional(n)
}

// decimalNode follows the Parquet spec's physical types for DECIMAL: INT32 up to precision 9,
// INT64 up to 18, and the shortest FIXED_LEN_BYTE_ARRAY beyond.
func decimalNode(p, s int) parquet.Node {
	switch {
	case p <= 9:
		return parquet.Decimal(s, p, parquet.Int32Type)
	case p <= 18:
		return parquet.Decimal(s, p, parquet.Int64Type)
	default:
		return parquet.Decimal(s, p, parquet.FixedLenByteArrayType(decimalBytes[p]))
	}
}

// decimalBytes[p] is the smallest two's-complement width that holds every p-digit number.
var decimalBytes = func() [maxDecimalPrecision + 1]int {
	var out [maxDecimalPrecision + 1]int
	ten := big.NewInt(10)
	for p := 1; p <= maxDecimalPrecision; p++ {
		limit := new(big.Int).Exp(ten, big.NewInt(int64(p)), nil) // 10^p: the largest |value| + 1
		n := 1
		for new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(limit) < 0 {
			n++
		}
		out[p] = n
	}
	return out
}()

// orderedGroup is a Parquet group whose columns keep the table's order. parquet.Group is a map
// and sorts its fields by name, which would scramble the columns that the crawler and readers see.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string { return f.name }

// Value is used only when writing Go structs, which the extractor never does.
func (f *orderedField) Value(base reflect.Value) reflect.Value {
	return base.FieldByName(f.name)
}

func (g *orderedGroup) Fields() []parquet.Field { return g.fields }

// schemaOf builds the file schema: one optional column per output column, in table order.
func schemaOf(name string, cols []outColumn) *parquet.Schema {
	g := &orderedGroup{Group: parquet.Group{}}
	for _, c := range cols {
		n := c.mapping.node()
		g.Group[c.name] = n
		g.fields = append(g.fields, &orderedField{Node: n, name: c.name})
	}
	return parquet.NewSchema(name, g)
}

// columnList renders column names for messages, sorted.
func columnList(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	sort.Strings(names)
	if len(names) > 30 {
		names = append(names[:30], "...")
	}
	return strings.Join(names, ", ")
}
