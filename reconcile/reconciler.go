package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/metrics"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/outcome"
)

// Clusters gives the reconciler each cluster's client and capabilities.
type Clusters interface {
	Client(name string) (*kube.Client, error)
	EnvClient(env config.Environment) (*kube.Client, error)
	Capabilities(name string) (clusters.Capabilities, error)
}

// Options wire a Reconciler.
type Options struct {
	// Config returns the configuration in force (it changes on reload).
	Config func() *config.Config
	// RepoDir maps a repo name to its bare repository.
	RepoDir  func(repo string) string
	Clusters Clusters
	Store    *Store
	Log      zerolog.Logger
	Metrics  *metrics.Metrics
	// Notify, if set, receives events (an outcome, drift found, a branch deleted); it must
	// not block.
	Notify func(notify.Event)
	// Backoff schedules retries of failed reconciles.
	Backoff Backoff
	// HealthInterval is the poll interval of the health wait.
	HealthInterval time.Duration
	// Locker, if set, must grant an environment before it is applied (see LeaseLocker).
	Locker Locker
}

// DefaultBackoff retries after 2s, doubling up to a minute.
var DefaultBackoff = Backoff{Initial: 2 * time.Second, Max: time.Minute}

// Reconciler applies commits to clusters, one worker per environment.
type Reconciler struct {
	opts Options
	ctx  context.Context

	mu      sync.Mutex
	workers map[string]*worker
	wg      sync.WaitGroup

	// reverts are the revert commits ssh rollback wrote and queued, with the commit each
	// restores, so that their apply reports a rollback (see askedRevert).
	reverts sync.Map // repo/env/commit -> target
	// changedOnly are the environments of shared branches whose next reconcile applies
	// only a commit that changes them (see EnqueueChanged).
	changedOnly sync.Map // repo/env -> commit
	// gates are the releases waiting for ssh promote or abort.
	gates sync.Map // repo/env -> chan bool
	// stopping is closed by Stopping: a release waiting at a gate stops waiting.
	stopping     chan struct{}
	stoppingOnce sync.Once

	scans scans
}

// New returns a reconciler; Start runs it.
func New(opts Options) *Reconciler {
	if opts.Backoff.Initial == 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 500 * time.Millisecond
	}
	return &Reconciler{opts: opts, workers: map[string]*worker{}, stopping: make(chan struct{})}
}

// Start runs the reconciler until ctx is done: every environment whose branch head is not
// what was last applied is reconciled now (a push accepted while the daemon was down, or
// an apply cut off by a crash).
func (r *Reconciler) Start(ctx context.Context) {
	r.ctx = ctx
	r.Resync()
}

// Resync enqueues every environment whose branch head is not both applied and healthy,
// or whose last reconcile failed. It runs at start and after a configuration reload.
func (r *Reconciler) Resync() {
	cfg := r.opts.Config()
	for _, repoName := range sortedKeys(cfg.Repos) {
		repo := cfg.Repos[repoName]
		for _, envName := range sortedKeys(repo.Environments) {
			env := repo.Environments[envName]
			head, err := branchHead(r.opts.RepoDir(repoName), env.Branch)
			if err != nil || head == "" {
				continue
			}
			st := r.opts.Store.Get(repoName, envName)
			if st.Release != "" && !strings.HasPrefix(st.Release, interrupted) {
				// What it said is from before the restart: the release resumes from the
				// state in the cluster, and says so when it gets there.
				r.opts.Store.Update(repoName, envName, func(s *Status) { s.Release = interrupted + s.Release })
			}
			// Applied is not enough: a daemon killed during the health wait left a commit
			// applied that nobody saw healthy, and a rollout it started may have failed.
			if st.LastApplied == head && st.LastHealthy == head && st.LastError == "" {
				continue
			}
			r.opts.Log.Info().Str("repo", repoName).Str("env", envName).Str("commit", head).Str("last_applied", st.LastApplied).Msg("branch head not applied: reconciling")
			r.EnqueueChanged(repoName, envName, head, nil)
		}
	}
}

// interrupted marks a release's last words from before a restart.
const interrupted = "interrupted by a restart, resuming; before it: "

// Wait blocks until every worker has stopped (after Start's context ended).
func (r *Reconciler) Wait() { r.wg.Wait() }

// Stopping tells the reconciler that the daemon is stopping: a release waiting at a gate
// for `ssh promote` stops waiting at once (nobody can promote it while the daemon stops),
// so that its push ends and the shutdown does not wait out its grace for it. The release
// keeps its state in the cluster and waits at the same gate again after the restart.
func (r *Reconciler) Stopping() { r.stoppingOnce.Do(func() { close(r.stopping) }) }

