package extract

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlDB is one read-only MySQL session inside a consistent-snapshot transaction.
type mysqlDB struct {
	db       *sql.DB
	conn     *sql.Conn
	database string
}

// openMySQL connects over verified TLS and starts a read-only consistent-snapshot transaction.
// The session's time zone is UTC, so TIMESTAMP values arrive (and compare) in UTC.
func openMySQL(ctx context.Context, c dbCredentials, database string, roots *x509.CertPool, log *slog.Logger) (*mysqlDB, error) {
	cfg := mysql.NewConfig()
	cfg.User = c.Username
	cfg.Passwd = c.Password
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	cfg.DBName = database
	if roots != nil { // nil only for a loopback host with Config.PlaintextLoopback (connect)
		cfg.TLS = &tls.Config{RootCAs: roots, ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	cfg.Loc = time.UTC
	cfg.ParseTime = false // DATETIME text is interpreted in StoredTimeZone by the converters
	cfg.Logger = mysqlLogger{log}
	// Streaming pauses while S3 parts upload; give the server time before it drops the client.
	cfg.Params = map[string]string{"time_zone": "'+00:00'", "net_write_timeout": "600"}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	m := &mysqlDB{db: db, conn: conn, database: database}
	for _, stmt := range []string{
		"SET SESSION TRANSACTION READ ONLY",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			m.close()
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return m, nil
}

func (m *mysqlDB) close() {
	// ROLLBACK ends the read-only transaction; closing the connection would too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = m.conn.ExecContext(ctx, "ROLLBACK")
	m.conn.Close()
	m.db.Close()
}

func (m *mysqlDB) columns(ctx context.Context, table string) ([]Column, error) {
	rows, err := m.conn.QueryContext(ctx, `SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE,
		NUMERIC_PRECISION, NUMERIC_SCALE
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, m.database, table)
	if err != nil {
		return nil, fmt.Errorf("read information_schema.COLUMNS: %w", err)
	}
	defer rows.Close()
	var cols []Column
	for rows.Next() {
		var c Column
		var prec, scale sql.NullInt64
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &prec, &scale); err != nil {
			return nil, err
		}
		c.Precision, c.Scale, c.HasPrecision = int(prec.Int64), int(scale.Int64), prec.Valid
		c.Unsigned = strings.Contains(strings.ToLower(c.ColumnType), "unsigned")
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func (m *mysqlDB) mapColumn(c Column) (mapping, bool) { return mysqlMapping(c) }

// mysqlMapping is the MySQL type mapping (doc.go, "Type mapping").
func mysqlMapping(c Column) (mapping, bool) {
	switch c.DataType {
	case "tinyint":
		if strings.HasPrefix(strings.ToLower(c.ColumnType), "tinyint(1)") {
			return mapping{kind: kindBool}, true
		}
		return mapping{kind: kindInt32}, true
	case "smallint", "mediumint", "year":
		return mapping{kind: kindInt32}, true
	case "int", "integer":
		if c.Unsigned {
			return mapping{kind: kindInt64}, true
		}
		return mapping{kind: kindInt32}, true
	case "bigint":
		if c.Unsigned {
			return mapping{kind: kindUnsignedBigint}, true
		}
		return mapping{kind: kindInt64}, true
	case "bool", "boolean":
		return mapping{kind: kindBool}, true
	case "bit":
		switch {
		case c.Precision <= 1:
			return mapping{kind: kindBitBool}, true
		case c.Precision < 64:
			return mapping{kind: kindBitInt}, true
		default:
			return mapping{kind: kindBitUnsigned}, true
		}
	case "decimal", "numeric", "dec", "fixed":
		return decimalMapping(c.Precision, c.Scale), true
	case "float":
		return mapping{kind: kindFloat}, true
	case "double", "real", "double precision":
		return mapping{kind: kindDouble}, true
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set",
		"json", "uuid", "inet4", "inet6", "time":
		return mapping{kind: kindString}, true
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return mapping{kind: kindBytes}, true
	case "date":
		return mapping{kind: kindDate}, true
	case "datetime":
		return mapping{kind: kindTimestampLocal}, true
	case "timestamp":
		return mapping{kind: kindTimestampUTC}, true
	}
	return mapping{}, false
}

func (m *mysqlDB) quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func (m *mysqlDB) selectExpr(c Column, mp mapping) string {
	q := m.quote(c.Name)
	if mp.kind == kindHash && !isMySQLBinary(c.DataType) {
		// The hash covers the value's text, as the server renders it.
		return "CAST(" + q + " AS CHAR)"
	}
	return q
}

func isMySQLBinary(dataType string) bool {
	switch dataType {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return true
	}
	return false
}

func (m *mysqlDB) query(table string, selects []string, filter string) string {
	q := "SELECT " + strings.Join(selects, ", ") + " FROM " + m.quote(m.database) + "." + m.quote(table)
	if filter != "" {
		q += " WHERE " + filter
	}
	return q
}

// sinceFilter selects the rows at or after start. The bound is rendered by Go from a validated
// day, so the query needs no parameters.
func (m *mysqlDB) sinceFilter(c Column, start time.Time, stored *time.Location) (string, []any, error) {
	loc, err := mysqlSinceZone(c, stored)
	if err != nil {
		return "", nil, err
	}
	const layout = "2006-01-02 15:04:05.000000"
	return fmt.Sprintf("%s >= '%s'", m.quote(c.Name), start.In(loc).Format(layout)), nil, nil
}

// mysqlSinceZone is the zone in which an incremental table's TimestampColumn compares: UTC for
// TIMESTAMP (the session's zone), stored for DATETIME (wall clocks).
func mysqlSinceZone(c Column, stored *time.Location) (*time.Location, error) {
	switch c.DataType {
	case "timestamp":
		return time.UTC, nil
	case "datetime":
		return stored, nil
	}
	return nil, fmt.Errorf("has type %s; use a DATETIME or TIMESTAMP column", c.ColumnType)
}

// stream runs the query as a prepared statement on the driver connection itself. The binary
// protocol carries FLOAT and DOUBLE as IEEE values (the text protocol prints FLOAT with six
// digits, which loses precision); rows still stream, as the driver reads them off the socket.
// The values passed to fn sit in the driver's read buffer and are valid only during the call.
func (m *mysqlDB) stream(ctx context.Context, query string, args []any, fn func([]any) error) error {
	if len(args) > 0 {
		return errors.New("extract: MySQL queries take no parameters")
	}
	// Cancelling the query closes the connection; without it, an early return would first read
	// the rest of the result.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return m.conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("extract: the MySQL driver does not implement ConnPrepareContext")
		}
		stmt, err := pc.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer stmt.Close()
		sq, ok := stmt.(driver.StmtQueryContext)
		if !ok {
			return errors.New("extract: the MySQL driver does not implement StmtQueryContext")
		}
		rows, err := sq.QueryContext(ctx, nil)
		if err != nil {
			return err
		}
		dest := make([]driver.Value, len(rows.Columns()))
		vals := make([]any, len(dest))
		for {
			err := rows.Next(dest)
			if err == nil {
				for i, v := range dest {
					vals[i] = v
				}
				err = fn(vals)
			} else if err == io.EOF {
				return errors.Join(rows.Close(), ctx.Err())
			}
			if err != nil {
				cancel()
				rows.Close()
				return err
			}
		}
	})
}

// mysqlLogger sends the driver's own complaints (such as a connection dropped mid-read) to slog.
type mysqlLogger struct{ log *slog.Logger }

func (l mysqlLogger) Print(v ...any) {
	l.log.Warn("mysql driver", "msg", fmt.Sprint(v...))
}
