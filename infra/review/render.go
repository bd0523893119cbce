package review

import (
	"fmt"
	"io"
	"strings"
)

// Summary is the one line that says what a stack's change amounts to, for example
// "KpiLake-prod: 1 added, 2 changed, 1 replaced, 0 removed; IAM: 2 statements added, 1 removed (widens); security groups: no change".
func (d *StackDiff) Summary() string {
	if d.Empty() {
		return d.Stack + ": no differences"
	}
	s := fmt.Sprintf("%s: %d added, %d changed, %d replaced, %d removed", d.Stack,
		d.Count(Added), d.Count(Changed), d.Count(Replaced), d.Count(Removed))
	if n := d.otherChanges(); n > 0 {
		s += fmt.Sprintf(" (and %d outputs, parameters or other entries)", n)
	}
	s += "; IAM: " + counts("statement", len(d.IAMAdded), len(d.IAMRemoved))
	s += "; security groups: " + counts("rule", len(d.RulesAdded), len(d.RulesRemoved))
	if d.Widens() {
		s += "; widens permissions (deploying asks for approval)"
	}
	return s
}

func (d *StackDiff) otherChanges() int {
	n := 0
	for _, r := range d.Resources {
		if r.Section != "Resources" {
			n++
		}
	}
	return n
}

func counts(noun string, added, removed int) string {
	if added == 0 && removed == 0 {
		return "no change"
	}
	plural := func(n int) string {
		if n == 1 {
			return noun
		}
		return noun + "s"
	}
	return fmt.Sprintf("%d %s added, %d removed", added, plural(added), removed)
}

// marks of the text form, as `cdk diff` prints them.
var marks = map[Kind]string{Added: "[+]", Removed: "[-]", Changed: "[~]", Replaced: "[~]"}

// WriteText prints the diff for a terminal: the summary line, then each changed entry with its
// changed values, then the IAM statements and security-group rules that were added or removed.
func (d *StackDiff) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(d.Summary() + "\n")
	section := ""
	for _, r := range d.Resources {
		if r.ID == r.Section {
			// A single value (Description, Transform): one line.
			b.WriteString("\n")
			writeChange(&b, r.Changes[0], "")
			continue
		}
		if r.Section != section {
			section = r.Section
			b.WriteString("\n" + section + "\n")
		}
		head := marks[r.Kind] + " "
		if r.Type != "" {
			head += r.Type + " "
		}
		head += r.ID
		switch {
		case r.Kind == Replaced:
			head += " (replace)"
		case r.Kind == Changed && r.Section == "Resources" && !KnowsType(r.Type):
			head += " (may be replaced: type unknown to this build)"
		}
		b.WriteString(head + "\n")
		if r.Kind == Added || r.Kind == Removed {
			if r.Section != "Resources" {
				writeValue(&b, "    ", r.Changes[0])
			}
			continue
		}
		for _, c := range r.Changes {
			writeChange(&b, c, "    ")
		}
	}
	writeStatements(&b, "IAM statements", d.IAMAdded, d.IAMRemoved)
	writeStatements(&b, "Security group rules", d.RulesAdded, d.RulesRemoved)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeStatements(b *strings.Builder, title string, added, removed []Statement) {
	if len(added)+len(removed) == 0 {
		return
	}
	b.WriteString("\n" + title + "\n")
	for _, s := range added {
		fmt.Fprintf(b, "[+] %s %s\n", s.ID, s.JSON)
	}
	for _, s := range removed {
		fmt.Fprintf(b, "[-] %s %s\n", s.ID, s.JSON)
	}
}

func writeChange(b *strings.Builder, c Change, indent string) {
	mark := "[~]"
	switch {
	case c.Old == nil:
		mark = "[+]"
	case c.New == nil:
		mark = "[-]"
	}
	note := ""
	if c.Replacement == Replaces {
		note = " (requires replacement)"
	}
	path := c.Path
	if path == "" {
		path = "(value)"
	}
	if isScalar(c.Old) && isScalar(c.New) {
		fmt.Fprintf(b, "%s%s %s: %s -> %s%s\n", indent, mark, path, scalar(c.Old), scalar(c.New), note)
		return
	}
	fmt.Fprintf(b, "%s%s %s%s\n", indent, mark, path, note)
	writeValue(b, indent+"    ", c)
}

