// Package termtext lays out text for a terminal: the columns a string takes, and padding to a
// width, counting East Asian wide characters (department names in Japanese) as two columns.
package termtext

import (
	"strings"
	"unicode"
)

// Width is how many terminal columns s takes: two for a wide (East Asian) character, none for a
// combining mark, one for the rest.
func Width(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r >= 0x1100 && (r <= 0x115f || r >= 0x2e80 && r <= 0xa4cf || r >= 0xac00 && r <= 0xd7a3 || r >= 0xf900 && r <= 0xfaff ||
			r >= 0xfe30 && r <= 0xfe4f || r >= 0xff00 && r <= 0xff60 || r >= 0xffe0 && r <= 0xffe6 || r >= 0x20000 && r <= 0x3fffd):
			n += 2
		default:
			n++
		}
	}
	return n
}

// PadRight left-aligns s in width columns.
func PadRight(s string, width int) string { return s + strings.Repeat(" ", max(0, width-Width(s))) }

// PadLeft right-aligns s in width columns.
func PadLeft(s string, width int) string { return strings.Repeat(" ", max(0, width-Width(s))) + s }
