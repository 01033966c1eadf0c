package deploy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/internal/gittest"
)

// sshd is OpenSSH's server on a loopback port, the baseline's Git server: it runs as the
// current user, who is then the only one it can log in (the way OpenSSH's own regression
// tests run it), with the benchmark's key as the sole authorized key.
type sshd struct {
	user, port string
	// gitSSH is GIT_SSH_COMMAND for it: the same client options gitopsd's pushes use.
	gitSSH string
}

// startSSHD starts sshd, or returns nil (and logs why) when it cannot, in which case the
// baseline pushes over file:// alone.
func startSSHD(b *testing.B, key *gittest.Key) *sshd {
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		b.Logf("no OpenSSH server (apt-get install openssh-server): the baseline pushes over file:// only")
		return nil
	}
	u, err := user.Current()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		b.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(key.Public+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	port := addr[strings.LastIndex(addr, ":")+1:]
	cfg := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
AllowUsers %s
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
`, port, hostKey, filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"), u.Username)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd started by root wants its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			b.Fatal(err)
		}
	}
	var logs strings.Builder
	cmd := exec.Command(bin, "-f", filepath.Join(dir, "sshd_config"), "-D", "-e")
	cmd.Stderr = &logs
	// If the benchmark binary dies (its -timeout), sshd goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start sshd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	s := &sshd{user: u.Username, port: port, gitSSH: strings.Join([]string{"ssh", "-i", key.Path,
		"-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + filepath.Join(dir, "known_hosts"),
		"-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-F", "/dev/null"}, " ")}
	deadline := time.Now().Add(30 * time.Second)
	for {
		args := append(strings.Fields(s.gitSSH)[1:], "-p", port, u.Username+"@127.0.0.1", "true")
		out, err := exec.Command("ssh", args...).CombinedOutput()
		if err == nil {
			return s
		}
		select {
		case <-done:
			b.Fatalf("sshd exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("sshd does not let the benchmark in: %v\n%s\nsshd: %s", err, out, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// url is the ssh:// URL of the bare repository at path (absolute).
func (s *sshd) url(path string) string {
	return "ssh://" + s.user + "@127.0.0.1:" + s.port + path
}
