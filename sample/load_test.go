package sample_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/sample"
)

// dayCmp compares layout.Day values by their date.
var dayCmp = cmp.Comparer(func(a, b layout.Day) bool { return a.String() == b.String() })

func TestLoad_RoundTripsEveryRowByteExact(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	forEachEngine(t, func(t *testing.T, engine string, db *sql.DB) {
		ctx := context.Background()
		if err := sample.Load(ctx, db, engine, ds); err != nil {
			t.Fatal(err)
		}
		got := readBack(t, db)
		for _, c := range []struct {
			table     string
			got, want any
		}{
			{sample.TableDepartments, got.Departments, ds.Departments},
			{sample.TableUsers, got.Users, ds.Users},
			{sample.TablePosts, got.Posts, ds.Posts},
			{sample.TableComments, got.Comments, ds.Comments},
			{sample.TableReactions, got.Reactions, ds.Reactions},
		} {
			if diff := cmp.Diff(c.want, c.got, dayCmp); diff != "" {
				t.Errorf("%s read back differs (-generated +database):\n%s", c.table, diff)
			}
		}
		// The edge-case post is in the database byte for byte, four-byte characters included.
		var body []byte
		if err := db.QueryRowContext(ctx, "SELECT body FROM posts WHERE body LIKE '文字化け%'").Scan(&body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "𠮷") || !strings.Contains(string(body), "\r\n") || !strings.Contains(string(body), "か\u3099") {
			t.Errorf("edge-case body lost characters: %q", body)
		}
	})
}

