package gitserver

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/termtext"
)

// preReceive decides a push: the built-in ref rules first, then the configured Hooks. It
// returns the hook's exit status; anything but 0 makes git drop the quarantine, so nothing of
// a refused push stays in the repo.
func (s *Server) preReceive(ctx context.Context, push *Push, out io.Writer) (code byte) {
	start := time.Now()
	verdict, reason := "accepted", ""
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Str("repo", push.Repo).Msg("pre-receive hook panicked")
			fmt.Fprintf(out, "gitopsd: internal error while checking the push; push rejected\n")
			verdict, reason, code = "rejected", "internal error", 1
		}
		s.logPush(push, "pre-receive", verdict, reason, time.Since(start))
	}()
	cfg := s.Config()
	repo, ok := cfg.Repos[push.Repo]
	if !ok || !repo.CanWrite(push.User) {
		verdict, reason = "rejected", "no write access"
		fmt.Fprintf(out, "gitopsd: %s may no longer push to %s; push rejected\n", push.User, push.Repo)
		return 1
	}
	quarantine := []string{
		"GIT_QUARANTINE_PATH=" + push.QuarantineDir,
		"GIT_OBJECT_DIRECTORY=" + push.ObjectDir,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + strings.Join(push.AlternateObjectDirs, ":"),
	}
	problems := checkRefRules(ctx, ruleInput{
		repoName: push.Repo, repo: repo, user: push.User, updates: push.Updates,
		state:       gitRefState{git: cfg.Server.Git, repoDir: push.RepoDir, quarantine: quarantine},
		lastApplied: func(env string) string { return s.lastApplied(push.Repo, env) },
	})
	if len(problems) > 0 {
		reasons := make([]string, len(problems))
		for i, p := range problems {
			p.write(out)
			reasons[i] = p.String()
		}
		fmt.Fprintf(out, "gitopsd: push rejected: %d of %d ref updates refused; nothing changed\n", len(problems), len(push.Updates))
		verdict, reason = "rejected", strings.Join(reasons, "; ")
		return 1
	}
	if err := s.hooks.PreReceive(ctx, push, out); err != nil {
		fmt.Fprintf(out, "gitopsd: push rejected: %v\n", err)
		verdict, reason = "rejected", err.Error()
		return 1
	}
	return 0
}

// lastApplied asks the reconciler, when there is one, for the commit last applied to env.
func (s *Server) lastApplied(repo, env string) string {
	if s.opts.LastApplied == nil {
		return ""
	}
	return s.opts.LastApplied(repo, env)
}

// postReceive hands an accepted push to the Hooks. Its outcome does not change the push,
// which has landed already.
func (s *Server) postReceive(ctx context.Context, push *Push, out io.Writer) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Str("repo", push.Repo).Msg("post-receive hook panicked")
			fmt.Fprintf(out, "gitopsd: internal error after the push; the push itself landed\n")
		}
		s.logPush(push, "post-receive", "done", "", time.Since(start))
	}()
	s.hooks.PostReceive(ctx, push, out)
}

// A push's refs and options are the client's text: a log line holds this much of them.
const (
	logMaxRefs    = 32
	logMaxOptions = 16
	logMaxText    = 256
)

// logPush writes the one log line of a hook run, with the keys used everywhere, the
// client's refs and push options bounded.
func (s *Server) logPush(push *Push, hook, verdict, reason string, d time.Duration) {
	refs := make([]string, len(push.Updates))
	for i, u := range push.Updates {
		refs[i] = fmt.Sprintf("%s %s..%s", u.Name, short(u.Old), short(u.New))
	}
	ev := s.log.Info()
	if verdict == "rejected" {
		ev = s.log.Warn().Str("reason", reason)
	}
	if len(push.Updates) == 1 {
		ev = ev.Str("ref", push.Updates[0].Name).Str("commit", push.Updates[0].New)
	}
	ev.Str("repo", push.Repo).Str("user", push.User).Str("key", push.KeyFingerprint).
		Str("session", push.SessionID).Strs("refs", termtext.List(refs, logMaxRefs, logMaxText)).
		Strs("push_options", termtext.List(push.Options, logMaxOptions, logMaxText)).
		Str("hook", hook).Str("verdict", verdict).Dur("duration_ms", d).Msg("push " + verdict)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
