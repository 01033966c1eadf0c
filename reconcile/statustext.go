package reconcile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/termtext"
)

// WriteStatus prints statuses for `ssh git@host status`: one block per environment.
func WriteStatus(w io.Writer, sts []Status, now time.Time) {
	if len(sts) == 0 {
		fmt.Fprintln(w, "no environments you may read")
		return
	}
	clean := termtext.Clean
	for _, s := range sts {
		fmt.Fprintf(w, "%s  (branch %s -> cluster %s)\n", clean(s.Key()), clean(s.Branch), s.Cluster)
		fmt.Fprintf(w, "  outcome  %s\n", OutcomeText(s, now))
		fmt.Fprintf(w, "  seen     %s\n", commitAt(s.LastSeen, s.LastSeenAt, now))
		fmt.Fprintf(w, "  applied  %s\n", commitAt(s.LastApplied, s.LastAppliedAt, now))
		fmt.Fprintf(w, "  healthy  %s\n", commitAt(s.LastHealthy, s.LastHealthyAt, now))
		fmt.Fprintf(w, "  objects  %d\n", s.Objects)
		switch {
		case s.DriftSchedule == "" && s.DriftScanAt.IsZero():
			fmt.Fprintf(w, "  drift    not scanned: no drift.schedule for this environment\n")
		case s.DriftScanAt.IsZero():
			fmt.Fprintf(w, "  drift    not scanned yet (schedule %s)\n", s.DriftSchedule)
		case len(s.Drifted) == 0 && s.DriftCorrectedBy != "":
			fmt.Fprintf(w, "  drift    none: corrected by the apply of %.12s %s (scanned %s)\n", s.DriftCorrectedBy, ago(s.DriftCorrectedAt, now), ago(s.DriftScanAt, now))
		case len(s.Drifted) == 0:
			fmt.Fprintf(w, "  drift    none (scanned %s)\n", ago(s.DriftScanAt, now))
		default:
			fmt.Fprintf(w, "  drift    %d object(s) (scanned %s): %s\n", len(s.Drifted), ago(s.DriftScanAt, now), clean(strings.Join(first(s.Drifted, 5), ", ")))
		}
		if s.Waiting != "" {
			field(w, "waiting", s.Waiting, "")
		}
		if s.RolledBack != "" {
			field(w, "rollback", s.RolledBack, "")
		}
		if s.Deleted != "" {
			field(w, "deleted", s.Deleted, "")
		}
		if s.LastError != "" {
			field(w, "error", s.LastError, " ("+ago(s.LastErrorAt, now)+")")
		}
	}
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

// field prints a labelled value whose text may span lines (a health failure lists the
// objects and their pods): the first line carries the label and suffix, the others stay
// under it. The text is pushed content's (names, the API's messages quoting it): no
// control character of it reaches the reader's terminal.
func field(w io.Writer, label, text, suffix string) {
	lines := strings.Split(termtext.Clean(text), "\n")
	fmt.Fprintf(w, "  %-8s %s%s\n", label, lines[0], suffix)
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "           %s\n", l)
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
