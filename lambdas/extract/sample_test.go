package extract

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kpilake/kpilake/sample"
)

// The sample source as the environments configure it (cdk.json): personal data kept out
// (users.email excluded, users.employee_code hashed) and the activity tables incremental.
var (
	sampleSnapshot = []TableSpec{
		{Name: sample.TableDepartments},
		{Name: sample.TableUsers, Exclude: []string{"email"}, Hash: []string{"employee_code"}},
		{Name: sample.TablePosts},
		{Name: sample.TableComments},
		{Name: sample.TableReactions},
	}
	sampleIncremental = []TableSpec{
		{Name: sample.TablePosts, Mode: Incremental, TimestampColumn: "updated_at"},
		{Name: sample.TableComments, Mode: Incremental, TimestampColumn: "updated_at"},
		{Name: sample.TableReactions, Mode: Incremental, TimestampColumn: "updated_at"},
	}
)

// sampleColumns are the Parquet columns of each sample table, in table order: the same from
// both engines. users.email is excluded and users.employee_code is a hash.
var sampleColumns = map[string][]string{
	sample.TableDepartments: {"id: INT64 INT(64,true) optional", "name: BYTE_ARRAY STRING optional",
		"parent_id: INT64 INT(64,true) optional", tsColumn("created_at"), tsColumn("updated_at"), tsColumn("deleted_at")},
	sample.TableUsers: {"id: INT64 INT(64,true) optional", "department_id: INT64 INT(64,true) optional",
		"employee_code: BYTE_ARRAY STRING optional", "display_name: BYTE_ARRAY STRING optional",
		"role: BYTE_ARRAY STRING optional", "joined_on: INT32 DATE optional",
		tsColumn("created_at"), tsColumn("updated_at"), tsColumn("deleted_at")},
	sample.TablePosts: {"id: INT64 INT(64,true) optional", "user_id: INT64 INT(64,true) optional",
		"body: BYTE_ARRAY STRING optional", "visibility: BYTE_ARRAY STRING optional",
		tsColumn("created_at"), tsColumn("updated_at"), tsColumn("deleted_at")},
	sample.TableComments: {"id: INT64 INT(64,true) optional", "post_id: INT64 INT(64,true) optional",
		"user_id: INT64 INT(64,true) optional", "body: BYTE_ARRAY STRING optional",
		tsColumn("created_at"), tsColumn("updated_at"), tsColumn("deleted_at")},
	sample.TableReactions: {"id: INT64 INT(64,true) optional", "post_id: INT64 INT(64,true) optional",
		"user_id: INT64 INT(64,true) optional", "kind: BYTE_ARRAY STRING optional",
		tsColumn("created_at"), tsColumn("updated_at"), tsColumn("deleted_at")},
}

// tsColumn is a timestamp column: instants in UTC, to the millisecond.
func tsColumn(name string) string {
	return name + ": INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional"
}

// sampleRow is one expected row: what the Parquet object must hold, decoded as readParquet
// decodes it, and when the row last changed.
type sampleRow struct {
	values  map[string]any
	updated time.Time
	deleted bool
}

