package gitserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/termtext"
)

// liveSession is a git session in progress; hooks find it by its token.
type liveSession struct {
	token      string
	ctx        context.Context
	conn       gossh.Conn
	id         identity
	repo       string
	repoDir    string
	service    string
	remoteAddr string
}

// sessionID names a session in logs without revealing its token.
func sessionID(token string) string { return token[:8] }

// registry maps session tokens to live sessions.
type registry struct {
	mu sync.Mutex
	m  map[string]*liveSession
}

func (r *registry) add(ls *liveSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[ls.token] = ls
}

func (r *registry) remove(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, token)
}

func (r *registry) get(token string) *liveSession {
	if token == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[token]
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// handleSession serves one exec or shell request: authorizes it, runs it, and logs one line.
func (s *Server) handleSession(sess ssh.Session) {
	start := time.Now()
	token := newToken()
	id, ok := identityOf(sess.Context())
	if !ok {
		// Not reachable with our auth callbacks; refuse rather than serve an anonymous session.
		fmt.Fprintln(sess.Stderr(), "gitopsd: no authenticated identity")
		_ = sess.Exit(1)
		return
	}
	ev := s.log.Info()
	if m := s.opts.Metrics; m != nil {
		m.Started()
	}
	code, repo, verb, err := s.dispatch(sess, id, token)
	result := "ok"
	switch {
	case err != nil:
		// ssh shows these lines as they are, with no "remote: " in front.
		w := termtext.NewWrapper(sess.Stderr(), termtext.ScreenWidth)
		if rf := (*refusal)(nil); errors.As(err, &rf) {
			rf.write(w)
		} else {
			// The error may quote what the client sent; it must not drive the terminal.
			fmt.Fprintf(w, "gitopsd: %s\n", termtext.Clean(err.Error()))
		}
		ev = s.log.Warn().Str("refused", err.Error())
		result = "refused"
	case code != 0:
		result = "failed"
	}
	if m := s.opts.Metrics; m != nil {
		m.Finished(verb, result)
	}
	ev.Str("session", sessionID(token)).Str("user", id.User).Str("key", id.Fingerprint).
		Str("remote", sess.RemoteAddr().String()).Str("command", verb).Str("repo", repo).
		Int("exit", code).Dur("duration_ms", time.Since(start)).Msg("ssh session")
	_ = sess.Exit(code)
}

// dispatch runs the session's command and returns its exit status, or an error to show.
func (s *Server) dispatch(sess ssh.Session, id identity, token string) (code int, repo, verb string, err error) {
	cfg := s.Config()
	lim := cfg.Server.Limits.MaxSessions
	if n := s.active.Add(1); lim > 0 && n > int64(lim) {
		s.active.Add(-1)
		return 1, "", "", fmt.Errorf("the server is busy (%d sessions at once); try again shortly", lim)
	}
	defer s.active.Add(-1)

	if _, ok := cfg.Users[id.User]; !ok {
		return 1, "", "", fmt.Errorf("user %s is no longer configured", id.User)
	}
	req, err := parseCommand(sess.Command())
	if err != nil {
		return 1, "", "", err
	}
	if sess.RawCommand() != "" && len(sess.Command()) == 0 {
		return 1, "", "", errors.New("unreadable command")
	}
	switch req.Verb {
	case "help":
		s.help(sess, cfg, id)
		return 0, "", req.Verb, nil
	case "usage":
		fmt.Fprintf(sess, "usage: ssh git@HOST %s\n", usage[req.Args[0]])
		return 0, "", "help", nil
	case "status":
		if len(req.Args) == 1 {
			req.Args = splitEnv(cfg, req.Args)
		}
		if s.opts.Status == nil {
			return 1, "", req.Verb, errors.New("status: no reconciler is running in this daemon")
		}
		if err := s.opts.Status(sess.Context(), id.User, req.Args, sess); err != nil {
			return 1, "", req.Verb, fmt.Errorf("status: %w", err)
		}
		return 0, "", req.Verb, nil
	case "recipients":
		return s.recipients(sess, cfg, id, splitEnv(cfg, req.Args))
	case "sync", "rollback", "promote", "abort":
		req.Args = splitEnv(cfg, req.Args)
		if err := envArgs(req.Verb, req.Args); err != nil {
			return 1, "", req.Verb, err
		}
		return s.operate(sess, cfg, id, req)
	}
	name, err := resolveRepo(cfg, req.Path)
	if errors.Is(err, errBadPath) {
		return 1, "", req.Verb, fmt.Errorf("%q is not a repository path: use the repo's name, such as ssh://HOST/platform", req.Path)
	}
	notFound := fmt.Errorf("repository %q does not exist, or %s may not read it", name, id.User)
	if err != nil || !cfg.Repos[name].CanRead(id.User) {
		return 1, name, req.Verb, notFound
	}
	if req.Verb == serviceReceivePack && !cfg.Repos[name].CanWrite(id.User) {
		return 1, name, req.Verb, &refusal{Ref: "push to " + name, Rule: RuleRepoPermission,
			Message: fmt.Sprintf("%s may read %s but not push to it", id.User, name),
			Hint:    fmt.Sprintf("ask the operators to add %s to write: of %s in repos.yaml, or push to a repository you may write", id.User, name)}
	}
	ls := &liveSession{
		token: token, ctx: sess.Context(), id: id, repo: name,
		repoDir: RepoDir(cfg.Server.DataDir, name), service: req.Verb,
		remoteAddr: sess.RemoteAddr().String(),
	}
	ls.conn, _ = sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn)
	s.sessions.add(ls)
	defer s.sessions.remove(token)
	code, err = s.runGit(sess, cfg, ls)
	if err != nil {
		s.log.Error().Err(err).Str("repo", name).Msg("git failed to run")
		return 1, name, req.Verb, errors.New("internal error running git; the administrator will find details in the log")
	}
	return code, name, req.Verb, nil
}

