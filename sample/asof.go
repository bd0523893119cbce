package sample

import (
	"fmt"
	"sort"
	"time"
)

// AsOf returns the database as it stood at instant t (what a read-only transaction opened at t
// sees, changes committed at t included): the rows created at or before t, each in its version
// of that instant (before an edit, a soft deletion, a promotion or a rename made after t), and
// the access-log records stamped at or before t: a prefix of ds.AccessLogs, shared, not copied,
// which must be in timestamp order as Generate makes it. Earlier of the result is empty.
//
// t must be at or after the period's first midnight: the versions of rows that changed before
// the period are not kept, and AsOf fails naming such a row. A hand-built Dataset without
// Earlier works for any t after its rows' last changes.
func (ds *Dataset) AsOf(t time.Time) (*Dataset, error) {
	out := &Dataset{Config: ds.Config}
	var err error
	if out.Departments, err = asOf(TableDepartments, ds.Departments, ds.Earlier.Departments, t, func(d Department) (int64, time.Time, time.Time) { return d.ID, d.CreatedAt, d.UpdatedAt }); err != nil {
		return nil, err
	}
	if out.Users, err = asOf(TableUsers, ds.Users, ds.Earlier.Users, t, func(u User) (int64, time.Time, time.Time) { return u.ID, u.CreatedAt, u.UpdatedAt }); err != nil {
		return nil, err
	}
	if out.Posts, err = asOf(TablePosts, ds.Posts, ds.Earlier.Posts, t, func(p Post) (int64, time.Time, time.Time) { return p.ID, p.CreatedAt, p.UpdatedAt }); err != nil {
		return nil, err
	}
	if out.Comments, err = asOf(TableComments, ds.Comments, ds.Earlier.Comments, t, func(c Comment) (int64, time.Time, time.Time) { return c.ID, c.CreatedAt, c.UpdatedAt }); err != nil {
		return nil, err
	}
	if out.Reactions, err = asOf(TableReactions, ds.Reactions, ds.Earlier.Reactions, t, func(r Reaction) (int64, time.Time, time.Time) { return r.ID, r.CreatedAt, r.UpdatedAt }); err != nil {
		return nil, err
	}
	// The records are in timestamp order (Generate sorts them), so those up to t are a prefix.
	n := sort.Search(len(ds.AccessLogs), func(i int) bool { return ds.AccessLogs[i].Timestamp.After(t) })
	out.AccessLogs = ds.AccessLogs[:n:n]
	return out, nil
}

// asOf keeps the rows created at or before t, each in its version of t.
func asOf[R any](table string, rows []R, earlier map[int64]R, t time.Time, key func(R) (id int64, created, updated time.Time)) ([]R, error) {
	var out []R
	for _, r := range rows {
		id, created, updated := key(r)
		if created.After(t) {
			continue
		}
		if updated.After(t) {
			prev, ok := earlier[id]
			if !ok {
				return nil, fmt.Errorf("sample: %s id %d changed at %s, after %s, and its earlier version is not kept; "+
					"ask for an instant within the generated period", table, id, updated.Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
			}
			if _, _, pu := key(prev); pu.After(t) {
				return nil, fmt.Errorf("sample: %s id %d: its earlier version is from %s, after %s; ask for an instant within the generated period",
					table, id, pu.Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
			}
			r = prev
		}
		out = append(out, r)
	}
	return out, nil
}
