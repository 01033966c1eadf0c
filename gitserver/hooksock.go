package gitserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/gitopsd/gitopsd/termtext"
)

// SocketName is the hook socket's file name in the data directory.
const SocketName = "hook.sock"

func (s *Server) socketPath() string { return filepath.Join(s.dataDir, SocketName) }

// listenHooks opens the hook socket, readable and writable by the daemon's user only.
func (s *Server) listenHooks() (net.Listener, error) {
	path := s.socketPath()
	if len(path) >= 108 {
		return nil, fmt.Errorf("hook socket %s: path longer than the 107 bytes a unix socket allows; use a shorter data_dir", path)
	}
	// A socket left by a daemon that was killed would make Listen fail.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hook socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("hook socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("hook socket: %w", err)
	}
	return ln, nil
}

func (s *Server) serveHooks(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn().Err(err).Msg("hook socket accept")
			continue
		}
		s.hookWG.Add(1)
		go func() {
			defer s.hookWG.Done()
			defer conn.Close()
			s.serveHook(conn)
		}()
	}
}

// sameUser checks the peer's credentials: the socket's mode already keeps other users out,
// this also holds if someone loosens the data directory's permissions.
func sameUser(conn net.Conn) bool {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return false
	}
	return int(cred.Uid) == os.Getuid()
}

func (s *Server) serveHook(conn net.Conn) {
	frames := &frameWriter{w: conn}
	// Everything the pusher reads passes through one Wrapper: git puts "remote: " before
	// each line, and no line may then be wider than an 80-column terminal.
	out := termtext.NewWrapper(frames, PushWidth)
	verdict := func(code byte) {
		_ = out.Flush()
		_ = frames.verdict(code)
	}
	refuse := func(msg string) {
		fmt.Fprintf(out, "gitopsd: %s\n", msg)
		verdict(1)
	}
	if !sameUser(conn) {
		refuse("hook connections are accepted from the daemon's own user only")
		return
	}
	var req hookRequest
	line, err := bufio.NewReaderSize(conn, 64<<10).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("hook request unreadable")
		refuse("unreadable hook request; push refused")
		return
	}
	sess := s.sessions.get(req.Session)
	if sess == nil || filepath.Clean(req.GitDir) != sess.repoDir || sess.service != serviceReceivePack {
		// Only a push gitopsd is serving may run hooks: not a git run by hand in the repo.
		s.log.Warn().Str("git_dir", req.GitDir).Str("hook", req.Hook).Msg("hook called outside a gitopsd push")
		refuse("hooks run only inside a push served by gitopsd; push refused")
		return
	}
	if !within(sess.repoDir, req.QuarantineDir) || !within(sess.repoDir, req.ObjectDir) {
		refuse("unexpected object directories; push refused")
		return
	}
	push := &Push{
		Repo: sess.repo, RepoDir: sess.repoDir,
		User: sess.id.User, KeyFingerprint: sess.id.Fingerprint,
		Updates: req.Updates, Options: req.Options,
		QuarantineDir: req.QuarantineDir, ObjectDir: req.ObjectDir, AlternateObjectDirs: req.AlternateObjectDirs,
		SessionID: sessionID(sess.token), RemoteAddr: sess.remoteAddr,
	}
	// The hook runs as long as the push's SSH connection lives.
	ctx, cancel := context.WithCancel(sess.ctx)
	defer cancel()
	stop := s.keepAlive(ctx, sess.conn)
	defer stop()
	switch req.Hook {
	case "pre-receive":
		code := s.preReceive(ctx, push, out)
		verdict(code)
	case "post-receive":
		s.postReceive(ctx, push, out)
		verdict(0)
	default:
		refuse(fmt.Sprintf("unknown hook %q", req.Hook))
	}
}

// PushWidth is the widest line gitopsd writes to a push: the screen less git's "remote: ".
const PushWidth = termtext.ScreenWidth - len("remote: ")

// within reports whether dir is empty or inside root.
func within(root, dir string) bool {
	if dir == "" {
		return true
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	rel, err := filepath.Rel(root, filepath.Clean(dir))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// keepAlive sends SSH keepalive requests on the push's connection while a hook runs: the idle
// timeout counts only traffic, and a validation may be silent for longer than it.
func (s *Server) keepAlive(ctx context.Context, conn gossh.Conn) func() {
	interval := s.Config().Server.Limits.IdleTimeout / 3
	if interval <= 0 || interval > 15*time.Second {
		interval = 15 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// The reply (OpenSSH answers "failure") is traffic too; its content does not matter.
				_, _, _ = conn.SendRequest("keepalive@openssh.com", true, nil)
			}
		}
	}()
	// No waiting for the goroutine: a keepalive in flight ends with its reply or the connection.
	return cancel
}
