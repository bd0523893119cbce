// Package rematch matches names against a pattern and a length bound. A bounded repetition such
// as [a-z0-9_]{1,255} makes package regexp compile one instruction per repetition, hundreds of
// them at init, which a Lambda pays on every cold start; an unbounded pattern plus a length check
// says the same and compiles in microseconds.
package rematch

import (
	"regexp"
	"strconv"
)

// Bounded is a pattern and the inclusive bounds of the length (in bytes) of a match.
type Bounded struct {
	re       *regexp.Regexp
	min, max int
}

// MustCompile compiles expr, which should hold no bounded repetition, for names of min to max
// bytes. It panics if expr does not compile.
func MustCompile(expr string, min, max int) Bounded {
	return Bounded{re: regexp.MustCompile(expr), min: min, max: max}
}

// MatchString reports whether s is min to max bytes long and matches the pattern.
func (b Bounded) MatchString(s string) bool {
	return len(s) >= b.min && len(s) <= b.max && b.re.MatchString(s)
}

// String returns the pattern and its bounds, for messages.
func (b Bounded) String() string {
	return b.re.String() + " (" + strconv.Itoa(b.min) + " to " + strconv.Itoa(b.max) + " bytes)"
}
