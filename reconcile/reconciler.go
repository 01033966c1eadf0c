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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/gittree"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/metrics"
	"github.com/gitopsd/gitopsd/render"
)

// Clusters gives the reconciler each cluster's client and capabilities.
type Clusters interface {
	Client(name string) (*kube.Client, error)
	Capabilities(name string) (clusters.Capabilities, error)
}

// Event is something worth telling the outside world (webhooks, see Options.Notify).
type Event struct {
	Type    string // apply.succeeded, apply.failed, rollback, drift.found
	Repo    string
	Env     string
	Commit  string
	Summary string
	Time    time.Time
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
	// Notify, if set, receives events; it must not block.
	Notify func(Event)
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
}

// New returns a reconciler; Start runs it.
func New(opts Options) *Reconciler {
	if opts.Backoff.Initial == 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 500 * time.Millisecond
	}
	return &Reconciler{opts: opts, workers: map[string]*worker{}}
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
			// Applied is not enough: a daemon killed during the health wait left a commit
			// applied that nobody saw healthy, and a rollout it started may have failed.
			if st.LastApplied == head && st.LastHealthy == head && st.LastError == "" {
				continue
			}
			r.opts.Log.Info().Str("repo", repoName).Str("env", envName).Str("commit", head).Str("last_applied", st.LastApplied).Msg("branch head not applied: reconciling")
			r.Enqueue(repoName, envName, head, nil)
		}
	}
}

