package queries

import (
	"fmt"
	"strings"

	"github.com/kpilake/kpilake/layout"
)

// frame is one level of parentheses while checking table references (the whole query is the
// outermost frame).
type frame struct {
	query     bool // the parentheses hold a query (SELECT, WITH, VALUES or DuckDB's FROM-first)
	inFrom    bool // inside a FROM clause: a comma starts another table reference
	expectRef bool // the next token is a table reference
}

// clauseEnds end a FROM clause: after them, a comma no longer introduces a table.
var clauseEnds = map[string]bool{
	"WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true, "OFFSET": true,
	"FETCH": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "WINDOW": true, "QUALIFY": true,
	"SELECT": true,
}

// queryStarts are the words that open a query inside parentheses.
var queryStarts = map[string]bool{"SELECT": true, "WITH": true, "VALUES": true, "FROM": true}

// checkTables verifies that every table a query reads is a template call or a CTE defined in the
// query, and that table template calls appear only where a table does. It returns the template
// calls in order of appearance, and every problem found.
func checkTables(toks []token) ([]*call, []error) {
	var errs []error
	if len(toks) == 0 {
		return nil, []error{errAt(0, "the file holds no query; write one SELECT after the header")}
	}
	if u := toks[0].upper(); u != "SELECT" && u != "WITH" {
		return nil, []error{errAt(toks[0].line, "the query starts with %q; a KPI file holds one SELECT (or WITH ... SELECT)", toks[0].text)}
	}
	ctes := cteNames(toks)
	var calls []*call
	stack := []*frame{{query: true}}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		f := stack[len(stack)-1]
		isRef := f.expectRef
		if isRef {
			f.expectRef = false
			if err := checkRef(toks, i, ctes); err != nil {
				errs = append(errs, err)
			}
			if t.kind == tokCall {
				calls = append(calls, t.call)
				continue
			}
		} else if t.kind == tokCall {
			if isTableFunc(t.call.fn) {
				errs = append(errs, errAt(t.line, "%s reads a table; put it after FROM or JOIN", t.call))
			}
			calls = append(calls, t.call)
			continue
		}
		switch u := t.upper(); {
		case t.kind == tokPunct && t.text == "(":
			next := ""
			if i+1 < len(toks) {
				next = toks[i+1].upper()
			}
			nf := &frame{query: queryStarts[next]}
			if isRef && !nf.query {
				// A parenthesized join: (a JOIN b ON ...). Its first token is a table.
				nf.query, nf.inFrom, nf.expectRef = true, true, true
			}
			stack = append(stack, nf)
		case t.kind == tokPunct && t.text == ")":
			if len(stack) == 1 {
				return calls, append(errs, errAt(t.line, "')' without a matching '('"))
			}
			stack = stack[:len(stack)-1]
		case u == "FROM":
			if f.query && (i == 0 || toks[i-1].upper() != "DISTINCT") {
				f.inFrom, f.expectRef = true, true
			}
		case u == "JOIN":
			f.inFrom, f.expectRef = true, true
		case u == "TABLE":
			errs = append(errs, errAt(t.line, "TABLE reads a table without its partition filter; use {{ source ... }} or {{ kpi ... }} after FROM"))
		case t.kind == tokPunct && t.text == ",":
			if f.inFrom {
				f.expectRef = true
			}
		case clauseEnds[u]:
			f.inFrom = false
		}
	}
	if len(stack) > 1 {
		errs = append(errs, errAt(toks[len(toks)-1].line, "'(' is never closed with ')'"))
	}
	if f := stack[len(stack)-1]; f.expectRef {
		errs = append(errs, errAt(toks[len(toks)-1].line, "the query ends where a table was expected"))
	}
	return calls, errs
}

