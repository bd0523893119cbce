// Package embedded is the sample source without a database server: the sample's MySQL database
// (sample/schema/mysql.sql) as an extract.RowSource, at one instant of the sample's period, so
// that a local run replays the sample day by day as the database looked at each extraction.
//
// It promises what a MariaDB extraction of the same data writes: the columns are described as
// MariaDB's information_schema describes the schema (so the extractor's MySQL type mapping
// applies), and values come in the MySQL driver's forms (BIGINT as int64, DATETIME(3) as
// "2006-01-02 15:04:05.000" text in UTC, DATE as "2006-01-02", text and ENUM as bytes). The
// Parquet is the same, row for row (TestEmbeddedAndMariaDB_WriteTheSameParquet in local/ingest).
// Rows come in id order; a database may return them in another order.
package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/sample"
)

// SourceName is the sample source's name in the lake (raw/social/...), as the dev environment
// in cdk.json names it.
const SourceName = "social"

// AccessLogStream is the Firehose stream that carries the sample's access logs, as the dev
// environment in cdk.json names it: raw/app_logs/web_access/.
const AccessLogStream = "web_access"

// ExtractionClock is when, after midnight of D+1 in the business zone, the daily extraction of
// day D runs: 01:30, the sample source's schedule in the dev environment (cron(30 1 * * ? *)).
const ExtractionClock = 90 * time.Minute

// ExtractionTime is the instant at which day D of ds is extracted: ExtractionClock after the
// next midnight in the business zone.
func ExtractionTime(ds *sample.Dataset, d layout.Day) time.Time {
	return d.AddDays(1).Start(ds.Config.Location).Add(ExtractionClock)
}

// Spec is the sample source as the environments configure it: personal data kept out
// (users.email excluded, users.employee_code hashed) and the activity tables incremental on
// updated_at. DATETIME values are stored in UTC.
func Spec(ds *sample.Dataset) extract.SourceSpec {
	return extract.SourceSpec{
		Name: SourceName, Engine: extract.MySQL, Database: SourceName,
		TimeZone: ds.Config.Location.String(), StoredTimeZone: "UTC",
		Tables: []extract.TableSpec{
			{Name: sample.TableDepartments, Mode: extract.Snapshot},
			{Name: sample.TableUsers, Mode: extract.Snapshot, Exclude: []string{"email"}, Hash: []string{"employee_code"}},
			{Name: sample.TablePosts, Mode: extract.Incremental, TimestampColumn: "updated_at"},
			{Name: sample.TableComments, Mode: extract.Incremental, TimestampColumn: "updated_at"},
			{Name: sample.TableReactions, Mode: extract.Incremental, TimestampColumn: "updated_at"},
		},
	}
}

// Source is the sample's database as it stood at one instant: an extract.RowSource.
type Source struct {
	ds *sample.Dataset
}

var _ extract.RowSource = (*Source)(nil)

