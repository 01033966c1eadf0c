package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// TestOfflineFromTheFirstSecond: a cluster the daemon knows (its capabilities cached by a
// push a moment ago) stops answering; the very next push to an environment without
// checks.require_cluster gets the offline checks and is accepted, instead of a dry run
// refused against a dead API server with "fix the field it names". The commit is applied
// once the API server is back.
func TestOfflineFromTheFirstSecond(t *testing.T) {
	cp := kubetest.Own(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {wait: 2s}}", ns))
	d.Commit(t, alice, work, "v1", map[string]string{"deploy/a.yaml": cmYAML("a", "online")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: applied") {
		t.Fatalf("push with the cluster up:\n%s", out)
	}
	d.Commit(t, alice, work, "v2", map[string]string{"deploy/a.yaml": cmYAML("a", "offline")})
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	out, ok := push(t, d, alice, work, "main")
	if !ok || !hasWords(out, "note: cluster local cannot be reached: offline checks only") {
		t.Fatalf("the push right after the outage is accepted on offline checks:\n%s", out)
	}
	if err := cp.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "applied after the API server is back", func() bool { return configMapValue(cs, ns, "a", "value") == "offline" })
}

const neverReady = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
`

// TestReloadReappliesNothing: an environment whose last apply failed health (no controllers
// run on this control plane, so the Deployment never becomes available) is not applied
// again by a SIGHUP: a reload changes configuration, not clusters. An environment the
// reload adds, whose branch was pushed before it was configured, gets its branch head.
func TestReloadReappliesNothing(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	prod := fmt.Sprintf("prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 1s, wait: 30s}}", ns)
	d, alice, work := oneRepo(t, cp, ns, prod)
	d.Commit(t, alice, work, "never ready", map[string]string{"deploy/web.yaml": neverReady, "later/a.yaml": cmYAML("later", "added")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "not healthy") {
		t.Fatalf("push:\n%s", out)
	}
	// Not an environment yet: a plain branch.
	if out, ok := push(t, d, alice, work, "later"); !ok {
		t.Fatalf("push later:\n%s", out)
	}
	applies := strings.Count(d.Logs(), `"message":"reconcile failed"`)

	d.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Count(d.Logs(), "configuration reloaded") == 1 })
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	later := fmt.Sprintf("later: {branch: later, cluster: local, path: later, namespace: %s}", ns)
	if err := os.WriteFile(d.ConfigPath, []byte(strings.Replace(string(cfg), prod, prod+"\n      "+later, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	waitFor(t, "second reload", func() bool { return strings.Count(d.Logs(), "configuration reloaded") == 2 })
	waitFor(t, "the added environment applied", func() bool { return configMapValue(cs, ns, "later", "value") == "added" })
	// The reload's own queueing logs before "configuration reloaded"; a last push through
	// the environment's worker is the barrier for anything it queued.
	if strings.Contains(d.Logs(), "branch head not applied: reconciling") {
		t.Errorf("a reload queued the failing environment again")
	}
	d.Commit(t, alice, work, "fixed", map[string]string{"deploy/web.yaml": cmYAML("web", "fixed")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: applied") {
		t.Fatalf("push:\n%s", out)
	}
	if got := strings.Count(d.Logs(), `"message":"reconcile failed"`); got != applies {
		t.Errorf("the failing commit was applied %d more times after the reloads", got-applies)
	}
}

// TestStatusWriteFailureShown: a status write that fails is logged and makes /readyz
// unready until a write succeeds again. The daemon runs as root, for whom permission bits
// do not stop a write, so the status directory is replaced by a plain file: creating the
// temporary file inside it fails with ENOTDIR whoever the daemon runs as.
func TestStatusWriteFailureShown(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(`prod: {branch: main, cluster: local, path: deploy, namespace: %s, drift: {schedule: "@every 1s"}}`, ns))
	d.Commit(t, alice, work, "v1", map[string]string{"deploy/a.yaml": cmYAML("a", "one")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: applied") {
		t.Fatalf("push:\n%s", out)
	}
	base := httpAddr(t, d)
	waitFor(t, "/readyz with everything up", func() bool { code, _ := get(base + "/readyz"); return code == http.StatusOK })

	dir := filepath.Join(d.DataDir, "status")
	moved := dir + ".moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "not a directory\n")
	// The drift scan writes its time into the status every second.
	waitFor(t, "/readyz to report the failed write", func() bool {
		code, body := get(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "status: cannot be written")
	})
	if !strings.Contains(d.Logs(), `"message":"status write failed"`) {
		t.Errorf("the failed write must be logged:\n%s", d.Logs())
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz ready again after a write succeeds", func() bool { code, _ := get(base + "/readyz"); return code == http.StatusOK })
}
