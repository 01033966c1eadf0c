package gittree

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitopsd/gitopsd/internal/testfs"
)

// git runs the real git in dir and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(dir, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func gitCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	return cmd
}

// repo makes a bare repository holding one commit built from files (path -> content; a
// content starting with "symlink:" makes a symlink) and returns its path and the commit.
func repo(t testing.TB, files map[string]string) (bare, commit string) {
	t.Helper()
	root := t.TempDir()
	work := filepath.Join(root, "work")
	bare = filepath.Join(root, "repo.git")
	git(t, root, "init", "-q", "-b", "main", work)
	testfs.Write(t, work, files)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "test")
	git(t, root, "clone", "-q", "--bare", work, bare)
	return bare, git(t, work, "rev-parse", "HEAD")
}

func TestTreeReadsFiles(t *testing.T) {
	bare, commit := repo(t, map[string]string{
		"a.yaml":               "kind: A\n",
		"dir/b.yaml":           "kind: B\n",
		"dir/sub/c.yaml":       "kind: C\n",
		"dir/link.yaml":        "symlink:sub/c.yaml",
		"dir/up.yaml":          "symlink:../a.yaml",
		"dirlink":              "symlink:dir/sub",
		"loop":                 "symlink:loop",
		"self":                 "symlink:.",
		"overlays/prod/k.yaml": "symlink:../../dir/b.yaml",
	})
	tr, err := Open(bare, commit, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if tr.Commit() != commit {
		t.Errorf("commit %s, want %s", tr.Commit(), commit)
	}
	for name, want := range map[string]string{
		"a.yaml": "kind: A\n", "dir/sub/c.yaml": "kind: C\n", "dir/link.yaml": "kind: C\n",
		"dir/up.yaml": "kind: A\n", "dirlink/c.yaml": "kind: C\n", "self/dir/b.yaml": "kind: B\n",
		"overlays/prod/k.yaml": "kind: B\n",
	} {
		got, err := fs.ReadFile(tr, name)
		if err != nil || string(got) != want {
			t.Errorf("read %s: %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := fs.ReadFile(tr, "loop"); !errors.Is(err, ErrSymlinkLoop) {
		t.Errorf("loop: %v, want ErrSymlinkLoop", err)
	}
	// fstest checks the fs.FS contract (ReadDir, Stat, Open agree); the loop is left out
	// because it cannot be opened by design.
	sub, err := fs.Sub(tr, "dir")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "b.yaml", "sub/c.yaml", "link.yaml", "up.yaml"); err != nil {
		t.Error(err)
	}
	// WalkDir lists symlinked files as files and does not descend symlinked directories.
	var walked []string
	err = fs.WalkDir(tr, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		walked = append(walked, p+":"+d.Type().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(walked, " ")
	for _, want := range []string{"dir/link.yaml:----------", "dirlink:L---------", "self:L---------", "loop:L---------"} {
		if !strings.Contains(got, want) {
			t.Errorf("walk: %s missing from %s", want, got)
		}
	}
}

func TestTreeSymlinkEscape(t *testing.T) {
	bare, commit := repo(t, map[string]string{
		"etc":          "symlink:/etc",
		"passwd.yaml":  "symlink:/etc/passwd",
		"dir/up.yaml":  "symlink:../../outside.yaml",
		"dir/deep":     "symlink:../dir/../..",
		"ok/file.yaml": "x: 1\n",
	})
	tr, err := Open(bare, commit, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]string{
		"etc/passwd":     "etc -> /etc: symlink points outside the repository",
		"passwd.yaml":    "passwd.yaml -> /etc/passwd: symlink points outside the repository",
		"dir/up.yaml":    "dir/up.yaml -> ../../outside.yaml: symlink points outside the repository",
		"dir/deep/x":     "dir/deep -> ../dir/../..: symlink points outside the repository",
		"dir/deep/ok/..": "invalid argument",
	} {
		_, err := fs.ReadFile(tr, name)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("read %s: %v, want %q", name, err, msg)
		}
	}
	if _, err := tr.Stat("passwd.yaml"); !errors.Is(err, ErrSymlinkEscape) {
		t.Errorf("stat passwd.yaml: %v", err)
	}
	// The listing still shows the links, as symlinks, so a walker can report them.
	ents, err := tr.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "passwd.yaml" && e.Type() != fs.ModeSymlink {
			t.Errorf("passwd.yaml listed as %v", e.Type())
		}
	}
}

func TestTreeSubmodule(t *testing.T) {
	bare, commit := repo(t, map[string]string{"a.yaml": "a: 1\n"})
	// Add a gitlink by hand, the way `git submodule add` records one.
	work := filepath.Join(filepath.Dir(bare), "work")
	git(t, work, "update-index", "--add", "--cacheinfo", "160000,"+commit+",vendor/sub")
	git(t, work, "commit", "-q", "-m", "submodule")
	git(t, work, "push", "-q", bare, "main")
	commit = git(t, work, "rev-parse", "HEAD")
	tr, err := Open(bare, commit, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(tr, "vendor/sub/a.yaml"); !errors.Is(err, ErrSubmodule) || !strings.Contains(err.Error(), "vendor/sub") {
		t.Errorf("read through submodule: %v", err)
	}
	ents, err := tr.ReadDir("vendor")
	if err != nil || len(ents) != 1 || ents[0].Type() != fs.ModeIrregular {
		t.Errorf("vendor listing: %v %v", ents, err)
	}
}

func TestTreeBounds(t *testing.T) {
	big := strings.Repeat("# padding line for a large manifest\n", 30_000) // ~1 MB
	bare, commit := repo(t, map[string]string{"big.yaml": big, "a.yaml": strings.Repeat("a", 600), "b.yaml": strings.Repeat("b", 600)})
	tr, err := Open(bare, commit, Options{MaxFileBytes: 64 << 10, MaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := tr.Stat("big.yaml")
	if err != nil || fi.Size() != int64(len(big)) {
		t.Fatalf("stat big.yaml: %v %v", fi, err)
	}
	if _, err := fs.ReadFile(tr, "big.yaml"); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big.yaml") {
		t.Errorf("big.yaml: %v", err)
	}
	if _, err := fs.ReadFile(tr, "a.yaml"); err != nil {
		t.Errorf("a.yaml: %v", err)
	}
	if _, err := fs.ReadFile(tr, "b.yaml"); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "add up") {
		t.Errorf("b.yaml after a.yaml: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	bare, _ := repo(t, map[string]string{"a": "a"})
	if _, err := Open(bare, "main", DefaultOptions()); err == nil {
		t.Error("a ref name was accepted as a commit")
	}
	if _, err := Open(bare, strings.Repeat("1", 40), DefaultOptions()); err == nil || !strings.Contains(err.Error(), "object not found") {
		t.Errorf("missing commit: %v", err)
	}
	if _, err := Open(t.TempDir(), strings.Repeat("1", 40), DefaultOptions()); err == nil {
		t.Error("a directory without objects was accepted")
	}
}
