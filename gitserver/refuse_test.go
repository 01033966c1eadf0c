package gitserver_test

import (
	"github.com/gitopsd/gitopsd/internal/gittest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusals checks that everything but authorized git is refused, each with a message the
// client shows.
func TestRefusals(t *testing.T) {
	w := newWorld(t)
	d := w.d
	work := d.Clone(t, w.bob, "platform")
	d.Commit(t, w.bob, work, "first", map[string]string{"a.txt": "1\n"})

	gitFails := func(t *testing.T, wantOut string, key *gittest.Key, dir string, args ...string) {
		t.Helper()
		out, err := d.Git(t, key, dir, args...)
		if err == nil {
			t.Fatalf("git %s succeeded:\n%s", strings.Join(args, " "), out)
		}
		if !gittest.HasWords(out, wantOut) {
			t.Fatalf("git %s: output lacks %q:\n%s", strings.Join(args, " "), wantOut, out)
		}
	}
	sshFails := func(t *testing.T, wantErr string, opts []string, args ...string) {
		t.Helper()
		stdout, stderr, err := d.SSH(t, w.bob, opts, args...)
		if err == nil {
			t.Fatalf("ssh %v %v succeeded:\n%s%s", opts, args, stdout, stderr)
		}
		if !gittest.HasWords(stderr, wantErr) {
			t.Fatalf("ssh %v %v: stderr lacks %q:\nstdout: %s\nstderr: %s", opts, args, wantErr, stdout, stderr)
		}
	}

	t.Run("unknown key", func(t *testing.T) {
		gitFails(t, "Permission denied (publickey)", w.stranger, t.TempDir(), "clone", d.URL("platform"), "x")
	})
	t.Run("read-only user pushing", func(t *testing.T) {
		dir := d.Clone(t, w.carol, "platform")
		d.Commit(t, w.carol, dir, "carol", map[string]string{"c.txt": "c\n"})
		gitFails(t, "gitopsd: refused push to platform\n  repo-permission: carol may read platform but not push to it\n"+
			"  hint: ask the operators to add carol to write: of platform in repos.yaml", w.carol, dir, "push", "origin", "HEAD:topic")
	})
	t.Run("writer of staging pushing to production", func(t *testing.T) {
		gitFails(t, "remote: gitopsd: refused refs/heads/main\nremote:   ref-permission: bob may not push to branch main of platform", w.bob, work, "push", "origin", "HEAD:main")
		if out := d.MustGit(t, w.bob, work, "ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(out, w.seed) {
			t.Fatalf("main moved:\n%s", out)
		}
	})
	t.Run("repo the user may not read", func(t *testing.T) {
		gitFails(t, `gitopsd: repository "app" does not exist, or dave may not read it`, w.dave, t.TempDir(), "clone", d.URL("app"), "x")
		gitFails(t, `gitopsd: repository "nope" does not exist, or bob may not read it`, w.bob, t.TempDir(), "clone", d.URL("nope"), "x")
	})
	t.Run("recipients of a repo the user may not read, or without secrets", func(t *testing.T) {
		stdout, stderr, err := d.SSH(t, w.dave, nil, "recipients", "app", "x")
		if err == nil || !gittest.HasWords(stderr, `repository "app" does not exist, or dave may not read it`) {
			t.Fatalf("ssh recipients: %v\n%s%s", err, stdout, stderr)
		}
		sshFails(t, "decrypts no secrets (no secrets: in repos.yaml)", nil, "recipients", "platform/staging")
	})
	t.Run("dot-dot path", func(t *testing.T) {
		sshFails(t, `gitopsd: "../platform.git" is not a repository path`, nil, "git-upload-pack", "'../platform.git'")
		sshFails(t, `is not a repository path`, nil, "git-upload-pack", "'repos/../../platform'")
	})
	t.Run("absolute path", func(t *testing.T) {
		sshFails(t, `gitopsd: repository "etc/passwd" does not exist`, nil, "git-upload-pack", "'/etc/passwd'")
		sshFails(t, `does not exist`, nil, "git-upload-pack", "'"+d.RepoDir("platform")+"'")
	})
	t.Run("option injection", func(t *testing.T) {
		sshFails(t, `is not a repository path`, nil, "git-upload-pack", "'--upload-pack=touch /tmp/pwned'")
	})
	t.Run("terminal escapes in the command", func(t *testing.T) {
		// What a stranger sends comes back in the error; it must not drive the terminal.
		for _, args := range [][]string{
			{"git-upload-pack", "'\x1b]0;owned\x07platform'"},
			{"\x1b[2J\x1b[31mstatus"},
			{"git-receive-pack", "'" + strings.Repeat("\x1b[A", 2000) + "'"},
		} {
			stdout, stderr, err := d.SSH(t, w.bob, nil, args...)
			if err == nil {
				t.Fatalf("ssh %q succeeded:\n%s", args, stdout)
			}
			if strings.ContainsAny(stdout+stderr, "\x1b\x07") {
				t.Errorf("ssh %q: the answer holds terminal control bytes: %q", args, stderr)
			}
			if !strings.HasPrefix(stderr, "gitopsd: ") {
				t.Errorf("ssh %q: no refusal: %q", args, stderr)
			}
		}
	})
	t.Run("shell command", func(t *testing.T) {
		sshFails(t, `gitopsd: unknown command "sh"`, nil, "sh")
		sshFails(t, `gitopsd: unknown command "git-upload-archive`, nil, "git-upload-archive", "'platform'")
	})
	t.Run("pty", func(t *testing.T) {
		// -tt forces the request without a local terminal.
		sshFails(t, "PTY allocation request failed", []string{"-tt"}, "sh")
		// OpenSSH treats a refused pty as fatal when -t asked for it; without -t (a person
		// typing ssh HOST in a terminal) the session goes on and gets the help text.
		if _, _, err := d.SSH(t, w.bob, []string{"-tt"}, "help"); err == nil {
			t.Fatal("ssh -tt help succeeded")
		}
	})
	t.Run("sftp", func(t *testing.T) {
		cmd := exec.Command("sftp", append(append([]string{"-b", "-"}, sftpArgs(d.SSHArgs(w.bob))...), "git@127.0.0.1")...)
		cmd.Stdin = strings.NewReader("ls\n")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `gitopsd: subsystem "sftp" is not offered`) {
			t.Fatalf("sftp: err=%v\n%s", err, out)
		}
	})
	t.Run("local port forwarding", func(t *testing.T) {
		sshFails(t, "port forwarding is not offered by gitopsd", []string{"-o", "LogLevel=INFO", "-W", d.Addr})
	})
	t.Run("remote port forwarding", func(t *testing.T) {
		sshFails(t, "remote port forwarding failed", []string{"-o", "ExitOnForwardFailure=yes", "-N", "-R", "127.0.0.1:0:127.0.0.1:22"})
	})
	t.Run("hook run by hand", func(t *testing.T) {
		// Someone with a shell on the server runs the hook without a push: refused.
		cmd := exec.Command(filepath.Join(filepath.Dir(d.RepoDir("platform")), "platform.git", "hooks", "pre-receive"))
		cmd.Dir = d.RepoDir("platform")
		cmd.Stdin = strings.NewReader("0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 refs/heads/main\n")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "hooks run only inside a push served by gitopsd") {
			t.Fatalf("hook by hand: err=%v\n%s", err, out)
		}
	})
}

