package queries

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kpilake/kpilake/layout"
)

// header is the parsed comment block at the top of a KPI file.
type header struct {
	name        string
	description string
	dependsOn   []string
	sources     []SourceTable
	bodyStart   int // byte offset of the line after the header
	bodyLine    int // line number of that line

	// Lines of the depends_on and sources keys (1 when absent), for messages.
	dependsOnLine, sourcesLine int
}

// headerKeys are the keys a header may hold, in the order they are documented.
var headerKeys = []string{"name", "description", "depends_on", "sources"}

var headerLineRE = regexp.MustCompile(`^ ?([A-Za-z_]+):(.*)$`)

// parseHeader reads the header: the leading lines that start with "--". Each is "-- key: value";
// a line that starts with "--" and two or more spaces (or a tab) continues the previous value;
// an empty "--" line ends the keys, and the comment lines after it, up to the query, are free
// notes. It returns every problem, each with its line.
func parseHeader(text string) (*header, []error) {
	h := &header{}
	var errs []error
	seen := map[string]int{}
	values := map[string]string{}
	var last string
	keys := true
	pos, line := 0, 1
	for pos < len(text) {
		end := strings.IndexByte(text[pos:], '\n')
		next := pos + end + 1
		if end < 0 {
			end, next = len(text)-pos, len(text)
		}
		l := strings.TrimRight(text[pos:pos+end], "\r")
		if !strings.HasPrefix(l, "--") {
			break
		}
		raw := l[2:]
		switch {
		case !keys:
		case strings.TrimSpace(raw) == "":
			keys = false
		case strings.HasPrefix(raw, "  ") || strings.HasPrefix(raw, "\t"):
			if last == "" {
				errs = append(errs, errAt(line, "indented header line continues no key; start the header with \"-- name: <kpi>\""))
				break
			}
			values[last] += " " + strings.TrimSpace(raw)
		default:
			m := headerLineRE.FindStringSubmatch(raw)
			if m == nil {
				errs = append(errs, errAt(line, "header line %q is not \"-- key: value\"; use the keys %s, indent continuation lines, and end the header with an empty \"--\" line before free comments",
					l, strings.Join(headerKeys, ", ")))
				last = ""
				break
			}
			key := m[1]
			if !isHeaderKey(key) {
				errs = append(errs, errAt(line, "unknown header key %q; use %s", key, strings.Join(headerKeys, ", ")))
				last = ""
				break
			}
			if prev, dup := seen[key]; dup {
				errs = append(errs, errAt(line, "header key %q is given twice (first on line %d); give it once", key, prev))
				last = ""
				break
			}
			seen[key] = line
			values[key] = strings.TrimSpace(m[2])
			last = key
		}
		pos, line = next, line+1
	}
	h.bodyStart, h.bodyLine = pos, line

	h.dependsOnLine, h.sourcesLine = max(seen["depends_on"], 1), max(seen["sources"], 1)
	h.name = values["name"]
	h.description = values["description"]
	switch {
	case seen["name"] == 0:
		errs = append(errs, errAt(1, "the header has no name; start the file with \"-- name: <kpi>\""))
	case h.name == "":
		errs = append(errs, errAt(seen["name"], "name is empty; give the KPI's snake_case name"))
	default:
		if err := layout.ValidateName("KPI", h.name); err != nil {
			errs = append(errs, errAt(seen["name"], "%v", err))
		}
	}
	if h.description == "" {
		l := seen["description"]
		if l == 0 {
			l = 1
		}
		errs = append(errs, errAt(l, "the header has no description; add \"-- description: <what the KPI measures>\""))
	}
	for _, item := range splitList(values["depends_on"]) {
		if item == "" {
			errs = append(errs, errAt(seen["depends_on"], "depends_on has an empty item; list KPI names separated by commas"))
			continue
		}
		if err := layout.ValidateName("KPI", item); err != nil {
			errs = append(errs, errAt(seen["depends_on"], "depends_on: %v", err))
			continue
		}
		if slices.Contains(h.dependsOn, item) {
			errs = append(errs, errAt(seen["depends_on"], "depends_on lists %q twice", item))
			continue
		}
		h.dependsOn = append(h.dependsOn, item)
	}
	for _, item := range splitList(values["sources"]) {
		st, err := parseSourceTable(item)
		if err != nil {
			errs = append(errs, errAt(seen["sources"], "sources: %v", err))
			continue
		}
		if slices.Contains(h.sources, st) {
			errs = append(errs, errAt(seen["sources"], "sources lists %s twice", st))
			continue
		}
		h.sources = append(h.sources, st)
	}
	if len(errs) == 0 && len(h.dependsOn) == 0 && len(h.sources) == 0 {
		errs = append(errs, errAt(1, "the header lists neither sources nor depends_on; a KPI reads at least one source table or KPI"))
	}
	return h, errs
}

func isHeaderKey(k string) bool { return slices.Contains(headerKeys, k) }

// splitList splits a comma-separated header value; an empty value is an empty list.
func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parseSourceTable parses "<source>.<table>" as written in a header.
func parseSourceTable(s string) (SourceTable, error) {
	src, table, ok := strings.Cut(s, ".")
	if !ok || strings.Contains(table, ".") {
		return SourceTable{}, fmt.Errorf("%q is not <source>.<table>, such as social.posts or app_logs.web_access", s)
	}
	if err := layout.ValidateName("source", src); err != nil {
		return SourceTable{}, err
	}
	if err := layout.ValidateName("table", table); err != nil {
		return SourceTable{}, err
	}
	return SourceTable{Source: src, Table: table}, nil
}
