package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/internal/testgit"
)

// TestRevertRestoresOnlyTheEnvironmentsFiles: on a branch that deploys dev and staging
// from their directories, a rollback of staging restores staging's directory and the
// shared base, deletes what staging's failed commit added, and keeps dev's newer files;
// the branch moves only if it still points at the failed commit.
func TestRevertRestoresOnlyTheEnvironmentsFiles(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	git := func(d string, args ...string) string {
		t.Helper()
		return testgit.Git(t, d, args...)
	}
	commit := func(files map[string]string, remove ...string) string {
		t.Helper()
		for name, content := range files {
			p := filepath.Join(work, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range remove {
			git(work, "rm", "-q", name)
		}
		git(work, "add", "-A")
		git(work, "commit", "-q", "-m", "c")
		return git(work, "rev-parse", "HEAD")
	}
	git(dir, "init", "-q", "-b", "main", work)
	target := commit(map[string]string{
		"base/app.yaml": "v1", "dev/k.yaml": "dev v1", "staging/k.yaml": "staging v1",
		"staging/old.yaml": "old", "README.md": "r1", "dev/* weird [name].yaml": "w1",
	})
	failed := commit(map[string]string{
		"base/app.yaml": "v2", "dev/k.yaml": "dev v2", "staging/k.yaml": "staging v2",
		"staging/new.yaml": "new", "README.md": "r2", "dev/* weird [name].yaml": "w2",
	}, "staging/old.yaml")
	bare := filepath.Join(dir, "repo.git")
	git(dir, "clone", "-q", "--bare", work, bare)

	repo := config.Repo{Environments: map[string]config.Environment{
		"dev":     {Branch: "main", Path: "dev"},
		"staging": {Branch: "main", Path: "./staging/"},
	}}
	staging := repo.Environments["staging"]
	staging.Name = "staging"
	own := restoring(repo, staging)
	if own == nil {
		t.Fatal("staging shares its branch: its rollback restores its own files only")
	}
	revert, err := revertCommit(context.Background(), "git", bare, "main", failed, target, "roll back", own)
	if err != nil {
		t.Fatal(err)
	}
	if head, _ := branchHead(bare, "main"); head != revert {
		t.Fatalf("the branch points at %s, not the revert %s", head, revert)
	}
	want := map[string]string{
		"base/app.yaml": "v1", "staging/k.yaml": "staging v1", "staging/old.yaml": "old", "README.md": "r1",
		"dev/k.yaml": "dev v2", "dev/* weird [name].yaml": "w2",
	}
	for name, content := range want {
		if got := git(bare, "show", revert+":"+name); got != content {
			t.Errorf("%s at the revert: %q, want %q", name, got, content)
		}
	}
	files := git(bare, "ls-tree", "-r", "--name-only", revert)
	if strings.Contains(files, "staging/new.yaml") {
		t.Errorf("the file the failed commit added to staging stays:\n%s", files)
	}
	if parent := git(bare, "rev-parse", revert+"^"); parent != failed {
		t.Errorf("the revert's parent is %s, want the failed commit", parent)
	}
	if _, err := os.Stat(filepath.Join(bare, "index")); err == nil {
		t.Errorf("the bare repository got an index")
	}
	leftovers, _ := filepath.Glob(filepath.Join(bare, "gitopsd-revert-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary index files left: %v", leftovers)
	}

	// A branch that moved on is not rolled back over the newer commit.
	if _, err := revertCommit(context.Background(), "git", bare, "main", failed, target, "again", own); err != errBranchMoved {
		t.Errorf("a second revert of the same failed commit: %v, want errBranchMoved", err)
	}

	// A branch of one environment: every file goes back.
	alone := config.Repo{Environments: map[string]config.Environment{"staging": repo.Environments["staging"]}}
	if restoring(alone, staging) != nil {
		t.Errorf("a branch of one environment restores every file")
	}
}
