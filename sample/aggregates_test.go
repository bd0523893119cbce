package sample_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/sample"
)

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// handBuilt is a dataset small enough to count by hand. Business day D is 2025-04-28 in Tokyo:
// from 2025-04-27T15:00:00.000Z (inclusive) to 2025-04-28T15:00:00.000Z (exclusive).
func handBuilt(t *testing.T) *sample.Dataset {
	long := utc(t, "2020-04-01T01:00:00.000Z")
	ts := func(s string) time.Time { return utc(t, s) }
	del := func(s string) *time.Time { v := utc(t, s); return &v }
	return &sample.Dataset{
		Config: sample.Config{Start: day(t, "2025-04-27"), Days: 3},
		Departments: []sample.Department{
			{ID: 1, Name: "営業部", CreatedAt: long, UpdatedAt: long},
			{ID: 2, Name: "開発部", CreatedAt: long, UpdatedAt: long},
		},
		Users: []sample.User{
			{ID: 1, DepartmentID: 1, CreatedAt: long, UpdatedAt: long},
			{ID: 2, DepartmentID: 1, CreatedAt: long, UpdatedAt: long},
			// left after D: still counted for D
			{ID: 3, DepartmentID: 2, CreatedAt: long, UpdatedAt: ts("2025-05-02T09:00:00.000Z"), DeletedAt: del("2025-05-02T09:00:00.000Z")},
		},
		Posts: []sample.Post{
			{ID: 1, UserID: 1, CreatedAt: ts("2025-04-27T15:00:00.000Z"), UpdatedAt: ts("2025-04-27T15:00:00.000Z")}, // D 00:00:00.000
			{ID: 2, UserID: 2, CreatedAt: ts("2025-04-28T14:59:59.999Z"), UpdatedAt: ts("2025-04-28T14:59:59.999Z")}, // D 23:59:59.999
			{ID: 3, UserID: 3, CreatedAt: ts("2025-04-28T15:00:00.000Z"), UpdatedAt: ts("2025-04-28T15:00:00.000Z")}, // D+1 00:00
			{ID: 4, UserID: 3, CreatedAt: ts("2025-04-28T03:00:00.000Z"), UpdatedAt: ts("2025-04-28T04:00:00.000Z"), // D, deleted
				DeletedAt: del("2025-04-28T04:00:00.000Z")},
			{ID: 5, UserID: 1, CreatedAt: ts("2025-04-27T14:59:59.999Z"), UpdatedAt: ts("2025-04-27T14:59:59.999Z")}, // D-1 23:59:59.999
		},
		Comments: []sample.Comment{
			{ID: 1, PostID: 1, UserID: 2, CreatedAt: ts("2025-04-28T00:00:00.000Z"), UpdatedAt: ts("2025-04-28T00:00:00.000Z")},
			{ID: 2, PostID: 4, UserID: 3, CreatedAt: ts("2025-04-28T03:10:00.000Z"), UpdatedAt: ts("2025-04-28T03:10:00.000Z")}, // on a deleted post
			{ID: 3, PostID: 1, UserID: 1, CreatedAt: ts("2025-04-28T05:00:00.000Z"), UpdatedAt: ts("2025-04-28T05:30:00.000Z"),
				DeletedAt: del("2025-04-28T05:30:00.000Z")},
		},
		Reactions: []sample.Reaction{
			{ID: 1, PostID: 1, UserID: 2, Kind: sample.ReactionLike, CreatedAt: ts("2025-04-27T16:00:00.000Z"), UpdatedAt: ts("2025-04-27T16:00:00.000Z")},
			{ID: 2, PostID: 1, UserID: 3, Kind: sample.ReactionThanks, CreatedAt: ts("2025-04-28T01:00:00.000Z"), UpdatedAt: ts("2025-04-28T01:00:00.000Z")},
			{ID: 3, PostID: 4, UserID: 1, Kind: sample.ReactionLike, CreatedAt: ts("2025-04-28T03:30:00.000Z"), UpdatedAt: ts("2025-04-28T03:30:00.000Z")},   // on a deleted post
			{ID: 4, PostID: 2, UserID: 1, Kind: sample.ReactionThanks, CreatedAt: ts("2025-04-28T15:00:00.000Z"), UpdatedAt: ts("2025-04-28T15:00:00.000Z")}, // D+1, on D's post
			{ID: 5, PostID: 1, UserID: 2, Kind: sample.ReactionCelebrate, CreatedAt: ts("2025-04-28T02:00:00.000Z"), UpdatedAt: ts("2025-04-28T02:05:00.000Z"),
				DeletedAt: del("2025-04-28T02:05:00.000Z")}, // taken back
		},
		AccessLogs: []sample.AccessLog{
			{Timestamp: ts("2025-04-27T14:59:59.999Z"), UserID: 2, DepartmentID: 1, Method: "GET", Path: "/api/timeline?page=1", Status: 200},
			{Timestamp: ts("2025-04-27T15:00:00.000Z"), UserID: 1, DepartmentID: 1, Method: "POST", Path: "/api/posts", Status: 201},
			{Timestamp: ts("2025-04-28T10:00:00.000Z"), UserID: 1, DepartmentID: 1, Method: "GET", Path: "/api/notifications", Status: 500},
			{Timestamp: ts("2025-04-28T11:00:00.000Z"), Method: "GET", Path: "/healthz", Status: 200},
			{Timestamp: ts("2025-04-28T14:59:59.999Z"), UserID: 3, DepartmentID: 2, Method: "GET", Path: "/api/timeline?page=1", Status: 200},
			{Timestamp: ts("2025-04-28T15:00:00.000Z"), UserID: 2, DepartmentID: 1, Method: "GET", Path: "/api/timeline?page=1", Status: 200},
		},
	}
}