// writeValue prints a composite value's change as a line diff of its indented JSON.
func writeValue(b *strings.Builder, indent string, c Change) {
	for _, l := range lineDiff(pretty(c.Old), pretty(c.New)) {
		b.WriteString(indent + l + "\n")
	}
}

func isScalar(v *any) bool {
	if v == nil {
		return true
	}
	switch (*v).(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func scalar(v *any) string {
	if v == nil {
		return "(absent)"
	}
	return compact(*v)
}

func pretty(v *any) []string {
	if v == nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(encode(*v, "  "), "\n"), "\n")
}

// lineDiff returns the lines of a and b as a unified diff body without headers: unchanged lines
// near a change (2 on each side) with two spaces, removed with "- ", added with "+ ", and "  ..."
// for unchanged runs left out.
func lineDiff(a, b []string) []string {
	// Longest common subsequence, by dynamic programming; templates' values are small.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var all []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			all = append(all, line{' ', a[i]})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			all = append(all, line{'+', b[j]})
			j++
		default:
			all = append(all, line{'-', a[i]})
			i++
		}
	}
	const context = 2
	keep := make([]bool, len(all))
	for k, l := range all {
		if l.op != ' ' {
			for c := max(0, k-context); c <= min(len(all)-1, k+context); c++ {
				keep[c] = true
			}
		}
	}
	var out []string
	skipped := false
	for k, l := range all {
		if !keep[k] {
			if !skipped {
				out = append(out, "  ...")
				skipped = true
			}
			continue
		}
		skipped = false
		out = append(out, string(l.op)+" "+l.text)
	}
	return out
}

// CommentMarker starts the pull-request comment, so that a later run finds and updates it.
const CommentMarker = "<!-- kpilake-infra-diff -->"

// maxComment keeps a comment under GitHub's 65,536-character limit.
const maxComment = 60000

// WriteMarkdown prints one pull-request comment for the diffs of every stack: a table of the
// summaries, then each stack's text diff in a collapsed block. title names what was compared.
func WriteMarkdown(w io.Writer, title string, diffs []*StackDiff) error {
	var b strings.Builder
	b.WriteString(CommentMarker + "\n")
	fmt.Fprintf(&b, "### Infrastructure diff\n\n%s\n\n", title)
	b.WriteString("| stack | added | changed | replaced | removed | IAM statements | security group rules |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---|\n")
	for _, d := range diffs {
		iam := counts("", len(d.IAMAdded), len(d.IAMRemoved))
		if len(d.IAMAdded) > 0 {
			iam = fmt.Sprintf("**+%d** / -%d (widens)", len(d.IAMAdded), len(d.IAMRemoved))
		} else if len(d.IAMRemoved) > 0 {
			iam = fmt.Sprintf("+0 / -%d", len(d.IAMRemoved))
		}
		sg := counts("", len(d.RulesAdded), len(d.RulesRemoved))
		if len(d.RulesAdded)+len(d.RulesRemoved) > 0 {
			sg = fmt.Sprintf("+%d / -%d", len(d.RulesAdded), len(d.RulesRemoved))
			if len(d.RulesAdded) > 0 {
				sg = "**" + sg + "** (widens)"
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s |\n", d.Stack,
			d.Count(Added), d.Count(Changed), d.Count(Replaced), d.Count(Removed), iam, sg)
	}
	b.WriteString("\n")
	for _, d := range diffs {
		if d.Empty() {
			fmt.Fprintf(&b, "**%s**: no differences.\n\n", d.Stack)
			continue
		}
		var body strings.Builder
		if err := d.WriteText(&body); err != nil {
			return err
		}
		text := strings.ReplaceAll(body.String(), "```", "'''")
		fmt.Fprintf(&b, "<details><summary>%s</summary>\n\n```text\n%s```\n\n</details>\n\n", d.Summary(), text)
	}
	out := b.String()
	if len(out) > maxComment {
		cut := strings.LastIndex(out[:maxComment], "\n")
		out = out[:cut] + "\n```\n\n</details>\n\n(The diff is longer than a comment holds: run `make diff` locally for the rest.)\n"
	}
	_, err := io.WriteString(w, out)
	return err
}