// sampleRows are the rows the dataset holds for each table, as the lake must store them: NULL
// where the dataset has none, soft-deleted rows kept with their deleted_at, timestamps as UTC
// instants, employee codes as their HMAC under the test salt, no email.
func sampleRows(ds *sample.Dataset) map[string][]sampleRow {
	nts := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return t.UTC()
	}
	nint := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	out := map[string][]sampleRow{}
	for _, d := range ds.Departments {
		out[sample.TableDepartments] = append(out[sample.TableDepartments], sampleRow{map[string]any{
			"id": d.ID, "name": d.Name, "parent_id": nint(d.ParentID),
			"created_at": d.CreatedAt.UTC(), "updated_at": d.UpdatedAt.UTC(), "deleted_at": nts(d.DeletedAt),
		}, d.UpdatedAt, d.DeletedAt != nil})
	}
	for _, u := range ds.Users {
		out[sample.TableUsers] = append(out[sample.TableUsers], sampleRow{map[string]any{
			"id": u.ID, "department_id": u.DepartmentID, "employee_code": HashValue(testSalt, []byte(u.EmployeeCode)),
			"display_name": u.DisplayName, "role": string(u.Role), "joined_on": u.JoinedOn.String(),
			"created_at": u.CreatedAt.UTC(), "updated_at": u.UpdatedAt.UTC(), "deleted_at": nts(u.DeletedAt),
		}, u.UpdatedAt, u.DeletedAt != nil})
	}
	for _, p := range ds.Posts {
		out[sample.TablePosts] = append(out[sample.TablePosts], sampleRow{map[string]any{
			"id": p.ID, "user_id": p.UserID, "body": p.Body, "visibility": string(p.Visibility),
			"created_at": p.CreatedAt.UTC(), "updated_at": p.UpdatedAt.UTC(), "deleted_at": nts(p.DeletedAt),
		}, p.UpdatedAt, p.DeletedAt != nil})
	}
	for _, c := range ds.Comments {
		out[sample.TableComments] = append(out[sample.TableComments], sampleRow{map[string]any{
			"id": c.ID, "post_id": c.PostID, "user_id": c.UserID, "body": c.Body,
			"created_at": c.CreatedAt.UTC(), "updated_at": c.UpdatedAt.UTC(), "deleted_at": nts(c.DeletedAt),
		}, c.UpdatedAt, c.DeletedAt != nil})
	}
	for _, r := range ds.Reactions {
		out[sample.TableReactions] = append(out[sample.TableReactions], sampleRow{map[string]any{
			"id": r.ID, "post_id": r.PostID, "user_id": r.UserID, "kind": string(r.Kind),
			"created_at": r.CreatedAt.UTC(), "updated_at": r.UpdatedAt.UTC(), "deleted_at": nts(r.DeletedAt),
		}, r.UpdatedAt, r.DeletedAt != nil})
	}
	return out
}

// loadSample creates the sample schema in the test database and loads ds with the sample
// package's own loader, as `go run ./sample/cmd/seed` does.
func loadSample(t *testing.T, d *testDB, ds *sample.Dataset) {
	t.Helper()
	var db *sql.DB
	engine := sample.MySQL
	if d.engine == PostgreSQL {
		engine = sample.PostgreSQL
		db = stdlib.OpenDB(*d.pg.Config())
		defer db.Close()
		// The extraction must not depend on the zone the read-only role's sessions default to.
		d.exec(t, "ALTER ROLE "+d.user+" SET timezone = 'America/Los_Angeles'")
	} else {
		db = d.admin
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sample.Load(ctx, db, engine, ds); err != nil {
		t.Fatalf("load the sample into %s: %v", engine, err)
	}
}

// sortByID orders decoded rows by their id column.
func sortByID(rows []map[string]any) {
	slices.SortFunc(rows, func(a, b map[string]any) int {
		x, _ := a["id"].(int64)
		y, _ := b["id"].(int64)
		return cmp.Compare(x, y)
	})
}

func values(rows []sampleRow) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = r.values
	}
	return out
}

