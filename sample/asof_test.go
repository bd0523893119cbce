package sample_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kpilake/kpilake/sample"
)

func TestAsOf_AfterThePeriodIsTheFinalDataset(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	last := ds.Days()[len(ds.Days())-1]
	_, end := ds.DayBounds(last)
	got, err := ds.AsOf(end.Add(48 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ds, got, dayCmp, locCmp, cmpopts.IgnoreFields(sample.Dataset{}, "Earlier"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("AsOf after the period differs from the dataset (-want +got):\n%s", diff)
	}
}

func TestAsOf_EveryRowIsItsVersionOfTheInstant(t *testing.T) {
	ds := sample.Generate(sample.Config{Seed: 5, Days: 10, Users: 120})
	if n := len(ds.Earlier.Posts) + len(ds.Earlier.Comments) + len(ds.Earlier.Reactions) + len(ds.Earlier.Users) + len(ds.Earlier.Departments); n < 20 {
		t.Fatalf("only %d earlier versions recorded; the test needs changes to replay", n)
	}
	start, _ := ds.DayBounds(ds.Days()[0])
	_, end := ds.DayBounds(ds.Days()[len(ds.Days())-1])
	type seen struct{ before, after bool }
	edits := map[int64]*seen{} // posts edited in the period: seen unedited and edited
	for at := start; !at.After(end); at = at.Add(37 * time.Minute) {
		st, err := ds.AsOf(at)
		if err != nil {
			t.Fatal(err)
		}
		check := func(table string, id int64, created, updated time.Time, deleted *time.Time) {
			if created.After(at) || updated.After(at) || (deleted != nil && deleted.After(at)) {
				t.Fatalf("AsOf(%s): %s id %d is from the future (created %s, updated %s, deleted %v)", at, table, id, created, updated, deleted)
			}
			if deleted != nil && !deleted.Equal(updated) {
				t.Fatalf("AsOf(%s): %s id %d is deleted at %s but updated at %s", at, table, id, deleted, updated)
			}
		}
		wantPosts := 0
		for _, p := range ds.Posts {
			if !p.CreatedAt.After(at) {
				wantPosts++
			}
		}
		if len(st.Posts) != wantPosts {
			t.Fatalf("AsOf(%s): %d posts, want the %d created by then", at, len(st.Posts), wantPosts)
		}
		for _, p := range st.Posts {
			check("posts", p.ID, p.CreatedAt, p.UpdatedAt, p.DeletedAt)
			final := ds.Posts[p.ID-1]
			if prev, ok := ds.Earlier.Posts[p.ID]; ok && prev.Body != final.Body {
				if s := edits[p.ID]; s == nil {
					edits[p.ID] = &seen{}
				}
				if p.Body == final.Body {
					edits[p.ID].after = true
				} else {
					edits[p.ID].before = true
				}
			}
		}
		for _, c := range st.Comments {
			check("comments", c.ID, c.CreatedAt, c.UpdatedAt, c.DeletedAt)
		}
		for _, r := range st.Reactions {
			check("reactions", r.ID, r.CreatedAt, r.UpdatedAt, r.DeletedAt)
		}
		for _, u := range st.Users {
			check("users", u.ID, u.CreatedAt, u.UpdatedAt, u.DeletedAt)
		}
		for _, d := range st.Departments {
			check("departments", d.ID, d.CreatedAt, d.UpdatedAt, d.DeletedAt)
		}
	}
	both := 0
	for _, s := range edits {
		if s.before && s.after {
			both++
		}
	}
	if both == 0 {
		t.Error("no edited post was seen both before and after its edit")
	}
}

func TestAsOf_KeepsTheVersionBeforeAnEditOrADeletionAfterT(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	var edited, deleted *sample.Post
	for i := range ds.Posts {
		p := &ds.Posts[i]
		prev, ok := ds.Earlier.Posts[p.ID]
		switch {
		case !ok:
		case p.DeletedAt != nil && deleted == nil:
			deleted = p
		case p.DeletedAt == nil && prev.Body != p.Body && edited == nil:
			edited = p
		}
	}
	if edited == nil || deleted == nil {
		t.Fatal("the default sample has no edited or no soft-deleted post")
	}
	for _, tt := range []struct {
		name string
		post *sample.Post
	}{{"edited", edited}, {"soft-deleted", deleted}} {
		before, err := ds.AsOf(tt.post.UpdatedAt.Add(-time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		at, err := ds.AsOf(tt.post.UpdatedAt)
		if err != nil {
			t.Fatal(err)
		}
		b, a := before.Posts[tt.post.ID-1], at.Posts[tt.post.ID-1]
		if b.DeletedAt != nil || !b.UpdatedAt.Equal(b.CreatedAt) || b.Body != ds.Earlier.Posts[tt.post.ID].Body {
			t.Errorf("%s post %d a millisecond before its change: %+v; want its first version", tt.name, tt.post.ID, b)
		}
		if diff := cmp.Diff(*tt.post, a); diff != "" {
			t.Errorf("%s post %d at its change (-final +got):\n%s", tt.name, tt.post.ID, diff)
		}
	}
}

func TestAsOf_BeforeThePeriodNamesTheRowItCannotRewind(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	start, _ := ds.DayBounds(ds.Days()[0])
	_, err := ds.AsOf(start.AddDate(-3, 0, 0))
	if err == nil || !strings.Contains(err.Error(), "earlier version is not kept") {
		t.Fatalf("got %v, want an error naming a row changed before the period", err)
	}
}

func TestAsOf_AccessLogsUpToTheInstant(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	for _, d := range ds.Days() {
		_, end := ds.DayBounds(d)
		st, err := ds.AsOf(end.Add(-time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ds.ActiveUsersByDepartment(d), st.ActiveUsersByDepartment(d)); diff != "" {
			t.Errorf("%s: active users from the logs as of the day's end (-final +asof):\n%s", d, diff)
		}
		for _, a := range st.AccessLogs {
			if !a.Timestamp.Before(end) {
				t.Fatalf("%s: AsOf kept a record stamped %s", d, a.Timestamp)
			}
		}
	}
}
