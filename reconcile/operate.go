package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Sync applies the branch head of repo/env now and waits for the outcome, writing progress
// and the outcome to out as a push would: for when someone changed the cluster by hand
// and the next scan is far. Every apply takes back the fields git declares.
func (r *Reconciler) Sync(ctx context.Context, repo, env string, out io.Writer) error {
	e, ok := r.opts.Config().Repos[repo].Environments[env]
	if !ok {
		return fmt.Errorf("repository %s has no environment %q", repo, env)
	}
	head, err := branchHead(r.opts.RepoDir(repo), e.Branch)
	if err != nil {
		return err
	}
	if head == "" {
		return fmt.Errorf("branch %s of %s does not exist yet: nothing to apply", e.Branch, repo)
	}
	return r.follow(ctx, repo, env, head, fmt.Sprintf("syncing %.7s (the head of %s) to %s", head, e.Branch, e.Cluster), out)
}

// Rollback writes a revert commit on repo/env's branch whose files are those of target
// (the last healthy commit when target is ""), as on_failure: rollback does, and applies
// it, writing progress and the outcome to out. target must be in the branch's history.
func (r *Reconciler) Rollback(ctx context.Context, user, repo, env, target string, out io.Writer) error {
	cfg := r.opts.Config()
	e, ok := cfg.Repos[repo].Environments[env]
	if !ok {
		return fmt.Errorf("repository %s has no environment %q", repo, env)
	}
	dir := r.opts.RepoDir(repo)
	head, err := branchHead(dir, e.Branch)
	if err != nil {
		return err
	}
	if head == "" {
		return fmt.Errorf("branch %s of %s does not exist yet: nothing to roll back", e.Branch, repo)
	}
	if target == "" {
		if target = r.opts.Store.Get(repo, env).LastHealthy; target == "" {
			return fmt.Errorf("%s/%s has no healthy commit to return to: name one (rollback %s %s COMMIT)", repo, env, repo, env)
		}
	}
	full, err := inHistory(ctx, cfg.Server.Git, dir, target, head)
	if err != nil {
		return err
	}
	if full == head {
		return fmt.Errorf("%.12s is the head of %s already: nothing to roll back", full, e.Branch)
	}
	msg := fmt.Sprintf("gitopsd: roll %s back to %.12s\n\nAsked by %s (ssh rollback). This commit restores the files of %s.\nRevert it (or push a fix) to go forward again.\n", env, full, user, full)
	revert, err := revertCommit(ctx, cfg.Server.Git, dir, e.Branch, head, full, msg, restoring(cfg.Repos[repo], e))
	if errors.Is(err, errBranchMoved) {
		return fmt.Errorf("%s moved on while the rollback was written: try again", e.Branch)
	}
	if err != nil {
		r.opts.Log.Error().Err(err).Str("repo", repo).Str("env", env).Msg("rollback commit")
		return errors.New("the revert commit could not be written (see the server's log)")
	}
	r.opts.Log.Info().Str("repo", repo).Str("env", env).Str("user", user).Str("commit", revert).Str("target", full).Msg("rollback asked")
	// Its apply is reported (push output, status, event) as the rollback it is.
	r.askRevert(repo, env, revert, full)
	r.followSiblings(repo, e, revert)
	return r.follow(ctx, repo, env, revert, fmt.Sprintf("rolling back: %.7s on %s restores %.7s (git pull to get it)", revert, e.Branch, full), out)
}

// follow enqueues commit for repo/env and writes its progress and outcome to out.
func (r *Reconciler) follow(ctx context.Context, repo, env, commit, first string, out io.Writer) error {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	name := repo + "/" + env
	say("gitopsd %s: %s", name, first)
	done := r.Enqueue(repo, env, commit, func(line string) { say("gitopsd %s: %s", name, line) })
	select {
	case o := <-done:
		sayOutcome(say, name, o)
		if o.Err != nil {
			return fmt.Errorf("%s (see above)", o.Outcome)
		}
		return nil
	case <-ctx.Done():
		say("gitopsd %s: not waiting any longer; the apply goes on (see `ssh ... status`)", name)
		return ctx.Err()
	}
}

// inHistory returns the full name of rev if it is a commit in the history of head.
func inHistory(ctx context.Context, gitBin, dir, rev, head string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%q is not a commit", rev)
	}
	full, err := gitRun(ctx, gitBin, dir, "", "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%q is not a commit of this repository", rev)
	}
	if _, err := gitRun(ctx, gitBin, dir, "", "merge-base", "--is-ancestor", full, head); err != nil {
		return "", fmt.Errorf("%.12s is not in the history of the branch", full)
	}
	return full, nil
}
