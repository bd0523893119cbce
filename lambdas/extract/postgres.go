package extract

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDB is one PostgreSQL session inside a REPEATABLE READ, READ ONLY transaction.
type postgresDB struct {
	conn *pgx.Conn
	tx   pgx.Tx
}

// openPostgres connects over verified TLS and begins a read-only repeatable-read transaction:
// every query of the run sees the same snapshot.
func openPostgres(ctx context.Context, c dbCredentials, database string, roots *x509.CertPool) (*postgresDB, error) {
	mode := "sslmode=verify-full"
	if roots == nil { // only for a loopback host with Config.PlaintextLoopback (connect)
		mode = "sslmode=disable"
	}
	cfg, err := pgx.ParseConfig(mode)
	if err != nil {
		return nil, err
	}
	cfg.Host = c.Host
	cfg.Port = uint16(c.Port)
	cfg.User = c.Username
	cfg.Password = c.Password
	cfg.Database = database
	if roots != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: roots, ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	cfg.Fallbacks = nil
	cfg.RuntimeParams["application_name"] = "kpilake-extract"
	// Text renderings of timestamptz (hashed columns) must not depend on the role's settings.
	cfg.RuntimeParams["timezone"] = "UTC"
	cfg.RuntimeParams["datestyle"] = "ISO, YMD"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY: %w", err)
	}
	return &postgresDB{conn: conn, tx: tx}, nil
}

func (p *postgresDB) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.tx.Rollback(ctx)
	_ = p.conn.Close(ctx)
}

// columns reads the table's columns in the connection's current schema (normally public).
// information_schema reports enums and extension types as USER-DEFINED; pg_type tells them apart.
func (p *postgresDB) columns(ctx context.Context, table string) ([]Column, error) {
	rows, err := p.tx.Query(ctx, `SELECT c.column_name::text, c.data_type::text, c.udt_name::text,
			c.numeric_precision::int, c.numeric_scale::int, c.character_maximum_length::int,
			COALESCE(t.typtype = 'e', false)
		FROM information_schema.columns c
		LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = c.udt_schema
		LEFT JOIN pg_catalog.pg_type t ON t.typname = c.udt_name AND t.typnamespace = n.oid
		WHERE c.table_schema = current_schema() AND c.table_name = $1
		ORDER BY c.ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("read information_schema.columns: %w", err)
	}
	defer rows.Close()
	var cols []Column
	for rows.Next() {
		var c Column
		var udt string
		var prec, scale, length *int32
		if err := rows.Scan(&c.Name, &c.DataType, &udt, &prec, &scale, &length, &c.Enum); err != nil {
			return nil, err
		}
		c.ColumnType = c.DataType
		if c.DataType == "USER-DEFINED" || c.DataType == "ARRAY" {
			c.ColumnType = udt
			c.DataType = strings.ToLower(udt)
		}
		switch {
		case prec != nil:
			c.Precision, c.HasPrecision = int(*prec), true
			if scale != nil {
				c.Scale = int(*scale)
			}
			if c.DataType == "numeric" {
				c.ColumnType = fmt.Sprintf("numeric(%d,%d)", c.Precision, c.Scale)
			}
		case length != nil:
			// bit(n) and character(n) report their length here.
			c.Precision, c.HasPrecision = int(*length), true
			c.ColumnType = fmt.Sprintf("%s(%d)", c.DataType, c.Precision)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func (p *postgresDB) mapColumn(c Column) (mapping, bool) {
	if c.Enum {
		return mapping{kind: kindString}, true
	}
	switch c.DataType {
	case "smallint", "integer":
		return mapping{kind: kindInt32}, true
	case "bigint":
		return mapping{kind: kindInt64}, true
	case "boolean":
		return mapping{kind: kindBool}, true
	case "bit":
		if c.Precision == 1 {
			return mapping{kind: kindBool}, true
		}
	case "numeric":
		if !c.HasPrecision {
			// Unconstrained numeric holds any precision and scale: keep its exact text.
			return mapping{kind: kindString}, true
		}
		return decimalMapping(c.Precision, c.Scale), true
	case "real":
		return mapping{kind: kindFloat}, true
	case "double precision":
		return mapping{kind: kindDouble}, true
	case "character varying", "character", "text", "name", "citext", "uuid", "json", "jsonb",
		"xml", "inet", "cidr", "macaddr", "macaddr8",
		"time without time zone", "time with time zone":
		return mapping{kind: kindString}, true
	case "bytea":
		return mapping{kind: kindBytes}, true
	case "date":
		return mapping{kind: kindDate}, true
	case "timestamp without time zone":
		return mapping{kind: kindTimestampLocal}, true
	case "timestamp with time zone":
		return mapping{kind: kindTimestampUTC}, true
	}
	return mapping{}, false
}

func (p *postgresDB) quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// selectExpr casts everything that pgx would not decode to a plain Go value to text: numerics
// (exact), enums, extension types, JSON, times, bits. Hashed columns hash their text, bytea its
// bytes. (Domains need no cast: the server describes their values with the base type.)
func (p *postgresDB) selectExpr(c Column, m mapping) string {
	q := p.quote(c.Name)
	switch {
	case m.kind == kindHash && c.DataType == "bytea":
		return q
	case m.kind == kindHash, m.kind == kindString, m.kind == kindDecimal, c.DataType == "bit":
		return q + "::text"
	}
	return q
}

func (p *postgresDB) query(table string, selects []string, filter string) string {
	q := "SELECT " + strings.Join(selects, ", ") + " FROM " + p.quote(table)
	if filter != "" {
		q += " WHERE " + filter
	}
	return q
}

// sinceFilter selects the rows at or after start: timestamptz compares instants; timestamp
// compares wall clocks in the zone the database stores them in.
func (p *postgresDB) sinceFilter(c Column, start time.Time, stored *time.Location) (string, []any, error) {
	q := p.quote(c.Name)
	switch c.DataType {
	case "timestamp with time zone":
		const layout = "2006-01-02 15:04:05.000000Z07:00"
		return q + " >= $1::timestamptz", []any{start.UTC().Format(layout)}, nil
	case "timestamp without time zone":
		const layout = "2006-01-02 15:04:05.000000"
		return q + " >= $1::timestamp", []any{start.In(stored).Format(layout)}, nil
	}
	return "", nil, fmt.Errorf("has type %s; use a timestamp or timestamptz column", c.ColumnType)
}

// stream reads rows through pgx's row iterator, which reads the result as the server sends it.
func (p *postgresDB) stream(ctx context.Context, query string, args []any, fn func([]any) error) error {
	// Cancelling the query stops the server; without it, an early return would first read the
	// rest of the result.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := p.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err == nil {
			err = fn(vals)
		}
		if err != nil {
			cancel()
			rows.Close()
			return err
		}
	}
	rows.Close()
	return rows.Err()
}
