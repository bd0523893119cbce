package sample

import (
	"slices"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// Expected aggregates: what the KPI SQL must return for a day of the sample, computed directly
// from the Dataset. The definitions, shared by every method below:
//
//   - On day D: an instant t falls on business day D when D 00:00:00.000 <= t < (D+1)
//     00:00:00.000 in Config.Location (Asia/Tokyo: from 15:00:00.000 UTC of the day before,
//     inclusive, to 15:00:00.000 UTC of D, exclusive). Timestamps are compared as instants, so an
//     event at exactly 00:00:00.000 belongs to the day it starts and one at 23:59:59.999 to the
//     day it ends.
//   - Live: a row whose deleted_at IS NULL in the Dataset, which is the state of the database
//     after the last day (what a snapshot extraction sees). A comment or a reaction counts only
//     if it is live and so is its post; its own deleted_at stays NULL when its post is deleted.
//     Whether the acting user is soft-deleted (has left since) does not matter, and neither does
//     a post's visibility.
//   - Department: the users.department_id of the user who acted (the author of a post, the
//     writer of a comment, the giver of a reaction). Departments that do not appear in the
//     counted rows are absent from the maps, as they are from a GROUP BY; on a holiday every map
//     is empty.
//   - Reactions are counted on the day they were given (reactions.created_at), whatever the day
//     of the post.

// ActiveUsersByDepartment counts, per department_id, the distinct user_id values among the
// access-log records of day D (the records WriteAccessLogs writes for D) that carry a user_id.
// Every method and status counts; anonymous records (no user_id) do not. The department is the
// record's department_id; the users table is not consulted, so a user who has left since still
// counts on the days they were active.
func (ds *Dataset) ActiveUsersByDepartment(d layout.Day) map[int64]int {
	seen := map[int64]bool{}
	out := map[int64]int{}
	for _, a := range ds.AccessLogsOn(d) {
		if a.UserID == 0 || seen[a.UserID] {
			continue
		}
		seen[a.UserID] = true
		out[a.DepartmentID]++
	}
	return out
}

// PostsByDepartment counts, per author's department, the live posts created on day D.
//
//	SELECT u.department_id, count(*) FROM posts p JOIN users u ON u.id = p.user_id
//	WHERE p.deleted_at IS NULL AND p.created_at >= :day_start AND p.created_at < :day_end
//	GROUP BY u.department_id
func (ds *Dataset) PostsByDepartment(d layout.Day) map[int64]int {
	start, end := ds.bounds(d)
	dept := ds.departmentOf()
	out := map[int64]int{}
	for _, p := range ds.Posts {
		if p.DeletedAt == nil && on(p.CreatedAt, start, end) {
			out[dept[p.UserID]]++
		}
	}
	return out
}

// CommentsByDepartment counts, per commenter's department, the live comments on live posts
// created on day D.
func (ds *Dataset) CommentsByDepartment(d layout.Day) map[int64]int {
	start, end := ds.bounds(d)
	dept, live := ds.departmentOf(), ds.livePosts()
	out := map[int64]int{}
	for _, c := range ds.Comments {
		if c.DeletedAt == nil && live[c.PostID] && on(c.CreatedAt, start, end) {
			out[dept[c.UserID]]++
		}
	}
	return out
}

// ReactionsByDepartment counts, per giver's department, the live reactions on live posts given on
// day D, of the given kinds (all kinds if none are given). ReactionsByDepartment(d,
// ReactionThanks) counts the thanks.
//
//	SELECT u.department_id, count(*) FROM reactions r
//	JOIN posts p ON p.id = r.post_id JOIN users u ON u.id = r.user_id
//	WHERE r.deleted_at IS NULL AND p.deleted_at IS NULL
//	  AND r.created_at >= :day_start AND r.created_at < :day_end
//	GROUP BY u.department_id
func (ds *Dataset) ReactionsByDepartment(d layout.Day, kinds ...ReactionKind) map[int64]int {
	start, end := ds.bounds(d)
	dept, live := ds.departmentOf(), ds.livePosts()
	out := map[int64]int{}
	for _, r := range ds.Reactions {
		if r.DeletedAt == nil && live[r.PostID] && on(r.CreatedAt, start, end) && (len(kinds) == 0 || slices.Contains(kinds, r.Kind)) {
			out[dept[r.UserID]]++
		}
	}
	return out
}

// GivenReceived is one user's reactions on one day.
type GivenReceived struct {
	Given          int // reactions the user gave
	Received       int // reactions given to the user's posts
	ThanksGiven    int // of Given, those of kind thanks
	ThanksReceived int // of Received, those of kind thanks
}

// ReactionsGivenReceived counts, per user id, the live reactions on live posts given on day D:
// Given by the user (reactions.user_id) and Received by the user as the post's author
// (posts.user_id), with the thanks among them. Both sides of a reaction count on the day it was
// given, even when the post is from an earlier day. Users with no such reaction are absent. Nobody
// reacts to their own post, so a reaction is never both given and received by one user.
func (ds *Dataset) ReactionsGivenReceived(d layout.Day) map[int64]GivenReceived {
	start, end := ds.bounds(d)
	author := map[int64]int64{}
	for _, p := range ds.Posts {
		if p.DeletedAt == nil {
			author[p.ID] = p.UserID
		}
	}
	out := map[int64]GivenReceived{}
	for _, r := range ds.Reactions {
		to, live := author[r.PostID]
		if r.DeletedAt != nil || !live || !on(r.CreatedAt, start, end) {
			continue
		}
		thanks := 0
		if r.Kind == ReactionThanks {
			thanks = 1
		}
		g := out[r.UserID]
		g.Given++
		g.ThanksGiven += thanks
		out[r.UserID] = g
		v := out[to]
		v.Received++
		v.ThanksReceived += thanks
		out[to] = v
	}
	return out
}

// RowsUpdatedOn counts, per table (every table of Tables, zeros included), the rows whose
// updated_at falls on day D, soft-deleted rows included (a soft deletion sets updated_at).
func (ds *Dataset) RowsUpdatedOn(d layout.Day) map[string]int {
	start, end := ds.bounds(d)
	return ds.countUpdated(func(t time.Time) bool { return on(t, start, end) })
}

// RowsChangedSince counts, per table (every table of Tables, zeros included), the rows whose
// updated_at is at or after the start of day D, soft-deleted rows included: the rows an
// incremental extraction on updated_at exports for D when it runs after the period.
func (ds *Dataset) RowsChangedSince(d layout.Day) map[string]int {
	start, _ := ds.bounds(d)
	return ds.countUpdated(func(t time.Time) bool { return !t.Before(start) })
}

// countUpdated counts, per table, the rows whose updated_at satisfies in.
func (ds *Dataset) countUpdated(in func(time.Time) bool) map[string]int {
	count := func(n int, at func(i int) time.Time) int {
		c := 0
		for i := range n {
			if in(at(i)) {
				c++
			}
		}
		return c
	}
	return map[string]int{
		TableDepartments: count(len(ds.Departments), func(i int) time.Time { return ds.Departments[i].UpdatedAt }),
		TableUsers:       count(len(ds.Users), func(i int) time.Time { return ds.Users[i].UpdatedAt }),
		TablePosts:       count(len(ds.Posts), func(i int) time.Time { return ds.Posts[i].UpdatedAt }),
		TableComments:    count(len(ds.Comments), func(i int) time.Time { return ds.Comments[i].UpdatedAt }),
		TableReactions:   count(len(ds.Reactions), func(i int) time.Time { return ds.Reactions[i].UpdatedAt }),
	}
}

// DayBounds returns the instants that delimit business day d in the dataset's time zone:
// d starts at start (inclusive) and ends at end (exclusive). Both are in UTC.
func (ds *Dataset) DayBounds(d layout.Day) (start, end time.Time) { return ds.bounds(d) }

func (ds *Dataset) bounds(d layout.Day) (time.Time, time.Time) {
	loc := ds.Config.Location
	if loc == nil {
		loc = tokyo()
	}
	return d.Start(loc).UTC(), d.AddDays(1).Start(loc).UTC()
}

func on(t, start, end time.Time) bool { return !t.Before(start) && t.Before(end) }

// departmentOf maps user ids to their department.
func (ds *Dataset) departmentOf() map[int64]int64 {
	m := make(map[int64]int64, len(ds.Users))
	for _, u := range ds.Users {
		m[u.ID] = u.DepartmentID
	}
	return m
}

func (ds *Dataset) livePosts() map[int64]bool {
	m := make(map[int64]bool, len(ds.Posts))
	for _, p := range ds.Posts {
		if p.DeletedAt == nil {
			m[p.ID] = true
		}
	}
	return m
}
