package gittree

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hookEnv makes the test binary act as a pre-receive hook (see TestMain): git runs it while
// the pushed objects are still in quarantine.
const hookEnv = "GITTREE_TEST_HOOK_OUT"

func TestMain(m *testing.M) {
	if out := os.Getenv(hookEnv); out != "" {
		os.Exit(preReceive(out))
	}
	os.Exit(m.Run())
}

// preReceive reads manifest.yaml at each pushed commit, once through the quarantine and
// once from the repository alone, writes what it saw to out, and rejects the push so the
// objects never leave quarantine.
func preReceive(out string) int {
	var report strings.Builder
	fmt.Fprintf(&report, "quarantine=%v\n", os.Getenv("GIT_QUARANTINE_PATH") != "")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		repoDir, _ := os.Getwd() // git runs hooks in the bare repository
		tr, err := Open(repoDir, f[1], Options{ObjectDirs: ObjectDirsFromEnv(os.Getenv)})
		if err != nil {
			fmt.Fprintf(&report, "open: %v\n", err)
			continue
		}
		b, err := fs.ReadFile(tr, "manifest.yaml")
		fmt.Fprintf(&report, "content=%q err=%v\n", b, err)
		// The same, naming the quarantine relative to the repository.
		rel, _ := filepath.Rel(repoDir, os.Getenv("GIT_OBJECT_DIRECTORY"))
		if tr, err := Open(repoDir, f[1], Options{ObjectDirs: []string{rel}}); err != nil {
			fmt.Fprintf(&report, "relative: %v\n", err)
		} else {
			b, err := fs.ReadFile(tr, "manifest.yaml")
			fmt.Fprintf(&report, "relative=%q err=%v\n", b, err)
		}
		// The old base file comes from the repository's own objects, behind the quarantine.
		b, err = fs.ReadFile(tr, "base.yaml")
		fmt.Fprintf(&report, "base=%q err=%v\n", b, err)
		// Prove the objects really are in quarantine: git itself cannot see them without
		// the quarantine environment.
		cmd := exec.Command("git", "cat-file", "-e", f[1])
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GIT_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		fmt.Fprintf(&report, "outside-quarantine=%v\n", cmd.Run())
	}
	if err := os.WriteFile(out, []byte(report.String()), 0o644); err != nil {
		return 2
	}
	return 1
}

// TestQuarantinePush pushes into a bare repository whose pre-receive hook reads the pushed
// tree, with the objects unpacked (loose) and kept as a pack, the two ways git stores them.
func TestQuarantinePush(t *testing.T) {
	for _, unpackLimit := range []string{"100", "1"} {
		t.Run("unpackLimit="+unpackLimit, func(t *testing.T) { testQuarantinePush(t, unpackLimit) })
	}
}

func testQuarantinePush(t *testing.T, unpackLimit string) {
	bare, _ := repo(t, map[string]string{"base.yaml": "base: 1\n"})
	git(t, bare, "config", "receive.unpackLimit", unpackLimit)
	work := filepath.Join(filepath.Dir(bare), "work")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "hook.out")
	hook := fmt.Sprintf("#!/bin/sh\n%s=%s exec %s\n", hookEnv, out, self)
	if err := os.WriteFile(filepath.Join(bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "manifest.yaml"), []byte("pushed: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, work, "add", "manifest.yaml")
	git(t, work, "commit", "-q", "-m", "new")
	cmd := gitCmd(work, "push", bare, "main")
	if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "pre-receive hook declined") {
		t.Fatalf("push: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"quarantine=true",
		`content="pushed: true\n" err=<nil>`,
		`base="base: 1\n" err=<nil>`,
		`relative="pushed: true\n" err=<nil>`,
		"outside-quarantine=exit status 1",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("hook saw:\n%s\nwant %q", got, want)
		}
	}
}

func TestObjectDirsFromEnv(t *testing.T) {
	env := map[string]string{
		"GIT_OBJECT_DIRECTORY":             "/r/objects/tmp_objdir-incoming-x",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES": "/r/objects:\"/other/objects\"",
	}
	got := ObjectDirsFromEnv(func(k string) string { return env[k] })
	want := []string{"/r/objects/tmp_objdir-incoming-x", "/r/objects", "/other/objects"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := ObjectDirsFromEnv(func(string) string { return "" }); len(got) != 0 {
		t.Errorf("empty environment: %q", got)
	}
}
