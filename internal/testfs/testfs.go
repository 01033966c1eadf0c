// Package testfs writes file trees for tests: path -> content, where a content of
// "symlink:TARGET" makes a symlink to TARGET instead of a file; and commits them with git,
// to read as a push is read.
package testfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/gittree"
)

// Write creates files under dir (slash-separated paths, parents created as needed).
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "symlink:"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// GitTree commits files (see Write) with the real git into a new repository and opens the
// commit with gittree, as the pre-receive hook reads a push.
func GitTree(t testing.TB, files map[string]string) *gittree.Tree {
	t.Helper()
	dir := t.TempDir()
	Write(t, dir, files)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "t")
	tr, err := gittree.Open(filepath.Join(dir, ".git"), git("rev-parse", "HEAD"), gittree.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