// checkRef checks the table reference that starts at toks[i].
func checkRef(toks []token, i int, ctes map[string]bool) error {
	t := toks[i]
	next := func(k int) token {
		if i+k < len(toks) {
			return toks[i+k]
		}
		return token{}
	}
	switch {
	case t.kind == tokCall:
		if !isTableFunc(t.call.fn) {
			return errAt(t.line, "%s is not a table; after FROM or JOIN use %s", t.call, tableFuncList())
		}
		return nil
	case t.kind == tokPunct && t.text == "(":
		return nil // a subquery or a parenthesized join, checked in turn
	case t.upper() == "LATERAL" && next(1).text == "(":
		return nil
	case t.upper() == "UNNEST" && next(1).text == "(":
		return nil
	case (t.kind == tokWord || t.kind == tokQuoted) && ctes[strings.ToLower(t.text)] &&
		next(1).text != "." && next(1).text != "(":
		return nil
	}
	name := t.text
	if t.kind == tokWord || t.kind == tokQuoted {
		for k := 1; next(k).text == "." && (next(k+1).kind == tokWord || next(k+1).kind == tokQuoted); k += 2 {
			name += "." + next(k+1).text
		}
	}
	if t.kind == tokWord && next(1).text == "(" {
		return errAt(t.line, "table function %s(...) reads data without its partition filter; use %s", t.text, tableFuncList())
	}
	if t.kind != tokWord && t.kind != tokQuoted {
		return errAt(t.line, "%s where a table was expected; use %s", t.text, tableFuncList())
	}
	return errAt(t.line, "table %q is read without its partition filter; reference it as %s, or define a CTE named %s",
		name, suggestRef(name), name)
}

// suggestRef proposes the template call that reads the catalog table name.
func suggestRef(name string) string {
	if k := strings.LastIndexByte(name, '.'); k >= 0 {
		name = name[k+1:]
	}
	name = strings.ToLower(name)
	switch {
	case strings.HasPrefix(name, layout.KPITablePrefix) && len(name) > len(layout.KPITablePrefix):
		return fmt.Sprintf("{{ kpi %q }}", name[len(layout.KPITablePrefix):])
	case strings.HasPrefix(name, layout.CrawlerTablePrefix(layout.AppLogsSource)) && len(name) > len(layout.CrawlerTablePrefix(layout.AppLogsSource)):
		return fmt.Sprintf("{{ source %q %q }}", layout.AppLogsSource, name[len(layout.CrawlerTablePrefix(layout.AppLogsSource)):])
	}
	if k := strings.IndexByte(name, '_'); k > 0 && k < len(name)-1 {
		return fmt.Sprintf("{{ source %q %q }}", name[:k], name[k+1:])
	}
	return fmt.Sprintf("{{ source \"<source>\" %q }}", name)
}

// cteNames collects the names of every common table expression the query defines, in any
// WITH clause, lower-cased (Trino's identifiers are case-insensitive).
func cteNames(toks []token) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < len(toks); i++ {
		if toks[i].upper() != "WITH" {
			continue
		}
		j := i + 1
		if j < len(toks) && toks[j].upper() == "RECURSIVE" {
			j++
		}
		for j < len(toks) && (toks[j].kind == tokWord || toks[j].kind == tokQuoted) {
			name := strings.ToLower(toks[j].text)
			j++
			if j < len(toks) && toks[j].text == "(" { // column list
				j = skipParens(toks, j)
			}
			if j >= len(toks) || toks[j].upper() != "AS" {
				break
			}
			j++
			for j < len(toks) && (toks[j].upper() == "NOT" || toks[j].upper() == "MATERIALIZED") {
				j++
			}
			if j >= len(toks) || toks[j].text != "(" {
				break
			}
			names[name] = true
			j = skipParens(toks, j)
			if j >= len(toks) || toks[j].text != "," {
				break
			}
			j++
		}
	}
	return names
}

// skipParens returns the index just past the ')' that closes the '(' at toks[i].
func skipParens(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case toks[j].kind == tokPunct && toks[j].text == "(":
			depth++
		case toks[j].kind == tokPunct && toks[j].text == ")":
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(toks)
}
