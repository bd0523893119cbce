//go:build !unit

package diagram

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/architecture*.dot and .svg from the app (`make diagram`)")

// root is the module root, relative to this package.
const root = "../.."

// pictures are the names of the committed pictures, in docs/.
var pictures = []string{FlowPicture, FullPicture}

func committed(name, ext string) string { return filepath.Join(root, "docs", name+ext) }

// devTemplate is the synthesized dev stack, shared by the tests that need it: a synthesis takes
// tens of seconds.
var devTemplate = sync.OnceValues(func() ([]byte, error) { return Synthesize(root, Environment) })

func devGraph(t *testing.T) *Graph {
	t.Helper()
	tmpl, err := devTemplate()
	if err != nil {
		t.Fatal(err)
	}
	g, err := FromTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// maxDiffLines keeps a stale-diagram failure short: the message says how to fix it.
const maxDiffLines = 40

// The committed pictures must show the app as it is: a change to the constructs that changes the
// architecture must come with `make diagram`, which runs this test with -update.
func TestCommittedDOT_MatchesTheApp(t *testing.T) {
	tmpl, err := devTemplate()
	if err != nil {
		t.Fatal(err)
	}
	drawn, err := Pictures(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range drawn {
		path := committed(p.Name, ".dot")
		if *update {
			writePicture(t, p)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v; run `make diagram` to draw it", err)
			continue
		}
		if bytes.Equal(want, p.DOT) {
			continue
		}
		diff := lineDiff(string(want), string(p.DOT))
		if len(diff) > maxDiffLines {
			diff = append(diff[:maxDiffLines], fmt.Sprintf("... and %d more lines", len(diff)-maxDiffLines))
		}
		t.Errorf("docs/%s.dot is stale: the %s stack's architecture changed; run `make diagram` and commit "+
			"docs/architecture*.dot and docs/architecture*.svg (-committed +app):\n%s", p.Name, Environment, strings.Join(diff, "\n"))
	}
}

// writePicture writes a picture's DOT and the SVG that Graphviz draws from it.
func writePicture(t *testing.T, p Picture) {
	t.Helper()
	svg, err := RenderSVG(p.DOT)
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{committed(p.Name, ".dot"): p.DOT, committed(p.Name, ".svg"): svg} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// lineDiff lists the lines only in want ("-") and only in got ("+"). The DOT's lines are sorted
// statements, so this is as readable as a real diff and needs no context.
func lineDiff(want, got string) []string {
	count := map[string]int{}
	for _, l := range strings.Split(got, "\n") {
		count[l]++
	}
	var out []string
	for _, l := range strings.Split(want, "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			out = append(out, "- "+strings.TrimSpace(l))
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if count[l] > 0 {
			count[l]--
			out = append(out, "+ "+strings.TrimSpace(l))
		}
	}
	return out
}

// Each committed SVG must be drawn from the committed DOT of its name (checked without
// Graphviz).
func TestCommittedSVG_IsDrawnFromTheCommittedDOT(t *testing.T) {
	for _, name := range pictures {
		dot, err := os.ReadFile(committed(name, ".dot"))
		if err != nil {
			t.Errorf("%v; run `make diagram` to draw it", err)
			continue
		}
		svg, err := os.ReadFile(committed(name, ".svg"))
		if err != nil {
			t.Errorf("%v; run `make diagram` to draw it", err)
			continue
		}
		got, ok := SVGSource(svg)
		if !ok {
			t.Errorf("docs/%s.svg carries no source hash; draw it with `make diagram`, not by hand", name)
			continue
		}
		if want := SourceHash(dot); got != want {
			t.Errorf("docs/%s.svg was drawn from another docs/%s.dot (sha256 %s, the DOT is %s); run `make diagram`", name, name, got, want)
		}
	}
}

// readmeWidth is the width of the README's column in pixels, to which a browser scales the
// flow view; minReadablePx is the smallest type legible there.
const (
	readmeWidth   = 900
	minReadablePx = 12
)

var (
	svgViewBox  = regexp.MustCompile(`<svg width="[0-9.]+pt" height="[0-9.]+pt"\s+viewBox="0\.00 0\.00 ([0-9.]+) ([0-9.]+)"`)
	svgFontSize = regexp.MustCompile(`font-size="([0-9.]+)"`)
)

// The README's picture must read at README width: no strip too wide for its height, no type
// smaller than minReadablePx once scaled to readmeWidth. A stack that outgrows it needs a new
// look at Flow, not smaller type.
func TestCommittedFlowSVG_ReadsAtREADMEWidth(t *testing.T) {
	svg, err := os.ReadFile(committed(FlowPicture, ".svg"))
	if err != nil {
		t.Fatalf("%v; run `make diagram` to draw it", err)
	}
	m := svgViewBox.FindSubmatch(svg)
	if m == nil {
		t.Fatal("docs/architecture.svg has no <svg> element with a viewBox; draw it with `make diagram`")
	}
	width, _ := strconv.ParseFloat(string(m[1]), 64)
	height, _ := strconv.ParseFloat(string(m[2]), 64)
	if ratio := width / height; ratio < 0.8 || ratio > 2.2 {
		t.Errorf("docs/architecture.svg is %.0f×%.0f, %.2f:1 wide to tall; the README wants between about 1:1 and 2:1", width, height, ratio)
	}
	smallest := 0.0
	for _, f := range svgFontSize.FindAllSubmatch(svg, -1) {
		size, _ := strconv.ParseFloat(string(f[1]), 64)
		if smallest == 0 || size < smallest {
			smallest = size
		}
	}
	if px := smallest * readmeWidth / width; px < minReadablePx {
		t.Errorf("docs/architecture.svg's smallest type (%.0fpt in %.0f wide) is %.1f px at %d px wide, under %d px",
			smallest, width, px, readmeWidth, minReadablePx)
	}
}

func TestStamp_RecordsTheSourceOnce(t *testing.T) {
	svg := []byte("<?xml version=\"1.0\"?>\n<!-- Generated by graphviz -->\n<svg width=\"1pt\"></svg>\n")
	dot1, dot2 := []byte("digraph a {}\n"), []byte("digraph b {}\n")
	stamped, err := Stamp(svg, dot1)
	if err != nil {
		t.Fatal(err)
	}
	restamped, err := Stamp(stamped, dot2)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(restamped, []byte("kpilake-diagram-source")); n != 1 {
		t.Errorf("stamping twice left %d source comments:\n%s", n, restamped)
	}
	if got, _ := SVGSource(restamped); got != SourceHash(dot2) {
		t.Errorf("source %s, want the hash of the last DOT %s", got, SourceHash(dot2))
	}
	if !bytes.HasPrefix(restamped, []byte("<?xml")) {
		t.Errorf("the XML declaration must stay first:\n%s", restamped)
	}
	if _, err := Stamp([]byte("not svg"), dot1); err == nil {
		t.Error("stamping a file without <svg> succeeded")
	}
}

// Graphviz must accept the DOT we write (skipped where Graphviz is not installed, but not in
// CI, which installs it).
func TestRenderSVG_DrawsTheCommittedDOT(t *testing.T) {
	if _, err := exec.LookPath("dot"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Graphviz (dot) is not installed, and CI must run every check; .ci/run installs it")
		}
		t.Skip("Graphviz (dot) is not installed; `make diagram` needs it, the other tests do not")
	}
	for _, name := range pictures {
		dot, err := os.ReadFile(committed(name, ".dot"))
		if err != nil {
			t.Fatal(err)
		}
		svg, err := RenderSVG(dot)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := SVGSource(svg); !ok || got != SourceHash(dot) {
			t.Errorf("%s: rendered SVG carries source %q, want %s", name, got, SourceHash(dot))
		}
		for _, want := range []string{"<svg", "Raw", "data flow (reads, writes, sends, ...)"} {
			if !bytes.Contains(svg, []byte(want)) {
				t.Errorf("%s: rendered SVG lacks %q", name, want)
			}
		}
	}
}