// refuseSubsystem answers sftp and any other subsystem.
func (s *Server) refuseSubsystem(sess ssh.Session) {
	fmt.Fprintf(sess.Stderr(), "gitopsd: subsystem %q is not offered: gitopsd serves git fetch/push only\n", sess.Subsystem())
	id, _ := identityOf(sess.Context())
	s.log.Warn().Str("user", id.User).Str("key", id.Fingerprint).Str("subsystem", sess.Subsystem()).Msg("subsystem refused")
	_ = sess.Exit(1)
}

// operate runs sync, rollback, promote or abort for a user who may push the environment's branch: the
// same right a push that deploys it needs. Readers learn no more than that they may not.
func (s *Server) operate(sess ssh.Session, cfg *config.Config, id identity, req request) (int, string, string, error) {
	repoName, envName := req.Args[0], req.Args[1]
	repo, ok := cfg.Repos[repoName]
	if !ok || !repo.CanRead(id.User) {
		return 1, "", req.Verb, fmt.Errorf("repository %q does not exist, or %s may not read it", repoName, id.User)
	}
	env, ok := repo.Environments[envName]
	if !ok {
		return 1, repoName, req.Verb, fmt.Errorf("repository %s has no environment %q", repoName, envName)
	}
	if !repo.CanDeploy(id.User, env) {
		return 1, repoName, req.Verb, fmt.Errorf("%s may not deploy %s/%s (%s needs the right to push what it deploys: %s)", id.User, repoName, envName, req.Verb, deployers(repo, env))
	}
	if s.opts.Operator == nil {
		return 1, repoName, req.Verb, fmt.Errorf("%s: no reconciler is running in this daemon", req.Verb)
	}
	var err error
	switch req.Verb {
	case "sync":
		err = s.opts.Operator.Sync(sess.Context(), repoName, envName, sess)
	case "promote", "abort":
		if err = s.opts.Operator.Promote(repoName, envName, req.Verb == "promote"); err == nil {
			done := map[string]string{"promote": "promoted", "abort": "aborted"}[req.Verb]
			fmt.Fprintf(sess, "gitopsd %s/%s: %s; the push (or ssh status) shows how the release goes on\n", repoName, envName, done)
		}
	default:
		commit := ""
		if len(req.Args) == 3 {
			commit = req.Args[2]
		}
		err = s.opts.Operator.Rollback(sess.Context(), id.User, repoName, envName, commit, sess)
	}
	if err != nil {
		return 1, repoName, req.Verb, fmt.Errorf("%s: %w", req.Verb, err)
	}
	return 0, repoName, req.Verb, nil
}
