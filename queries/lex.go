package queries

import (
	"fmt"
	"strconv"
	"strings"
)

// tokenKind classifies the tokens of a query body.
type tokenKind int

const (
	tokWord   tokenKind = iota + 1 // unquoted identifier or keyword
	tokQuoted                      // "quoted identifier"
	tokString                      // 'string literal'
	tokNumber                      // numeric literal
	tokPunct                       // operator or punctuation, one or two characters
	tokCall                        // {{ template call }}
)

// token is one lexeme of a query body. Comments and white space are not tokens.
type token struct {
	kind       tokenKind
	text       string // source text; for tokQuoted the identifier without quotes
	start, end int    // byte offsets in the body
	line       int    // line in the file
	call       *call  // for tokCall
}

// upper is a word token's text in upper case, for keyword comparisons; "" for other kinds.
func (t token) upper() string {
	if t.kind != tokWord {
		return ""
	}
	return strings.ToUpper(t.text)
}

// call is one template call: {{ fn "arg" 7 }}.
type call struct {
	fn   string
	args []callArg
	line int
}

// callArg is a template call's argument: a string (in double quotes) or an integer.
type callArg struct {
	str   string
	num   int
	isNum bool
}

func (a callArg) String() string {
	if a.isNum {
		return strconv.Itoa(a.num)
	}
	return strconv.Quote(a.str)
}

func (c *call) String() string {
	var b strings.Builder
	b.WriteString("{{ ")
	b.WriteString(c.fn)
	for _, a := range c.args {
		b.WriteByte(' ')
		b.WriteString(a.String())
	}
	b.WriteString(" }}")
	return b.String()
}

// lexError is a problem at one line of a file.
type lexError struct {
	line int
	msg  string
}

func (e *lexError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func errAt(line int, format string, args ...any) *lexError {
	return &lexError{line: line, msg: fmt.Sprintf(format, args...)}
}

// lex splits a query body into tokens. firstLine is the file line the body starts on. It rejects
// what Trino and DuckDB read differently or what has no place in a KPI query: statement
// separators, parameters, backquotes, DuckDB's E'...' strings and :: casts, nested block
// comments, non-ASCII characters outside strings, comments and quoted identifiers, and template
// calls anywhere but in SQL code.
func lex(body string, firstLine int) ([]token, error) {
	var toks []token
	line := firstLine
	i := 0
	for i < len(body) {
		c := body[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(body[i:], "--"):
			end := strings.IndexByte(body[i:], '\n')
			if end < 0 {
				end = len(body) - i
			}
			if err := noTemplate(body[i:i+end], line, "a comment"); err != nil {
				return nil, err
			}
			i += end
		case strings.HasPrefix(body[i:], "/*"):
			end := strings.Index(body[i+2:], "*/")
			if end < 0 {
				return nil, errAt(line, "block comment /* is never closed with */")
			}
			text := body[i : i+2+end+2]
			if strings.Contains(text[2:len(text)-2], "/*") {
				return nil, errAt(line, "nested block comment: Trino ends it at the first */, DuckDB (a PostgreSQL-style parser) at the matching one; use -- comments")
			}
			if err := noTemplate(text, line, "a comment"); err != nil {
				return nil, err
			}
			line += strings.Count(text, "\n")
			i += len(text)
		case strings.HasPrefix(body[i:], "{{"):
			end := strings.Index(body[i:], "}}")
			if end < 0 || strings.Contains(body[i:i+end], "\n") {
				return nil, errAt(line, "template call {{ is not closed with }} on the same line")
			}
			cl, err := parseCall(body[i+2:i+end], line)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokCall, text: body[i : i+end+2], start: i, end: i + end + 2, line: line, call: cl})
			i += end + 2
		case c == '\'':
			j, err := closeQuote(body, i, '\'', line)
			if err != nil {
				return nil, err
			}
			text := body[i:j]
			if err := noTemplate(text, line, "a string literal"); err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: text, start: i, end: j, line: line})
			line += strings.Count(text, "\n")
			i = j
		case c == '"':
			j, err := closeQuote(body, i, '"', line)
			if err != nil {
				return nil, err
			}
			name := strings.ReplaceAll(body[i+1:j-1], `""`, `"`)
			if strings.Contains(name, "{{") {
				return nil, errAt(line, "template call inside a quoted identifier; write it in SQL code")
			}
			toks = append(toks, token{kind: tokQuoted, text: name, start: i, end: j, line: line})
			line += strings.Count(name, "\n")
			i = j
		case isLetter(c) || c == '_':
			j := i + 1
			for j < len(body) && (isLetter(body[j]) || isDigit(body[j]) || body[j] == '_') {
				j++
			}
			if (body[i:j] == "E" || body[i:j] == "e") && j < len(body) && body[j] == '\'' {
				return nil, errAt(line, "E'...' escape strings are DuckDB-only; write a plain '...' literal")
			}
			toks = append(toks, token{kind: tokWord, text: body[i:j], start: i, end: j, line: line})
			i = j
		case isDigit(c):
			j := i + 1
			for j < len(body) && (isDigit(body[j]) || body[j] == '.' || body[j] == 'e' || body[j] == 'E' ||
				((body[j] == '+' || body[j] == '-') && (body[j-1] == 'e' || body[j-1] == 'E'))) {
				j++
			}
			toks = append(toks, token{kind: tokNumber, text: body[i:j], start: i, end: j, line: line})
			i = j
		case c == ';':
			return nil, errAt(line, "semicolon: a KPI file holds one SELECT, without ';' (the runner wraps it in CREATE TABLE AS)")
		case c == '?' || c == '$':
			return nil, errAt(line, "%q: query parameters are not supported; the template functions substitute the day", c)
		case c == '`':
			return nil, errAt(line, "backquote: quote identifiers with double quotes")
		case c == '\\':
			return nil, errAt(line, `backslash outside a string literal`)
		case c >= 0x80:
			return nil, errAt(line, "non-ASCII character outside a string literal, comment or quoted identifier")
		case c < 0x20 || c == 0x7f:
			return nil, errAt(line, "control character %q", c)
		default:
			n := 1
			if i+1 < len(body) && isPunct2(body[i:i+2]) {
				n = 2
			}
			text := body[i : i+n]
			if text == "::" {
				return nil, errAt(line, "'::' casts are DuckDB-only; use CAST(x AS type)")
			}
			if text == "}}" {
				return nil, errAt(line, "}} without a matching {{")
			}
			toks = append(toks, token{kind: tokPunct, text: text, start: i, end: i + n, line: line})
			i += n
		}
	}
	return toks, nil
}

