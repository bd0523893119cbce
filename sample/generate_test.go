package sample_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/sample"
)

// locCmp compares time zones by name (generated datasets each load their own *time.Location).
var locCmp = cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })

func day(t *testing.T, s string) layout.Day {
	t.Helper()
	d, err := layout.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestGenerate_SameConfigGivesSameDataset(t *testing.T) {
	cfg := sample.Config{Seed: 42, Days: 5, Users: 40}
	a, b := sample.Generate(cfg), sample.Generate(cfg)
	if diff := cmp.Diff(a, b, dayCmp, locCmp); diff != "" {
		t.Fatalf("two generations of one Config differ (-first +second):\n%s", diff)
	}
	for _, d := range a.Days() {
		var wa, wb bytes.Buffer
		if err := sample.WriteAccessLogs(&wa, a, d); err != nil {
			t.Fatal(err)
		}
		if err := sample.WriteAccessLogs(&wb, b, d); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(wa.Bytes(), wb.Bytes()) {
			t.Errorf("%s: access logs differ between two generations", d)
		}
	}
}

func TestGenerate_OtherSeedGivesOtherDataset(t *testing.T) {
	a, b := sample.Generate(sample.Config{Seed: 1}), sample.Generate(sample.Config{Seed: 2})
	if cmp.Equal(a.Posts, b.Posts) || cmp.Equal(a.Users, b.Users, dayCmp) || cmp.Equal(a.AccessLogs, b.AccessLogs) {
		t.Error("seeds 1 and 2 generated the same posts, users or access logs")
	}
}

func TestGenerate_DefaultsToAWeekInTokyoWithShowaDayOff(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	c := ds.Config
	if c.Start.String() != "2025-04-28" || c.Days != 7 || c.Location.String() != "Asia/Tokyo" ||
		len(c.Holidays) != 1 || c.Holidays[0].String() != "2025-04-29" {
		t.Errorf("defaults: start %s, %d days, %s, holidays %v", c.Start, c.Days, c.Location, c.Holidays)
	}
	if n := ds.Counts()[sample.TableUsers].Rows; n != sample.DefaultUsers {
		t.Errorf("%d users, want %d", n, sample.DefaultUsers)
	}
	if n := ds.Counts()[sample.TableDepartments].Rows; n != sample.DefaultDepartments {
		t.Errorf("%d departments, want %d", n, sample.DefaultDepartments)
	}
}

// TestGenerate_KeepsTheSchemaInvariants checks, over several seeds and sizes, what the schema and
// the application guarantee: foreign keys, dense ids in creation order, millisecond UTC
// timestamps, soft-delete bookkeeping, and who may react or comment.
func TestGenerate_KeepsTheSchemaInvariants(t *testing.T) {
	for _, cfg := range []sample.Config{
		{}, {Seed: 3, Days: 10, Users: 200, Departments: 20}, {Seed: 9, Days: 1, Users: 3, Departments: 1},
		{Seed: 5, Start: day(t, "2025-12-29"), Days: 6, Holidays: []layout.Day{day(t, "2025-12-31"), day(t, "2026-01-01")}},
	} {
		t.Run(fmt.Sprintf("seed=%d,days=%d,users=%d", cfg.Seed, cfg.Days, cfg.Users), func(t *testing.T) {
			ds := sample.Generate(cfg)
			checkInvariants(t, ds)
		})
	}
}

func checkInvariants(t *testing.T, ds *sample.Dataset) {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
	}
	stamps := func(what string, id int64, created, updated time.Time, deleted *time.Time) {
		t.Helper()
		for _, ts := range []time.Time{created, updated} {
			if ts.Location() != time.UTC || !ts.Equal(ts.Truncate(time.Millisecond)) {
				errorf("%s %d: timestamp %v is not UTC milliseconds", what, id, ts)
			}
		}
		if updated.Before(created) {
			errorf("%s %d: updated_at %v before created_at %v", what, id, updated, created)
		}
		if deleted != nil && !deleted.Equal(updated) {
			errorf("%s %d: deleted_at %v but updated_at %v", what, id, *deleted, updated)
		}
	}
	depts := map[int64]sample.Department{}
	for i, d := range ds.Departments {
		if d.ID != int64(i+1) {
			errorf("department %d at index %d", d.ID, i)
		}
		if d.ParentID != nil && *d.ParentID >= d.ID {
			errorf("department %d: parent %d is not created before it", d.ID, *d.ParentID)
		}
		stamps("department", d.ID, d.CreatedAt, d.UpdatedAt, d.DeletedAt)
		depts[d.ID] = d
	}
	users := map[int64]sample.User{}
	codes, emails := map[string]bool{}, map[string]bool{}
	for i, u := range ds.Users {
		if u.ID != int64(i+1) || (i > 0 && u.CreatedAt.Before(ds.Users[i-1].CreatedAt)) {
			errorf("user %d at index %d: ids are not dense in created_at order", u.ID, i)
		}
		if d, ok := depts[u.DepartmentID]; !ok || d.DeletedAt != nil {
			errorf("user %d: department %d is missing or deleted", u.ID, u.DepartmentID)
		}
		if codes[u.EmployeeCode] || emails[u.Email] {
			errorf("user %d: duplicate employee code %q or e-mail %q", u.ID, u.EmployeeCode, u.Email)
		}
		codes[u.EmployeeCode], emails[u.Email] = true, true
		if !utf8.ValidString(u.DisplayName) || !strings.Contains(u.DisplayName, " ") {
			errorf("user %d: display name %q", u.ID, u.DisplayName)
		}
		stamps("user", u.ID, u.CreatedAt, u.UpdatedAt, u.DeletedAt)
		users[u.ID] = u
	}
	// acting checks that user id exists and has not left at t.
	acting := func(what string, id, user int64, at time.Time) {
		t.Helper()
		u, ok := users[user]
		switch {
		case !ok:
			errorf("%s %d: user %d does not exist", what, id, user)
		case at.Before(u.CreatedAt) || (u.DeletedAt != nil && !at.Before(*u.DeletedAt)):
			errorf("%s %d: user %d acts at %v outside their account's life [%v, %v)", what, id, user, at, u.CreatedAt, u.DeletedAt)
		}
	}
	posts := map[int64]sample.Post{}
	for i, p := range ds.Posts {
		if p.ID != int64(i+1) || (i > 0 && p.CreatedAt.Before(ds.Posts[i-1].CreatedAt)) {
			errorf("post %d at index %d: ids are not dense in created_at order", p.ID, i)
		}
		acting("post", p.ID, p.UserID, p.CreatedAt)
		stamps("post", p.ID, p.CreatedAt, p.UpdatedAt, p.DeletedAt)
		posts[p.ID] = p
	}
	// responding checks the post exists, is visible to user and was not deleted at t.
	responding := func(what string, id, postID, user int64, at time.Time) {
		t.Helper()
		p, ok := posts[postID]
		switch {
		case !ok:
			errorf("%s %d: post %d does not exist", what, id, postID)
		case at.Before(p.CreatedAt):
			errorf("%s %d at %v: before its post %d (%v)", what, id, at, p.ID, p.CreatedAt)
		case p.DeletedAt != nil && !at.Before(*p.DeletedAt):
			errorf("%s %d at %v: after its post %d was deleted (%v)", what, id, at, p.ID, *p.DeletedAt)
		case p.Visibility == sample.VisibilityPrivate:
			errorf("%s %d: on private post %d", what, id, p.ID)
		case p.Visibility == sample.VisibilityDepartment && users[user].DepartmentID != users[p.UserID].DepartmentID:
			errorf("%s %d: user %d outside the department of post %d", what, id, user, p.ID)
		}
		acting(what, id, user, at)
	}
	for i, c := range ds.Comments {
		if c.ID != int64(i+1) || (i > 0 && c.CreatedAt.Before(ds.Comments[i-1].CreatedAt)) {
			errorf("comment %d at index %d: ids are not dense in created_at order", c.ID, i)
		}
		if c.UserID != posts[c.PostID].UserID {
			responding("comment", c.ID, c.PostID, c.UserID, c.CreatedAt)
		}
		stamps("comment", c.ID, c.CreatedAt, c.UpdatedAt, c.DeletedAt)
	}
	type key struct {
		post, user int64
		kind       sample.ReactionKind
	}
	given := map[key]bool{}
	for i, r := range ds.Reactions {
		if r.ID != int64(i+1) || (i > 0 && r.CreatedAt.Before(ds.Reactions[i-1].CreatedAt)) {
			errorf("reaction %d at index %d: ids are not dense in created_at order", r.ID, i)
		}
		responding("reaction", r.ID, r.PostID, r.UserID, r.CreatedAt)
		if r.UserID == posts[r.PostID].UserID {
			errorf("reaction %d: user %d reacts to their own post %d", r.ID, r.UserID, r.PostID)
		}
		k := key{r.PostID, r.UserID, r.Kind}
		if given[k] {
			errorf("reaction %d: user %d gave %s to post %d twice", r.ID, r.UserID, r.Kind, r.PostID)
		}
		given[k] = true
		stamps("reaction", r.ID, r.CreatedAt, r.UpdatedAt, r.DeletedAt)
	}
	// Nothing happens after the period, and nothing at all on a holiday.
	periodEnd := ds.Days()[len(ds.Days())-1].AddDays(1).Start(ds.Config.Location)
	for table, n := range ds.RowsUpdatedOn(ds.Config.Start.AddDays(ds.Config.Days)) {
		if n != 0 {
			errorf("%d %s rows updated after the period", n, table)
		}
	}
	for _, a := range ds.AccessLogs {
		if !a.Timestamp.Before(periodEnd) || a.Timestamp.Before(ds.Config.Start.Start(ds.Config.Location)) {
			errorf("access log at %v, outside the period", a.Timestamp)
			break
		}
	}
}

