// Command review prints the normalized diff between CloudFormation templates (see infra/review):
//
//	review -env prod -base test/testdata/KpiLake-prod.template.json   # this tree's prod against a template (make diff)
//	review -base old.json -head new.json                               # two template files
//	review -base-dir main/test/testdata -head-dir test/testdata -markdown   # every stack: the pull-request comment
//
// It exits 0 whether or not there are differences (1 with -fail when there are), and 2 on an error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

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
	return review.Compare(review.Request{Env: o.env, Base: o.base, Head: o.head, BaseDir: o.baseDir, HeadDir: o.headDir, Account: o.account},
		func(env string) (string, map[string][]byte, error) {
			templates, err := synthesize(".", env)
			return stack.Name(env), templates, err
		})
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
