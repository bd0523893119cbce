//go:build !unit

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/review"
)

// diffMarker matches a line that reports a change, in the marks of `cdk diff` and of
// `make diff`: [+] added, [-] removed, [~] changed.
var diffMarker = regexp.MustCompile(`\[[-+~]\]`)

// TestMakeDiff_MainAgainstItsOwnSnapshotIsEmpty: the README's offline review command, run on an
// unchanged tree against the committed snapshot, reports no difference. It runs `make diff` as a
// reviewer does.
func TestMakeDiff_MainAgainstItsOwnSnapshotIsEmpty(t *testing.T) {
	t.Parallel()
	// -o: the npm packages stay as they are while the other tests use them (a stale stamp would
	// have make reinstall them under their feet).
	cmd := exec.Command("make", "--no-print-directory", "-o", "node_modules/.install-stamp", "diff", "ENV=prod", "BASE=test/testdata/KpiLake-prod.template.json")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make diff: %v\n%s", err, out)
	}
	if lines := diffMarker.FindAll(out, -1); len(lines) > 0 {
		t.Errorf("make diff of the tree against its own snapshot reports %d changes; want none:\n%s", len(lines), head(out, 40))
	}
}

// head returns the first n lines of out.
func head(out []byte, n int) []byte {
	for i, c := range out {
		if c == '\n' {
			n--
			if n == 0 {
				return out[:i+1]
			}
		}
	}
	return out
}

// TestDiff_OneConfigChangeShowsAsExactlyThatProperty: raising one source's Lambda memory in
// cdk.json shows, against the committed snapshot, as one changed resource with one changed
// property, updated in place: nothing that the normalization should hide leaks through.
func TestDiff_OneConfigChangeShowsAsExactlyThatProperty(t *testing.T) {
	ctx := cdkContext(t)
	cfg := ctx[config.ContextKey].(map[string]any)
	src := cfg["environments"].(map[string]any)["prod"].(map[string]any)["sources"].([]any)[0].(map[string]any)
	src["memoryMB"] = 2048.0
	ctx[app.EnvContextKey] = "prod"
	dir := t.TempDir()
	a := variantApp(ctx, dir)
	if _, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root}); err != nil {
		t.Fatal(err)
	}
	a.Synth(nil)
	// The source's extraction function is its nested stack's; the parent does not change.
	nested, err := review.Nested(assembly{dir: dir}.files(t), "KpiLake-prod.template.json")
	if err != nil || len(nested) != 1 {
		t.Fatalf("nested stacks of KpiLake-prod = %v, %v; want the one source's", nested, err)
	}
	for _, f := range []string{"KpiLake-prod.template.json", nested[0]} {
		head := normalize(t, readFile(t, filepath.Join(dir, f)))
		base := readFile(t, filepath.Join("testdata", f))
		d, err := review.Diff(review.StackName(f), base, head)
		if err != nil {
			t.Fatal(err)
		}
		if f == nested[0] {
			checkOneMemoryChange(t, d)
		} else if !d.Empty() {
			t.Errorf("%s changed; want only its source's nested stack to", f)
		}
	}
}

// checkOneMemoryChange holds that d is the one change of an extraction function's memory.
func checkOneMemoryChange(t *testing.T, d *review.StackDiff) {
	t.Helper()
	var text strings.Builder
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if len(d.Resources) != 1 {
		t.Fatalf("%d entries changed; want the one extraction function:\n%s", len(d.Resources), text.String())
	}
	r := d.Resources[0]
	if r.Type != "AWS::Lambda::Function" || r.Kind != review.Changed || len(r.Changes) != 1 {
		t.Fatalf("got %s %s %s with %d changes; want one in-place change of a Lambda function:\n%s", r.Kind, r.Type, r.ID, len(r.Changes), text.String())
	}
	c := r.Changes[0]
	if c.Path != "MemorySize" || c.Replacement != review.NoReplacement || fmt.Sprint(*c.Old) != "1024" || fmt.Sprint(*c.New) != "2048" {
		t.Errorf("change = %s %v -> %v (replacement %d); want MemorySize 1024 -> 2048 in place:\n%s", c.Path, *c.Old, *c.New, c.Replacement, text.String())
	}
	if want := d.Stack + ": 0 added, 1 changed, 0 replaced, 0 removed; IAM: no change; security groups: no change"; d.Summary() != want {
		t.Errorf("summary = %q, want %q", d.Summary(), want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
