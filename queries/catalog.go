package queries

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/kpilake/kpilake/layout"
)

//go:embed *.sql
var files embed.FS

// Load parses and validates the KPI files embedded in this package (queries/*.sql). The result
// does not depend on the environment; call Catalog.Validate with an environment's sources too.
func Load() (*Catalog, error) { return parse(files, "queries/") }

// Parse parses and validates the KPI files *.sql at the root of fsys (other files and
// directories are ignored), as Load does for the embedded ones. It returns every problem at
// once, each naming its file and line.
func Parse(fsys fs.FS) (*Catalog, error) { return parse(fsys, "") }

// SourceTable is one raw table: a database source's table, or a log stream under the source
// layout.AppLogsSource. Headers and messages write it <source>.<table>.
type SourceTable struct {
	Source string
	Table  string
}

// LogStream is the SourceTable of an application log stream.
func LogStream(stream string) SourceTable {
	return SourceTable{Source: layout.AppLogsSource, Table: stream}
}

// String formats the table as <source>.<table>.
func (s SourceTable) String() string { return s.Source + "." + s.Table }

// CatalogName is the table's name in the Glue Data Catalog: layout.SourceTableName.
func (s SourceTable) CatalogName() string { return layout.SourceTableName(s.Source, s.Table) }

// Sources is a set of raw tables: those an environment extracts and the log streams it
// receives. The infra builds it from the environment's configuration.
type Sources map[SourceTable]struct{}

// NewSources returns a set holding tables.
func NewSources(tables ...SourceTable) Sources {
	s := Sources{}
	for _, t := range tables {
		s[t] = struct{}{}
	}
	return s
}

// Add puts source.table in the set.
func (s Sources) Add(source, table string) { s[SourceTable{Source: source, Table: table}] = struct{}{} }

// Has reports whether t is in the set.
func (s Sources) Has(t SourceTable) bool {
	_, ok := s[t]
	return ok
}

// sorted lists the set in <source>.<table> order.
func (s Sources) sorted() []SourceTable {
	out := make([]SourceTable, 0, len(s))
	for t := range s {
		out = append(out, t)
	}
	slices.SortFunc(out, compareSourceTables)
	return out
}

func compareSourceTables(a, b SourceTable) int {
	return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Table, b.Table))
}

// KPI is one validated KPI file.
type KPI struct {
	// Name is the KPI's snake_case name; the file is <Name>.sql and the aggregates live in the
	// catalog table layout.KPITableName(Name).
	Name string
	// Description says what the KPI measures.
	Description string
	// DependsOn lists the KPIs this one reads, as the header gives them.
	DependsOn []string
	// Sources lists the raw tables this one reads, as the header gives them.
	Sources []SourceTable
	// File is the file's path, for messages ("queries/<name>.sql" for the embedded catalog).
	File string
	// Lookback is how many days of partitions, ending with the day aggregated, the query reads
	// from any one table: 1 unless it uses a window.
	Lookback int
	// Events lists the log streams the query reads by event time ({{ events ... }}): for day D
	// it reads their arrival partitions up to D+layout.LogLateDays as well.
	Events []SourceTable
	// State is the incremental source table whose state this node keeps, for a state node
	// (StateOf); nil for a KPI file.
	State *SourceTable

	// segments alternate literal SQL and template calls.
	segments []segment
}

// segment is a piece of a query body: literal SQL text, or a template call.
type segment struct {
	text string
	call *call
}

