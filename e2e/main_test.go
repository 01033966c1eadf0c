package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/gittest"
)

func TestMain(m *testing.M) { gittest.MainWithCluster(m, false) }

// cluster renders a clusters: entry for cp.
func cluster(name string, cp *controlplane.ControlPlane) string {
	return fmt.Sprintf("  %s: {kubeconfig: %s, context: %s}\n", name, cp.Kubeconfig, controlplane.ContextName)
}

// oneRepo starts a daemon serving one repo, named ns, that alice alone writes, whose
// environments deploy to cp, and returns it with alice's key and her clone. Each env is one
// environment as YAML, "name: {branch: ..., cluster: local, ...}".
func oneRepo(t *testing.T, cp *controlplane.ControlPlane, ns string, envs ...string) (*gittest.Daemon, *gittest.Key, string) {
	t.Helper()
	alice := gittest.NewKey(t, "alice")
	body := gittest.Users(alice) + "clusters:\n" + cluster("local", cp) +
		fmt.Sprintf("repos:\n  %s:\n    write: [alice]\n    environments:\n", ns)
	for _, env := range envs {
		body += "      " + env + "\n"
	}
	d := gittest.Start(t, body)
	return d, alice, d.Clone(t, alice, ns)
}

// push pushes HEAD of work to branch and returns git's output and whether it succeeded.
func push(t *testing.T, d *gittest.Daemon, key *gittest.Key, work, branch string, opts ...string) (string, bool) {
	t.Helper()
	args := []string{"push"}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	args = append(args, "origin", "HEAD:refs/heads/"+branch)
	out, err := d.Git(t, key, work, args...)
	return out, err == nil
}

// remoteHead is the commit branch points at on the server ("" if it does not exist).
func remoteHead(t *testing.T, d *gittest.Daemon, branch string, repo string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", d.RepoDir(repo), "rev-parse", "--verify", "-q", "refs/heads/"+branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// objectCount counts the loose and packed objects of the server's repo.
func objectCount(t *testing.T, d *gittest.Daemon, repo string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", d.RepoDir(repo), "count-objects", "-v").Output()
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "count:") || strings.HasPrefix(l, "in-pack:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, " ")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2 minutes", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func configMapValue(cs kubernetes.Interface, ns, name, key string) string {
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return cm.Data[key]
}

func cmYAML(name, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  value: " + value + "\n"
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// outputHas fails t for every line of want that out lacks.
func outputHas(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !hasWords(out, w) {
			t.Errorf("the push output lacks %q:\n%s", w, out)
		}
	}
}

// refusedBy fails t unless the push was refused (ok false) by rule: its output must hold
// the line "RULE: ..." of a report or of the ref rules, so that a test of one refusal does
// not pass on another that happens to fail the push too.
func refusedBy(t *testing.T, out string, ok bool, rule string) {
	t.Helper()
	if ok {
		t.Fatalf("the push must be refused by rule %s; it was accepted:\n%s", rule, out)
	}
	// gitopsd's lines come after git's "remote: ", or, for a session refused before git
	// runs, straight from ssh below a "gitopsd: refused" line.
	session := false
	for _, l := range strings.Split(out, "\n") {
		l, isRemote := strings.CutPrefix(l, "remote: ")
		session = !isRemote && (strings.HasPrefix(l, "gitopsd: refused ") || session && strings.HasPrefix(l, "  "))
		// A rule whose message's first word does not fit after it stands alone.
		if l = strings.TrimSpace(l); (isRemote || session) && (strings.HasPrefix(l, rule+": ") || l == rule+":") {
			return
		}
	}
	t.Fatalf("the refusal does not name rule %s:\n%s", rule, out)
}

// watchChanges calls observe every 50 ms until stop, and returns each value it saw that
// differs from the one before, in order.
func watchChanges(observe func() string) (stop func() []string) {
	var mu sync.Mutex
	var seen []string
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			v := observe()
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != v {
				seen = append(seen, v)
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// webhookBodies serves a webhook for the test and returns its URL and a function that
// says every body received so far, one per line.
func webhookBodies(t *testing.T) (url string, bodies func() string) {
	var mu sync.Mutex
	var got strings.Builder
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.Write(body)
		got.WriteString("\n")
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	return hook.URL, func() string { mu.Lock(); defer mu.Unlock(); return got.String() }
}
