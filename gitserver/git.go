package gitserver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/gliderlabs/ssh"

	"github.com/gitopsd/gitopsd/config"
)

// gitProtocolRe is what GIT_PROTOCOL may hold (such as "version=2"); anything else is dropped.
var gitProtocolRe = regexp.MustCompile(`^[A-Za-z0-9=:._-]{1,64}$`)

// gitEnv is the environment of every git the daemon runs: the daemon's own, minus anything
// that would steer git (GIT_DIR, GIT_CONFIG_*...), plus extra.
func gitEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "GITOPSD_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runGit spawns upload-pack or receive-pack on the session's streams and returns its exit
// status. Only the server decides git's options: the repo's path, its hooks, fsck, limits.
func (s *Server) runGit(sess ssh.Session, cfg *config.Config, ls *liveSession) (int, error) {
	args := []string{"-c", "core.hooksPath=" + filepath.Join(ls.repoDir, "hooks")}
	switch ls.service {
	case serviceReceivePack:
		args = append(args,
			"-c", "receive.fsckObjects=true",
			"-c", "receive.advertisePushOptions=true",
			"-c", "receive.advertiseAtomic=true",
			"-c", fmt.Sprintf("receive.maxInputSize=%d", cfg.Server.Limits.MaxPackSize),
			"receive-pack", ls.repoDir)
	default:
		args = append(args, "-c", "uploadpack.allowFilter=true", "upload-pack", "--strict", ls.repoDir)
	}
	extra := []string{envSession + "=" + ls.token}
	for _, kv := range sess.Environ() {
		if v, ok := strings.CutPrefix(kv, "GIT_PROTOCOL="); ok && gitProtocolRe.MatchString(v) {
			extra = append(extra, "GIT_PROTOCOL="+v)
		}
	}
	cmd := exec.CommandContext(sess.Context(), cfg.Server.Git, args...)
	cmd.Dir = ls.repoDir
	cmd.Env = gitEnv(extra)
	cmd.Stdout = sess
	cmd.Stderr = sess.Stderr()
	// When the client goes away, let git clean up its lock files and quarantine.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	// Not cmd.Stdin = sess: Wait would then wait for the client to close its side, which a
	// git client does not do before it has our exit status.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() {
		_, _ = io.Copy(stdin, sess)
		stdin.Close()
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}
