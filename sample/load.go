package sample

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/kpilake/kpilake/layout"
)

var (
	//go:embed schema/mysql.sql
	mysqlSchema string
	//go:embed schema/postgresql.sql
	postgresqlSchema string
)

// Schema returns the DDL that creates the sample tables in engine (mysql or postgresql): the
// content of schema/mysql.sql or schema/postgresql.sql. Statements end with a semicolon at the end
// of a line.
func Schema(engine string) (string, error) {
	switch engine {
	case MySQL:
		return mysqlSchema, nil
	case PostgreSQL:
		return postgresqlSchema, nil
	}
	return "", fmt.Errorf("engine %q is not supported; use %q (MySQL, MariaDB) or %q", engine, MySQL, PostgreSQL)
}

// statements splits DDL (as Schema returns it) into single statements, without their semicolons,
// for drivers that run one statement per call.
func statements(ddl string) []string {
	var out []string
	for _, chunk := range strings.Split(ddl, ";\n") {
		var lines []string
		for _, l := range strings.Split(chunk, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		if s := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Load creates the sample schema in the database db is connected to and inserts ds in one
// transaction, with multi-row INSERTs of up to 1,000 rows. The database must not have the sample
// tables yet (Drop removes them). On PostgreSQL it then moves each table's identity past the
// loaded ids, so that later inserts without an id work. Timestamps are written as UTC whatever the
// connection's time zone settings.
//
// For MySQL, db is a github.com/go-sql-driver/mysql connection; for PostgreSQL, a
// github.com/jackc/pgx/v5/stdlib one.
func Load(ctx context.Context, db *sql.DB, engine string, ds *Dataset) error {
	ddl, err := Schema(engine)
	if err != nil {
		return err
	}
	for _, stmt := range statements(ddl) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create the sample schema (%s): %w; if the tables exist already, drop them first (sample.Drop, or seed -drop)",
				firstLine(stmt), err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	v := values{engine}
	tables := []batch{
		{TableDepartments, []string{"id", "name", "parent_id", "created_at", "updated_at", "deleted_at"}, len(ds.Departments),
			func(i int, a []any) []any {
				d := &ds.Departments[i]
				return append(a, d.ID, d.Name, nullInt(d.ParentID), v.ts(d.CreatedAt), v.ts(d.UpdatedAt), v.nts(d.DeletedAt))
			}},
		{TableUsers, []string{"id", "department_id", "employee_code", "display_name", "email", "role:user_role", "joined_on", "created_at", "updated_at", "deleted_at"}, len(ds.Users),
			func(i int, a []any) []any {
				u := &ds.Users[i]
				return append(a, u.ID, u.DepartmentID, u.EmployeeCode, u.DisplayName, u.Email, string(u.Role), v.date(u.JoinedOn),
					v.ts(u.CreatedAt), v.ts(u.UpdatedAt), v.nts(u.DeletedAt))
			}},
		{TablePosts, []string{"id", "user_id", "body", "visibility:post_visibility", "created_at", "updated_at", "deleted_at"}, len(ds.Posts),
			func(i int, a []any) []any {
				p := &ds.Posts[i]
				return append(a, p.ID, p.UserID, p.Body, string(p.Visibility), v.ts(p.CreatedAt), v.ts(p.UpdatedAt), v.nts(p.DeletedAt))
			}},
		{TableComments, []string{"id", "post_id", "user_id", "body", "created_at", "updated_at", "deleted_at"}, len(ds.Comments),
			func(i int, a []any) []any {
				c := &ds.Comments[i]
				return append(a, c.ID, c.PostID, c.UserID, c.Body, v.ts(c.CreatedAt), v.ts(c.UpdatedAt), v.nts(c.DeletedAt))
			}},
		{TableReactions, []string{"id", "post_id", "user_id", "kind:reaction_kind", "created_at", "updated_at", "deleted_at"}, len(ds.Reactions),
			func(i int, a []any) []any {
				r := &ds.Reactions[i]
				return append(a, r.ID, r.PostID, r.UserID, string(r.Kind), v.ts(r.CreatedAt), v.ts(r.UpdatedAt), v.nts(r.DeletedAt))
			}},
	}
	for _, t := range tables {
		if err := t.insert(ctx, tx, engine); err != nil {
			return err
		}
	}
	if engine == PostgreSQL {
		for _, t := range Tables() {
			q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), COALESCE((SELECT max(id) FROM %[1]s), 0) + 1, false)", t)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("reset the id sequence of %s: %w", t, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit the sample rows: %w", err)
	}
	return nil
}

// Drop removes the sample tables (and, on PostgreSQL, their enum types) if they exist.
func Drop(ctx context.Context, db *sql.DB, engine string) error {
	if _, err := Schema(engine); err != nil {
		return err
	}
	stmts := []string{"DROP TABLE IF EXISTS reactions, comments, posts, users, departments"}
	if engine == PostgreSQL {
		stmts = append(stmts, "DROP TYPE IF EXISTS reaction_kind, post_visibility, user_role")
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("drop the sample schema (%s): %w", s, err)
		}
	}
	return nil
}

