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
	delay time.Duration
	mu    sync.Mutex
	pre   []gitserver.Push
	post  []gitserver.Push
	seen  []string // object dirs that existed at pre-receive time
}

func (h *recordingHooks) PreReceive(ctx context.Context, p *gitserver.Push, out io.Writer) error {
	fmt.Fprintf(out, "checking %d update(s) for %s\n", len(p.Updates), p.User)
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
func startInProcess(t *testing.T, body string, hooks gitserver.Hooks) *gittest.Daemon {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg, err := config.Parse("repos.yaml", []byte(fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\n  limits: {idle_timeout: 1s}\n", dataDir)+body))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	srv, err := gitserver.New(ctx, gitserver.Options{
		Config: cfg, Hooks: hooks, Log: zerolog.New(zerolog.NewTestWriter(t)),
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
		return gittest.Attach(t, dataDir, a.String())
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return nil
}

func TestHooksSeePushAndDecide(t *testing.T) {
	alice := gittest.NewKey(t, "alice")
	hooks := &recordingHooks{delay: 2500 * time.Millisecond}
	d := startInProcess(t, gittest.Users(alice)+"repos:\n  app: {write: [alice]}\n", hooks)
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
