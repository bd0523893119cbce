package aggregate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// fakeRaw answers LastChange with the newest of the days' changes up to through.
type fakeRaw struct {
	changed map[string]time.Time // day -> when its partition last changed
	err     error
}

func (f *fakeRaw) LastChange(_ context.Context, _ queries.SourceTable, through layout.Day) (time.Time, bool, error) {
	var last time.Time
	ok := false
	for d, t := range f.changed {
		if d <= through.String() && t.After(last) {
			last, ok = t, true
		}
	}
	return last, ok, f.err
}

var posts = queries.SourceTable{Source: "social", Table: "posts"}

// A state day is built on the previous day's state only when that state was published by a run
// that started after the last change of every raw partition it covers; otherwise, whatever the
// order in which days are built (a backfill's parallel days, a re-extraction of an old day), it is
// rebuilt from every partition up to the day.
func TestRender_StateBuildsOnThePreviousDayOnlyWhenItIsCurrent(t *testing.T) {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	const day = "2026-11-25"
	stateTable := layout.KPITableName(layout.StateName("social", "posts"))
	for _, c := range []struct {
		name    string
		served  map[string]time.Time
		changed map[string]time.Time
		rawErr  error
		want    string // "previous", "rebuild" or an error
	}{
		{name: "the previous state is newer than every partition up to its day",
			served:  map[string]time.Time{stateTable + "/2026-11-24": at("2026-11-25T01:40:00Z")},
			changed: map[string]time.Time{"2026-11-20": at("2026-11-21T01:30:00Z"), "2026-11-24": at("2026-11-25T01:30:00Z"), "2026-11-25": at("2026-11-26T01:30:00Z")},
			want:    "previous"},
		{name: "first day: no previous state",
			changed: map[string]time.Time{"2026-11-24": at("2026-11-25T01:30:00Z")},
			want:    "rebuild"},
		{name: "an old day re-extracted after the previous state was built",
			served:  map[string]time.Time{stateTable + "/2026-11-24": at("2026-11-25T01:40:00Z")},
			changed: map[string]time.Time{"2026-10-01": at("2026-11-25T03:00:00Z"), "2026-11-24": at("2026-11-25T01:30:00Z")},
			want:    "rebuild"},
		{name: "a backfill's previous day not rebuilt yet: its state predates its own partition",
			served:  map[string]time.Time{stateTable + "/2026-11-24": at("2026-11-25T01:40:00Z")},
			changed: map[string]time.Time{"2026-11-24": at("2026-12-01T10:00:00Z")},
			want:    "rebuild"},
		{name: "within S3's second: the partition may have landed after the state's run read it",
			served:  map[string]time.Time{stateTable + "/2026-11-24": at("2026-11-25T01:30:00Z")},
			changed: map[string]time.Time{"2026-11-24": at("2026-11-25T01:29:59.5Z").Add(time.Second)}, // LastChange adds the slack
			want:    "rebuild"},
		{name: "a change of a later day does not matter",
			served:  map[string]time.Time{stateTable + "/2026-11-24": at("2026-11-25T01:40:00Z")},
			changed: map[string]time.Time{"2026-11-24": at("2026-11-25T01:30:00Z"), "2026-11-25": at("2026-12-01T00:00:00Z")},
			want:    "previous"},
		{name: "a previous state served by no run is not trusted",
			served:  map[string]time.Time{stateTable + "/2026-11-24": {}},
			changed: map[string]time.Time{"2026-11-24": at("2026-11-25T01:30:00Z")},
			want:    "rebuild"},
		{name: "the raw zone cannot be listed", served: map[string]time.Time{stateTable + "/2026-11-24": at("2026-11-25T01:40:00Z")},
			rawErr: errors.New("AccessDenied"), want: "AccessDenied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := &fakeRunner{served: c.served, columns: map[string][]string{"social_posts": {"id", "user_id", "deleted_at"}}}
			h := handler(t, run).WithState(aggregate.StateKeys{posts: {"id"}}, &fakeRaw{changed: c.changed, err: c.rawErr})
			res, err := h.Handle(context.Background(), aggregate.Request{KPI: "state_social_posts", Date: day})
			switch c.want {
			case "previous", "rebuild":
				if err != nil {
					t.Fatal(err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want one containing %q", err, c.want)
				}
				return
			}
			if res.QueryID == "" || len(run.got) != 1 {
				t.Fatalf("result %+v after %d runs", res, len(run.got))
			}
			sql := run.got[0].Select
			fromPrevious := strings.Contains(sql, `"kpi_state_social_posts" WHERE "dt" = '2026-11-24'`)
			rebuilt := strings.Contains(sql, `"social_posts" WHERE "dt" <= '2026-11-25'`)
			if got := map[bool]string{true: "previous", false: "rebuild"}[fromPrevious]; got != c.want || fromPrevious == rebuilt {
				t.Errorf("state query (want %s):\n%s", c.want, sql)
			}
		})
	}
}

// A state node is refused, naming the fix, when the environment gives no key for its table.
func TestRender_StateOfATableWithoutKeyIsAnInputError(t *testing.T) {
	for _, c := range []struct {
		name string
		h    func(*aggregate.Handler) *aggregate.Handler
		want string
	}{
		{name: "no state configured", h: func(h *aggregate.Handler) *aggregate.Handler { return h }, want: contract.EnvStateKeys},
		{name: "the table has no key", h: func(h *aggregate.Handler) *aggregate.Handler {
			return h.WithState(aggregate.StateKeys{{Source: "social", Table: "users"}: {"id"}}, &fakeRaw{})
		}, want: "social.posts has no primary key in " + contract.EnvStateKeys + " (it has social.users)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := &fakeRunner{columns: map[string][]string{"social_posts": {"id"}}}
			_, err := c.h(handler(t, run)).Handle(context.Background(), aggregate.Request{KPI: "state_social_posts", Date: "2026-11-25"})
			var in *aggregate.InputError
			if !errors.As(err, &in) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v (%T), want an InputError containing %q", err, err, c.want)
			}
			if len(run.got) > 0 {
				t.Errorf("ran %d queries", len(run.got))
			}
		})
	}
}

func TestStateKeys_RoundTripsThroughTheEnvironment(t *testing.T) {
	keys := aggregate.StateKeys{posts: {"id"}, {Source: "sales", Table: "lines"}: {"order_id", "line_no"}}
	env := keys.Env()
	if want := `{"sales.lines":["order_id","line_no"],"social.posts":["id"]}`; env != want {
		t.Errorf("Env() = %s, want %s", env, want)
	}
	got, err := aggregate.ParseStateKeys(env)
	if err != nil {
		t.Fatal(err)
	}
	if got.Env() != env {
		t.Errorf("ParseStateKeys(Env()) = %v", got)
	}
	for _, bad := range []string{`[]`, `{"posts":["id"]}`, `{"social.posts":[]}`, `{"social.posts":[""]}`} {
		if _, err := aggregate.ParseStateKeys(bad); err == nil || !strings.Contains(err.Error(), contract.EnvStateKeys) {
			t.Errorf("ParseStateKeys(%s) = %v, want an error naming %s", bad, err, contract.EnvStateKeys)
		}
	}
}
