package review

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pull-request comment of two snapshot directories: an unchanged stack, a changed one and a
// stack only the pull request has, each in the table, in one comment that starts with the marker.
func TestDiffDirs_CommentsOnEveryStackOfEitherSide(t *testing.T) {
	snaps := filepath.Join("..", "..", "test", "testdata")
	dev, err := os.ReadFile(filepath.Join(snaps, "KpiLake-dev.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	prod, err := os.ReadFile(filepath.Join(snaps, "KpiLake-prod.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	base, head := t.TempDir(), t.TempDir()
	put := func(dir, name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(base, "KpiLake-dev.template.json", dev)
	put(head, "KpiLake-dev.template.json", dev)
	put(base, "KpiLake-prod.template.json", prod)
	put(head, "KpiLake-prod.template.json", []byte(strings.Replace(string(prod), `"MemorySize": 256`, `"MemorySize": 2048`, 1)))
	put(head, "KpiLake-staging.template.json", dev)
	diffs, err := Compare(Request{BaseDir: base, HeadDir: head}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, "main against this pull request", diffs); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		CommentMarker + "\n### Infrastructure diff\n\nmain against this pull request\n",
		"| KpiLake-dev | 0 | 0 | 0 | 0 | no change | no change |",
		"| KpiLake-prod | 0 | 1 | 0 | 0 | no change | no change |",
		"[~] MemorySize: 256 -> 2048",
		"<summary>KpiLake-staging: ", " added, 0 changed, 0 replaced, 0 removed (and ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("comment lacks %q:\n%s", want, md)
		}
	}
}

func TestCompare_ExplainsMissingArguments(t *testing.T) {
	tests := []struct {
		r    Request
		want string
	}{
		{Request{}, "-base is required"},
		{Request{Base: "x"}, "give -env NAME"},
		{Request{Base: "x", Env: "prod", Head: "y"}, "not both"},
		{Request{BaseDir: "x"}, "go together"},
	}
	for _, tc := range tests {
		if _, err := Compare(tc.r, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compare(%+v) = %v, want an error with %q", tc.r, err, tc.want)
		}
	}
}
