// Package gittest runs the real gitopsd binary for integration tests, and drives it with the
// real git and OpenSSH clients: one binary built per test package (in TestMain), one daemon
// per test on a random loopback port with its own data directory, one key per user.
//
//	func TestMain(m *testing.M) { gittest.Main(m) }
//
//	func TestPush(t *testing.T) {
//		alice := gittest.NewKey(t, "alice")
//		d := gittest.Start(t, gittest.Users(alice)+`repos: {app: {write: [alice]}}`)
//		work := d.Clone(t, alice, "app")
//		...
//	}
package gittest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/gitopsd/gitopsd/sandbox"
)

var binary string

// Main builds gitopsd once for the test package, runs the tests and removes the build.
func Main(m *testing.M) {
	sandbox.Main() // this binary may start render processes of itself
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gittest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gittest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gittest:", err)
		return 1
	}
	binary = bin
	return m.Run()
}

// Build compiles gitopsd into dir and returns the binary's path.
func Build(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "gitopsd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build gitopsd: %w\n%s", err, out)
	}
	return bin, nil
}

// Binary is the gitopsd binary Main built.
func Binary() string { return binary }

// Key is a user's SSH key pair on disk.
type Key struct {
	Name string
	// Path is the private key file, for ssh -i.
	Path string
	// Public is the authorized_keys line.
	Public string
}

// NewKey makes an ed25519 key for a user called name.
func NewKey(t testing.TB, name string) *Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_"+name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	return &Key{Name: name, Path: path, Public: pub + " " + name}
}

// Users renders the users: section of repos.yaml for keys.
func Users(keys ...*Key) string {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: [%q]\n", k.Name, k.Public)
	}
	return b.String()
}

// Daemon is a running gitopsd.
type Daemon struct {
	// Dir holds everything of this daemon: repos.yaml, data/, known_hosts, a HOME for git.
	Dir, DataDir, ConfigPath, KnownHosts string
	// Addr is the SSH address, Port its port.
	Addr, Port string

	cmd  *exec.Cmd
	done chan struct{}
	logs *Buffer
}

// hostAlias names the daemon in known_hosts whatever its port, so that the entry written
// before a restart is checked after it.
const hostAlias = "gitopsd-test"