// Idle waits until no reconcile is running or queued, or ctx ends; at shutdown it lets
// running applies finish within a bound.
func (r *Reconciler) Idle(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		r.mu.Lock()
		busy := false
		for _, w := range r.workers {
			busy = busy || w.busy()
		}
		r.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Enqueue asks for commit to be applied to repo/env. progress, if set, receives lines to
// show the pusher. The channel gets the outcome of the reconcile that covers the commit.
func (r *Reconciler) Enqueue(repo, env, commit string, progress func(string)) <-chan Result {
	r.changedOnly.Delete(repo + "/" + env)
	return r.enqueue(repo, env, commit, progress)
}

// EnqueueChanged is Enqueue for a new head of the environment's branch: if the branch
// deploys several environments, the commit is applied only if it changes what this one
// renders, and otherwise recorded as unchanged. A push to staging's directory leaves
// production alone. A sync, a drift correction or a rollback applies (Enqueue).
func (r *Reconciler) EnqueueChanged(repo, env, commit string, progress func(string)) <-chan Result {
	r.changedOnly.Store(repo+"/"+env, commit)
	return r.enqueue(repo, env, commit, progress)
}

func (r *Reconciler) enqueue(repo, env, commit string, progress func(string)) <-chan Result {
	key := repo + "/" + env
	r.mu.Lock()
	w, ok := r.workers[key]
	if !ok {
		w = newWorker(func(ctx context.Context, commit string, progress func(string)) Result {
			return r.reconcile(ctx, repo, env, commit, progress)
		}, r.opts.Backoff, func(commit string, next time.Time, err error) {
			r.opts.Store.Update(repo, env, func(s *Status) {
				s.Waiting = fmt.Sprintf("retrying %.12s at %s: %v", commit, next.UTC().Format(time.TimeOnly), err)
			})
		})
		r.workers[key] = w
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			w.loop(r.ctx)
		}()
	}
	r.mu.Unlock()
	r.opts.Store.Update(repo, env, func(s *Status) {
		s.LastSeen, s.LastSeenAt = commit, time.Now()
	})
	return w.enqueue(commit, progress)
}

// errNotConfigured means the environment left repos.yaml while work for it was queued.
var errNotConfigured = errors.New("environment is no longer configured")

// reconcile applies one commit and records what came of it, once: the steps of run
// (render, apply, inventory, prune, health), then, for a commit that is not healthy in an
// environment that says on_failure: rollback, a revert commit and its own run.
func (r *Reconciler) reconcile(ctx context.Context, repoName, envName, commit string, progress func(string)) Result {
	env, ok := r.opts.Config().Repos[repoName].Environments[envName]
	if !ok {
		return Result{Commit: commit, Outcome: outcome.ApplyFailed, Err: errNotConfigured, Summary: said(outcome.ApplyFailed, errNotConfigured.Error())}
	}
	if progress == nil {
		progress = func(string) {}
	}
	p := &pass{
		repo: repoName, envName: envName, env: env, commit: commit, progress: progress,
		owner:       kube.Owner{Repo: repoName, Env: envName, Commit: commit},
		lastHealthy: r.opts.Store.Get(repoName, envName).LastHealthy,
		start:       time.Now(),
	}
	if c, ok := r.changedOnly.LoadAndDelete(repoName + "/" + envName); ok && c == commit {
		p.changedOnly = r.opts.Config().Repos[repoName].SharedBranch(env.Branch)
	}
	res := r.run(ctx, p)
	switch {
	case res.Outcome == outcome.Unhealthy && (env.Apply.OnFailure == "rollback" || res.released),
		isHookFailure(res) && env.Apply.OnFailure == "rollback":
		// A failed hook fails the sync as Argo CD's does: the branch goes back too.
		res = r.rollBack(ctx, p, res)
	case res.Outcome == outcome.Healthy:
		if target, ok := r.askedRevert(repoName, envName, commit); ok {
			// A revert asked by hand (ssh rollback), now applied and healthy.
			res.Outcome, res.Revert, res.Target = outcome.RolledBack, commit, target
			res.Summary = fmt.Sprintf("%s to %.7s: %s", outcome.RolledBack, target, strings.TrimPrefix(res.Summary, outcome.Healthy.String()+": "))
		}
	}
	r.record(p, res)
	return res
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// askRevert notes that commit, queued for repo/env by ssh rollback, restores target.
func (r *Reconciler) askRevert(repo, env, commit, target string) {
	r.reverts.Store(repo+"/"+env+"/"+commit, target)
}

// askedRevert says whether commit is a revert that ssh rollback asked for, and which
// commit it restores; each is reported once.
func (r *Reconciler) askedRevert(repo, env, commit string) (string, bool) {
	v, ok := r.reverts.LoadAndDelete(repo + "/" + env + "/" + commit)
	if !ok {
		return "", false
	}
	return v.(string), true
}
