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

// Write prints the report: header, problems first, then the preview, then a one-line
// verdict with timings. Lines are kept short enough for an 80-column terminal where the
// content allows (git adds "remote: " in front).
func (r *Report) Write(w io.Writer, s Style) {
	if s.MaxPreview == 0 {
		s.MaxPreview = 20
	}
	fmt.Fprintf(w, "%s %s/%s: %s -> cluster %s @ %s\n", s.paint(bold, "gitopsd"), r.Repo, r.Env, r.Branch, r.Cluster, shortCommit(r.Commit))
	problems := append([]Problem(nil), r.Problems...)
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	for _, p := range problems {
		head := location(p)
		if p.Object != "" {
			if head != "" {
				head += "  "
			}
			head += p.Object
		}
		if head == "" {
			head = "(push)"
		}
		fmt.Fprintf(w, "  %s %s\n", s.paint(red, "x"), termtext.Clean(head))
		for _, v := range p.Via {
			fmt.Fprintf(w, "    via: %s\n", termtext.Clean(v.String()))
		}
		fmt.Fprintf(w, "    %s: %s\n", p.Rule, oneLine(p.Message))
		for _, v := range p.Via {
			fmt.Fprintf(w, "    via: %s\n", termtext.Clean(v.String()))
		}
		if p.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", oneLine(p.Hint))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", oneLine(n))
	}
	r.writePreview(w, s)
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
		fmt.Fprintf(w, "  %s: renders the same %d object%s as before this push; not checked again (%s)\n",
			s.paint(green, "ok: unchanged"), r.Unchanged, plural(r.Unchanged), seconds(total))
	case r.OK():
		fmt.Fprintf(w, "  %s in %s%s\n", s.paint(green, "ok: checks passed"), seconds(total), timing)
	default:
		fmt.Fprintf(w, "  %s: %d problem%s in %s%s\n", s.paint(red, "REJECTED"), len(problems), plural(len(problems)), seconds(total), timing)
	}
}

func (r *Report) writePreview(w io.Writer, s Style) {
	if len(r.Preview) == 0 {
		return
	}
	counts := map[string]int{}
	for _, l := range r.Preview {
		counts[l.Op]++
	}
	fmt.Fprintf(w, "  preview: %d to create, %d to configure, %d unchanged, %d to prune\n", counts["+"], counts["~"], counts["="], counts["-"])
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
		fmt.Fprintf(w, "    %s %s\n", s.paint(colors[l.Op], l.Op), termtext.Clean(l.Object))
		for i, f := range l.Fields {
			if i == 5 {
				fmt.Fprintf(w, "        ... %d more fields\n", len(l.Fields)-5)
				break
			}
			fmt.Fprintf(w, "        %s\n", oneLine(f))
		}
	}
	for _, op := range []string{"+", "~", "-"} {
		if n := shown[op] - s.MaxPreview; n > 0 {
			fmt.Fprintf(w, "    %s ... and %d more\n", op, n)
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

func oneLine(s string) string {
	s = strings.TrimSpace(termtext.Clean(s))
	return strings.ReplaceAll(s, "\n", "\n      ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