// At is the database of ds as it stood at instant t (sample.Dataset.AsOf): a read-only
// transaction opened at t.
func At(ds *sample.Dataset, t time.Time) (*Source, error) {
	st, err := ds.AsOf(t)
	if err != nil {
		return nil, fmt.Errorf("embedded: the sample as of %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return &Source{ds: st}, nil
}

// columns of each table, as MariaDB 10.6+ reports them in information_schema.COLUMNS.
var (
	bigint   = extract.Column{DataType: "bigint", ColumnType: "bigint(20)", Precision: 19, HasPrecision: true}
	datetime = extract.Column{DataType: "datetime", ColumnType: "datetime(3)"}
	text     = extract.Column{DataType: "text", ColumnType: "text"}
	date     = extract.Column{DataType: "date", ColumnType: "date"}
)

func varchar(n int) extract.Column {
	return extract.Column{DataType: "varchar", ColumnType: fmt.Sprintf("varchar(%d)", n)}
}

func enum(def string) extract.Column {
	return extract.Column{DataType: "enum", ColumnType: "enum(" + def + ")"}
}

func named(name string, c extract.Column) extract.Column {
	c.Name = name
	return c
}

var tables = map[string][]extract.Column{
	sample.TableDepartments: {named("id", bigint), named("name", varchar(100)), named("parent_id", bigint),
		named("created_at", datetime), named("updated_at", datetime), named("deleted_at", datetime)},
	sample.TableUsers: {named("id", bigint), named("department_id", bigint), named("employee_code", varchar(16)),
		named("display_name", varchar(100)), named("email", varchar(255)), named("role", enum("'member','manager','admin'")),
		named("joined_on", date), named("created_at", datetime), named("updated_at", datetime), named("deleted_at", datetime)},
	sample.TablePosts: {named("id", bigint), named("user_id", bigint), named("body", text),
		named("visibility", enum("'public','department','private'")),
		named("created_at", datetime), named("updated_at", datetime), named("deleted_at", datetime)},
	sample.TableComments: {named("id", bigint), named("post_id", bigint), named("user_id", bigint), named("body", text),
		named("created_at", datetime), named("updated_at", datetime), named("deleted_at", datetime)},
	sample.TableReactions: {named("id", bigint), named("post_id", bigint), named("user_id", bigint),
		named("kind", enum("'like','thanks','celebrate','insightful'")),
		named("created_at", datetime), named("updated_at", datetime), named("deleted_at", datetime)},
}

// Columns describes a sample table; any other name has no columns (no such table).
func (s *Source) Columns(_ context.Context, table string) ([]extract.Column, error) {
	return tables[table], nil
}

// mysqlDateTime is how the MySQL driver returns a DATETIME(3): UTC wall clock, milliseconds.
const mysqlDateTime = "2006-01-02 15:04:05.000"

func ts(t time.Time) any { return []byte(t.UTC().Format(mysqlDateTime)) }

func nts(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func nint(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// rowsOf is one table's rows: how many, each one's updated_at (for the window), and each
// value by row and column name.
type rowsOf struct {
	n       int
	updated func(i int) time.Time
	value   func(i int, col string) any
}

// common are the columns that every sample table ends with.
func common(col string, created, updated time.Time, deleted *time.Time) any {
	switch col {
	case "created_at":
		return ts(created)
	case "updated_at":
		return ts(updated)
	case "deleted_at":
		return nts(deleted)
	}
	return nil
}

func (s *Source) rows(table string) rowsOf {
	ds := s.ds
	switch table {
	case sample.TableDepartments:
		return rowsOf{len(ds.Departments), func(i int) time.Time { return ds.Departments[i].UpdatedAt }, func(i int, col string) any {
			d := &ds.Departments[i]
			switch col {
			case "id":
				return d.ID
			case "name":
				return []byte(d.Name)
			case "parent_id":
				return nint(d.ParentID)
			}
			return common(col, d.CreatedAt, d.UpdatedAt, d.DeletedAt)
		}}
	case sample.TableUsers:
		return rowsOf{len(ds.Users), func(i int) time.Time { return ds.Users[i].UpdatedAt }, func(i int, col string) any {
			u := &ds.Users[i]
			switch col {
			case "id":
				return u.ID
			case "department_id":
				return u.DepartmentID
			case "employee_code":
				return []byte(u.EmployeeCode)
			case "display_name":
				return []byte(u.DisplayName)
			case "email":
				return []byte(u.Email)
			case "role":
				return []byte(u.Role)
			case "joined_on":
				return []byte(u.JoinedOn.String())
			}
			return common(col, u.CreatedAt, u.UpdatedAt, u.DeletedAt)
		}}
	case sample.TablePosts:
		return rowsOf{len(ds.Posts), func(i int) time.Time { return ds.Posts[i].UpdatedAt }, func(i int, col string) any {
			p := &ds.Posts[i]
			switch col {
			case "id":
				return p.ID
			case "user_id":
				return p.UserID
			case "body":
				return []byte(p.Body)
			case "visibility":
				return []byte(p.Visibility)
			}
			return common(col, p.CreatedAt, p.UpdatedAt, p.DeletedAt)
		}}
	case sample.TableComments:
		return rowsOf{len(ds.Comments), func(i int) time.Time { return ds.Comments[i].UpdatedAt }, func(i int, col string) any {
			c := &ds.Comments[i]
			switch col {
			case "id":
				return c.ID
			case "post_id":
				return c.PostID
			case "user_id":
				return c.UserID
			case "body":
				return []byte(c.Body)
			}
			return common(col, c.CreatedAt, c.UpdatedAt, c.DeletedAt)
		}}
	case sample.TableReactions:
		return rowsOf{len(ds.Reactions), func(i int) time.Time { return ds.Reactions[i].UpdatedAt }, func(i int, col string) any {
			r := &ds.Reactions[i]
			switch col {
			case "id":
				return r.ID
			case "post_id":
				return r.PostID
			case "user_id":
				return r.UserID
			case "kind":
				return []byte(r.Kind)
			}
			return common(col, r.CreatedAt, r.UpdatedAt, r.DeletedAt)
		}}
	}
	return rowsOf{}
}

// Rows streams the rows of q.Table that q selects, in id order. A hashed column's value is its
// text as MySQL's CAST(col AS CHAR) renders it: the sample's DATETIME(3), DATE, BIGINT and text
// values already are in that form.
func (s *Source) Rows(ctx context.Context, q extract.RowQuery, fn func([]any) error) error {
	cols, ok := tables[q.Table]
	if !ok {
		return fmt.Errorf("embedded: the sample has no table %q", q.Table)
	}
	known := map[string]extract.Column{}
	for _, c := range cols {
		known[c.Name] = c
	}
	for _, c := range q.Columns {
		if _, ok := known[c.Name]; !ok {
			return fmt.Errorf("embedded: table %s has no column %q", q.Table, c.Name)
		}
	}
	if q.Since != nil && q.Since.Column != "updated_at" {
		// Every sample table's last-changed column is updated_at; another one would need its
		// own comparison.
		return fmt.Errorf("embedded: table %s: an incremental window on %q is not supported; use updated_at", q.Table, q.Since.Column)
	}
	row := make([]any, len(q.Columns))
	rows := s.rows(q.Table)
	for i := range rows.n {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		// updated_at is a UTC wall clock (StoredTimeZone UTC): its wall clock is its instant's.
		if q.Since != nil && !q.Since.Keeps(rows.updated(i).UTC()) {
			continue
		}
		for j, c := range q.Columns {
			row[j] = rows.value(i, c.Name)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}