func TestAggregates_MatchHandCountedDataset(t *testing.T) {
	ds := handBuilt(t)
	before, d, after := day(t, "2025-04-27"), day(t, "2025-04-28"), day(t, "2025-04-29")
	type GR = sample.GivenReceived
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"active users D-1", ds.ActiveUsersByDepartment(before), map[int64]int{1: 1}},
		{"active users D", ds.ActiveUsersByDepartment(d), map[int64]int{1: 1, 2: 1}},
		{"active users D+1", ds.ActiveUsersByDepartment(after), map[int64]int{1: 1}},
		{"posts D-1", ds.PostsByDepartment(before), map[int64]int{1: 1}},
		{"posts D", ds.PostsByDepartment(d), map[int64]int{1: 2}},
		{"posts D+1", ds.PostsByDepartment(after), map[int64]int{2: 1}},
		{"comments D", ds.CommentsByDepartment(d), map[int64]int{1: 1}},
		{"reactions D", ds.ReactionsByDepartment(d), map[int64]int{1: 1, 2: 1}},
		{"thanks D", ds.ReactionsByDepartment(d, sample.ReactionThanks), map[int64]int{2: 1}},
		{"likes and celebrations D", ds.ReactionsByDepartment(d, sample.ReactionLike, sample.ReactionCelebrate), map[int64]int{1: 1}},
		{"reactions D+1", ds.ReactionsByDepartment(after), map[int64]int{1: 1}},
		{"given/received D", ds.ReactionsGivenReceived(d), map[int64]GR{
			1: {Received: 2, ThanksReceived: 1}, 2: {Given: 1}, 3: {Given: 1, ThanksGiven: 1}}},
		{"given/received D+1", ds.ReactionsGivenReceived(after), map[int64]GR{
			1: {Given: 1, ThanksGiven: 1}, 2: {Received: 1, ThanksReceived: 1}}},
		{"rows updated D", ds.RowsUpdatedOn(d), map[string]int{
			sample.TableDepartments: 0, sample.TableUsers: 0, sample.TablePosts: 3, sample.TableComments: 3, sample.TableReactions: 4}},
		// From D 00:00 on, with no end: post 3 and reaction 4 of D+1, and user 3 who left later.
		{"rows changed since D", ds.RowsChangedSince(d), map[string]int{
			sample.TableDepartments: 0, sample.TableUsers: 1, sample.TablePosts: 4, sample.TableComments: 3, sample.TableReactions: 5}},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	start, end := ds.DayBounds(d)
	if !start.Equal(utc(t, "2025-04-27T15:00:00.000Z")) || !end.Equal(utc(t, "2025-04-28T15:00:00.000Z")) {
		t.Errorf("DayBounds(%s) = %v, %v", d, start, end)
	}
}

func TestAggregates_EmptyOnTheHoliday(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	h := ds.Config.Holidays[0]
	for name, m := range map[string]map[int64]int{
		"active users": ds.ActiveUsersByDepartment(h),
		"posts":        ds.PostsByDepartment(h),
		"comments":     ds.CommentsByDepartment(h),
		"reactions":    ds.ReactionsByDepartment(h),
	} {
		if len(m) != 0 {
			t.Errorf("%s on holiday %s: %v", name, h, m)
		}
	}
	if gr := ds.ReactionsGivenReceived(h); len(gr) != 0 {
		t.Errorf("reactions given/received on holiday: %v", gr)
	}
}

// Every user who posts, comments or reacts on a day is among that day's active users.
func TestAggregates_ActorsAreActiveUsers(t *testing.T) {
	ds := sample.Generate(sample.Config{Seed: 5})
	for _, d := range ds.Days() {
		active := ds.ActiveUsersByDepartment(d)
		for name, m := range map[string]map[int64]int{
			"posts": ds.PostsByDepartment(d), "comments": ds.CommentsByDepartment(d), "reactions": ds.ReactionsByDepartment(d),
		} {
			for dept := range m {
				if active[dept] == 0 {
					t.Errorf("%s: department %d has %s but no active user", d, dept, name)
				}
			}
		}
	}
}
