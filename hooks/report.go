package hooks

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/termtext"
)

// location is file:line, or file, or "".
func location(p Problem) string {
	switch {
	case p.File == "":
		return ""
	case p.Line > 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return p.File
	}
}

// PreviewLine is one object in the preview.
type PreviewLine struct {
	// Op is "+" create, "~" configure, "=" unchanged, "-" prune.
	Op     string
	Object string
	// Fields are the changed fields of a configure, already masked for Secrets.
	Fields []string
}

// Report is the outcome of checking one environment of one push.
type Report struct {
	Repo, Env, Branch, Cluster, Commit string
	Problems                           []Problem
	Preview                            []PreviewLine
	// Notes are lines worth saying that are not problems (skipped checks, dry-run mode).
	Notes   []string
	Timings []Timing
	// Unchanged, when not 0, says the push does not change what the environment renders
	// (that many objects, the same as before it): on a branch that deploys several
	// environments it is then not checked again, nor applied.
	Unchanged int
}

// Timing is how long one stage took.
type Timing struct {
	Stage string
	D     time.Duration
}

// OK reports whether the environment passed.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Style chooses how a report is written.
type Style struct {
	// Color uses ANSI colours (only when the pusher asked: -o gitopsd.color).
	Color bool
	// MaxPreview bounds the preview lines per action; the rest are counted.
	MaxPreview int
}

const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

func (s Style) paint(color, text string) string {
	if !s.Color {
		return text
	}
	return color + text + reset
}

// Width is the most columns a line of a report takes: an 80-column terminal less git's
// "remote: " in front of every line the pusher sees.
const Width = 80 - len("remote: ")

// lines writes wrapped lines (see termtext.Wrap) to w.
type lines struct{ w io.Writer }

// item writes prefix and text, text wrapped under indent. shown is prefix as printed (with
// colour), which takes the columns of prefix.
func (l lines) item(prefix, shown, text, indent string) {
	for i, line := range termtext.Wrap(strings.TrimSpace(termtext.Clean(text)), Width, len(prefix), indent) {
		if i == 0 {
			line = shown + line
		}
		fmt.Fprintln(l.w, strings.TrimRight(line, " "))
	}
}

// Write prints the report: header, problems first, then the preview, then a one-line
// verdict with timings. Every line fits Width: a long message or hint wraps under its
// indent.
func (r *Report) Write(w io.Writer, s Style) {
	if s.MaxPreview == 0 {
		s.MaxPreview = 20
	}
	out := lines{w}
	out.item("gitopsd ", s.paint(bold, "gitopsd")+" ", fmt.Sprintf("%s/%s: %s -> cluster %s @ %s", r.Repo, r.Env, r.Branch, r.Cluster, shortCommit(r.Commit)), "    ")
	problems := append([]Problem(nil), r.Problems...)
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	for _, p := range problems {
		r.writeProblem(out, s, p)
	}
	for _, n := range r.Notes {
		out.item("  note: ", "  note: ", n, "    ")
	}
	r.writePreview(out, s)
	var times []string
	total := time.Duration(0)
	for _, t := range r.Timings {
		total += t.D
		times = append(times, fmt.Sprintf("%s %s", t.Stage, seconds(t.D)))
	}
	timing := ""
	if len(times) > 0 {
		timing = fmt.Sprintf(" (%s)", strings.Join(times, ", "))
	}
	switch {
	case r.OK() && r.Unchanged > 0:
		out.item("  ok: unchanged: ", "  "+s.paint(green, "ok: unchanged")+": ", fmt.Sprintf("renders the same %d object%s as before this push; not checked again (%s)",
			r.Unchanged, plural(r.Unchanged), seconds(total)), "    ")
	case r.OK():
		out.item("  ok: checks passed ", "  "+s.paint(green, "ok: checks passed")+" ", fmt.Sprintf("in %s%s", seconds(total), timing), "    ")
	default:
		out.item("  REJECTED: ", "  "+s.paint(red, "REJECTED")+": ", fmt.Sprintf("%d problem%s in %s%s", len(problems), plural(len(problems)), seconds(total), timing), "    ")
	}
}

// writeProblem writes p: where (file:line and object, the object on a line of its own
// when both do not fit one), its rule and message, and its hint.
func (r *Report) writeProblem(out lines, s Style, p Problem) {
	loc, obj := location(p), termtext.Clean(p.Object)
	head, below := loc, ""
	switch {
	case loc == "" && obj == "":
		head = "(push)"
	case loc == "":
		head = obj
	case obj != "" && len("  x "+loc+"  "+obj) <= Width:
		head += "  " + obj
	default:
		below = obj
	}
	// Not wrapped: a file name or an object name is one word, and the two spaces between
	// them are kept.
	fmt.Fprintf(out.w, "  %s %s\n", s.paint(red, "x"), head)
	if below != "" {
		out.item("    ", "    ", below, "    ")
	}
	out.item("    "+p.Rule+": ", "    "+p.Rule+": ", p.Message, "      ")
	for _, v := range p.Via {
		out.item("    via: ", "    via: ", v.String(), "      ")
	}
	if p.Hint != "" {
		out.item("    hint: ", "    hint: ", p.Hint, "      ")
	}
}

func (r *Report) writePreview(out lines, s Style) {
	if len(r.Preview) == 0 {
		return
	}
	counts := map[string]int{}
	for _, l := range r.Preview {
		counts[l.Op]++
	}
	out.item("  preview: ", "  preview: ", fmt.Sprintf("%d to create, %d to configure, %d unchanged, %d to prune", counts["+"], counts["~"], counts["="], counts["-"]), "    ")
	shown := map[string]int{}
	colors := map[string]string{"+": green, "~": yellow, "-": red}
	for _, l := range r.Preview {
		if l.Op == "=" {
			continue
		}
		shown[l.Op]++
		if shown[l.Op] > s.MaxPreview {
			continue
		}
		out.item("    "+l.Op+" ", "    "+s.paint(colors[l.Op], l.Op)+" ", l.Object, "      ")
		for i, f := range l.Fields {
			if i == 5 {
				fmt.Fprintf(out.w, "        ... %d more fields\n", len(l.Fields)-5)
				break
			}
			out.item("        ", "        ", f, "          ")
		}
	}
	for _, op := range []string{"+", "~", "-"} {
		if n := shown[op] - s.MaxPreview; n > 0 {
			fmt.Fprintf(out.w, "    %s ... and %d more\n", op, n)
		}
	}
}

// shortCommit abbreviates an object name as git does; anything else is kept.
func shortCommit(c string) string {
	if len(c) == 40 && strings.Trim(c, "0123456789abcdef") == "" {
		return c[:7]
	}
	return c
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