// The sample source, seeded into MariaDB and into PostgreSQL, comes out of the real extraction
// as the dataset it was generated from, row by row, and as the same Parquet from both engines.
func TestSample_ExtractsEveryTableRowByRowFromBothEngines(t *testing.T) {
	t.Parallel()
	ds := sample.Generate(sample.Config{})
	want := sampleRows(ds)
	// Guard the test's reach: every table has soft-deleted and live rows, and NULLs appear.
	for _, table := range sample.Tables() {
		rows := want[table]
		deleted := slices.ContainsFunc(rows, func(r sampleRow) bool { return r.deleted })
		live := slices.ContainsFunc(rows, func(r sampleRow) bool { return !r.deleted })
		if !deleted || !live {
			t.Fatalf("the sample's %s has soft-deleted rows: %v, live rows: %v; this test needs both", table, deleted, live)
		}
	}
	if !slices.ContainsFunc(want[sample.TableDepartments], func(r sampleRow) bool { return r.values["parent_id"] == nil }) {
		t.Fatal("no department without a parent: this test needs a NULL that is not deleted_at")
	}

	a := newAWS(t)
	engines := []struct {
		name string
		open func(testing.TB, *awsClients) *testDB
	}{{"MariaDB", newMariaDB}, {"PostgreSQL", newPostgres}}
	last := ds.Days()[len(ds.Days())-1]
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			d := engine.open(t, a)
			loadSample(t, d, ds)

			// A snapshot after the period holds every row of the dataset.
			snap := newRun(t, d, sampleSnapshot...)
			for _, table := range sample.Tables() {
				t.Run("snapshot/"+table, func(t *testing.T) {
					res := snap.mustExtract(t, table, last.String(), func(c *Config) {
						c.Now = func() time.Time { return last.AddDays(1).Start(ds.Config.Location) }
					})
					if res.Rows != int64(len(want[table])) {
						t.Errorf("Result.Rows = %d, want %d", res.Rows, len(want[table]))
					}
					got := readParquet(t, a.get(t, snap.bucket, res.Key))
					if diff := gocmp.Diff(sampleColumns[table], got.Columns); diff != "" {
						t.Errorf("Parquet columns (-want +got):\n%s", diff)
					}
					sortByID(got.Rows)
					if diff := gocmp.Diff(values(want[table]), got.Rows); diff != "" {
						t.Errorf("rows of %s (-want +got):\n%s", table, diff)
					}
					for _, row := range got.Rows {
						if _, ok := row["email"]; ok {
							t.Fatalf("a row holds the excluded email: %v", row)
						}
					}
				})
			}

			// Each day's incremental export holds exactly the rows whose last change is at or
			// after that business day's midnight in Asia/Tokyo, in their current version: the
			// database holds the end of the period, so a row changed on a later day is in
			// every partition up to that day, and the first day's holds every row changed in
			// the period.
			inc := newRun(t, d, sampleIncremental...)
			for _, spec := range sampleIncremental {
				t.Run("incremental/"+spec.Name, func(t *testing.T) {
					for i, day := range ds.Days() {
						start, _ := ds.DayBounds(day)
						var dayWant []map[string]any
						for _, r := range want[spec.Name] {
							if !r.updated.Before(start) {
								dayWant = append(dayWant, r.values)
							}
						}
						res := inc.mustExtract(t, spec.Name, day.String())
						got := readParquet(t, a.get(t, inc.bucket, res.Key))
						sortByID(got.Rows)
						if diff := gocmp.Diff(dayWant, got.Rows); diff != "" {
							t.Errorf("%s on %s (-want +got):\n%s", spec.Name, day, diff)
						}
						if got.Meta["kpilake.mode"] != string(Incremental) || got.Meta["kpilake.date"] != day.String() {
							t.Errorf("%s on %s: metadata %v", spec.Name, day, got.Meta)
						}
						// Rows changed before the period (departments, early users) are in no day.
						if before := countBefore(want[spec.Name], ds); i == 0 && len(got.Rows) != len(want[spec.Name])-before {
							t.Errorf("the first day holds %d rows, want %d (%d changed before the period)", len(got.Rows), len(want[spec.Name])-before, before)
						}
					}
				})
			}
		})
	}
}

// countBefore counts the rows that last changed before the dataset's first business day.
func countBefore(rows []sampleRow, ds *sample.Dataset) int {
	start, _ := ds.DayBounds(ds.Days()[0])
	n := 0
	for _, r := range rows {
		if r.updated.Before(start) {
			n++
		}
	}
	return n
}
