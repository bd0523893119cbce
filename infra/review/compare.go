package review

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Request is what the review command compares (its flags, without the output's).
type Request struct {
	Env, Base, Head, BaseDir, HeadDir, Account string
}

// Synthesize synthesizes environment env of cdk.json and returns its stack's name and its
// templates, normalized, by file name (the stack's and its nested stacks').
type Synthesize func(env string) (stack string, templates map[string][]byte, err error)

// Compare is the review command's comparison of r: two directories of templates (every stack of
// either), two template files, or a template and the environment r.Env as synth synthesizes it,
// with its nested stacks, each compared with the file of the same name beside r.Base. A missing
// argument is an error that says which flag to give.
func Compare(r Request, synth Synthesize) ([]*StackDiff, error) {
	switch {
	case r.BaseDir != "" || r.HeadDir != "":
		if r.BaseDir == "" || r.HeadDir == "" {
			return nil, errors.New("-base-dir and -head-dir go together")
		}
		return DiffDirs(r.BaseDir, r.HeadDir, r.Account)
	case r.Base == "":
		return nil, errors.New("-base is required: the template to compare with, for example -base test/testdata/KpiLake-prod.template.json")
	case r.Env != "" && r.Head != "":
		return nil, errors.New("give -env or -head, not both")
	case r.Env == "" && r.Head == "":
		return nil, errors.New("give -env NAME (synthesize that environment) or -head FILE")
	}
	base, err := readNormalized(r.Base, r.Account)
	if err != nil {
		return nil, err
	}
	if r.Head != "" {
		head, err := readNormalized(r.Head, "")
		if err != nil {
			return nil, err
		}
		d, err := Diff(StackName(r.Head), base, head)
		return []*StackDiff{d}, err
	}
	name, templates, err := synth(r.Env)
	if err != nil {
		return nil, err
	}
	head, ok := templates[name+".template.json"]
	if !ok {
		return nil, fmt.Errorf("synth of %s made no template %s.template.json", r.Env, name)
	}
	d, err := Diff(name, base, head)
	if err != nil {
		return nil, err
	}
	diffs := []*StackDiff{d}
	// The environment's nested stacks (its sources) are templates of their own; each is compared
	// with the file of the same name next to -base, if there is one.
	seen := map[string]bool{}
	for f := range templates {
		if strings.HasSuffix(f, nestedSuffix) {
			seen[f] = true
		}
	}
	// A nested stack of the base that the environment no longer has shows as removed.
	olds, err := filepath.Glob(filepath.Join(filepath.Dir(r.Base), strings.ReplaceAll(name, "-", "")+"[A-Z]*"+nestedSuffix))
	if err != nil {
		return nil, err
	}
	for _, f := range olds {
		seen[filepath.Base(f)] = true
	}
	nested := make([]string, 0, len(seen))
	for f := range seen {
		nested = append(nested, f)
	}
	sort.Strings(nested)
	for _, f := range nested {
		old, err := readNormalized(filepath.Join(filepath.Dir(r.Base), f), r.Account)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		d, err := Diff(StackName(f), old, templates[f])
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d)
	}
	return diffs, nil
}

// nestedSuffix ends the file name of a nested stack's template.
const nestedSuffix = ".nested.template.json"

// DiffDirs compares every stack's template (*.template.json) in baseDir with the file of the same
// name in headDir, in the order of the stacks' names; a stack on one side only shows as added or
// removed. account is the account the base side was synthesized for (see NormalizeAccount).
func DiffDirs(baseDir, headDir, account string) ([]*StackDiff, error) {
	files := map[string]bool{}
	for _, dir := range []string{baseDir, headDir} {
		found, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			files[filepath.Base(f)] = true
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.template.json in %s or %s", baseDir, headDir)
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	// By stack, so that KpiLake-dev comes before KpiLake-dev-delivery.
	sort.Slice(names, func(i, j int) bool { return StackName(names[i]) < StackName(names[j]) })
	var diffs []*StackDiff
	for _, f := range names {
		base, err := readNormalized(filepath.Join(baseDir, f), account)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		head, err := readNormalized(filepath.Join(headDir, f), "")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		d, err := Diff(StackName(f), base, head)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d)
	}
	return diffs, nil
}

// readNormalized reads and normalizes a template; a missing file is os.ErrNotExist (nil bytes).
func readNormalized(path, account string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, err := NormalizeAccount(raw, account)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
