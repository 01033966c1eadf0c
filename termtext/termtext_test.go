package termtext

import "testing"

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain\nlines\tstay":        "plain\nlines\tstay",
		"esc\x1b[2Jname\r":          "escname",
		"\x1b[1;31mred\x1b[0m":      "red",
		"title\x1b]0;x\x07 bell":    "title0;x bell",
		"c1\u009b2Jcsi \u0085nel":   "c1csi nel",
		"del\x7f nul\x00 bs\b end":  "del nul bs end",
		"trailing esc\x1b":          "trailing esc",
		"unicode é ✓ stays":         "unicode é ✓ stays",
		"esc[ without final \x1b[1": "esc[ without final ",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}
