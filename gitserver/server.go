package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/rs/zerolog"
	gossh "golang.org/x/crypto/ssh"

	"github.com/gitopsd/gitopsd/config"
)

// StatusFunc answers `ssh HOST status [repo [env]]` for user (the reconciler fills it in).
type StatusFunc func(ctx context.Context, user string, args []string, out io.Writer) error

// Operator runs the commands that act on an environment for a user who may deploy it:
// `ssh HOST sync REPO ENV` and `ssh HOST rollback REPO ENV [COMMIT]` (the reconciler fills
// it in). Each writes its progress and outcome to out.
type Operator interface {
	Sync(ctx context.Context, repo, env string, out io.Writer) error
	Rollback(ctx context.Context, user, repo, env, commit string, out io.Writer) error
	// Promote lets a release waiting at a gate go on (promote) or stops it (abort).
	Promote(repo, env string, promote bool) error
}

// SessionMetrics counts SSH sessions; main backs it with Prometheus.
type SessionMetrics interface {
	Started()
	// Finished is called once per session with its command (upload-pack, receive-pack,
	// help, status, or "" when refused before one was known) and result (ok, failed, refused).
	Finished(command, result string)
	// Refused is called once per connection closed before login, with the reason:
	// connection_limit, unauthenticated_limit, address_limit, crowded_out or
	// handshake_timeout.
	Refused(reason string)
}

// Options configure a Server. Config and Hooks are required.
type Options struct {
	Config *config.Config
	Hooks  Hooks
	Log    zerolog.Logger
	// Executable is the gitopsd binary the hook shims run (os.Executable() when empty).
	Executable string
	// Status answers the status command; nil says that no reconciler is running.
	Status StatusFunc
	// Operator runs sync and rollback; nil says that no reconciler is running.
	Operator Operator
	// Recipients, if set, gives the age recipients of an environment that lists none in
	// repos.yaml (the public keys of its identities; main asks package desired).
	Recipients func(env config.Environment) ([]string, error)
	// Metrics, if set, counts sessions.
	Metrics SessionMetrics
	// LastApplied, if set, returns the commit last applied to an environment ("" when
	// none is known; main asks the reconciler's status). An environment branch that is
	// created may only be a fast-forward of it, unless allow_force_push.
	LastApplied func(repo, env string) string
	// ShutdownGrace is how long running sessions may finish after Serve's context is done
	// (30s when zero); sessions still running then are cut.
	ShutdownGrace time.Duration
	// OnReady is called once both listeners are open, with the SSH address.
	OnReady func(addr net.Addr)
}

// Server is the SSH Git server. Its configuration can be swapped while it runs (Reload);
// each new connection and each decision reads the current one.
type Server struct {
	opts    Options
	log     zerolog.Logger
	hooks   Hooks
	cfg     atomic.Pointer[config.Config]
	dataDir string
	signer  gossh.Signer

	sessions registry
	active   atomic.Int64 // sessions being served, against limits.max_sessions
	gate     gate         // connections before and after login, for their caps
	refusals refusalLog
	hookWG   sync.WaitGroup
}

// New prepares a server: loads or creates the host key, creates the configured repos and
// writes their hook shims. It does not listen yet.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Config == nil || opts.Hooks == nil {
		return nil, errors.New("gitserver: Config and Hooks are required")
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("gitserver: finding the gitopsd binary for hook shims: %w", err)
		}
		opts.Executable = exe
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 30 * time.Second
	}
	s := &Server{opts: opts, log: opts.Log, hooks: opts.Hooks, dataDir: opts.Config.Server.DataDir}
	s.sessions.m = map[string]*liveSession{}
	s.cfg.Store(opts.Config)
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	signer, created, err := loadHostKey(opts.Config.Server.HostKey)
	if err != nil {
		return nil, err
	}
	s.signer = signer
	s.log.Info().Str("host_key", opts.Config.Server.HostKey).Bool("generated", created).
		Str("fingerprint", gossh.FingerprintSHA256(signer.PublicKey())).Msg("ssh host key")
	if err := s.ensureRepos(ctx, opts.Config); err != nil {
		return nil, err
	}
	return s, nil
}

// Config returns the configuration in force.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// HostKey returns the server's public host key.
func (s *Server) HostKey() gossh.PublicKey { return s.signer.PublicKey() }

// Reload swaps in a new configuration: new repos are created, users and rules take effect for
// the next request. Sessions already running keep their repo and identity. The data
// directory, host key and listen address are read at start only.
func (s *Server) Reload(ctx context.Context, cfg *config.Config) error {
	old := s.Config()
	if cfg.Server.DataDir != old.Server.DataDir || cfg.Server.HostKey != old.Server.HostKey || cfg.Server.Listen != old.Server.Listen {
		return errors.New("server.data_dir, server.host_key and server.listen change only with a restart")
	}
	if err := s.ensureRepos(ctx, cfg); err != nil {
		return err
	}
	s.cfg.Store(cfg)
	return nil
}

// Serve listens on server.listen and on the hook socket and serves until ctx is done, then
// stops accepting, lets running sessions finish for ShutdownGrace and returns.
func (s *Server) Serve(ctx context.Context) error {
	hookLn, err := s.listenHooks()
	if err != nil {
		return err
	}
	go s.serveHooks(hookLn)
	defer func() {
		hookLn.Close()
		s.hookWG.Wait()
	}()

	cfg := s.Config()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("ssh listen %s: %w", cfg.Server.Listen, err)
	}
	srv := s.sshServer()
	s.log.Info().Str("addr", ln.Addr().String()).Str("hook_socket", s.socketPath()).Msg("ssh listening")
	if s.opts.OnReady != nil {
		s.opts.OnReady(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("ssh serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info().Int64("sessions", s.active.Load()).Dur("grace_ms", s.opts.ShutdownGrace).Msg("ssh stopping; waiting for running sessions")
	grace, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(grace); err != nil {
		s.log.Warn().Err(err).Msg("ssh sessions cut at the end of the shutdown grace")
		srv.Close()
	}
	<-served
	return nil
}

func (s *Server) sshServer() *ssh.Server {
	srv := &ssh.Server{
		Handler:              s.handleSession,
		HostSigners:          []ssh.Signer{s.signer},
		ServerConfigCallback: s.serverConfig,
		ConnCallback:         s.limitConn,
		// No terminals: OpenSSH says "PTY allocation request failed" and, when -t asked for
		// one, ends the session; a plain `ssh HOST` from a terminal still gets the help.
		PtyCallback:       func(ssh.Context, ssh.Pty) bool { return false },
		SubsystemHandlers: map[string]ssh.SubsystemHandler{"default": s.refuseSubsystem},
		ChannelHandlers: map[string]ssh.ChannelHandler{
			"session":      ssh.DefaultSessionHandler,
			"direct-tcpip": refuseChannel("port forwarding is not offered by gitopsd"),
			"default":      refuseChannel("only git sessions are offered by gitopsd"),
		},
		// Remote forwarding (tcpip-forward) and everything else global: no handlers, refused.
		RequestHandlers: map[string]ssh.RequestHandler{},
		Version:         "gitopsd",
	}
	return srv
}

func refuseChannel(msg string) ssh.ChannelHandler {
	return func(_ *ssh.Server, _ *gossh.ServerConn, ch gossh.NewChannel, _ ssh.Context) {
		_ = ch.Reject(gossh.Prohibited, msg)
	}
}
