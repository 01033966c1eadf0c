package reconcile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/termtext"
)

// WriteStatus prints statuses for `ssh git@host status`: one block per environment.
func WriteStatus(out io.Writer, sts []Status, now time.Time) {
	// The fields wrap under their labels (see field); the Wrapper wraps the rest, a long
	// environment name.
	w := termtext.NewWrapper(out, statusWidth)
	defer w.Flush()
	if len(sts) == 0 {
		fmt.Fprintln(w, "no environments you may read")
		return
	}
	for _, s := range sts {
		fmt.Fprintf(w, "%s  (branch %s -> cluster %s)\n", termtext.Clean(s.Key()), termtext.Clean(s.Branch), s.Cluster)
		for _, f := range Facts(s, now) {
			field(w, f.Label, f.Text)
		}
	}
}

// Fact is one line of what gitopsd knows about an environment: a label, and a text that may
// span lines (a health failure lists the objects and their pods below its first line).
type Fact struct{ Label, Text string }

// Facts are what ssh status and /status show of an environment, in that order: the last
// outcome, the commits seen, applied and healthy, the objects owned, the drift, and what
// is waiting, rolled back, deleted or failed. Texts quote pushed content: the caller
// cleans or escapes them for its screen.
func Facts(s Status, now time.Time) []Fact {
	facts := []Fact{
		{"outcome", OutcomeText(s, now)},
		{"seen", commitAt(s.LastSeen, s.LastSeenAt, now)},
		{"applied", commitAt(s.LastApplied, s.LastAppliedAt, now)},
		{"healthy", commitAt(s.LastHealthy, s.LastHealthyAt, now)},
		{"objects", fmt.Sprint(s.Objects)},
		{"drift", DriftText(s, now)},
	}
	for _, f := range []Fact{{"release", s.Release}, {"waiting", s.Waiting}, {"rollback", s.RolledBack}, {"deleted", s.Deleted}} {
		if f.Text != "" {
			facts = append(facts, f)
		}
	}
	if s.LastError != "" {
		first, rest, _ := strings.Cut(s.LastError, "\n")
		text := first + " (" + ago(s.LastErrorAt, now) + ")"
		if rest != "" {
			text += "\n" + rest
		}
		facts = append(facts, Fact{"error", text})
	}
	return facts
}

// DriftText says what the last drift scan found, or why there was none.
func DriftText(s Status, now time.Time) string {
	switch {
	case s.DriftSchedule == "" && s.DriftScanAt.IsZero():
		return "not scanned: no drift.schedule for this environment"
	case s.DriftScanAt.IsZero():
		return fmt.Sprintf("not scanned yet (schedule %s)", s.DriftSchedule)
	case len(s.Drifted) == 0 && s.DriftCorrectedBy != "":
		return fmt.Sprintf("none: corrected by the apply of %.12s %s (scanned %s)", s.DriftCorrectedBy, ago(s.DriftCorrectedAt, now), ago(s.DriftScanAt, now))
	case len(s.Drifted) == 0:
		return fmt.Sprintf("none (scanned %s)", ago(s.DriftScanAt, now))
	}
	return fmt.Sprintf("%d object(s) (scanned %s): %s", len(s.Drifted), ago(s.DriftScanAt, now), strings.Join(first(s.Drifted, 5), ", "))
}

// OutcomeText is the environment's last outcome in words, with its age: "applied and
// healthy (3s ago)"; "none yet" before the first reconcile. ssh status and /status show
// it alike.
func OutcomeText(s Status, now time.Time) string {
	if s.Outcome == "" {
		return "none yet"
	}
	return fmt.Sprintf("%s (%s)", s.Outcome, ago(s.OutcomeAt, now))
}

// statusWidth is the width of `ssh status` output: an 80-column terminal (the command's
// output reaches it as it is, with no prefix).
const statusWidth = 80

// field prints a labelled value whose text may span lines (a health failure lists the
// objects and their pods): the first line carries the label, the others stay under it,
// and a line too long for the terminal wraps under its own indent. The text is pushed
// content's (names, the API's messages quoting it): no control character of it reaches
// the reader's terminal.
func field(w io.Writer, label, text string) {
	head := fmt.Sprintf("  %-8s ", label)
	for i, l := range termtext.Wrap(termtext.Clean(text), statusWidth, len(head), "           ") {
		if i == 0 {
			l = head + l
		}
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
}

func commitAt(c string, at time.Time, now time.Time) string {
	if c == "" {
		return "-"
	}
	return fmt.Sprintf("%.12s (%s)", c, ago(at, now))
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	if d < time.Second {
		return "just now"
	}
	return d.String() + " ago"
}

func first(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("... %d more", len(s)-n))
}
