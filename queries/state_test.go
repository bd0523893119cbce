package queries_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// A KPI that reads {{ state }} gets the table's state node in its catalog, once however many
// KPIs read it, and depends on it; the node reads the table and nothing else.
func TestParse_StateAddsOneStateNodePerTableAndTheDependency(t *testing.T) {
	c := mustParse(t, map[string]string{
		"a.sql": kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ state "social" "posts" }} AS p`),
		"b.sql": kpiFile("b", "", "social.posts, social.reactions",
			`SELECT r.id FROM {{ source "social" "reactions" }} AS r JOIN {{ state "social" "posts" }} AS p ON p.id = r.post_id`),
		"c.sql": kpiFile("c", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} AS p`),
	})
	if diff := cmp.Diff([]string{"a", "b", "c", "state_social_posts"}, c.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"state_social_posts"}, c.States()); diff != "" {
		t.Errorf("States (-want +got):\n%s", diff)
	}
	for name, want := range map[string][]string{"a": {"state_social_posts"}, "b": {"state_social_posts"}, "c": nil} {
		k, _ := c.KPI(name)
		if diff := cmp.Diff(want, k.DependsOn); diff != "" {
			t.Errorf("%s DependsOn (-want +got):\n%s", name, diff)
		}
	}
	waves, err := c.Waves([]string{"state_social_posts"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"state_social_posts"}, {"a", "b"}}, waves); diff != "" {
		t.Errorf("waves (-want +got):\n%s", diff)
	}
	k, _ := c.KPI("a")
	got, err := k.Render(date("2026-11-24"), prodNames)
	if err != nil {
		t.Fatal(err)
	}
	if want := `(SELECT * FROM "kpilake_prod"."kpi_state_social_posts" WHERE "dt" = '2026-11-24') AS p`; !strings.Contains(got, want) {
		t.Errorf("rendered\n%s\nlacks %s", got, want)
	}
	st, _ := c.KPI("state_social_posts")
	if _, err := st.Render(date("2026-11-24"), prodNames); err == nil || !strings.Contains(err.Error(), "RenderState") {
		t.Errorf("Render of a state node: %v, want an error pointing to RenderState", err)
	}
}

func TestParse_StateIsCheckedLikeASourceAndItsNameIsReserved(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"source not in the header", map[string]string{"a.sql": kpiFile("a", "", "social.users",
			`SELECT p.id FROM {{ state "social" "posts" }} AS p CROSS JOIN {{ source "social" "users" }} AS u`)},
			[]string{"a.sql:5:", "reads source social.posts, which the header does not list"}},
		{"a window", map[string]string{"a.sql": kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ state "social" "posts" 7 }} AS p`)},
			[]string{"takes 2 arguments, not 3", `{{ state "<source>" "<table>" }}`}},
		{"a KPI named like a state node", map[string]string{"state_x.sql": kpiFile("state_x", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} AS p`)},
			[]string{`name "state_x" starts with "state_"`, "name the KPI otherwise"}},
		{"a state name too long", map[string]string{"a.sql": kpiFile("a", "", "s.t"+strings.Repeat("x", 60),
			`SELECT p.id FROM {{ state "s" "t`+strings.Repeat("x", 60)+`" }} AS p`)},
			[]string{`kpi "a" reads the state of s.t`, "shorten the source or table name"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.files), tt.want...)
		})
	}
	if got := layout.StateName("social", "posts"); got != "state_social_posts" {
		t.Errorf("StateName = %q", got)
	}
}

// RenderState refuses columns and keys that would not make a valid query, naming the fix.
func TestRenderState_RefusesBadColumnsAndKeys(t *testing.T) {
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := c.KPI("state_social_posts")
	for _, tt := range []struct {
		name string
		q    queries.StateQuery
		want string
	}{
		{"no columns", queries.StateQuery{Key: []string{"id"}}, "no columns in the catalog; crawl it first"},
		{"key not a column", queries.StateQuery{Columns: []string{"post_id", "body"}, Key: []string{"id"}}, `key column "id" is not a column of the table (post_id, body)`},
		{"no key", queries.StateQuery{Columns: []string{"id"}}, "the key is empty"},
		{"a column that is no identifier", queries.StateQuery{Columns: []string{"id", `x"; DROP`}, Key: []string{"id"}}, "is not a catalog identifier"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.RenderState(date("2026-11-24"), prodNames, tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// dt, the partition key, is never a column of the state.
	got, err := k.RenderState(date("2026-11-24"), prodNames, queries.StateQuery{Columns: []string{"id", "dt"}, Key: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, `i."dt"`) || strings.Contains(got, `v."dt",`) {
		t.Errorf("the partition key is selected:\n%s", got)
	}
	a, _ := c.KPI("reactions_given_received")
	if _, err := a.RenderState(date("2026-11-24"), prodNames, queries.StateQuery{Columns: []string{"id"}, Key: []string{"id"}}); err == nil {
		t.Error("RenderState of a KPI succeeded")
	}
}
