package app

import (
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/queries"
)

// A KPI that reads the state of a table the environment extracts as a snapshot fails synth,
// naming the environment's key and the fix; an incremental one passes.
func TestCheckStates_RefusesTheStateOfASnapshotTable(t *testing.T) {
	kpis, err := queries.Load() // reactions_given_received reads {{ state "social" "posts" }}
	if err != nil {
		t.Fatal(err)
	}
	env := func(mode config.TableMode) *config.Environment {
		return &config.Environment{Name: "dev", Sources: []config.Source{{Name: "social", Tables: []config.Table{
			{Name: "posts", Mode: mode, Key: map[bool][]string{true: config.DefaultKey}[mode == config.Incremental]},
		}}}}
	}
	if errs := checkStates(kpis, env(config.Incremental)); len(errs) > 0 {
		t.Errorf("incremental posts: %v", errs)
	}
	errs := checkStates(kpis, env(config.Snapshot))
	if len(errs) != 1 {
		t.Fatalf("snapshot posts: %d problems (%v), want 1", len(errs), errs)
	}
	for _, want := range []string{"environment dev", `{{ state "social" "posts" }}`, "social.posts is not incremental",
		config.ContextKey + ".environments.dev.sources", `{{ source "social" "posts" }}`} {
		if !strings.Contains(errs[0].Error(), want) {
			t.Errorf("%q lacks %q", errs[0], want)
		}
	}
}
