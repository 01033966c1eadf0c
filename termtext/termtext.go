// Package termtext makes text that came from pushed content (object names, API messages
// that quote it, pod messages) safe to print on a terminal: a name holding ESC[2J must not
// clear the screen of whoever runs `ssh status`. It also bounds such text for log lines,
// and wraps it for an 80-column terminal.
package termtext

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// Clean drops ESC with the CSI or other escape sequence it starts, CR, and every other
// C0 and C1 control character and DEL. Newlines and tabs stay: multi-line fields are meant.
func Clean(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\x1b' || r == '\u009b':
			i = skipEscape(rs, i)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case isControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// skipEscape returns the index of the last rune of the escape sequence starting at i: a
// CSI (ESC [ or U+009B, parameters, one final byte 0x40-0x7E), or ESC and one more rune.
func skipEscape(rs []rune, i int) int {
	if rs[i] == '\x1b' {
		if i+1 >= len(rs) {
			return i
		}
		i++
		if rs[i] != '[' {
			return i
		}
	}
	for i+1 < len(rs) {
		i++
		if rs[i] >= 0x40 && rs[i] <= 0x7e {
			return i
		}
		if rs[i] < 0x20 || rs[i] > 0x3f {
			return i - 1 // not a parameter: the sequence ends before it
		}
	}
	return i
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f)
}

// Cut returns s cut to at most max bytes (on a rune boundary), marked with "…" when cut.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// List bounds client text that goes into one log line: at most maxItems items of at most
// maxLen bytes each, and a last item saying how many were left out.
func List(items []string, maxItems, maxLen int) []string {
	out := make([]string, 0, min(len(items), maxItems+1))
	for i, s := range items {
		if i == maxItems {
			out = append(out, fmt.Sprintf("… and %d more", len(items)-maxItems))
			break
		}
		out = append(out, Cut(s, maxLen))
	}
	return out
}

// Wrap breaks s into lines of at most width columns at spaces, for a terminal: the first
// line is to follow a prefix of first columns (which the caller writes), and every other
// line starts with indent, which counts in width. A word longer than a line is left
// whole on a line of its own: a path or URL cut in two could not be copied. Newlines in
// s start a new line, which keeps its own leading spaces after indent; other runs of
// spaces and tabs become one space. A column is a rune; colour sequences take none.
func Wrap(s string, width, first int, indent string) []string {
	var lines []string
	var cur strings.Builder
	col, start := first, first
	newLine := func(lead string) {
		lines = append(lines, cur.String())
		cur.Reset()
		cur.WriteString(indent + lead)
		col = Width(indent + lead)
		start = col
	}
	for i, para := range strings.Split(s, "\n") {
		lead := para[:len(para)-len(strings.TrimLeft(para, " \t"))]
		lead = strings.ReplaceAll(lead, "\t", " ")
		if i > 0 {
			newLine(lead)
		}
		for _, word := range strings.Fields(para) {
			n := Width(word)
			switch {
			case col == start && len(lines) == 0 && cur.Len() == 0 && col+n > width && Width(indent)+n <= width:
				// The first word does not fit after the caller's prefix, and would
				// under the indent: the prefix stands alone.
				newLine("")
			case col == start:
			case col+1+n > width:
				newLine(lead)
			default:
				cur.WriteByte(' ')
				col++
			}
			cur.WriteString(word)
			col += n
		}
	}
	return append(lines, cur.String())
}

// Width is the columns s takes on a terminal: its runes, less those of colour (CSI)
// sequences.
func Width(s string) int {
	if !strings.Contains(s, "\x1b") {
		return utf8.RuneCountInString(s)
	}
	rs := []rune(s)
	n := 0
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\x1b' {
			i = skipEscape(rs, i)
			continue
		}
		n++
	}
	return n
}

// ScreenWidth is the terminal of the person pushing or running gitopsd's commands: every
// line gitopsd writes there fits it.
const ScreenWidth = 80

// Wrapper is an io.Writer that wraps every line wider than its width (see Wrap), each
// continuation under the line's own indent and four more columns; lines that fit pass
// as they are. It is what stands between gitopsd and a terminal it does not own, so
// that no line of anyone's writing there is too wide. Safe for concurrent use; Flush
// writes a last line that has no newline.
type Wrapper struct {
	mu      sync.Mutex
	w       io.Writer
	width   int
	partial []byte
}

// NewWrapper returns a Wrapper of w, for lines of width columns.
func NewWrapper(w io.Writer, width int) *Wrapper { return &Wrapper{w: w, width: width} }

func (x *Wrapper) Write(p []byte) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.partial = append(x.partial, p...)
	i := bytes.LastIndexByte(x.partial, '\n')
	if i < 0 {
		return len(p), nil
	}
	var out strings.Builder
	for _, line := range strings.Split(string(x.partial[:i]), "\n") {
		x.wrap(&out, line)
	}
	x.partial = append(x.partial[:0], x.partial[i+1:]...)
	if _, err := io.WriteString(x.w, out.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is left of a line without its newline.
func (x *Wrapper) Flush() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.partial) == 0 {
		return nil
	}
	var out strings.Builder
	x.wrap(&out, string(x.partial))
	x.partial = x.partial[:0]
	_, err := io.WriteString(x.w, out.String())
	return err
}

func (x *Wrapper) wrap(out *strings.Builder, line string) {
	if Width(line) <= x.width {
		out.WriteString(line + "\n")
		return
	}
	lead := line[:len(line)-len(strings.TrimLeft(line, " "))]
	for i, l := range Wrap(line[len(lead):], x.width, len(lead), lead+"    ") {
		if i == 0 {
			l = lead + l
		}
		out.WriteString(l + "\n")
	}
}
