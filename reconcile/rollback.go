package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/outcome"
)

// rollBack returns the environment to its last healthy commit after failed (the result
// of p) was applied and not healthy, as a commit: a revert on the environment's branch
// whose files are those of the last healthy commit, applied like any commit. Branch and
// cluster agree again, and no drift scan or resync re-applies the failed commit. The
// result is RolledBack when the revert became healthy; otherwise the revert's own outcome,
// said with the failure it answers.
func (r *Reconciler) rollBack(ctx context.Context, p *pass, failed Result) Result {
	target := p.lastHealthy
	if target == "" || target == failed.Commit {
		failed.Summary += "\nrollback: no earlier healthy commit to return to"
		return failed
	}
	why := strings.Join(unhealthyLines(failed.Health), "\n")
	cfg := r.opts.Config()
	own := restoring(cfg.Repos[p.repo], p.env)
	revert, err := revertCommit(ctx, cfg.Server.Git, r.opts.RepoDir(p.repo), p.env.Branch, failed.Commit, target, revertMessage(p.envName, failed.Commit, target, why, own != nil), own)
	if errors.Is(err, errBranchMoved) {
		failed.Summary += fmt.Sprintf("\nrollback: not needed, %s moved on since %.12s (a newer push runs)", p.env.Branch, failed.Commit)
		return failed
	}
	if err != nil {
		r.opts.Log.Error().Err(err).Str("repo", p.repo).Str("env", p.envName).Str("commit", failed.Commit).Msg("rollback commit")
		failed.Summary += fmt.Sprintf("\nrollback to %.12s failed: cannot write the revert commit", target)
		return failed
	}
	// One line for the pusher; the rollback's own apply and health lines would come
	// between the failure and its reasons.
	what := "not healthy"
	if isHookFailure(failed) {
		what = "a hook failed"
	}
	p.progress(fmt.Sprintf("%s; rolling back: %.7s on %s restores %.7s ...", what, revert, p.env.Branch, target))
	r.followSiblings(p.repo, p.env, revert)
	rp := *p
	rp.commit, rp.progress, rp.start, rp.changedOnly = revert, func(string) {}, time.Now(), false
	rb := r.run(ctx, &rp)
	res := failed
	res.Revert, res.Target, res.Rollback = revert, target, &rb
	res.Duration += rb.Duration
	res.Retry = false
	how := fmt.Sprintf("rolled back: %.7s on %s restores %.7s (git pull to get it); %s", revert, p.env.Branch, target, firstLine(rb.Summary))
	// The failure's own lines (the objects not healthy and their pods) stay under it.
	failure, reasons, _ := strings.Cut(failed.Summary, "\n")
	if rb.Outcome == outcome.Healthy {
		res.Outcome = outcome.RolledBack
		res.Summary = fmt.Sprintf("%s to %.7s: %.7s was %s", res.Outcome, target, failed.Commit, failure)
	} else {
		// The revert did not end healthy either: that is the environment's state now.
		res.Outcome = rb.Outcome
		res.Summary = said(rb.Outcome, fmt.Sprintf("%.7s, the rollback of %.7s (%s)", revert, failed.Commit, failure))
		how = fmt.Sprintf("rollback: %.7s on %s restores %.7s, but %s", revert, p.env.Branch, target, rb.Summary)
		if rb.Retry {
			// The branch says revert now: retry that, never the failed commit.
			r.Enqueue(p.repo, p.envName, revert, nil)
		}
	}
	if reasons != "" {
		res.Summary += "\n" + reasons
	}
	res.Summary += "\n" + how
	return res
}

// followSiblings queues commit, a revert written on env's branch, for the other
// environments of the branch: the files they share may have gone back too, and each is
// then applied; one the revert does not change is recorded at it as unchanged.
func (r *Reconciler) followSiblings(repo string, env config.Environment, commit string) {
	for _, e := range r.opts.Config().Repos[repo].EnvironmentsForBranch(env.Branch) {
		if e.Name != env.Name {
			r.EnqueueChanged(repo, e.Name, commit, nil)
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
