package termtext

import (
	"io"
	"strings"
	"testing"
)

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

func TestCutAndList(t *testing.T) {
	if got := Cut("héllo", 2); got != "h…" {
		t.Errorf("Cut on a rune boundary: %q", got)
	}
	if got := Cut("short", 10); got != "short" {
		t.Errorf("Cut of a short string: %q", got)
	}
	long := make([]string, 100)
	for i := range long {
		long[i] = strings.Repeat("x", 1000)
	}
	got := List(long, 3, 8)
	want := []string{"xxxxxxxx…", "xxxxxxxx…", "xxxxxxxx…", "… and 97 more"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("List: %q", got)
	}
	if got := List([]string{"a"}, 3, 8); len(got) != 1 || got[0] != "a" {
		t.Errorf("List of one: %q", got)
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		s      string
		width  int
		first  int
		indent string
		want   []string
	}{
		{"short", 20, 4, "  ", []string{"short"}},
		{"one two three four five", 12, 2, "  ", []string{"one two", "  three four", "  five"}},
		{"a https://example.com/a/very/long/url b", 10, 0, " ", []string{"a", " https://example.com/a/very/long/url", " b"}},
		{"first\nsecond   \t line", 40, 0, "    ", []string{"first", "    second line"}},
		{"", 10, 0, "", []string{""}},
	} {
		got := Wrap(c.s, c.width, c.first, c.indent)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Wrap(%q, %d, %d, %q) = %q, want %q", c.s, c.width, c.first, c.indent, got, c.want)
		}
		for i, l := range got {
			if w := len(l); (i == 0 && w+c.first > c.width || i > 0 && w > c.width) && !strings.Contains(l, "https://") {
				t.Errorf("line %q is wider than %d", l, c.width)
			}
		}
	}
}

func TestWrapKeepsLeadOfLines(t *testing.T) {
	got := Wrap("first\n  pod web-1: container web crashed three times", 20, 0, "    ")
	want := []string{"first", "      pod web-1:", "      container web", "      crashed three", "      times"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWrapper(t *testing.T) {
	var b strings.Builder
	w := NewWrapper(&b, 20)
	io.WriteString(w, "short line\n  a line that is too long for twenty\npart")
	io.WriteString(w, "ial\x1b[31m red \x1b[0m")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "short line\n  a line that is too\n      long for\n      twenty\npartial\x1b[31m red \x1b[0m\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if Width(l) > 20 {
			t.Errorf("line %q wider than 20", l)
		}
	}
}
