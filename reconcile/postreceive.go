package reconcile

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gitopsd/gitopsd/outcome"
	"github.com/gitopsd/gitopsd/termtext"
)

// Update is one branch update of an accepted push.
type Update struct {
	Branch string
	// Commit is the new head ("" when Deleted).
	Commit string
	// Deleted says the push deleted the branch.
	Deleted bool
}

// PushRequest is what post-receive knows: which environments' branches moved.
type PushRequest struct {
	Repo    string
	User    string
	Updates []Update
	// NoWait returns at once (push option gitopsd.nowait); the apply goes on.
	NoWait bool
}

// PostReceive enqueues every environment the push moved and, unless NoWait, streams
// progress and outcomes to out until they finish or the environment's wait runs out. The
// push itself stands whatever happens: git is the truth, a failed apply is reported and
// retried.
func (r *Reconciler) PostReceive(ctx context.Context, req PushRequest, out io.Writer) {
	cfg := r.opts.Config()
	repo, ok := cfg.Repos[req.Repo]
	if !ok {
		return
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	var wg sync.WaitGroup
	for _, u := range req.Updates {
		envs := repo.EnvironmentsForBranch(u.Branch)
		shared := len(envs) > 1
		for _, env := range envs {
			name := req.Repo + "/" + env.Name
			if u.Deleted {
				say("gitopsd %s: %s", name, r.BranchDeleted(ctx, req.Repo, env.Name, req.User))
				continue
			}
			var progress func(string)
			if !req.NoWait {
				progress = func(line string) { say("gitopsd %s: %s", name, line) }
			}
			done := r.EnqueueChanged(req.Repo, env.Name, u.Commit, progress)
			switch {
			case req.NoWait:
				say("gitopsd %s: %.7s queued for %s (not waiting: -o gitopsd.nowait); see `ssh ... status`", name, u.Commit, env.Cluster)
				continue
			case !shared:
				// On a shared branch the environment says "applying" only if the commit
				// changes it.
				say("gitopsd %s: deploying %.7s to %s", name, u.Commit, env.Cluster)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				timer := time.NewTimer(env.Apply.Wait)
				defer timer.Stop()
				select {
				case o := <-done:
					if o.Commit != "" && o.Commit != u.Commit {
						say("gitopsd %s: superseded by %.7s, which is what now runs:", name, o.Commit)
					}
					sayOutcome(say, name, o)
					if o.Err != nil && o.Retry {
						say("gitopsd %s: the push stands; gitopsd retries the apply (see `ssh ... status`)", name)
					}
				case <-timer.C:
					say("gitopsd %s: still applying after %v; not waiting longer (see `ssh ... status`)", name, env.Apply.Wait)
				case <-ctx.Done():
				}
			}()
		}
	}
	wg.Wait()
}

// sayOutcome writes an outcome the way the pusher reads it: the verdict and the outcome's
// words on the first line ("ok: applied and healthy: ...", "FAILED: applied, not healthy:
// ..."; an outcome still waiting for the cluster has no verdict yet), the lines that
// explain it below, each under the environment's name.
func sayOutcome(say func(string, ...any), name string, o Result) {
	verdict := "ok: "
	switch {
	case o.Outcome == outcome.Waiting:
		verdict = ""
	case o.Err != nil:
		verdict = "FAILED: "
	}
	// The summary quotes pushed text (object names, the API's words about it): no control
	// sequence of it may reach the pusher's terminal.
	for i, line := range strings.Split(termtext.Clean(o.Summary), "\n") {
		if i == 0 {
			say("gitopsd %s: %s%s", name, verdict, line)
		} else {
			say("gitopsd %s: %s", name, line)
		}
	}
}