func TestGenerate_HolidayHasNoActivity(t *testing.T) {
	for seed := range int64(10) {
		ds := sample.Generate(sample.Config{Seed: seed})
		holiday := ds.Config.Holidays[0]
		for table, n := range ds.RowsUpdatedOn(holiday) {
			if n != 0 {
				t.Errorf("seed %d: %d %s rows changed on holiday %s", seed, n, table, holiday)
			}
		}
		start, end := ds.DayBounds(holiday)
		for _, p := range ds.Posts {
			if !p.CreatedAt.Before(start) && p.CreatedAt.Before(end) {
				t.Errorf("seed %d: post %d created on holiday", seed, p.ID)
			}
		}
		logs := ds.AccessLogsOn(holiday)
		if len(logs) == 0 {
			t.Errorf("seed %d: no access logs on holiday %s; want the health checks", seed, holiday)
		}
		for _, a := range logs {
			if a.UserID != 0 || a.Path != "/healthz" {
				t.Errorf("seed %d: holiday record %+v, want only anonymous health checks", seed, a)
				break
			}
		}
		if got := ds.ActiveUsersByDepartment(holiday); len(got) != 0 {
			t.Errorf("seed %d: active users on holiday: %v", seed, got)
		}
	}
}

func TestGenerate_HasSoftDeletedRowsInEveryTableAndUsersWhoComeAndGo(t *testing.T) {
	for seed := range int64(10) {
		ds := sample.Generate(sample.Config{Seed: seed})
		for table, c := range ds.Counts() {
			if c.SoftDeleted == 0 || c.SoftDeleted == c.Rows {
				t.Errorf("seed %d: %s has %d soft-deleted rows of %d", seed, table, c.SoftDeleted, c.Rows)
			}
		}
		start, end := ds.Config.Start.Start(ds.Config.Location), ds.Config.Start.AddDays(ds.Config.Days).Start(ds.Config.Location)
		var leftBefore, leftDuring, joined int
		for _, u := range ds.Users {
			switch {
			case u.DeletedAt != nil && u.DeletedAt.Before(start):
				leftBefore++
			case u.DeletedAt != nil && u.DeletedAt.Before(end):
				leftDuring++
			case !u.CreatedAt.Before(start):
				joined++
			}
		}
		if leftBefore == 0 || leftDuring == 0 || joined == 0 {
			t.Errorf("seed %d: %d users left before the period, %d during it, %d joined; want some of each", seed, leftBefore, leftDuring, joined)
		}
		// Reactions whose own row is live but whose post is deleted: the KPI SQL must join posts.
		deletedPost := map[int64]bool{}
		for _, p := range ds.Posts {
			if p.DeletedAt != nil {
				deletedPost[p.ID] = true
			}
		}
		hidden := 0
		for _, r := range ds.Reactions {
			if r.DeletedAt == nil && deletedPost[r.PostID] {
				hidden++
			}
		}
		if hidden == 0 {
			t.Errorf("seed %d: no live reaction on a deleted post", seed)
		}
	}
}

