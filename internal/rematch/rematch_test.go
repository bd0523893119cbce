package rematch_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/internal/rematch"
)

// Each Bounded matches exactly what the bounded regular expression it replaces matches.
func TestBounded_MatchesLikeTheBoundedRepetition(t *testing.T) {
	cases := []struct {
		bounded rematch.Bounded
		classic string
	}{
		{rematch.MustCompile(`^[a-z0-9_]+$`, 1, 255), `^[a-z0-9_]{1,255}$`},
		{rematch.MustCompile(`^[a-z][a-z0-9_]*$`, 1, 255), `^[a-z][a-z0-9_]{0,254}$`},
		{rematch.MustCompile(`^[a-zA-Z0-9._-]+$`, 1, 128), `^[a-zA-Z0-9._-]{1,128}$`},
	}
	inputs := []string{"", "a", "_", "9a", "kpi_engagement_score", "Upper", "a-b", "a.b", "a b", "é",
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129),
		strings.Repeat("a", 254), strings.Repeat("a", 255), strings.Repeat("a", 256)}
	for _, c := range cases {
		classic := regexp.MustCompile(c.classic)
		for _, in := range inputs {
			if got, want := c.bounded.MatchString(in), classic.MatchString(in); got != want {
				t.Errorf("%s matches %q: %t, want %t (as %s)", c.bounded, in, got, want, c.classic)
			}
		}
	}
}
