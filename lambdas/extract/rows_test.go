package extract

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// memRows is a RowSource of one table held in memory, in the MySQL driver's value forms. It
// records the queries it is asked.
type memRows struct {
	cols    []Column
	rows    [][]any // by column of cols
	queries []RowQuery
}

func (m *memRows) Columns(_ context.Context, table string) ([]Column, error) {
	if table != "posts" {
		return nil, nil
	}
	return m.cols, nil
}

func (m *memRows) Rows(_ context.Context, q RowQuery, fn func([]any) error) error {
	m.queries = append(m.queries, q)
	idx := map[string]int{}
	for i, c := range m.cols {
		idx[c.Name] = i
	}
	for _, r := range m.rows {
		if q.Since != nil {
			v := r[idx[q.Since.Column]]
			if v == nil {
				continue
			}
			wall, err := time.Parse("2006-01-02 15:04:05.000", string(v.([]byte)))
			if err != nil {
				return err
			}
			if !q.Since.Keeps(wall) {
				continue
			}
		}
		out := make([]any, len(q.Columns))
		for i, c := range q.Columns {
			out[i] = r[idx[c.Name]]
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return nil
}

func postsRows() *memRows {
	return &memRows{
		cols: []Column{
			{Name: "id", DataType: "bigint", ColumnType: "bigint(20)", Precision: 19, HasPrecision: true},
			{Name: "author_email", DataType: "varchar", ColumnType: "varchar(255)"},
			{Name: "note", DataType: "text", ColumnType: "text"},
			{Name: "updated_at", DataType: "datetime", ColumnType: "datetime(3)"},
		},
		rows: [][]any{
			{int64(1), []byte("a@example.com"), []byte("before midnight"), []byte("2026-11-23 14:59:59.999")},
			{int64(2), []byte("b@example.com"), []byte("at midnight"), []byte("2026-11-23 15:00:00.000")},
			{int64(3), []byte("c@example.com"), nil, []byte("2026-11-24 16:00:00.000")},
			{int64(4), []byte("d@example.com"), []byte("never changed"), nil},
		},
	}
}

func TestNewWithRows_PlansAndWindowsLikeAMySQLSource(t *testing.T) {
	rows := postsRows()
	mem := newMemS3()
	mem.objects[earlierDayKey("social", "posts")] = nil // not the table's first day
	spec := SourceSpec{Name: "social", Engine: MySQL, TimeZone: "Asia/Tokyo", Tables: []TableSpec{{
		Name: "posts", Mode: Incremental, TimestampColumn: "updated_at", Exclude: []string{"note"}, Hash: []string{"author_email"},
	}}}
	e, err := NewWithRows(Config{Source: spec, Bucket: "raw", Salt: testSalt, Logger: discardLogger()}, rows, mem)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Handle(context.Background(), Request{Source: "social", Table: "posts", Date: "2026-11-24"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2 || res.Key != "social/posts/dt=2026-11-24/posts.parquet" {
		t.Errorf("result %+v; want the 2 rows from Tokyo's midnight (2026-11-23T15:00Z) on", res)
	}
	q := rows.queries[0]
	want := []QueryColumn{{Name: "id"}, {Name: "author_email", Hashed: true}, {Name: "updated_at"}}
	if diff := gocmp.Diff(want, q.Columns); diff != "" || q.Table != "posts" {
		t.Errorf("query of table %q (-want +got):\n%s", q.Table, diff)
	}
	if q.Since == nil || q.Since.Column != "updated_at" || !q.Since.Start.Equal(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("window %+v; want updated_at from 2026-11-23T15:00Z", q.Since)
	}
	f := readParquet(t, mem.objects[res.Key])
	wantRows := []map[string]any{
		{"id": int64(2), "author_email": HashValue(testSalt, []byte("b@example.com")), "updated_at": ts("2026-11-23T15:00:00Z")},
		{"id": int64(3), "author_email": HashValue(testSalt, []byte("c@example.com")), "updated_at": ts("2026-11-24T16:00:00Z")},
	}
	if diff := gocmp.Diff(wantRows, f.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestNewWithRows_ChecksTheSpecAgainstTheColumns(t *testing.T) {
	spec := SourceSpec{Name: "social", Engine: MySQL, TimeZone: "Asia/Tokyo", Tables: []TableSpec{
		{Name: "posts", Exclude: []string{"nope"}},
		{Name: "absent"},
	}}
	e, err := NewWithRows(Config{Source: spec, Bucket: "raw", Logger: discardLogger(), Now: dailyRunOfTestDay}, postsRows(), newMemS3())
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]string{"posts": `Exclude names column "nope"`, "absent": `has no table "absent"`} {
		_, err := e.Handle(context.Background(), Request{Source: "social", Table: table, Date: "2026-11-24"})
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want a bad request naming %s", table, err, want)
		}
	}
}

func TestNewWithRows_StandsOnlyForMySQL(t *testing.T) {
	spec := SourceSpec{Name: "social", Engine: PostgreSQL, TimeZone: "Asia/Tokyo", Tables: []TableSpec{{Name: "posts"}}}
	_, err := NewWithRows(Config{Source: spec, Bucket: "raw"}, postsRows(), newMemS3())
	if err == nil || !strings.Contains(err.Error(), "Source.Engine") {
		t.Fatalf("got %v, want an error naming Source.Engine", err)
	}
}

func TestConnect_PlaintextOnlyOnLoopback(t *testing.T) {
	spec := SourceSpec{Name: "social", Engine: MySQL, TimeZone: "Asia/Tokyo", Tables: []TableSpec{{Name: "posts"}}}
	if _, err := New(Config{Source: spec, Bucket: "raw", SecretID: "s"}, stubSecrets{}, newMemS3()); err == nil || !strings.Contains(err.Error(), "RootCAs") {
		t.Errorf("New without RootCAs: %v, want an error naming RootCAs", err)
	}
	for host, plaintext := range map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true, "db.example.com": false, "10.0.0.5": false} {
		e, err := New(Config{Source: spec, Bucket: "raw", SecretID: "s", PlaintextLoopback: true, Logger: discardLogger(), Now: dailyRunOfTestDay},
			stubSecrets{`{"username":"u","password":"p","host":"` + host + `","port":3306,"dbname":"social"}`}, newMemS3())
		if err != nil {
			t.Fatal(err)
		}
		opened := false
		e.open = func(context.Context, dbCredentials, string) (source, error) {
			opened = true
			return nil, errors.New("stop here")
		}
		_, err = e.Handle(context.Background(), Request{Source: "social", Table: "posts", Date: "2026-11-24"})
		if opened != plaintext {
			t.Errorf("host %s: connected %v, want %v (%v)", host, opened, plaintext, err)
		}
		if !plaintext && !errors.Is(err, ErrBadRequest) {
			t.Errorf("host %s: %v, want a bad request asking for TLS", host, err)
		}
	}
}
