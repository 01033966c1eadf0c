package gitserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
)

// world is the setup most tests share: repo platform has a branch per environment; alice
// alone may push production (main), bob writes staging and plain branches, carol reads.
// Both environment branches hold one commit, seed.
type world struct {
	d                 *gittest.Daemon
	alice, bob, carol *gittest.Key
	dave              *gittest.Key // configured, reads nothing
	stranger          *gittest.Key // not configured
	seed              string
}

const worldRepos = `
clusters:
  prod: {kubeconfig: /nonexistent/kubeconfig}
repos:
  platform:
    description: one repo, a branch per environment
    read: [carol]
    write: [alice, bob]
    environments:
      staging: {branch: staging, cluster: prod, namespace: web}
      production: {branch: main, cluster: prod, namespace: web, push: [alice]}
  app:
    read: [alice, carol]
    write: [bob]
`

// newWorld seeds the environment branches before they become environments: there is no
// cluster here, and the daemon's checks refuse a push to an environment they cannot check.
// The built-in ref rules tested here run before those checks.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		alice: gittest.NewKey(t, "alice"), bob: gittest.NewKey(t, "bob"),
		carol: gittest.NewKey(t, "carol"), dave: gittest.NewKey(t, "dave"), stranger: gittest.NewKey(t, "stranger"),
	}
	users := gittest.Users(w.alice, w.bob, w.carol, w.dave)
	w.d = gittest.Start(t, users+"repos:\n  platform: {write: [alice]}\n")
	work := w.d.Clone(t, w.alice, "platform")
	w.seed = w.d.Commit(t, w.alice, work, "seed", map[string]string{"seed.txt": "seed\n"})
	w.d.MustGit(t, w.alice, work, "push", "--quiet", "origin", "HEAD:main", "HEAD:staging")
	w.d.Reconfigure(t, users+worldRepos)
	return w
}

func TestCloneFetchPushBranchTag(t *testing.T) {
	w := newWorld(t)
	d := w.d
	work := d.Clone(t, w.alice, "platform")
	first := w.seed

	// bob clones with the spellings people use, fetches with protocol v2 and v0.
	for _, url := range []string{d.URL("platform.git"), d.URL("platform/"), "git@127.0.0.1:platform"} {
		if strings.HasPrefix(url, "git@") {
			continue // scp-like syntax cannot carry the port
		}
		dir := filepath.Join(t.TempDir(), "c")
		d.MustGit(t, w.bob, t.TempDir(), "clone", "--quiet", url, dir)
		if got := strings.TrimSpace(d.MustGit(t, w.bob, dir, "rev-parse", "origin/main")); got != first {
			t.Fatalf("clone of %s: origin/main = %s, want %s", url, got, first)
		}
	}
	bobWork := d.Clone(t, w.bob, "platform")
	d.Commit(t, w.bob, bobWork, "bob on a branch", map[string]string{"b.txt": "b: 1\n"})
	d.MustGit(t, w.bob, bobWork, "push", "--quiet", "origin", "HEAD:topic")
	for _, v := range []string{"2", "0"} {
		out, err := d.GitEnvRun(t, w.alice, work, []string{"GIT_TRACE_PACKET=1"}, "-c", "protocol.version="+v, "fetch", "origin")
		if err != nil {
			t.Fatalf("fetch v%s: %v\n%s", v, err, out)
		}
		if got := strings.Contains(out, "< version 2"); got != (v == "2") {
			t.Fatalf("fetch with protocol.version=%s: server spoke v2 = %v\n%s", v, got, out)
		}
	}

	// New branch, tag, deletion of a plain branch, force-push of a plain branch: all allowed.
	d.MustGit(t, w.bob, bobWork, "push", "--quiet", "origin", "HEAD:feature")
	d.MustGit(t, w.bob, bobWork, "tag", "v1")
	d.MustGit(t, w.bob, bobWork, "push", "--quiet", "origin", "v1")
	d.MustGit(t, w.bob, bobWork, "commit", "--quiet", "--amend", "-m", "amended")
	d.MustGit(t, w.bob, bobWork, "push", "--quiet", "--force", "origin", "HEAD:feature")
	d.MustGit(t, w.bob, bobWork, "push", "--quiet", "origin", ":feature")
	if out, _ := d.Git(t, w.bob, bobWork, "ls-remote", "origin"); strings.Contains(out, "refs/heads/feature") || !strings.Contains(out, "refs/tags/v1") {
		t.Fatalf("after delete: ls-remote =\n%s", out)
	}

	// Moving a tag is refused (tags.allow_move is off).
	d.MustGit(t, w.bob, bobWork, "tag", "-f", "v1", "HEAD")
	out, err := d.Git(t, w.bob, bobWork, "push", "--force", "origin", "v1")
	if err == nil || !strings.Contains(out, "remote: gitopsd: refused refs/tags/v1\nremote:   tag-move: tag v1 already exists and may not be moved") {
		t.Fatalf("moving a tag: err=%v\n%s", err, out)
	}

	// Push options reach the daemon.
	d.Commit(t, w.bob, bobWork, "with options", map[string]string{"c.txt": "c: 1\n"})
	d.MustGit(t, w.bob, bobWork, "push", "--quiet", "-o", "gitopsd.note=hello", "origin", "HEAD:with-options")
	if !strings.Contains(d.Logs(), `"push_options":["gitopsd.note=hello"]`) {
		t.Fatalf("push option not in the daemon's log:\n%s", d.Logs())
	}
}