// Render returns the KPI's SELECT for business day d: the template calls replaced by partition
// filters, catalog identifiers and the day's bounds as names describes them, and nothing else
// substituted. The SELECT's columns are the KPI's columns (never dt: the runner adds the
// partition). The text ends with a newline, so that a trailing comment never swallows what a
// caller appends.
func (k *KPI) Render(d layout.Day, names Names) (string, error) {
	if d.IsZero() {
		return "", fmt.Errorf("kpi %q: render: the day is zero; give a day from layout.ParseDay", k.Name)
	}
	if err := names.validate(); err != nil {
		return "", fmt.Errorf("kpi %q: render: %w", k.Name, err)
	}
	if k.State != nil {
		return "", fmt.Errorf("kpi %q: render: it is the state of %s, whose query depends on the lake; render it with RenderState", k.Name, k.State)
	}
	var b strings.Builder
	for _, s := range k.segments {
		if s.call == nil {
			b.WriteString(s.text)
			continue
		}
		out, err := funcs[s.call.fn].render(s.call, d, &names)
		if err != nil {
			return "", fmt.Errorf("kpi %q: render %s: %w", k.Name, s.call, err)
		}
		b.WriteString(out)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}

// Catalog is the validated set of KPIs: unique names, known dependencies, no cycle, and every
// table read through a template function that filters on the partition.
type Catalog struct {
	kpis  map[string]*KPI
	names []string // sorted
}

// Names lists the KPI names, sorted.
func (c *Catalog) Names() []string { return slices.Clone(c.names) }

// ReadsEvents reports whether a KPI reads a log stream by event time ({{ events ... }}).
func (c *Catalog) ReadsEvents() bool {
	for _, k := range c.kpis {
		if len(k.Events) > 0 {
			return true
		}
	}
	return false
}

// KPI returns the named KPI.
func (c *Catalog) KPI(name string) (*KPI, bool) {
	k, ok := c.kpis[name]
	return k, ok
}

// Sources lists every raw table some KPI reads, sorted.
func (c *Catalog) Sources() []SourceTable {
	s := Sources{}
	for _, k := range c.kpis {
		for _, t := range k.Sources {
			s[t] = struct{}{}
		}
	}
	return s.sorted()
}

// Validate checks the catalog against the raw tables an environment has: every source a KPI
// reads must be one of known. It reports every missing table, naming the KPI file.
func (c *Catalog) Validate(known Sources) error {
	var errs []error
	for _, name := range c.names {
		k := c.kpis[name]
		for _, t := range k.Sources {
			if known.Has(t) {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: kpi %q reads %s, which this environment does not have (%s); configure the table or log stream, or change the query",
				k.File, k.Name, t, knownList(known)))
		}
	}
	return errors.Join(errs...)
}

func knownList(known Sources) string {
	if len(known) == 0 {
		return "it has no sources"
	}
	var s []string
	for _, t := range known.sorted() {
		s = append(s, t.String())
	}
	return "it has " + strings.Join(s, ", ")
}

// Waves plans a run: the KPIs to aggregate, in waves. The selection is kpis plus every KPI that
// depends on one of them, directly or not (its dependents): after a KPI changes, everything
// downstream must be aggregated again, while its dependencies are already in place. No kpis
// (nil or empty) selects the whole catalog, as the daily run does.
//
// Each wave holds KPIs whose selected dependencies are all in earlier waves, so the KPIs of one
// wave can run in parallel; a KPI is in the earliest wave it can be. Waves and the KPIs within
// them are sorted by name, so the same request always gives the same plan. An unknown name is
// an error.
func (c *Catalog) Waves(kpis []string) ([][]string, error) {
	selected := map[string]bool{}
	if len(kpis) == 0 {
		for _, n := range c.names {
			selected[n] = true
		}
	}
	var unknown []string
	for _, n := range kpis {
		if _, ok := c.kpis[n]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
			continue
		}
		selected[n] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown KPI %s; the catalog has %s", strings.Join(unknown, ", "), strings.Join(c.names, ", "))
	}
	// Close the selection over dependents.
	for changed := true; changed; {
		changed = false
		for _, n := range c.names {
			if selected[n] {
				continue
			}
			for _, d := range c.kpis[n].DependsOn {
				if selected[d] {
					selected[n], changed = true, true
					break
				}
			}
		}
	}
	level := map[string]int{}
	var depth func(n string) int
	depth = func(n string) int { // the catalog is acyclic
		if l, ok := level[n]; ok {
			return l
		}
		l := 0
		for _, d := range c.kpis[n].DependsOn {
			if selected[d] {
				l = max(l, depth(d)+1)
			}
		}
		level[n] = l
		return l
	}
	var waves [][]string
	for _, n := range c.names {
		if !selected[n] {
			continue
		}
		l := depth(n)
		for len(waves) <= l {
			waves = append(waves, nil)
		}
		waves[l] = append(waves[l], n)
	}
	return waves, nil
}

