// Package testgit commits file trees with the real git and reads them back with gittree,
// as the pre-receive hook reads a push (apart from testfs, which gittree's own tests use).
package testgit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/gittree"
	"github.com/gitopsd/gitopsd/internal/testfs"
)

// GitTree commits files (see testfs.Write) with the real git into a new repository and opens the
// commit with gittree, as the pre-receive hook reads a push.
func GitTree(t testing.TB, files map[string]string) *gittree.Tree {
	t.Helper()
	dir := t.TempDir()
	testfs.Write(t, dir, files)
	git := func(args ...string) string { return Git(t, dir, args...) }
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "t")
	tr, err := gittree.Open(filepath.Join(dir, ".git"), git("rev-parse", "HEAD"), gittree.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Git runs the real git in dir, as a committer of its own (no configuration of the machine
// or the user counts), and returns its trimmed output; a failure fails t.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
