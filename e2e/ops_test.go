package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/notify"
)

var httpAddrRe = regexp.MustCompile(`"addr":"([^"]+)","time":"[^"]+","message":"http listening`)

// httpAddr is the daemon's HTTP address, from its log.
func httpAddr(t *testing.T, d *gittest.Daemon) string {
	t.Helper()
	var m []string
	waitFor(t, "http listening", func() bool {
		all := httpAddrRe.FindAllStringSubmatch(d.Logs(), -1)
		if len(all) > 0 {
			m = all[len(all)-1]
		}
		return m != nil
	})
	return "http://" + m[1]
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestNotifyReadyAndStopping listens on a NOTIFY_SOCKET the way systemd does: READY=1
// arrives once the SSH port accepts, STOPPING=1 on SIGTERM.
func TestNotifyReadyAndStopping(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	messages := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(got, "|") }

	t.Setenv("NOTIFY_SOCKET", sock)
	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"repos: {app: {write: [alice]}}\n")
	waitFor(t, "READY=1", func() bool { return strings.Contains(messages(), "READY=1") })
	c, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatalf("READY=1 was sent but the SSH port does not accept: %v", err)
	}
	c.Close()
	if strings.Contains(messages(), "STOPPING=1") {
		t.Fatal("STOPPING=1 before any stop")
	}
	if err := d.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-d.Exited()
	if !strings.Contains(messages(), "STOPPING=1") {
		t.Fatalf("no STOPPING=1 on SIGTERM; got %q", messages())
	}
}

// TestReloadOnSIGHUP adds a user and sends SIGHUP: the user can clone. A broken file and
// SIGHUP leave the old configuration serving.
func TestReloadOnSIGHUP(t *testing.T) {
	alice, bob := gittest.NewKey(t, "alice"), gittest.NewKey(t, "bob")
	d := gittest.Start(t, gittest.Users(alice)+"repos: {app: {write: [alice]}}\n")
	if _, err := d.Git(t, bob, t.TempDir(), "clone", "-q", d.URL("app"), "x"); err == nil {
		t.Fatal("bob is not configured yet and must not clone")
	}
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(cfg), "repos: {app: {write: [alice]}}", fmt.Sprintf("  bob: [%q]\nrepos: {app: {write: [alice], read: [bob]}}", bob.Public), 1)
	if err := os.WriteFile(d.ConfigPath, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Contains(d.Logs(), "configuration reloaded") })
	d.Clone(t, bob, "app")

	// A broken file: refused, logged with its line and key, and the old one stays.
	broken := strings.Replace(next, "read: [bob]", "read: [bob, mallory]", 1)
	if err := os.WriteFile(d.ConfigPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	waitFor(t, "reload refused", func() bool { return strings.Contains(d.Logs(), "configuration not reloaded") })
	if !strings.Contains(d.Logs(), `"key":"repos.app.read[1]"`) || !strings.Contains(d.Logs(), `user \"mallory\" is not defined`) {
		t.Errorf("the refusal must name the key and say what is wrong:\n%s", d.Logs())
	}
	d.Clone(t, bob, "app")
}

// TestMetricsReadyzAndWebhooks: counters move with pushes, /readyz turns unready when a
// cluster's API server stops, and a webhook receives signed events for a rejected push
// and for an apply.
func TestMetricsReadyzAndWebhooks(t *testing.T) {
	cp := kubetest.Own(t)
	ns := kubetest.NamespaceIn(t, cp.Config)

	var mu sync.Mutex
	events := map[string]notify.Event{}
	key := []byte("webhook-secret")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(notify.SignatureHeader) != notify.Sign(key, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev notify.Event
		json.Unmarshal(body, &ev)
		mu.Lock()
		events[ev.Type] = ev
		mu.Unlock()
	}))
	defer hook.Close()
	secret := filepath.Join(t.TempDir(), "webhook.key")
	os.WriteFile(secret, key, 0o600)
	seen := func(typ string) bool { mu.Lock(); defer mu.Unlock(); _, ok := events[typ]; return ok }

	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  app:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s}