// fileError places a problem in a file.
func fileError(file string, err error) error {
	var le *lexError
	if errors.As(err, &le) {
		if le.line > 0 {
			return fmt.Errorf("%s:%d: %s", file, le.line, le.msg)
		}
		return fmt.Errorf("%s: %s", file, le.msg)
	}
	return fmt.Errorf("%s: %w", file, err)
}

func parse(fsys fs.FS, prefix string) (*Catalog, error) {
	paths, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list KPI files: %w", err)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("no KPI files: %s*.sql matches nothing; add one file per KPI", prefix)
	}
	c := &Catalog{kpis: map[string]*KPI{}}
	var errs []error
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		file := prefix + p
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		k, kerrs := parseKPI(file, string(data))
		for _, e := range kerrs {
			errs = append(errs, fileError(file, e))
		}
		if k == nil {
			continue
		}
		if want := strings.TrimSuffix(path.Base(p), ".sql"); k.Name != want {
			errs = append(errs, fmt.Errorf("%s:1: name %q does not match the file name; name the file %s.sql or the KPI %q",
				file, k.Name, k.Name, want))
			continue
		}
		if strings.HasPrefix(k.Name, layout.StatePrefix) {
			errs = append(errs, fmt.Errorf("%s:1: name %q starts with %q, which kpilake keeps for the state of incremental tables ({{ state ... }}); name the KPI otherwise",
				file, k.Name, layout.StatePrefix))
			continue
		}
		c.kpis[k.Name] = k
		c.names = append(c.names, k.Name)
	}
	errs = append(errs, c.addStates()...)
	sort.Strings(c.names)
	for _, n := range c.names {
		k := c.kpis[n]
		for _, d := range k.DependsOn {
			if _, ok := c.kpis[d]; !ok {
				errs = append(errs, fmt.Errorf("%s: kpi %q depends on %q, which is not in the catalog (%s); add %s.sql or fix depends_on",
					k.File, k.Name, d, strings.Join(c.names, ", "), d))
			}
		}
	}
	errs = append(errs, c.cycles()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// cycles reports every dependency cycle once, starting from its smallest name.
func (c *Catalog) cycles() []error {
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var errs []error
	seen := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		state[n] = active
		stack = append(stack, n)
		for _, d := range c.kpis[n].DependsOn {
			if _, ok := c.kpis[d]; !ok {
				continue
			}
			switch state[d] {
			case unvisited:
				visit(d)
			case active:
				i := slices.Index(stack, d)
				cyc := slices.Clone(stack[i:])
				// Rotate to start at the smallest name, so that each cycle is reported once.
				m := slices.Index(cyc, slices.Min(cyc))
				cyc = append(cyc[m:], cyc[:m]...)
				key := strings.Join(cyc, " ")
				if seen[key] {
					continue
				}
				seen[key] = true
				var files []string
				for _, x := range cyc {
					files = append(files, c.kpis[x].File)
				}
				// Each KPI depends on the next: a -> b means a reads b.
				errs = append(errs, fmt.Errorf("dependency cycle: %s -> %s (%s); a KPI cannot depend on itself, directly or through others",
					strings.Join(cyc, " -> "), cyc[0], strings.Join(files, ", ")))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range c.names {
		if state[n] == unvisited {
			visit(n)
		}
	}
	return errs
}

// parseKPI parses and checks one file. It returns the KPI when the header names it (even with
// other problems), and every problem found.
func parseKPI(file, text string) (*KPI, []error) {
	h, errs := parseHeader(text)
	var k *KPI
	if h.name != "" && layout.ValidateName("KPI", h.name) == nil {
		// The KPI joins the catalog even with problems, so that KPIs that depend on it do not
		// report it missing as well.
		k = &KPI{Name: h.name, Description: h.description, DependsOn: h.dependsOn, Sources: h.sources, File: file, Lookback: 1}
	}
	body := text[h.bodyStart:]
	toks, err := lex(body, h.bodyLine)
	if err != nil {
		return k, sortErrs(append(errs, err))
	}
	calls, cerrs := checkTables(toks)
	errs = append(errs, cerrs...)

	// reads are the tables the query reads through template calls, in order.
	type read struct {
		source SourceTable // for source and source_window
		kpi    string      // for kpi and kpi_window
		line   int
	}
	var reads []read
	lookback := 1
	for _, cl := range calls {
		if err := checkCall(cl); err != nil {
			errs = append(errs, err)
			continue
		}
		switch cl.fn {
		case "source", "source_window", "events", "events_window", "state":
			t := SourceTable{Source: cl.args[0].str, Table: cl.args[1].str}
			reads = append(reads, read{source: t, line: cl.line})
			if strings.HasPrefix(cl.fn, "events") && k != nil && !slices.Contains(k.Events, t) {
				k.Events = append(k.Events, t)
			}
		case "kpi", "kpi_window":
			reads = append(reads, read{kpi: cl.args[0].str, line: cl.line})
		}
		switch cl.fn {
		case "source_window", "events_window":
			lookback = max(lookback, cl.args[2].num)
		case "kpi_window":
			lookback = max(lookback, cl.args[1].num)
		}
	}
	if len(errs) == 0 {
		for _, t := range h.sources {
			if !slices.ContainsFunc(reads, func(r read) bool { return r.source == t }) {
				errs = append(errs, errAt(h.sourcesLine, "the header lists source %s, which the query never reads; remove it from sources", t))
			}
		}
		for _, d := range h.dependsOn {
			if !slices.ContainsFunc(reads, func(r read) bool { return r.kpi == d }) {
				errs = append(errs, errAt(h.dependsOnLine, "the header lists %q in depends_on, which the query never reads; remove it or read it with {{ kpi %q }}", d, d))
			}
		}
		reported := map[read]bool{}
		for _, r := range reads {
			key := read{source: r.source, kpi: r.kpi}
			switch {
			case reported[key]:
			case r.kpi == h.name:
				errs = append(errs, errAt(r.line, "the query reads its own KPI %q; a KPI cannot depend on itself", r.kpi))
			case r.kpi != "" && !slices.Contains(h.dependsOn, r.kpi):
				errs = append(errs, errAt(r.line, "the query reads KPI %q, which the header does not list; add it to depends_on", r.kpi))
			case r.kpi == "" && !slices.Contains(h.sources, r.source):
				errs = append(errs, errAt(r.line, "the query reads source %s, which the header does not list; add it to sources", r.source))
			}
			reported[key] = true
		}
		if err := checkNoDtAlias(toks); err != nil {
			errs = append(errs, err)
		}
	}
	if k == nil {
		return nil, sortErrs(errs)
	}
	k.Lookback = lookback
	// A KPI reads the state of a table through the state node, which runs before it.
	for _, cl := range calls {
		if cl.fn == "state" && checkCall(cl) == nil {
			if n := layout.StateName(cl.args[0].str, cl.args[1].str); !slices.Contains(k.DependsOn, n) {
				k.DependsOn = append(k.DependsOn, n)
			}
		}
	}
	last := 0
	for _, t := range toks {
		if t.kind != tokCall {
			continue
		}
		k.segments = append(k.segments, segment{text: body[last:t.start]}, segment{call: t.call})
		last = t.end
	}
	k.segments = append(k.segments, segment{text: body[last:]})
	return k, sortErrs(errs)
}

// checkNoDtAlias rejects an output column named like the partition key: the runner adds the
// partition column itself, and a second one would clash.
func checkNoDtAlias(toks []token) error {
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if (t.kind == tokWord || t.kind == tokQuoted) && strings.EqualFold(t.text, layout.PartitionKey) && toks[i-1].upper() == "AS" {
			return errAt(t.line, "a column or alias is named %q, the partition key the runner adds to every KPI table; name it otherwise", layout.PartitionKey)
		}
	}
	return nil
}

// sortErrs orders problems by line, keeping the order of those on the same line.
func sortErrs(errs []error) []error {
	line := func(e error) int {
		var le *lexError
		if errors.As(e, &le) {
			return le.line
		}
		return 0
	}
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
	return errs
}
