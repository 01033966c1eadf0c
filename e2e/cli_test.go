package e2e

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// TestServeBrokenConfig: a broken repos.yaml stops `gitopsd serve` with a non-zero status
// and a message that names the file, line and key.
func TestServeBrokenConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repos.yaml")
	os.WriteFile(path, []byte("users:\n  alice: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2p2YmnaZCWYK6L1uT70QFbGGW6k6/y0dGV8j3syWyx a\"]\nrepos:\n  app:\n    write: [alice]\n    wirte: [bob]\n"), 0o600)
	out, err := exec.Command(gittest.Binary(), "serve", "--config", path).CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("want a non-zero exit, got %v\n%s", err, out)
	}
	if want := path + ":6: repos.app.wirte: unknown key \"wirte\""; !strings.Contains(string(out), want) {
		t.Errorf("want %q in:\n%s", want, out)
	}
}

// TestServeShippedConfig starts the daemon on the repos.yaml the project ships, with only
// the addresses and the data directory moved into the test's sandbox.
func TestServeShippedConfig(t *testing.T) {
	data, err := os.ReadFile("../repos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := string(data)
	for old, new := range map[string]string{
		`listen: "0.0.0.0:2222"`:        `listen: "127.0.0.1:0"`,
		`data_dir: /var/lib/gitopsd`:    `data_dir: ` + filepath.Join(dir, "data"),
		`http_listen: "127.0.0.1:9090"`: `http_listen: "127.0.0.1:0"`,
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("the shipped repos.yaml no longer says %q: update this test", old)
		}
		cfg = strings.Replace(cfg, old, new, 1)
	}
	path := filepath.Join(dir, "repos.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	cmd := exec.Command(gittest.Binary(), "serve", "--config", path)
	logs := &gittest.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "ssh listening", func() bool { return strings.Contains(logs.String(), `"message":"ssh listening"`) })
	for _, repo := range []string{"platform", "app", "env-production"} {
		if _, err := os.Stat(filepath.Join(dir, "data", "repos", repo+".git", "hooks", "pre-receive")); err != nil {
			t.Errorf("repo %s with its hook shim: %v", repo, err)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGTERM must end the daemon with status 0: %v\n%s", err, logs.String())
	}
}

// TestDev runs what a newcomer runs first: `gitopsd dev` brings up a control plane, prints a
// working kubeconfig and serves a demo repo whose push deploys to it.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(gittest.Binary(), "dev", "--dir", dir, "--listen", "127.0.0.1:"+port, "--http-listen", "127.0.0.1:0", "--bin-dir", kubetest.BinDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	out := &gittest.Buffer{}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
		}
	}()
	waitFor(t, "dev serving", func() bool { return strings.Contains(out.String(), "ssh listening") })
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if !strings.Contains(out.String(), "export KUBECONFIG="+kubeconfig) {
		t.Fatalf("dev must print the kubeconfig path:\n%s", out.String())
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("the printed kubeconfig must reach the API server: %v", err)
	}

	// The printed instructions, done by hand: clone with the throwaway key, push the demo
	// app, then its crashing version.
	work := filepath.Join(t.TempDir(), "demo")
	env := append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_SSH_COMMAND=ssh -i "+filepath.Join(dir, "id_ed25519")+" -o IdentitiesOnly=yes -o UserKnownHostsFile="+filepath.Join(dir, "known_hosts")+" -o StrictHostKeyChecking=accept-new -o BatchMode=yes -F /dev/null -p "+port,
		"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Dir, c.Env = dir, env
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, b)
		}
		return string(b)
	}
	for _, want := range []string{"cp -r " + filepath.Join(dir, "demo-app") + " deploy", "sed -i 's/nginx:1.27/nginx:1.28-crash/' deploy/web.yaml"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("dev must print %q:\n%s", want, out.String())
		}
	}
	run(filepath.Dir(work), "git", "clone", "-q", "ssh://git@127.0.0.1:"+port+"/demo", work)
	run(work, "cp", "-r", filepath.Join(dir, "demo-app"), "deploy")
	run(work, "git", "add", "deploy")
	run(work, "git", "commit", "-qm", "web 1.27")
	pushed := run(work, "git", "push", "origin", "HEAD:main")
	if !hasWords(pushed, "ok: applied and healthy: 4 objects") || !strings.Contains(pushed, "healthy in") {
		t.Fatalf("the demo push deploys and goes live:\n%s", pushed)
	}
	readmeSays(t, "cp -r /tmp/gitopsd-dev/demo-app deploy", pushed)
	d, err := cs.AppsV1().Deployments("demo").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || d.Status.AvailableReplicas != 2 {
		t.Fatalf("the demo's Deployment must run when the push says healthy: %v %+v", err, d.Status)
	}

	run(work, "sed", "-i", "s/nginx:1.27/nginx:1.28-crash/", "deploy/web.yaml")
	run(work, "git", "commit", "-qam", "web 1.28")
	c := exec.Command("git", "push", "origin", "HEAD:main")
	c.Dir, c.Env = work, env
	b, _ := c.CombinedOutput()
	for _, want := range []string{"FAILED: ", "CrashLoopBackOff", "pod web-", "rolled back: "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the broken version's push must say %q:\n%s", want, b)
		}
	}
	readmeSays(t, "sed -i 's/nginx:1.27/nginx:1.28-crash/' deploy/web.yaml", string(b))
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
