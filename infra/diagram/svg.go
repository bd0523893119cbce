package diagram

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
)

// sourceComment is the XML comment that ties an SVG to the DOT it was drawn from, so that a test
// can tell a stale picture without Graphviz.
const sourceComment = "<!-- kpilake-diagram-source: sha256:%s -->\n"

var sourcePattern = regexp.MustCompile(`<!-- kpilake-diagram-source: sha256:([0-9a-f]{64}) -->`)

// SourceHash is the hex SHA-256 of a DOT source.
func SourceHash(dot []byte) string {
	sum := sha256.Sum256(dot)
	return hex.EncodeToString(sum[:])
}

// SVGSource returns the source hash an SVG carries (see Stamp), or false if it carries none.
func SVGSource(svg []byte) (string, bool) {
	m := sourcePattern.FindSubmatch(svg)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// Stamp puts the hash of dot into svg, as a comment before the <svg> element.
func Stamp(svg, dot []byte) ([]byte, error) {
	svg = sourcePattern.ReplaceAll(svg, nil)
	i := bytes.Index(svg, []byte("<svg"))
	if i < 0 {
		return nil, errors.New("diagram: the SVG has no <svg> element")
	}
	var out bytes.Buffer
	out.Write(svg[:i])
	fmt.Fprintf(&out, sourceComment, SourceHash(dot))
	out.Write(svg[i:])
	return out.Bytes(), nil
}

// RenderSVG draws dot with Graphviz's `dot` command and stamps the result with the source hash.
func RenderSVG(dot []byte) ([]byte, error) {
	bin, err := exec.LookPath("dot")
	if err != nil {
		return nil, errors.New("diagram: Graphviz's dot command is not installed; install Graphviz " +
			"(apt-get install graphviz, brew install graphviz) and run make diagram again")
	}
	cmd := exec.Command(bin, "-Tsvg")
	cmd.Stdin = bytes.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("diagram: dot -Tsvg: %w\n%s", err, stderr.String())
	}
	return Stamp(svg, dot)
}

// Names of the pictures under docs/: <name>.dot and the <name>.svg drawn from it.
const (
	// FlowPicture is the flow view (Graph.Flow), the README's picture.
	FlowPicture = "architecture"
	// FullPicture is the full inventory.
	FullPicture = "architecture-full"
)

// Picture is one drawing of a stack in the DOT language.
type Picture struct {
	// Name is FlowPicture or FullPicture.
	Name string
	DOT  []byte
}

// Pictures draws a synthesized template (see Synthesize) as the pictures `make diagram` keeps
// in docs/: the flow view, then the full inventory.
func Pictures(tmpl []byte) ([]Picture, error) {
	g, err := FromTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	return []Picture{{FlowPicture, g.Flow().DOT()}, {FullPicture, g.DOT()}}, nil
}
