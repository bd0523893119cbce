package cdktest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unitTag excludes a test file from `make test-unit` (go test -short -tags unit): a package whose
// tests all synthesize would link a CDK test binary there only to skip every test.
const unitTag = "//go:build !unit"

// A test package that synthesizes is left out of `make test-unit` whole: every test file that
// runs cdktest.Main carries the unit tag, and so does every other test file of a package where
// one does (a file left untagged would run there without the TestMain that it needs).
func TestUnitTag_CoversWholeSynthPackages(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	untagged := map[string][]string{} // dir -> its test files without the tag
	hasTag := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "cdk.out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir, rel := filepath.Dir(path), strings.TrimPrefix(path, root+string(filepath.Separator))
		if strings.HasPrefix(string(src), unitTag+"\n") {
			hasTag[dir] = true
			return nil
		}
		if strings.Contains(string(src), "cdktest."+"Main(m)") { // split, so that this file does not match
			t.Errorf("%s runs cdktest.Main but does not start with %q: make test-unit would link it to skip every test", rel, unitTag)
		}
		untagged[dir] = append(untagged[dir], rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hasTag) == 0 {
		t.Fatal("no test file carries the unit tag; the walk found nothing")
	}
	for dir, files := range untagged {
		if hasTag[dir] {
			for _, f := range files {
				t.Errorf("%s has no %q while other test files of its package do: under -tags unit it would run without their TestMain", f, unitTag)
			}
		}
	}
}
