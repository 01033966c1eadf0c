package gitserver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentPushes(t *testing.T) {
	w := newWorld(t)
	d := w.d
	// A plain branch: environment branches would also go through the cluster checks, and
	// git's own locking is what is under test here.
	work := d.Clone(t, w.bob, "platform")
	d.Commit(t, w.bob, work, "base", map[string]string{"base.txt": "base\n"})
	d.MustGit(t, w.bob, work, "push", "--quiet", "origin", "HEAD:shared")
	const n = 20
	commits := make([]string, n)
	for i := range n {
		d.MustGit(t, w.bob, work, "checkout", "--quiet", "-b", fmt.Sprintf("b%d", i), "origin/shared")
		commits[i] = d.Commit(t, w.bob, work, fmt.Sprintf("change %d", i), map[string]string{
			fmt.Sprintf("f%d.txt", i): strings.Repeat(fmt.Sprintf("line %d\n", i), 1000),
		})
	}
	// Push by URL, not by remote name: the 20 clients share this local repo and must not
	// fight over its remote-tracking refs.
	url := d.URL("platform")
	pushAll := func(dst func(i int) string) ([]string, []error) {
		outs, errs := make([]string, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = d.Git(t, w.bob, work, "push", url, fmt.Sprintf("b%d:%s", i, dst(i)))
			}()
		}
		wg.Wait()
		return outs, errs
	}

	t.Run("one branch", func(t *testing.T) {
		outs, errs := pushAll(func(int) string { return "refs/heads/shared" })
		var winners []int
		for i := range n {
			if errs[i] == nil {
				winners = append(winners, i)
				continue
			}
			// Losers are told: by their own git (the ref moved before it looked) or by the
			// server (it moved between the advertisement and the update).
			if !strings.Contains(outs[i], "[rejected]") && !strings.Contains(outs[i], "[remote rejected]") {
				t.Errorf("push %d failed without a clear rejection:\n%s", i, outs[i])
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d pushes won, want exactly 1 (all are children of the same base)", len(winners))
		}
		got := strings.Fields(d.MustGit(t, w.bob, work, "ls-remote", url, "refs/heads/shared"))[0]
		if got != commits[winners[0]] {
			t.Fatalf("shared = %s, want the winner's commit %s", got, commits[winners[0]])
		}
		t.Logf("winner: push %d; %d clear rejections", winners[0], n-1)
	})
	t.Run("different branches", func(t *testing.T) {
		outs, errs := pushAll(func(i int) string { return fmt.Sprintf("refs/heads/feature-%d", i) })
		for i := range n {
			if errs[i] != nil {
				t.Errorf("push %d to its own branch failed: %v\n%s", i, errs[i], outs[i])
			}
		}
		refs := d.MustGit(t, w.bob, work, "ls-remote", url, "refs/heads/feature-*")
		for i := range n {
			if !strings.Contains(refs, commits[i]+"\trefs/heads/feature-"+fmt.Sprint(i)+"\n") {
				t.Errorf("feature-%d is not at %s:\n%s", i, commits[i], refs)
			}
		}
	})
	repo := d.RepoDir("platform")
	out, err := exec.Command("git", "-C", repo, "fsck", "--strict", "--no-progress").CombinedOutput()
	if err != nil {
		t.Fatalf("git fsck --strict: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "notice: HEAD points to an unborn branch (main)" is not a problem: main is unused here.
		if line != "" && !strings.HasPrefix(line, "notice:") {
			t.Fatalf("git fsck --strict:\n%s", out)
		}
	}
	left, _ := filepath.Glob(filepath.Join(repo, "objects", "incoming-*"))
	if len(left) > 0 {
		t.Fatalf("quarantine directories left behind: %v", left)
	}
	if _, err := os.Stat(filepath.Join(repo, "refs", "heads", "shared.lock")); err == nil {
		t.Fatal("a ref lock was left behind")
	}
}
