package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/outcome"
)

// TestOutcomesNamedEverywhere drives one environment through each of the five outcomes
// and finds the same name for each in the push output, `ssh status`, /status, the metrics'
// result label and the webhook's event type: a health timeout after every object was
// applied is "applied, not healthy", never "apply failed"; its rollback is "rolled back"
// to the commit named; a cluster that is down is "waiting for the cluster"; objects the
// API server refuses are "apply failed". No controllers run on this control plane, so a
// Deployment never becomes healthy.
func TestOutcomesNamedEverywhere(t *testing.T) {
	cp := kubetest.Own(t)
	prodNS, stageNS := kubetest.NamespaceIn(t, cp.Config), kubetest.NamespaceIn(t, cp.Config)

	var mu sync.Mutex
	var events []notify.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer hook.Close()

	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  app:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 2s, on_failure: rollback}}
      stage: {branch: stage, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 2s, wait: 10s}}
webhooks:
  - {url: %q}
`, prodNS, stageNS, hook.URL))
	base := httpAddr(t, d)
	work := d.Clone(t, alice, "app")

	// expect checks that env's last outcome is o wherever it is shown: the push output
	// (out, "" to skip), ssh status, /status and a webhook event for env.
	expect := func(env, out string, o outcome.Outcome, detail string) {
		t.Helper()
		if out != "" && !hasWords(out, "gitopsd app/"+env+": "+detail) {
			t.Errorf("%s: the push output lacks %q:\n%s", o, detail, out)
		}
		var st, page string
		waitFor(t, fmt.Sprintf("%s/%s %s in ssh status and /status", "app", env, o), func() bool {
			st, _, _ = d.SSH(t, alice, nil, "status", "app", env)
			_, page = get(base + "/status")
			return hasWords(st, "  outcome  "+o.String()+" (") &&
				strings.Contains(page, `class="outcome-`+o.Label()+`">`+html.EscapeString(o.String())+" (")
		})
		waitFor(t, "the "+o.Event()+" webhook", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range events {
				if ev.Env == env && ev.Type == o.Event() && ev.Outcome == o && strings.HasPrefix(ev.Summary, o.String()) {
					return true
				}
			}
			return false
		})
	}

	d.Commit(t, alice, work, "good", map[string]string{"deploy/a.yaml": cmYAML("a", "good")})
	good := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "HEAD"))
	out, _ := push(t, d, alice, work, "main")
	expect("prod", out, outcome.Healthy, "ok: applied and healthy: 2 objects (1 created, 1 configured, 0 unchanged), pruned 0; healthy in ")

	d.Commit(t, alice, work, "web", map[string]string{"deploy/web.yaml": webDeployment(1)})
	web := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "HEAD"))
	out, _ = push(t, d, alice, work, "stage")
	expect("stage", out, outcome.Unhealthy, "FAILED: applied, not healthy: 3 objects (")
	if hasWords(out, "apply failed") {
		t.Errorf("every object was applied: not an apply failure:\n%s", out)
	}

	out, _ = push(t, d, alice, work, "main")
	expect("prod", out, outcome.RolledBack, "FAILED: rolled back to "+good[:7]+": "+web[:7]+" was applied, not healthy: ")
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")
	revert := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "HEAD"))
	mu.Lock()
	for _, ev := range events {
		if ev.Type == outcome.RolledBack.Event() && (ev.Commit != revert || ev.Target != good || ev.Failed != web) {
			t.Errorf("the rollback event names the revert %.7s, its target %.7s and the failed %.7s: %+v", revert, good, web, ev)
		}
	}
	mu.Unlock()

	// The cluster goes away; a push of objects the API server will refuse is accepted on
	// the offline checks and waits.
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	d.Commit(t, alice, work, "refused", map[string]string{
		"deploy/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: not-a-map\n",
	})
	out, ok := push(t, d, alice, work, "stage")
	if !ok {
		t.Fatalf("accepted on the offline checks:\n%s", out)
	}
	expect("stage", out, outcome.Waiting, "waiting for the cluster: cluster local unreachable")
	if err := cp.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect("stage", "", outcome.ApplyFailed, "")
	if st, _, _ := d.SSH(t, alice, nil, "status", "app", "stage"); !hasWords(st, "apply failed: ") || !hasWords(st, "Secret/"+stageNS+"/s failed") {
		t.Errorf("status names the refused object:\n%s", st)
	}

	_, metrics := get(base + "/metrics")
	for env, results := range map[string][]outcome.Outcome{"prod": {outcome.Healthy, outcome.RolledBack}, "stage": {outcome.Unhealthy, outcome.Waiting, outcome.ApplyFailed}} {
		for _, o := range results {
			want := fmt.Sprintf(`gitopsd_reconcile_duration_seconds_count{env=%q,repo="app",result=%q}`, env, o.Label())
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
}