// Wait blocks until every worker has stopped (after Start's context ended).
func (r *Reconciler) Wait() { r.wg.Wait() }

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
func (r *Reconciler) Enqueue(repo, env, commit string, progress func(string)) <-chan Outcome {
	key := repo + "/" + env
	r.mu.Lock()
	w, ok := r.workers[key]
	if !ok {
		w = newWorker(func(ctx context.Context, commit string, progress func(string)) Outcome {
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

// reconcile applies one commit: render, apply, record inventory, prune, wait for health,
// and roll back if it is not healthy and the environment says so.
func (r *Reconciler) reconcile(ctx context.Context, repoName, envName, commit string, progress func(string)) Outcome {
	return r.reconcileOnce(ctx, repoName, envName, commit, progress, true)
}

// reconcileOnce is reconcile; mayRollBack is false for the apply of a rollback, which must
// not roll back in its turn.
func (r *Reconciler) reconcileOnce(ctx context.Context, repoName, envName, commit string, progress func(string), mayRollBack bool) Outcome {
	start := time.Now()
	log := r.opts.Log.With().Str("repo", repoName).Str("env", envName).Str("commit", commit).Logger()
	cfg := r.opts.Config()
	env, ok := cfg.Repos[repoName].Environments[envName]
	if !ok {
		return Outcome{Commit: commit, Err: errNotConfigured, Summary: errNotConfigured.Error()}
	}
	if progress == nil {
		progress = func(string) {}
	}
	fail := func(err error, retry bool) Outcome {
		log.Error().Err(err).Bool("retry", retry).Dur("duration", time.Since(start)).Msg("reconcile failed")
		r.opts.Store.Update(repoName, envName, func(s *Status) {
			s.Branch, s.Cluster = env.Branch, env.Cluster
			s.LastError, s.LastErrorAt = err.Error(), time.Now()
		})
		r.observe(repoName, envName, "failed", start)
		r.notify(Event{Type: "apply.failed", Repo: repoName, Env: envName, Commit: commit, Summary: err.Error()})
		return Outcome{Commit: commit, Err: err, Retry: retry, Summary: "apply failed: " + err.Error()}
	}

	if r.opts.Locker != nil {
		held, holder, err := r.opts.Locker.Acquire(ctx, repoName, envName, env.Cluster)
		if err != nil {
			return fail(fmt.Errorf("cluster %s unreachable: %w", env.Cluster, err), true)
		}
		if !held {
			msg := fmt.Sprintf("another gitopsd (%s) holds the lease of this environment; it applies", holder)
			log.Warn().Str("holder", holder).Msg("lease held elsewhere: not applying")
			r.opts.Store.Update(repoName, envName, func(s *Status) { s.Waiting = msg })
			return Outcome{Commit: commit, Summary: msg, Retry: true, Err: errors.New(msg)}
		}
	}

	cl, err := r.opts.Clusters.Client(env.Cluster)
	if err != nil {
		return fail(err, true)
	}
	objs, err := r.render(ctx, repoName, env, commit, cl)
	if err != nil {
		var re *renderError
		return fail(err, !errors.As(err, &re))
	}
	progress(fmt.Sprintf("applying %d objects to %s ...", len(objs), env.Cluster))

	before := r.opts.Store.Get(repoName, envName)
	owner := kube.Owner{Repo: repoName, Env: envName, Commit: commit}
	old, _, err := cl.ReadInventory(ctx, owner)
	if err != nil {
		return fail(fmt.Errorf("cluster %s unreachable: %w", env.Cluster, err), true)
	}
	cs, err := cl.Apply(ctx, objs, desired.ApplyOptions(owner))
	if err != nil {
		return fail(fmt.Errorf("apply: %w", err), true)
	}
	applied := kube.InventoryOf(cs)
	// Record old and new together before pruning: if gitopsd dies now, the next run still
	// knows the objects it has yet to prune.
	if err := cl.WriteInventory(ctx, owner, old.Union(applied)); err != nil {
		return fail(fmt.Errorf("write inventory: %w", err), true)
	}
	stale := kube.Stale(old, applied)
	pruned := &kube.ChangeSet{}
	if len(stale) > 0 {
		if pruned, err = cl.Prune(ctx, stale, kube.DefaultPruneOptions(owner)); err != nil {
			return fail(fmt.Errorf("prune: %w", err), true)
		}
	}
	// Keep in the inventory what could not be pruned, so that the next run retries it.
	var keep []kube.ObjectID
	for _, ch := range pruned.Changes {
		if ch.Action == kube.Failed {
			keep = append(keep, ch.ID)
		}
	}
	final := applied.Union(kube.NewInventory(keep...))
	if err := cl.WriteInventory(ctx, owner, final); err != nil {
		return fail(fmt.Errorf("write inventory: %w", err), true)
	}
	r.count(repoName, envName, cs, pruned)

	applySummary := fmt.Sprintf("applied %d objects (%d created, %d configured, %d unchanged), pruned %d",
		len(cs.Changes)-cs.Count(kube.Failed), cs.Count(kube.Created), cs.Count(kube.Configured), cs.Count(kube.Unchanged), pruned.Count(kube.Deleted))
	now := time.Now()
	r.opts.Store.Update(repoName, envName, func(s *Status) {
		s.Branch, s.Cluster = env.Branch, env.Cluster
		s.LastApplied, s.LastAppliedAt = commit, now
		s.Objects = len(final.IDs)
		s.Waiting, s.Deleted = "", ""
	})
	if cs.HasFailed() || pruned.HasFailed() {
		var msgs []string
		for _, ch := range append(cs.Failed(), pruned.Failed()...) {
			msgs = append(msgs, ch.String())
		}
		return fail(fmt.Errorf("%s; failed: %s", applySummary, strings.Join(first(msgs, 5), "; ")), true)
	}
	progress(applySummary + "; waiting for health ...")

	hopts := kube.DefaultHealthOptions()
	hopts.Timeout = env.Apply.HealthTimeout
	hopts.Interval = r.opts.HealthInterval
	hopts.Settle = env.Apply.Settle
	if commit == before.LastHealthy {
		// A commit that proved healthy, applied again (a drift correction, a resync, the
		// target of a rollback), has only what this apply changed to prove. A new commit
		// proves every workload: a ConfigMap it changes can crash the pods that read it,
		// and a daemon killed during its rollout left nothing proven.
		hopts.Fresh = changed(cs)
	}
	health, err := cl.WaitHealthy(ctx, applied.IDs, hopts)
	if err != nil {
		return fail(fmt.Errorf("health: %w", err), true)
	}
	if !health.Healthy() {
		// Every object was applied: the verdict is the health's, said as such, with each
		// object that is not healthy and its pods on the lines below.
		lines := []string{applySummary + "; " + health.Summary()}
		notReady := health.NotReady()
		for i, o := range notReady {
			if i == maxUnhealthyShown {
				lines = append(lines, fmt.Sprintf("  ... and %d more not healthy", len(notReady)-i))
				break
			}
			lines = append(lines, "  "+strings.ReplaceAll(o.String(), "\n", "\n  "))
		}
		out := fail(errors.New(strings.Join(lines, "\n")), false)
		out.Summary = strings.Join(lines, "\n")
		if env.Apply.OnFailure == "rollback" && mayRollBack {
			out.Summary += "\n" + r.rollback(ctx, repoName, envName, commit, strings.Join(lines[1:], "\n"), progress)
		}
		return out
	}
	summary := fmt.Sprintf("%s, healthy in %.1fs", applySummary, time.Since(start).Seconds())
	r.opts.Store.Update(repoName, envName, func(s *Status) {
		s.LastHealthy, s.LastHealthyAt = commit, time.Now()
		s.LastError, s.LastErrorAt = "", time.Time{}
	})
	if r.opts.Metrics != nil {
		r.opts.Metrics.LastSyncTime.WithLabelValues(repoName, envName).SetToCurrentTime()
	}
	r.observe(repoName, envName, "succeeded", start)
	r.notify(Event{Type: "apply.succeeded", Repo: repoName, Env: envName, Commit: commit, Summary: summary})
	log.Info().Int("created", cs.Count(kube.Created)).Int("configured", cs.Count(kube.Configured)).Int("unchanged", cs.Count(kube.Unchanged)).
		Int("pruned", pruned.Count(kube.Deleted)).Dur("duration", time.Since(start)).Msg("reconciled")
	return Outcome{Commit: commit, Summary: summary}
}

// maxUnhealthyShown bounds the objects a health failure lists.
const maxUnhealthyShown = 5

// changed returns the objects the apply created or configured: they are the ones whose
// health must settle.
func changed(cs *kube.ChangeSet) map[kube.ObjectID]bool {
	out := map[kube.ObjectID]bool{}
	for _, ch := range cs.Changes {
		if ch.Action == kube.Created || ch.Action == kube.Configured {
			out[ch.ID] = true
		}
	}
	return out
}

// rollback returns the environment to its last healthy commit after failed failed its
// health check, as a commit: a revert on the environment's branch whose files are those
// of the last healthy commit, applied like any commit. Branch and cluster agree again, and
// no drift scan or resync re-applies the failed commit. why (the objects that were not
// healthy, one or more lines) goes into the commit message and the status.
func (r *Reconciler) rollback(ctx context.Context, repoName, envName, failed, why string, progress func(string)) string {
	st := r.opts.Store.Get(repoName, envName)
	if st.LastHealthy == "" || st.LastHealthy == failed {
		return "rollback: no earlier healthy commit to return to"
	}
	target := st.LastHealthy
	cfg := r.opts.Config()
	env := cfg.Repos[repoName].Environments[envName]
	revert, err := revertCommit(ctx, cfg.Server.Git, r.opts.RepoDir(repoName), env.Branch, failed, target, revertMessage(envName, failed, target, why))
	if errors.Is(err, errBranchMoved) {
		return fmt.Sprintf("rollback: not needed, %s moved on since %.12s (a newer push runs)", env.Branch, failed)
	}
	if err != nil {
		r.opts.Log.Error().Err(err).Str("repo", repoName).Str("env", envName).Str("commit", failed).Msg("rollback commit")
		return fmt.Sprintf("rollback to %.12s failed: cannot write the revert commit", target)
	}
	// One line for the pusher; the rollback's own apply and health lines would come
	// between the failure and its reasons.
	progress(fmt.Sprintf("not healthy; rolling back: %.7s on %s restores %.7s ...", revert, env.Branch, target))
	out := r.reconcileOnce(ctx, repoName, envName, revert, nil, false)
	msg := fmt.Sprintf("rolled back: %.7s on %s restores %.7s (git pull to get it): %s", revert, env.Branch, target, out.Summary)
	if out.Err != nil {
		msg = fmt.Sprintf("rollback: %.7s on %s restores %.7s, but its apply failed: %v", revert, env.Branch, target, out.Err)
	}
	r.opts.Store.Update(repoName, envName, func(s *Status) {
		s.RolledBack = fmt.Sprintf("%.12s failed health; %s", failed, msg)
		if why != "" {
			s.RolledBack += "\n" + why
		}
	})
	r.notify(Event{Type: "rollback", Repo: repoName, Env: envName, Commit: revert, Summary: msg})
	return msg
}

// renderError is a commit that cannot be rendered: retrying will not help.
type renderError struct{ problems []render.Problem }

func (e *renderError) Error() string {
	var s []string
	for _, p := range e.problems {
		s = append(s, p.String())
	}
	return "render: " + strings.Join(first(s, 5), "; ")
}

// render reads the commit's tree from the bare repository and renders the environment.
func (r *Reconciler) render(ctx context.Context, repoName string, env config.Environment, commit string, cl *kube.Client) ([]*unstructured.Unstructured, error) {
	tree, err := gittree.Open(r.opts.RepoDir(repoName), commit, gittree.Options{MaxBytes: env.Render.MaxBytes, MaxFileBytes: env.Render.MaxBytes})
	if err != nil {
		return nil, &renderError{problems: []render.Problem{{Rule: render.RuleRead, Message: err.Error()}}}
	}
	caps, err := r.opts.Clusters.Capabilities(env.Cluster)
	if err != nil {
		return nil, fmt.Errorf("cluster %s unreachable: %w", env.Cluster, err)
	}
	res, err := desired.Render(ctx, tree, env, desired.Online(caps, cl))
	if err != nil {
		return nil, err
	}
	if !res.OK() {
		return nil, &renderError{problems: res.Problems}
	}
	objs := make([]*unstructured.Unstructured, len(res.Objects))
	for i, o := range res.Objects {
		objs[i] = o.Unstructured
	}
	return objs, nil
}

func (r *Reconciler) count(repo, env string, cs, pruned *kube.ChangeSet) {
	m := r.opts.Metrics
	if m == nil {
		return
	}
	for _, a := range []kube.Action{kube.Created, kube.Configured, kube.Unchanged, kube.Failed} {
		m.ObjectsApplied.WithLabelValues(repo, env, string(a)).Add(float64(cs.Count(a)))
	}
	m.ObjectsPruned.WithLabelValues(repo, env).Add(float64(pruned.Count(kube.Deleted)))
}

func (r *Reconciler) observe(repo, env, result string, start time.Time) {
	if r.opts.Metrics != nil {
		r.opts.Metrics.ReconcileSeconds.WithLabelValues(repo, env, result).Observe(time.Since(start).Seconds())
	}
}

func (r *Reconciler) notify(e Event) {
	if r.opts.Notify != nil {
		e.Time = time.Now()
		r.opts.Notify(e)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