func TestLoad_StoresTimestampsAsUTCMilliseconds(t *testing.T) {
	ds := sample.Generate(sample.Config{Days: 2})
	forEachEngine(t, func(t *testing.T, engine string, db *sql.DB) {
		ctx := context.Background()
		if err := sample.Load(ctx, db, engine, ds); err != nil {
			t.Fatal(err)
		}
		// Post 1 is the first day's midnight post: 2025-04-28 00:00:00.000 in Tokyo.
		q := "SELECT CAST(created_at AS CHAR) FROM posts WHERE id = 1"
		if engine == sample.PostgreSQL {
			q = "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') FROM posts WHERE id = 1"
		}
		var got string
		if err := db.QueryRowContext(ctx, q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "2025-04-27 15:00:00.000"; got != want {
			t.Errorf("posts.created_at of post 1 = %q, want %q (UTC, milliseconds)", got, want)
		}
	})
}

func TestLoad_SQLOverTheTablesMatchesExpectedAggregates(t *testing.T) {
	ds := sample.Generate(sample.Config{Seed: 7})
	forEachEngine(t, func(t *testing.T, engine string, db *sql.DB) {
		ctx := context.Background()
		if err := sample.Load(ctx, db, engine, ds); err != nil {
			t.Fatal(err)
		}
		counts := ds.Counts()
		for _, table := range sample.Tables() {
			var rows, deleted int
			q := fmt.Sprintf("SELECT count(*), count(deleted_at) FROM %s", table)
			if err := db.QueryRowContext(ctx, q).Scan(&rows, &deleted); err != nil {
				t.Fatal(err)
			}
			if got, want := (sample.TableCount{Rows: rows, SoftDeleted: deleted}), counts[table]; got != want {
				t.Errorf("%s: %+v rows in the database, want %+v", table, got, want)
			}
			if deleted == 0 {
				t.Errorf("%s has no soft-deleted row", table)
			}
		}
		for _, q := range []string{
			"SELECT count(*) FROM reactions r LEFT JOIN posts p ON p.id = r.post_id WHERE p.id IS NULL",
			"SELECT count(*) FROM comments c LEFT JOIN posts p ON p.id = c.post_id WHERE p.id IS NULL",
			"SELECT count(*) FROM posts p LEFT JOIN users u ON u.id = p.user_id WHERE u.id IS NULL",
		} {
			var orphans int
			if err := db.QueryRowContext(ctx, q).Scan(&orphans); err != nil {
				t.Fatal(err)
			}
			if orphans != 0 {
				t.Errorf("%d orphans: %s", orphans, q)
			}
		}
		for _, d := range ds.Days() {
			start, end := ds.DayBounds(d)
			args := []any{start, end}
			if engine == sample.MySQL {
				args = []any{start.Format("2006-01-02 15:04:05.000"), end.Format("2006-01-02 15:04:05.000")}
			}
			ph := func(q string) string { // PostgreSQL placeholders
				if engine == sample.PostgreSQL {
					q = strings.Replace(strings.Replace(q, "?", "$1", 1), "?", "$2", 1)
				}
				return q
			}
			posts := queryCounts(t, db, ph(`SELECT u.department_id, count(*) FROM posts p JOIN users u ON u.id = p.user_id
				WHERE p.deleted_at IS NULL AND p.created_at >= ? AND p.created_at < ? GROUP BY u.department_id`), args...)
			if diff := cmp.Diff(ds.PostsByDepartment(d), posts); diff != "" {
				t.Errorf("%s: posts by department (-expected +SQL):\n%s", d, diff)
			}
			reactions := queryCounts(t, db, ph(`SELECT u.department_id, count(*) FROM reactions r
				JOIN posts p ON p.id = r.post_id JOIN users u ON u.id = r.user_id
				WHERE r.deleted_at IS NULL AND p.deleted_at IS NULL AND r.created_at >= ? AND r.created_at < ?
				GROUP BY u.department_id`), args...)
			if diff := cmp.Diff(ds.ReactionsByDepartment(d), reactions); diff != "" {
				t.Errorf("%s: reactions by department (-expected +SQL):\n%s", d, diff)
			}
			comments := queryCounts(t, db, ph(`SELECT u.department_id, count(*) FROM comments c
				JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = c.user_id
				WHERE c.deleted_at IS NULL AND p.deleted_at IS NULL AND c.created_at >= ? AND c.created_at < ?
				GROUP BY u.department_id`), args...)
			if diff := cmp.Diff(ds.CommentsByDepartment(d), comments); diff != "" {
				t.Errorf("%s: comments by department (-expected +SQL):\n%s", d, diff)
			}
			received := queryCounts(t, db, ph(`SELECT p.user_id, count(*) FROM reactions r JOIN posts p ON p.id = r.post_id
				WHERE r.deleted_at IS NULL AND p.deleted_at IS NULL AND r.created_at >= ? AND r.created_at < ?
				GROUP BY p.user_id`), args...)
			want := map[int64]int{}
			for u, gr := range ds.ReactionsGivenReceived(d) {
				if gr.Received > 0 {
					want[u] = gr.Received
				}
			}
			if diff := cmp.Diff(want, received); diff != "" {
				t.Errorf("%s: reactions received by user (-expected +SQL):\n%s", d, diff)
			}
			for _, table := range sample.Tables() {
				var n int
				if err := db.QueryRowContext(ctx, ph("SELECT count(*) FROM "+table+" WHERE updated_at >= ? AND updated_at < ?"), args...).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if want := ds.RowsUpdatedOn(d)[table]; n != want {
					t.Errorf("%s: %d %s rows updated in SQL, want %d", d, n, table, want)
				}
			}
		}
	})
}

func TestLoad_ExplainsExistingTablesAndReloadsAfterDrop(t *testing.T) {
	ds := sample.Generate(sample.Config{Days: 2, Users: 10})
	forEachEngine(t, func(t *testing.T, engine string, db *sql.DB) {
		ctx := context.Background()
		if err := sample.Load(ctx, db, engine, ds); err != nil {
			t.Fatal(err)
		}
		err := sample.Load(ctx, db, engine, ds)
		if err == nil || !strings.Contains(err.Error(), "drop them first") {
			t.Fatalf("second Load: err = %v, want one that says to drop the tables first", err)
		}
		if err := sample.Drop(ctx, db, engine); err != nil {
			t.Fatal(err)
		}
		if err := sample.Load(ctx, db, engine, ds); err != nil {
			t.Fatalf("Load after Drop: %v", err)
		}
		// Identities continue after the loaded ids.
		q := "INSERT INTO departments (name, created_at, updated_at) VALUES ('新設部', '2025-05-01 00:00:00', '2025-05-01 00:00:00')"
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("insert without an id after Load: %v", err)
		}
	})
}

func TestLoad_RejectsUnknownEngine(t *testing.T) {
	err := sample.Load(context.Background(), nil, "oracle", &sample.Dataset{})
	if err == nil || !strings.Contains(err.Error(), `"mysql"`) || !strings.Contains(err.Error(), `"postgresql"`) {
		t.Errorf("err = %v, want one naming the supported engines", err)
	}
}