func isPunct2(s string) bool {
	switch s {
	case "<>", "<=", ">=", "!=", "||", "::", "=>", "}}":
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// closeQuote returns the offset just past the quote that closes the one at body[i]; a doubled
// quote stands for itself.
func closeQuote(body string, i int, q byte, line int) (int, error) {
	for j := i + 1; j < len(body); j++ {
		if body[j] != q {
			continue
		}
		if j+1 < len(body) && body[j+1] == q {
			j++
			continue
		}
		return j + 1, nil
	}
	what := "string literal"
	if q == '"' {
		what = "quoted identifier"
	}
	return 0, errAt(line, "%s starting here is never closed with %c", what, q)
}

func noTemplate(text string, line int, where string) error {
	if strings.Contains(text, "{{") {
		return errAt(line, "template call inside %s; template calls belong in SQL code, where they are rendered", where)
	}
	return nil
}

// parseCall parses the inside of {{ ... }}: a function name and its arguments, each a double-quoted
// string (no escapes, no quotes inside) or an integer.
func parseCall(s string, line int) (*call, error) {
	c := &call{line: line}
	rest := strings.TrimSpace(s)
	if rest == "" {
		return nil, errAt(line, "empty template call {{ }}")
	}
	for rest != "" {
		var word string
		switch {
		case rest[0] == '"':
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, errAt(line, "template call {{%s}}: string argument is never closed with \"", s)
			}
			word = rest[:end+2]
		default:
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			word = rest[:end]
		}
		rest = rest[len(word):]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return nil, errAt(line, "template call {{%s}}: put a space between arguments", s)
		}
		rest = strings.TrimLeft(rest, " \t")
		switch {
		case c.fn == "":
			if !isFuncName(word) {
				return nil, errAt(line, "template call {{%s}}: %q is not a template function; use one of %s", s, word, funcList())
			}
			c.fn = word
		case word[0] == '"':
			c.args = append(c.args, callArg{str: word[1 : len(word)-1]})
		default:
			n, err := strconv.Atoi(word)
			if err != nil || len(word) > 5 {
				return nil, errAt(line, "template call {{%s}}: argument %s is neither a \"string\" nor a small integer", s, word)
			}
			c.args = append(c.args, callArg{num: n, isNum: true})
		}
	}
	return c, nil
}

func isFuncName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] == '_') {
			return false
		}
	}
	return true
}
