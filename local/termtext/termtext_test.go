package termtext_test

import (
	"testing"

	"github.com/kpilake/kpilake/local/termtext"
)

func TestWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{{"", 0}, {"Sales", 5}, {"営業本部", 8}, {"ｶﾀｶﾅ", 4}, {"e\u0301", 1}, {"Ａ", 2}} {
		if got := termtext.Width(tc.s); got != tc.want {
			t.Errorf("Width(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
	if got := termtext.PadRight("営業", 6) + "|"; got != "営業  |" {
		t.Errorf("PadRight = %q", got)
	}
	if got := termtext.PadLeft("営業", 6); got != "  営業" {
		t.Errorf("PadLeft = %q", got)
	}
}
