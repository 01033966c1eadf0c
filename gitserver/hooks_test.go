package gitserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/gitserver"
	"github.com/gitopsd/gitopsd/internal/gittest"
)

// recordingHooks is a Hooks that takes its time, records what it saw and refuses pushes
// carrying the push option "reject".
type recordingHooks struct {
	delay   time.Duration
	started chan struct{} // receives once per pre-receive, if not nil
	mu      sync.Mutex
	pre     []gitserver.Push
	post    []gitserver.Push
	seen    []string // object dirs that existed at pre-receive time
}

func (h *recordingHooks) PreReceive(ctx context.Context, p *gitserver.Push, out io.Writer) error {
	fmt.Fprintf(out, "checking %d update(s) for %s\n", len(p.Updates), p.User)
	if h.started != nil {
		h.started <- struct{}{}
	}
	// Silent for longer than the idle timeout: the session must survive it.
	select {
	case <-time.After(h.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pre = append(h.pre, *p)
	if _, err := os.Stat(p.ObjectDir); err == nil {
		h.seen = append(h.seen, p.ObjectDir)
	}
	for _, o := range p.Options {
		if o == "reject" {
			return errors.New("rejected on request (push option reject)")
		}
	}
	return nil
}

func (h *recordingHooks) PostReceive(_ context.Context, p *gitserver.Push, out io.Writer) {
	fmt.Fprintf(out, "deployed %s\n", p.Updates[0].New[:12])
	h.mu.Lock()
	defer h.mu.Unlock()
	h.post = append(h.post, *p)
}

// startInProcess runs a gitserver.Server in the test with hooks; the shims still run the
// built gitopsd binary, which talks to this server's socket.
// parseConfig parses repos.yaml body with a server section for dataDir and limits.
func parseConfig(t *testing.T, dataDir, limits, body string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("repos.yaml", []byte(fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\n  limits: {%s}\n", dataDir, limits)+body))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startInProcess(t *testing.T, limits, body string, hooks gitserver.Hooks) (*gitserver.Server, *gittest.Daemon) {
	t.Helper()
	return startLogging(t, zerolog.NewTestWriter(t), limits, body, hooks)
}

// startLogging is startInProcess with the server's log written to w.
func startLogging(t *testing.T, w io.Writer, limits, body string, hooks gitserver.Hooks) (*gitserver.Server, *gittest.Daemon) {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := parseConfig(t, dataDir, limits, body)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	srv, err := gitserver.New(ctx, gitserver.Options{
		Config: cfg, Hooks: hooks, Log: zerolog.New(w),
		Executable: gittest.Binary(), OnReady: func(a net.Addr) { ready <- a },
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		return srv, gittest.Attach(t, dataDir, a.String())
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return nil, nil
}

func TestHooksSeePushAndDecide(t *testing.T) {
	alice := gittest.NewKey(t, "alice")
	hooks := &recordingHooks{delay: 2500 * time.Millisecond}
	_, d := startInProcess(t, "idle_timeout: 1s", gittest.Users(alice)+"repos:\n  app: {write: [alice]}\n", hooks)
	work := d.Clone(t, alice, "app")
	commit := d.Commit(t, alice, work, "one", map[string]string{"a.txt": "a\n"})

	// Idle timeout 1s, a hook silent for 2.5s: keepalives carry the session through.
	out, err := d.Git(t, alice, work, "push", "-o", "note=hi", "origin", "HEAD:main")
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	for _, want := range []string{"remote: checking 1 update(s) for alice", "remote: deployed " + commit[:12]} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	hooks.mu.Lock()
	if len(hooks.pre) != 1 || len(hooks.post) != 1 {
		t.Fatalf("pre-receive ran %d times, post-receive %d", len(hooks.pre), len(hooks.post))
	}
	p := hooks.pre[0]
	want := gitserver.RefUpdate{Name: "refs/heads/main", Old: gitserver.ZeroID, New: commit}
	if p.Repo != "app" || p.User != "alice" || !strings.HasPrefix(p.KeyFingerprint, "SHA256:") ||
		len(p.Updates) != 1 || p.Updates[0] != want || len(p.Options) != 1 || p.Options[0] != "note=hi" {
		t.Fatalf("pre-receive saw %+v", p)
	}
	if p.QuarantineDir == "" || !strings.HasPrefix(p.ObjectDir, p.QuarantineDir) || len(hooks.seen) != 1 || len(p.AlternateObjectDirs) == 0 {
		t.Fatalf("quarantine not passed: %+v (existing: %v)", p, hooks.seen)
	}
	hooks.mu.Unlock()

	// An error from the Hooks refuses the push and leaves the ref where it was.
	d.Commit(t, alice, work, "two", map[string]string{"b.txt": "b\n"})
	out, err = d.Git(t, alice, work, "push", "-o", "reject", "origin", "HEAD:main")
	if err == nil || !strings.Contains(out, "remote: gitopsd: push rejected: rejected on request (push option reject)") {
		t.Fatalf("push with reject: err=%v\n%s", err, out)
	}
	if got := strings.Fields(d.MustGit(t, alice, work, "ls-remote", "origin", "refs/heads/main"))[0]; got != commit {
		t.Fatalf("main = %s after a rejected push, want %s", got, commit)
	}
}

func TestBusyAndReload(t *testing.T) {
	alice, bob := gittest.NewKey(t, "alice"), gittest.NewKey(t, "bob")
	hooks := &recordingHooks{delay: 2 * time.Second, started: make(chan struct{}, 1)}
	users := gittest.Users(alice, bob)
	srv, d := startInProcess(t, "max_sessions: 1", users+"repos:\n  app: {write: [alice]}\n", hooks)
	work := d.Clone(t, alice, "app")
	d.Commit(t, alice, work, "one", map[string]string{"a.txt": "a\n"})

	// One push holds the only session slot while its hook runs: the next session is told.
	pushed := make(chan error, 1)
	go func() {
		out, err := d.Git(t, alice, work, "push", "origin", "HEAD:main")
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		pushed <- err
	}()
	<-hooks.started
	if _, stderr, err := d.SSH(t, bob, nil, "help"); err == nil || !gittest.HasWords(stderr, "gitopsd: the server is busy (1 sessions at once)") {
		t.Fatalf("second session while busy: err=%v\n%s", err, stderr)
	}
	if err := <-pushed; err != nil {
		t.Fatalf("push: %v", err)
	}

	// Reload: a new repo appears, bob becomes app's writer, alice loses it.
	cfg := parseConfig(t, srv.Config().Server.DataDir, "max_sessions: 1", users+"repos:\n  app: {read: [alice], write: [bob]}\n  extra: {write: [alice]}\n")
	if err := srv.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	d.Clone(t, alice, "extra")
	d.Commit(t, alice, work, "two", map[string]string{"b.txt": "b\n"})
	if out, err := d.Git(t, alice, work, "push", "origin", "HEAD:main"); err == nil || !strings.Contains(out, "alice may read app but not push to it") {
		t.Fatalf("alice pushing after losing write: err=%v\n%s", err, out)
	}
	bad := parseConfig(t, filepath.Join(t.TempDir(), "elsewhere"), "", users+"repos:\n  app: {write: [bob]}\n")
	if err := srv.Reload(context.Background(), bad); err == nil {
		t.Fatal("reload moved the data directory")
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	alice := gittest.NewKey(t, "alice")
	_, d := startInProcess(t, "idle_timeout: 1s", gittest.Users(alice)+"repos:\n  app: {write: [alice]}\n", gitserver.NopHooks{})
	// ssh -N opens no session and sends nothing: the server must hang up after the idle time.
	start := time.Now()
	_, stderr, err := d.SSH(t, alice, []string{"-N"})
	if err == nil {
		t.Fatalf("ssh -N ended without error:\n%s", stderr)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("idle connection lived %v with idle_timeout 1s", took)
	}
}

// TestPushLogBounded: push options are the client's text, as many and as long as it likes.
// The push's log line keeps 16 of them, 256 bytes each, and says how many it left out. Its
// duration says its unit.
func TestPushLogBounded(t *testing.T) {
	alice := gittest.NewKey(t, "alice")
	logs := &gittest.Buffer{}
	_, d := startLogging(t, logs, "", gittest.Users(alice)+"repos:\n  app: {write: [alice]}\n", &recordingHooks{})
	work := d.Clone(t, alice, "app")
	d.Commit(t, alice, work, "one", map[string]string{"a.txt": "a\n"})
	args := []string{"push"}
	for i := range 40 {
		args = append(args, "-o", fmt.Sprintf("opt%d=%s", i, strings.Repeat("x", 5000)))
	}
	if out, err := d.Git(t, alice, work, append(args, "origin", "HEAD:main")...); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"hook":"pre-receive"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no pre-receive log line in:\n%s", logs.String())
	}
	if !strings.Contains(line, "… and 24 more") || strings.Count(line, `"opt`) != 16 {
		t.Errorf("push options not bounded as said: %.600s", line)
	}
	if len(line) > 16*(256+16)+2000 {
		t.Errorf("log line of %d bytes", len(line))
	}
	// Durations say their unit, in every log line that has one.
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"duration"`) {
			t.Errorf("a duration without its unit: %s", l)
		}
	}
	if !strings.Contains(line, `"duration_ms":`) {
		t.Errorf("the push's log line has no duration_ms: %.300s", line)
	}
}