webhooks:
  - {url: %q, secret_file: %q}
`, ns, hook.URL, secret))
	base := httpAddr(t, d)
	// The log line that gittest waits for comes just before the daemon marks SSH ready.
	waitFor(t, "/readyz with everything up", func() bool { code, _ := get(base + "/readyz"); return code == http.StatusOK })

	work := d.Clone(t, alice, "app")
	d.Commit(t, alice, work, "bad", map[string]string{"deploy/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n"})
	out, ok := push(t, d, alice, work, "main")
	refusedBy(t, out, ok, "yaml-syntax")
	d.Commit(t, alice, work, "good", map[string]string{"deploy/a.yaml": cmYAML("a", "x")})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("good push:\n%s", out)
	}
	_, metrics := get(base + "/metrics")
	for _, want := range []string{
		`gitopsd_pushes_total{repo="app",result="rejected"} 1`,
		`gitopsd_pushes_total{repo="app",result="accepted"} 1`,
		`gitopsd_objects_applied_total{action="created",env="prod",repo="app"} 1`,
		`gitopsd_reconcile_duration_seconds_count{env="prod",repo="app",result="healthy"} 1`,
		`gitopsd_last_successful_sync_timestamp_seconds{env="prod",repo="app"}`,
		`gitopsd_ssh_sessions_total{command="receive-pack",result="ok"} 2`,
		`gitopsd_ssh_sessions_total{command="upload-pack",result="ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	waitFor(t, "signed webhooks", func() bool { return seen("push.rejected") && seen("apply.healthy") })
	mu.Lock()
	if ev := events["apply.healthy"]; ev.Repo != "app" || ev.Env != "prod" || ev.Outcome != "healthy" || !strings.HasPrefix(ev.Summary, "applied and healthy: ") {
		t.Errorf("apply event: %+v", ev)
	}
	mu.Unlock()

	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	code, body := get(base + "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "cluster local: unreachable") {
		t.Fatalf("/readyz with the API server down: %d %s", code, body)
	}
	if code, _ := get(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz says the process is up whatever the clusters do: %d", code)
	}
}

// TestSIGTERMDuringSlowPush stops the daemon while a push is in its checks: the push gets
// the shutdown grace to finish, and afterwards the branch, the cluster and the status agree.
func TestSIGTERMDuringSlowPush(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`tests:
  slow: {command: [sleep, "3"], timeout: 30s}
repos:
  %s:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s, checks: {tests: [slow]}}
`, ns, ns))
	work := d.Clone(t, alice, ns)
	commit := d.Commit(t, alice, work, "v1", map[string]string{"deploy/a.yaml": cmYAML("a", "v1")})
	type result struct {
		out string
		ok  bool
	}
	done := make(chan result, 1)
	go func() {
		out, ok := push(t, d, alice, work, "main")
		done <- result{out, ok}
	}()
	waitFor(t, "push in its checks", func() bool { return hookRunning(d, ns) })
	if err := d.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	<-d.Exited()
	head := remoteHead(t, d, "main", ns)
	if !r.ok || head != commit {
		t.Fatalf("a push running at SIGTERM finishes within the grace: ok=%v head=%s\n%s", r.ok, head, r.out)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil || cm.Data["value"] != "v1" {
		t.Fatalf("the accepted push's apply ran before exit: %v %v", cm, err)
	}
	status, err := os.ReadFile(filepath.Join(d.DataDir, "status", ns+"@prod.json"))
	if err != nil || !strings.Contains(string(status), `"last_applied": "`+commit+`"`) {
		t.Fatalf("status agrees with the branch: %v\n%s", err, status)
	}
}

// hookRunning reports whether a pre-receive is in progress (a quarantine directory exists).
func hookRunning(d *gittest.Daemon, repo string) bool {
	m, _ := filepath.Glob(filepath.Join(d.RepoDir(repo), "objects", "tmp_objdir-incoming-*"))
	return len(m) > 0
}