// TestLoad_InsertsAHundredThousandRows loads a dataset of 100k rows into both engines and logs how
// long it took. It asserts no time (speed is a benchmark's to measure): on a loaded machine the
// 20-second bound it had failed for no fault of Load's.
func TestLoad_InsertsAHundredThousandRows(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100k rows")
	}
	ds := sample.Generate(sample.Config{Users: 3000, PostsPerDay: 4000})
	rows := 0
	for _, c := range ds.Counts() {
		rows += c.Rows
	}
	if rows < 100_000 {
		t.Fatalf("dataset has %d rows, want at least 100,000", rows)
	}
	forEachEngine(t, func(t *testing.T, engine string, db *sql.DB) {
		start := time.Now()
		if err := sample.Load(context.Background(), db, engine, ds); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d rows in %s", engine, rows, time.Since(start).Round(time.Millisecond))
	})
}

func queryCounts(t *testing.T, db *sql.DB, q string, args ...any) map[int64]int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var k int64
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readBack reads every sample table, ordered by id.
func readBack(t *testing.T, db *sql.DB) *sample.Dataset {
	t.Helper()
	ds := &sample.Dataset{}
	each := func(q string, scan func(rows *sql.Rows) error) {
		rows, err := db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	each("SELECT id, name, parent_id, created_at, updated_at, deleted_at FROM departments ORDER BY id", func(rows *sql.Rows) error {
		var d sample.Department
		var parent sql.NullInt64
		var deleted sql.NullTime
		if err := rows.Scan(&d.ID, &d.Name, &parent, &d.CreatedAt, &d.UpdatedAt, &deleted); err != nil {
			return err
		}
		if parent.Valid {
			d.ParentID = &parent.Int64
		}
		d.DeletedAt = nullTime(deleted)
		ds.Departments = append(ds.Departments, d)
		return nil
	})
	each("SELECT id, department_id, employee_code, display_name, email, role, joined_on, created_at, updated_at, deleted_at FROM users ORDER BY id", func(rows *sql.Rows) error {
		var u sample.User
		var role string
		var joined time.Time
		var deleted sql.NullTime
		if err := rows.Scan(&u.ID, &u.DepartmentID, &u.EmployeeCode, &u.DisplayName, &u.Email, &role, &joined, &u.CreatedAt, &u.UpdatedAt, &deleted); err != nil {
			return err
		}
		u.Role = sample.Role(role)
		u.JoinedOn = layout.DayOf(joined, time.UTC)
		u.DeletedAt = nullTime(deleted)
		ds.Users = append(ds.Users, u)
		return nil
	})
	each("SELECT id, user_id, body, visibility, created_at, updated_at, deleted_at FROM posts ORDER BY id", func(rows *sql.Rows) error {
		var p sample.Post
		var vis string
		var deleted sql.NullTime
		if err := rows.Scan(&p.ID, &p.UserID, &p.Body, &vis, &p.CreatedAt, &p.UpdatedAt, &deleted); err != nil {
			return err
		}
		p.Visibility = sample.Visibility(vis)
		p.DeletedAt = nullTime(deleted)
		ds.Posts = append(ds.Posts, p)
		return nil
	})
	each("SELECT id, post_id, user_id, body, created_at, updated_at, deleted_at FROM comments ORDER BY id", func(rows *sql.Rows) error {
		var c sample.Comment
		var deleted sql.NullTime
		if err := rows.Scan(&c.ID, &c.PostID, &c.UserID, &c.Body, &c.CreatedAt, &c.UpdatedAt, &deleted); err != nil {
			return err
		}
		c.DeletedAt = nullTime(deleted)
		ds.Comments = append(ds.Comments, c)
		return nil
	})
	each("SELECT id, post_id, user_id, kind, created_at, updated_at, deleted_at FROM reactions ORDER BY id", func(rows *sql.Rows) error {
		var r sample.Reaction
		var kind string
		var deleted sql.NullTime
		if err := rows.Scan(&r.ID, &r.PostID, &r.UserID, &kind, &r.CreatedAt, &r.UpdatedAt, &deleted); err != nil {
			return err
		}
		r.Kind = sample.ReactionKind(kind)
		r.DeletedAt = nullTime(deleted)
		ds.Reactions = append(ds.Reactions, r)
		return nil
	})
	return ds
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}