// sftpArgs turns ssh arguments into sftp's spelling (-P for the port).
func sftpArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == "-p" {
			out = append(out, "-P", args[i+1])
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func TestHookFailsClosedWithoutDaemon(t *testing.T) {
	w := newWorld(t)
	d := w.d
	work := d.Clone(t, w.bob, "platform")
	d.Commit(t, w.bob, work, "first", map[string]string{"a.txt": "1\n"})
	// The daemon still serves SSH, but its hook socket is gone.
	if err := os.Remove(filepath.Join(d.DataDir, "hook.sock")); err != nil {
		t.Fatal(err)
	}
	out, err := d.Git(t, w.bob, work, "push", "origin", "HEAD:topic")
	if err == nil || !strings.Contains(out, "remote: gitopsd: the gitopsd daemon cannot be reached") || !strings.Contains(out, "push refused") {
		t.Fatalf("push without the hook socket: err=%v\n%s", err, out)
	}
	if out := d.MustGit(t, w.bob, work, "ls-remote", "origin"); strings.Contains(out, "refs/heads/topic") {
		t.Fatalf("topic created without a verdict:\n%s", out)
	}
}

func TestHelpAndHostKeySurvivesRestart(t *testing.T) {
	w := newWorld(t)
	d := w.d
	out, stderr, err := d.SSH(t, w.bob, nil)
	if err != nil {
		t.Fatalf("help: %v\n%s", err, stderr)
	}
	for _, want := range []string{"Hi bob!", "platform", "read, write", "branch main deploys production to cluster prod: read only (push: alice)", "branch staging deploys staging to cluster prod: you may push"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if out, _, _ := d.SSH(t, w.dave, nil, "help"); !strings.Contains(out, "Hi dave!") || !strings.Contains(out, "You may not read any repository yet.") {
		t.Errorf("help for dave:\n%s", out)
	}
	key, err := os.ReadFile(filepath.Join(d.DataDir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(d.DataDir, "ssh_host_ed25519_key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v, want 0600", fi.Mode().Perm())
	}
	known, _ := os.ReadFile(d.KnownHosts)

	d.Restart(t)
	// StrictHostKeyChecking=accept-new refuses a changed key: the same entry must still match.
	if _, stderr, err := d.SSH(t, w.bob, []string{"-o", "StrictHostKeyChecking=yes"}, "help"); err != nil {
		t.Fatalf("after restart: %v\n%s", err, stderr)
	}
	key2, _ := os.ReadFile(filepath.Join(d.DataDir, "ssh_host_ed25519_key"))
	known2, _ := os.ReadFile(d.KnownHosts)
	if string(key) != string(key2) || string(known) != string(known2) || len(known) == 0 {
		t.Fatalf("host key or known_hosts changed across the restart")
	}
}