// maxBatchRows bounds a multi-row INSERT; both engines also cap a statement at 65,535 parameters.
const maxBatchRows = 1000

// batch inserts the n rows of one table; row appends the values of row i to a. A column written
// "name:type" is an enum column of that PostgreSQL type.
type batch struct {
	table string
	cols  []string
	n     int
	row   func(i int, a []any) []any
}

func (b batch) insert(ctx context.Context, tx *sql.Tx, engine string) error {
	per := min(maxBatchRows, 65535/len(b.cols))
	var full string // the statement for a full batch, built once
	args := make([]any, 0, per*len(b.cols))
	for lo := 0; lo < b.n; lo += per {
		hi := min(b.n, lo+per)
		q := full
		if q == "" || hi-lo != per {
			q = insertSQL(engine, b.table, b.cols, hi-lo)
			if hi-lo == per {
				full = q
			}
		}
		args = args[:0]
		for i := lo; i < hi; i++ {
			args = b.row(i, args)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert %s rows %d to %d of %d: %w", b.table, lo+1, hi, b.n, err)
		}
	}
	return nil
}

// insertSQL is INSERT INTO table (cols) VALUES (...), ... for rows rows, with the engine's
// placeholders. PostgreSQL enum values are sent as text and cast by name
// ($1::text::user_role), so that a prepared statement never pins an enum type's oid: after Drop
// and Load recreate the types, pgx's cached statements would otherwise point at dropped types.
func insertSQL(engine, table string, cols []string, rows int) string {
	names := make([]string, len(cols))
	casts := make([]string, len(cols))
	for i, c := range cols {
		name, typ, enum := strings.Cut(c, ":")
		names[i] = name
		if enum {
			casts[i] = "::text::" + typ
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES ", table, strings.Join(names, ", "))
	n := 0
	for r := range rows {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			n++
			if engine == PostgreSQL {
				fmt.Fprintf(&sb, "$%d%s", n, casts[c])
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// values converts Go values into the parameters each driver stores faithfully. MySQL gets
// timestamps as UTC text, because the driver would otherwise convert a time.Time into the
// connection's loc setting before writing it into a zone-less DATETIME.
type values struct{ engine string }

const mysqlDateTime = "2006-01-02 15:04:05.000"

func (v values) ts(t time.Time) any {
	if v.engine == MySQL {
		return t.UTC().Format(mysqlDateTime)
	}
	return t.UTC()
}

func (v values) nts(t *time.Time) any {
	if t == nil {
		return nil
	}
	return v.ts(*t)
}

func (v values) date(d layout.Day) any {
	if v.engine == MySQL {
		return d.String()
	}
	return d.Start(time.UTC)
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(strings.TrimSuffix(line, "("))
}