// Start writes repos.yaml from body (users:, repos:, ...; the server: section is added) and
// starts gitopsd serve on it. The daemon is stopped at the end of the test.
func Start(t testing.TB, body string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	d := &Daemon{
		Dir:        dir,
		DataDir:    filepath.Join(dir, "data"),
		ConfigPath: filepath.Join(dir, "repos.yaml"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
	}
	for _, sub := range []string{"home", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	d.writeConfig(t, body)
	d.start(t)
	t.Cleanup(func() { d.Stop(t) })
	return d
}

func (d *Daemon) writeConfig(t testing.TB, body string) {
	t.Helper()
	cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\n  http_listen: 127.0.0.1:0\n", d.DataDir) + body
	if err := os.WriteFile(d.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Reconfigure replaces repos.yaml's body and restarts the daemon on it, for tests that need
// state built under one configuration and checked under another.
func (d *Daemon) Reconfigure(t testing.TB, body string) {
	t.Helper()
	d.writeConfig(t, body)
	d.Restart(t)
}

// Attach returns a client for a server the test runs itself (in-process, on addr, with its
// data in dataDir): the same git and ssh helpers, no process to manage.
func Attach(t testing.TB, dataDir, addr string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &Daemon{
		Dir: dir, DataDir: dataDir, KnownHosts: filepath.Join(dir, "known_hosts"),
		Addr: addr, Port: addr[strings.LastIndex(addr, ":")+1:], logs: &Buffer{},
	}
}

func (d *Daemon) start(t testing.TB) {
	t.Helper()
	if binary == "" {
		t.Fatal("gittest: the binary is not built: call gittest.Main(m) from TestMain")
	}
	d.logs = &Buffer{}
	cmd := exec.Command(binary, "serve", "--config", d.ConfigPath, "--log-format", "json", "--log-level", "debug")
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(d.Dir, "home"))
	// If the test binary dies (killed by its timeout), the daemon goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = d.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	d.done = make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.logs.Write([]byte(line + "\n"))
			var entry struct{ Message, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == "ssh listening" {
				select {
				case ready <- entry.Addr:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(d.done)
	}()
	select {
	case addr := <-ready:
		d.Addr = addr
		d.Port = addr[strings.LastIndex(addr, ":")+1:]
	case <-d.done:
		t.Fatalf("gitopsd exited before listening:\n%s", d.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("gitopsd did not listen within 60s:\n%s", d.logs)
	}
}

// Stop stops the daemon with SIGTERM and waits for it (a no-op when stopped).
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("gitopsd did not stop within 60s of SIGTERM")
	}
	d.cmd = nil
	if t.Failed() {
		t.Logf("gitopsd log:\n%s", d.logs)
	}
}

// Restart stops the daemon and starts it again on the same data directory (on a new port).
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.Stop(t)
	d.start(t)
}

// Logs returns what the daemon logged so far.
func (d *Daemon) Logs() string { return d.logs.String() }

// URL is the ssh:// URL of repo.
func (d *Daemon) URL(repo string) string { return "ssh://git@127.0.0.1:" + d.Port + "/" + repo }

// SSHArgs are the OpenSSH client's arguments to reach the daemon as key's user, before the
// host and the command.
func (d *Daemon) SSHArgs(key *Key) []string {
	return []string{
		"-i", key.Path, "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + d.KnownHosts,
		"-o", "StrictHostKeyChecking=accept-new", "-o", "HostKeyAlias=" + hostAlias,
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-F", "/dev/null", "-p", d.Port,
	}
}

// SSH runs the ssh client as key's user with extra options and args (the command after the
// host); it returns stdout, stderr and the error.
func (d *Daemon) SSH(t testing.TB, key *Key, opts []string, args ...string) (string, string, error) {
	t.Helper()
	// opts first: for ssh the first value of an option wins.
	all := append(append(append([]string{}, opts...), d.SSHArgs(key)...), "git@127.0.0.1")
	all = append(all, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// GitEnv is the environment for git as key's user: its own HOME, no system config, the
// daemon's ssh command.
func (d *Daemon) GitEnv(key *Key) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	quoted := make([]string, 0, 20)
	for _, a := range d.SSHArgs(key) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return append(env,
		"HOME="+filepath.Join(d.Dir, "home"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_SSH_COMMAND=ssh "+strings.Join(quoted, " "),
		"GIT_AUTHOR_NAME="+key.Name, "GIT_AUTHOR_EMAIL="+key.Name+"@example.com",
		"GIT_COMMITTER_NAME="+key.Name, "GIT_COMMITTER_EMAIL="+key.Name+"@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// Git runs git in dir as key's user and returns its combined output.
func (d *Daemon) Git(t testing.TB, key *Key, dir string, args ...string) (string, error) {
	t.Helper()
	return d.GitEnvRun(t, key, dir, nil, args...)
}

// GitEnvRun is Git with extra environment variables.
func (d *Daemon) GitEnvRun(t testing.TB, key *Key, dir string, extraEnv []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(d.GitEnv(key), extraEnv...)
	out, err := cmd.CombinedOutput()
	return trimRemote(string(out)), err
}

// trimRemote drops the spaces git pads each "remote: " line with (to clear what the
// terminal's line held), so that tests can match the lines a hook wrote, end to end.
func trimRemote(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "remote:") {
			lines[i] = strings.TrimRight(l, " ")
		}
	}
	return strings.Join(lines, "\n")
}

// Words is out read as words, without git's "remote:" in front of each line: what a
// message says wherever gitopsd wrapped it to the screen.
func Words(out string) string {
	var words []string
	for _, w := range strings.Fields(out) {
		if w != "remote:" {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

// HasWords says whether out says want, both read as Words.
func HasWords(out, want string) bool {
	return strings.Contains(Words(out), Words(want))
}

// MustGit is Git that fails the test on error.
func (d *Daemon) MustGit(t testing.TB, key *Key, dir string, args ...string) string {
	t.Helper()
	out, err := d.Git(t, key, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Clone clones repo as key's user into a new directory and returns it.
func (d *Daemon) Clone(t testing.TB, key *Key, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(repo))
	d.MustGit(t, key, filepath.Dir(dir), "clone", "--quiet", d.URL(repo), dir)
	return dir
}

// Commit writes files (path -> content) in the work tree dir and commits them.
func (d *Daemon) Commit(t testing.TB, key *Key, dir, msg string, files map[string]string) string {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.MustGit(t, key, dir, "add", "-A")
	d.MustGit(t, key, dir, "commit", "--quiet", "-m", msg)
	return strings.TrimSpace(d.MustGit(t, key, dir, "rev-parse", "HEAD"))
}

// RepoDir is the bare repository of repo on the server.
func (d *Daemon) RepoDir(repo string) string {
	return filepath.Join(d.DataDir, "repos", filepath.FromSlash(repo)+".git")
}

// Buffer is a bytes.Buffer that goroutines may write at once: it collects a daemon's output
// for failure messages and assertions.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var _ io.Writer = (*Buffer)(nil)
