package reconcile

import (
	"bytes"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/outcome"
)

// TestStatusPageHundredEnvironments: /status shows every fact ssh status prints, for each
// of 100 environments, says at the top how many are in which state and which need a look,
// and escapes what pushes wrote.
func TestStatusPageHundredEnvironments(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var sts []Status
	for i := range 100 {
		s := Status{Repo: fmt.Sprintf("team-%02d", i/4), Env: fmt.Sprintf("env-%d", i%4), Branch: "main", Cluster: "prod",
			Outcome: outcome.Healthy, OutcomeAt: now.Add(-time.Minute), LastApplied: strings.Repeat("a", 40), LastAppliedAt: now.Add(-time.Minute),
			LastHealthy: strings.Repeat("a", 40), LastHealthyAt: now.Add(-time.Minute), Objects: i, DriftSchedule: "*/5 * * * *"}
		switch i {
		case 7:
			s.Outcome, s.LastError, s.LastErrorAt = outcome.Unhealthy, "applied, not healthy: 3 objects\n  Deployment.apps/web/web failed: CrashLoopBackOff", now
		case 42:
			s.DriftScanAt, s.Drifted = now, []string{`ConfigMap/web/<script>alert(1)</script>: .data.x: "a" -> "b"`}
		case 99:
			s.Outcome, s.Waiting = outcome.Waiting, "cluster prod unreachable: connection refused"
		}
		sts = append(sts, s)
	}
	var b bytes.Buffer
	if err := WriteStatusPage(&b, sts, now); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "100 environment(s), 98 healthy, 1 unhealthy, 1 waiting") {
		t.Errorf("the counts line is missing:\n%s", page[:min(len(page), 2000)])
	}
	top, _, _ := strings.Cut(page, "<table>")
	for _, key := range []string{"team-01/env-3", "team-10/env-2", "team-24/env-3"} {
		if !strings.Contains(top, `href="#env-`+strings.ReplaceAll(key, "/", "--")+`"`) {
			t.Errorf("%s needs a look and is not listed above the table", key)
		}
	}
	if strings.Count(top, "<li>") != 3 {
		t.Errorf("only the three that need a look are listed: %d", strings.Count(top, "<li>"))
	}
	for _, s := range sts {
		if !strings.Contains(page, `<tr id="env-`+s.Repo+"--"+s.Env+`">`) {
			t.Errorf("no row for %s", s.Key())
		}
		for _, f := range Facts(s, now) {
			if !strings.Contains(page, "<b>"+f.Label+"</b>  "+html.EscapeString(f.Text)) {
				t.Errorf("%s: the page lacks the fact %s %q that ssh status prints", s.Key(), f.Label, f.Text)
			}
		}
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("pushed names must be escaped")
	}
	if !strings.Contains(page, `class="outcome-unhealthy">`+html.EscapeString(OutcomeText(sts[7], now))) {
		t.Errorf("the outcome cell carries its label")
	}
	// A hundred environments: a page to read, not a dump (about 1 KiB each).
	if len(page) > 200<<10 {
		t.Errorf("the page is %d KiB", len(page)>>10)
	}
}
