package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// scans counts the drift scans of env in the daemon's log ("drift scan: in sync" or
// "drift found").
func scans(d *gittest.Daemon, env string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(d.Logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct{ Env, Message string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Env != env {
			continue
		}
		if e.Message == "drift scan: in sync" || e.Message == "drift found" {
			n++
		}
	}
	return n
}

// TestDriftScheduleKept: two environments scanned "@every 2s" are each scanned about five
// times in ten seconds. The per-environment spread is an offset within a tenth of the
// period, not a sleep (of up to 30 s) inside the run that makes cron skip the ticks
// meanwhile. The counts allow one scan either way, for a loaded machine.
func TestDriftScheduleKept(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf(`one: {branch: one, cluster: local, path: one, namespace: %s, drift: {schedule: "@every 2s"}}`, ns),
		fmt.Sprintf(`two: {branch: two, cluster: local, path: two, namespace: %s, drift: {schedule: "@every 2s"}}`, ns))
	d.Commit(t, alice, work, "both", map[string]string{"one/a.yaml": cmYAML("one", "first"), "two/a.yaml": cmYAML("two", "second")})
	for _, branch := range []string{"one", "two"} {
		if out, ok := push(t, d, alice, work, branch); !ok || !hasWords(out, "ok: applied") {
			t.Fatalf("push %s:\n%s", branch, out)
		}
	}
	envs := []string{"one", "two"}
	waitFor(t, "a first scan of each environment", func() bool { return scans(d, "one") > 0 && scans(d, "two") > 0 })

	const window = 10 * time.Second
	start := map[string]int{}
	for _, env := range envs {
		start[env] = scans(d, env)
	}
	// The window is the measurement: nothing to poll for.
	time.Sleep(window)
	for _, env := range envs {
		got := scans(d, env) - start[env]
		if got < 4 || got > 6 {
			t.Errorf("environment %s: %d scans in %s on a 2 s schedule, want 5 (4 to 6)", env, got, window)
		}
	}
}
