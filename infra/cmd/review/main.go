// Command review prints the normalized diff between CloudFormation templates (see infra/review):
//
//	review -env prod -base test/testdata/KpiLake-prod.template.json   # this tree's prod against a template (make diff)
//	review -base old.json -head new.json                               # two template files
//	review -base-dir main/test/testdata -head-dir test/testdata -markdown   # every stack: the pull-request comment
//
// It exits 0 whether or not there are differences (1 with -fail when there are), and 2 on an error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/review"
	"github.com/kpilake/kpilake/infra/stack"
)

type options struct {
	env, base, head, baseDir, headDir, account, title string
	markdown, fail, printMarker                       bool
}

func main() {
	var o options
	flag.StringVar(&o.env, "env", "", "synthesize this environment of cdk.json as the new side")
	flag.StringVar(&o.base, "base", "", "the old template (a snapshot, a `cdk synth` output, a deployed stack's template)")
	flag.StringVar(&o.head, "head", "", "the new template, instead of -env")
	flag.StringVar(&o.baseDir, "base-dir", "", "directory of old templates (*.template.json), with -head-dir")
	flag.StringVar(&o.headDir, "head-dir", "", "directory of new templates (*.template.json), with -base-dir")
	flag.StringVar(&o.account, "account", "", "the account the old template was synthesized for; replaced by the snapshots' placeholder")
	flag.StringVar(&o.title, "title", "", "with -markdown: the line under the heading that says what was compared")
	flag.BoolVar(&o.markdown, "markdown", false, "print one Markdown comment (a summary table, each stack's diff collapsed)")
	flag.BoolVar(&o.fail, "fail", false, "exit 1 when there are differences")
	flag.BoolVar(&o.printMarker, "print-marker", false, "print the line that starts the pull-request comment (to find it again) and exit")
	flag.Parse()
	if o.printMarker {
		fmt.Println(review.CommentMarker)
		return
	}
	diffs, err := run(o)
	jsii.Close()
	if err == nil {
		err = write(os.Stdout, o, diffs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "review:", err)
		os.Exit(2)
	}
	for _, d := range diffs {
		if o.fail && !d.Empty() {
			os.Exit(1)
		}
	}
}

func run(o options) ([]*review.StackDiff, error) {
	switch {
	case o.baseDir != "" || o.headDir != "":
		if o.baseDir == "" || o.headDir == "" {
			return nil, errors.New("-base-dir and -head-dir go together")
		}
		return diffDirs(o)
	case o.base == "":
		return nil, errors.New("-base is required: the template to compare with, for example -base test/testdata/KpiLake-prod.template.json")
	case o.env != "" && o.head != "":
		return nil, errors.New("give -env or -head, not both")
	case o.env == "" && o.head == "":
		return nil, errors.New("give -env NAME (synthesize that environment) or -head FILE")
	}
	base, err := readNormalized(o.base, o.account)
	if err != nil {
		return nil, err
	}
	if o.head != "" {
		head, err := readNormalized(o.head, "")
		if err != nil {
			return nil, err
		}
		d, err := review.Diff(review.StackName(o.head), base, head)
		return []*review.StackDiff{d}, err
	}
	templates, err := synthesize(".", o.env)
	if err != nil {
		return nil, err
	}
	name := stack.Name(o.env)
	head, ok := templates[name+".template.json"]
	if !ok {
		return nil, fmt.Errorf("synth of %s made no template %s.template.json", o.env, name)
	}
	d, err := review.Diff(name, base, head)
	if err != nil {
		return nil, err
	}
	diffs := []*review.StackDiff{d}
	// The environment's nested stacks (its sources) are templates of their own; each is compared
	// with the file of the same name next to -base, if there is one.
	seen := map[string]bool{}
	for f := range templates {
		if strings.HasSuffix(f, nestedSuffix) {
			seen[f] = true
		}
	}
	// A nested stack of the base that the environment no longer has shows as removed.
	olds, err := filepath.Glob(filepath.Join(filepath.Dir(o.base), strings.ReplaceAll(name, "-", "")+"[A-Z]*"+nestedSuffix))
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
		old, err := readNormalized(filepath.Join(filepath.Dir(o.base), f), o.account)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		d, err := review.Diff(review.StackName(f), old, templates[f])
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d)
	}
	return diffs, nil
}

// nestedSuffix ends the file name of a nested stack's template.
const nestedSuffix = ".nested.template.json"

func diffDirs(o options) ([]*review.StackDiff, error) {
	files := map[string]bool{}
	for _, dir := range []string{o.baseDir, o.headDir} {
		found, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			files[filepath.Base(f)] = true
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.template.json in %s or %s", o.baseDir, o.headDir)
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	// By stack, so that KpiLake-dev comes before KpiLake-dev-delivery.
	sort.Slice(names, func(i, j int) bool { return review.StackName(names[i]) < review.StackName(names[j]) })
	var diffs []*review.StackDiff
	for _, f := range names {
		base, err := readNormalized(filepath.Join(o.baseDir, f), o.account)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		head, err := readNormalized(filepath.Join(o.headDir, f), "")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		d, err := review.Diff(review.StackName(f), base, head)
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
	out, err := review.NormalizeAccount(raw, account)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func write(w io.Writer, o options, diffs []*review.StackDiff) error {
	if o.markdown {
		return review.WriteMarkdown(w, o.title, diffs)
	}
	for i, d := range diffs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := d.WriteText(w); err != nil {
			return err
		}
	}
	return nil
}

// synthesize builds the real app for one environment of cdk.json (root is the module's root) the
// way the snapshot tests do, for the placeholder review.Account, and returns its templates
// normalized, by file name (KpiLake-prod.template.json, and any nested stack's).
func synthesize(root, env string) (map[string][]byte, error) {
	templates, err := app.SynthEnvironment(root, env, review.Account, nil)
	if err != nil {
		return nil, err
	}
	for name, data := range templates {
		if templates[name], err = review.Normalize(data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return templates, nil
}
