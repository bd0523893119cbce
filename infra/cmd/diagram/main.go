// Command diagram draws the architecture of one environment's stack: it synthesizes the app,
// writes the diagram in Graphviz's DOT language and, with -svg, renders it with Graphviz: the
// data flow (-view flow, docs/architecture.*) or every resource (-view full,
// docs/architecture-full.*). `make diagram` writes both for the README.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/diagram"
)

func main() {
	env := flag.String("env", diagram.Environment, "environment of cdk.json to draw")
	view := flag.String("view", "flow", "flow: the data flow, alarms and dashboards folded; full: every resource")
	out := flag.String("out", "docs/architecture.dot", "where to write the DOT source (- for standard output)")
	svg := flag.String("svg", "", "where to write the SVG drawn from it by Graphviz (none if empty)")
	tmpl := flag.String("template", "", "draw this synthesized template (with construct path metadata) instead of synthesizing the app")
	flag.Parse()
	err := run(*env, *view, *out, *svg, *tmpl)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(env, view, out, svg, tmpl string) error {
	if view != "flow" && view != "full" {
		return fmt.Errorf("-view %q: give flow or full", view)
	}
	var data []byte
	var err error
	if tmpl != "" {
		data, err = os.ReadFile(tmpl)
	} else {
		data, err = diagram.Synthesize(".", env)
	}
	if err != nil {
		return err
	}
	g, err := diagram.FromTemplate(data)
	if err != nil {
		return err
	}
	dot := g.DOT()
	if view == "flow" {
		dot = g.Flow().DOT()
	}
	if out == "-" {
		if _, err := os.Stdout.Write(dot); err != nil {
			return err
		}
	} else if err := write(out, dot); err != nil {
		return err
	}
	if svg == "" {
		return nil
	}
	drawn, err := diagram.RenderSVG(dot)
	if err != nil {
		return err
	}
	return write(svg, drawn)
}

func write(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