func TestGenerate_PutsActivityOnTokyoMidnight(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	tokyo := ds.Config.Location
	at := map[string]int{} // local clock -> posts
	prevUTCDate := 0
	for _, p := range ds.Posts {
		local := p.CreatedAt.In(tokyo)
		at[local.Format("15:04:05.000")]++
		if p.CreatedAt.Day() != local.Day() {
			prevUTCDate++
		}
	}
	activeDays := ds.Config.Days - len(ds.Config.Holidays)
	if at["00:00:00.000"] != activeDays || at["23:59:59.999"] != activeDays {
		t.Errorf("%d posts at 00:00:00.000 and %d at 23:59:59.999 Tokyo time, want one each per active day (%d)",
			at["00:00:00.000"], at["23:59:59.999"], activeDays)
	}
	if prevUTCDate < 10 {
		t.Errorf("only %d posts fall on the previous UTC date (before 09:00 in Tokyo); want early and late activity", prevUTCDate)
	}
	midnightThanks := 0
	for _, r := range ds.Reactions {
		if r.Kind == sample.ReactionThanks && r.CreatedAt.In(tokyo).Format("15:04:05.000") == "00:00:00.000" {
			midnightThanks++
		}
	}
	if midnightThanks == 0 {
		t.Error("no thanks given at exactly midnight Tokyo time")
	}
}