// objectCount counts the files under the repo's objects directory: loose objects, packs,
// and anything a push could leave behind (incoming-* quarantine directories included).
func objectCount(t *testing.T, repoDir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(repoDir, "objects"), func(_ string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRejectedPushLeavesNothing(t *testing.T) {
	w := newWorld(t)
	d := w.d
	work := d.Clone(t, w.alice, "platform")
	mainBefore := strings.TrimSpace(d.MustGit(t, w.alice, work, "ls-remote", "origin", "refs/heads/main"))
	objectsBefore := objectCount(t, d.RepoDir("platform"))

	// A rewritten history with new objects: a non-fast-forward to the production branch.
	d.MustGit(t, w.alice, work, "commit", "--quiet", "--amend", "-m", "rewritten")
	d.Commit(t, w.alice, work, "more", map[string]string{"big.txt": strings.Repeat("x\n", 5000)})
	out, err := d.Git(t, w.alice, work, "push", "--force", "origin", "HEAD:main")
	if err == nil {
		t.Fatalf("force-push to main accepted:\n%s", out)
	}
	for _, want := range []string{
		"remote: gitopsd: refused refs/heads/main\nremote:   fast-forward: non-fast-forward update of branch main, which deploys",
		"remote: gitopsd: push rejected",
		"pre-receive hook declined",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	// Deleting an environment branch is refused too.
	out, err = d.Git(t, w.alice, work, "push", "origin", ":staging")
	if err == nil || !strings.Contains(out, "remote: gitopsd: refused refs/heads/staging\nremote:   branch-delete: branch staging deploys environment staging and may") {
		t.Fatalf("deleting staging: err=%v\n%s", err, out)
	}
	if after := strings.TrimSpace(d.MustGit(t, w.alice, work, "ls-remote", "origin", "refs/heads/main")); after != mainBefore {
		t.Fatalf("main moved: %q -> %q", mainBefore, after)
	}
	if after := objectCount(t, d.RepoDir("platform")); after != objectsBefore {
		t.Fatalf("object store changed by rejected pushes: %d files before, %d after", objectsBefore, after)
	}
	if !strings.Contains(d.Logs(), `"verdict":"rejected"`) {
		t.Fatalf("no rejected verdict in the log:\n%s", d.Logs())
	}
}