// TestKillMidApplyConverges kills the daemon (SIGKILL) while it applies and starts it
// again: it notices the branch head is not applied and converges without another push.
func TestKillMidApplyConverges(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("prod: {branch: main, cluster: local, path: deploy, namespace: %s}", ns))
	files := map[string]string{}
	const n = 300
	for i := range n {
		files[fmt.Sprintf("deploy/cm-%03d.yaml", i)] = cmYAML(fmt.Sprintf("cm-%03d", i), "v1")
	}
	commit := d.Commit(t, alice, work, "many", files)
	if out, ok := push(t, d, alice, work, "main", "gitopsd.nowait"); !ok {
		t.Fatalf("push:\n%s", out)
	}
	count := func() int {
		l, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return -1
		}
		return len(l.Items)
	}
	waitFor(t, "apply under way", func() bool { return count() > 0 })
	if err := d.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.Exited()
	t.Logf("killed with %d of %d configmaps applied", count(), n)
	d.Restart(t)
	waitFor(t, "converged after restart", func() bool {
		status, _ := os.ReadFile(filepath.Join(d.DataDir, "status", ns+"@prod.json"))
		return count() >= n && strings.Contains(string(status), `"last_healthy": "`+commit+`"`)
	})
}

// TestPushWhileClusterDown: the API server is stopped; the push gets the offline checks and
// is accepted, the status says why it waits, and once the API server is back the commit is
// applied without another push. With checks.require_cluster the same push is refused.
func TestPushWhileClusterDown(t *testing.T) {
	cp := kubetest.Own(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  app:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {wait: 2s}}
      strict: {branch: strict, cluster: local, path: deploy, namespace: %s, checks: {require_cluster: true}}
`, ns, ns))
	work := d.Clone(t, alice, "app")
	commit := d.Commit(t, alice, work, "v1", map[string]string{"deploy/a.yaml": cmYAML("a", "late")})
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if out, ok := push(t, d, alice, work, "strict"); ok || !hasWords(out, "cluster: cluster local cannot be reached") {
		t.Fatalf("require_cluster refuses while the cluster is down:\n%s", out)
	}
	out, ok := push(t, d, alice, work, "main")
	if !ok || !hasWords(out, "note: cluster local cannot be reached: offline checks only") {
		t.Fatalf("the push is accepted on offline checks:\n%s", out)
	}
	waitFor(t, "status says why it waits", func() bool {
		st, _, _ := d.SSH(t, alice, nil, "status", "app", "prod")
		return hasWords(st, "waiting  retrying "+commit[:12])
	})
	if err := cp.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "applied after the API server is back", func() bool { return configMapValue(cs, ns, "a", "value") == "late" })
}

// TestDriftScheduleAddedByReload: a drift schedule that SIGHUP adds runs in the daemon on
// its own (no push), finds an object edited by hand, and in correct mode puts the value
// from git back.
func TestDriftScheduleAddedByReload(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	env := fmt.Sprintf("staging: {branch: main, cluster: local, path: deploy, namespace: %s}", ns)
	d, alice, work := oneRepo(t, cp, ns, env)
	d.Commit(t, alice, work, "one", map[string]string{"deploy/a.yaml": cmYAML("a", "from-git")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: applied") {
		t.Fatalf("push:\n%s", out)
	}

	// An edit by hand, as kubectl edit would make it.
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = "by-hand"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	// The file as the daemon runs it (with the server section the test bed wrote), plus
	// a drift schedule for the environment.
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	withDrift := strings.TrimSuffix(env, "}") + `, drift: {schedule: "@every 1s", mode: correct}}`
	if !strings.Contains(string(cfg), env) {
		t.Fatalf("no environment line in:\n%s", cfg)
	}
	if err := os.WriteFile(d.ConfigPath, []byte(strings.Replace(string(cfg), env, withDrift, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Contains(d.Logs(), "configuration reloaded") })
	waitFor(t, "the scheduled scan to undo the edit", func() bool { return configMapValue(cs, ns, "a", "value") == "from-git" })
	if !strings.Contains(d.Logs(), "drift found") {
		t.Errorf("the daemon must log the drift it corrected:\n%s", d.Logs())
	}
}