func TestGenerate_LogsTheRequestOfEveryChangeAndOnlyActiveAccounts(t *testing.T) {
	ds := sample.Generate(sample.Config{Seed: 11})
	type req struct {
		at     time.Time
		user   int64
		method string
		path   string
	}
	logged := map[req]bool{}
	for _, a := range ds.AccessLogs {
		logged[req{a.Timestamp, a.UserID, a.Method, a.Path}] = true
	}
	for _, p := range ds.Posts {
		if !logged[req{p.CreatedAt, p.UserID, "POST", "/api/posts"}] {
			t.Errorf("post %d: no POST /api/posts by user %d at %v", p.ID, p.UserID, p.CreatedAt)
		}
		if p.DeletedAt != nil && !logged[req{*p.DeletedAt, p.UserID, "DELETE", fmt.Sprintf("/api/posts/%d", p.ID)}] {
			t.Errorf("post %d: no DELETE request at %v", p.ID, *p.DeletedAt)
		}
	}
	for _, c := range ds.Comments {
		if !logged[req{c.CreatedAt, c.UserID, "POST", fmt.Sprintf("/api/posts/%d/comments", c.PostID)}] {
			t.Errorf("comment %d: no POST request", c.ID)
		}
	}
	for _, r := range ds.Reactions {
		if !logged[req{r.CreatedAt, r.UserID, "POST", fmt.Sprintf("/api/posts/%d/reactions", r.PostID)}] {
			t.Errorf("reaction %d: no POST request", r.ID)
		}
		if r.DeletedAt != nil && !logged[req{*r.DeletedAt, r.UserID, "DELETE", fmt.Sprintf("/api/reactions/%d", r.ID)}] {
			t.Errorf("reaction %d: no DELETE request", r.ID)
		}
	}
	users := map[int64]sample.User{}
	for _, u := range ds.Users {
		users[u.ID] = u
	}
	for _, a := range ds.AccessLogs {
		if a.UserID == 0 {
			if a.DepartmentID != 0 {
				t.Errorf("anonymous record with a department: %+v", a)
			}
			continue
		}
		u := users[a.UserID]
		if a.DepartmentID != u.DepartmentID {
			t.Errorf("record of user %d has department %d, want %d", a.UserID, a.DepartmentID, u.DepartmentID)
		}
		if a.Timestamp.Before(u.CreatedAt) || (u.DeletedAt != nil && !a.Timestamp.Before(*u.DeletedAt)) {
			t.Errorf("user %d requests %s at %v outside their account's life", a.UserID, a.Path, a.Timestamp)
		}
	}
}

func TestConfig_ValidateListsEveryProblem(t *testing.T) {
	cfg := sample.Config{Days: -1, Users: -5, Departments: -2, PostsPerDay: -1, ReactionsPerPost: -3}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"Days", "Users", "Departments", "PostsPerDay", "ReactionsPerPost"} {
		if !strings.Contains(err.Error(), field+" is") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
	err = sample.Config{Days: 3, Holidays: []layout.Day{day(t, "2025-05-01")}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "Holidays: 2025-05-01 is outside the period 2025-04-28 to 2025-04-30") {
		t.Errorf("holiday outside the period: err = %v", err)
	}
	if err := (sample.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestGenerate_PanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Users is -1") {
			t.Errorf("recovered %v, want a panic naming Users", r)
		}
	}()
	sample.Generate(sample.Config{Users: -1})
}

func TestGenerate_WithoutHolidays(t *testing.T) {
	ds := sample.Generate(sample.Config{Days: 3, Holidays: []layout.Day{}})
	for _, d := range ds.Days() {
		if len(ds.PostsByDepartment(d)) == 0 {
			t.Errorf("%s: no posts on a working day without holidays", d)
		}
	}
}
