package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/gittree"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/outcome"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/secrets"
)

// pass is one commit on its way through the steps of a reconcile.
type pass struct {
	repo, envName string
	env           config.Environment
	commit        string
	owner         kube.Owner
	cl            *kube.Client
	progress      func(string)
	// lastHealthy is the environment's last healthy commit before this pass.
	lastHealthy string
	start       time.Time
	// changedOnly applies the commit only if it renders differently from what the
	// environment last applied and saw healthy (see unchanged): set for the environments
	// of a branch that deploys several, where a push to one's directory leaves the others
	// as they are.
	changedOnly bool
}

// run takes p through the steps, each of which returns what it did or the error that ends
// the pass: lease, render, inventory, apply, record the inventory, prune, health. It
// records nothing; the caller records the Result once.
func (r *Reconciler) run(ctx context.Context, p *pass) (res Result) {
	res = Result{Commit: p.commit}
	defer func() { res.Duration = time.Since(p.start) }()
	if err := r.lease(ctx, p); err != nil {
		return res.failed(err)
	}
	cl, err := r.opts.Clusters.EnvClient(p.env)
	if err != nil {
		return res.failed(unreachable(p.env.Cluster, err))
	}
	p.cl = cl
	objs, digest, scrub, err := r.render(ctx, p.repo, p.env, p.commit, cl)
	if err != nil {
		return res.failed(err)
	}
	res.Digest = digest
	// Hooks run at their phase and are no part of the inventory; the rest is applied
	// wave by wave (desired.PlanSync).
	plan := desired.PlanSync(objs)
	objs = plan.Objects()
	if p.changedOnly {
		if same, ok := r.unchanged(p, digest, len(objs)); ok {
			return same
		}
	}
	plans, cands, err := r.planRelease(ctx, p, objs)
	if err != nil {
		return res.failed(err)
	}
	p.progress(fmt.Sprintf("applying %d objects ...", len(objs)))
	old, err := r.readInventory(ctx, p)
	if err != nil {
		return res.failed(err)
	}
	if err := r.runHooks(ctx, p, plan.Hooks[desired.PreSync]); err != nil {
		failed := res.failed(err)
		if isHookFailure(failed) {
			failed.Summary += "\nnothing applied: a PreSync hook must succeed first"
		}
		return r.syncFailed(ctx, p, plan, failed)
	}
	// The Deployments a release rolls out keep their stable version until it is promoted;
	// everything else is applied now.
	var stopped *Result
	if res.Applied, stopped, err = r.applyWaves(ctx, p, plan, without(objs, cands), old, res); err != nil {
		return res.failed(err)
	}
	if stopped != nil {
		if err := r.recordInventory(ctx, p, old.Union(kube.InventoryOf(res.Applied))); err != nil {
			return res.failed(err)
		}
		return r.syncFailed(ctx, p, plan, *stopped)
	}
	scrubChanges(res.Applied, scrub)
	applied := kube.InventoryOf(res.Applied)
	for _, d := range cands {
		applied = applied.Union(kube.NewInventory(kube.IDOf(d)))
	}
	if err := r.recordInventory(ctx, p, old.Union(applied)); err != nil {
		return res.failed(err)
	}
	if len(cands) > 0 {
		if res.Applied.HasFailed() {
			return res.failed(applyFailed(fmt.Errorf("%s; failed: %s; no release started", res.Applied.Summary(), res.Applied.Failed()[0]), true))
		}
		// One release after the other (canaries, then blue-green): the first to stop
		// stops the pass, and is rolled back with everything it brought.
		for i, pl := range plans {
			stopped, err := r.release(ctx, p, pl.rel, pl.cands, res)
			if err == nil && stopped != nil {
				// What the releases before it promoted goes back to its stable version too.
				for _, done := range plans[:i] {
					if ferr := done.rel.Abandon(context.WithoutCancel(ctx), done.cands); ferr != nil {
						r.opts.Log.Warn().Err(ferr).Str("repo", p.repo).Str("env", p.envName).Msg("release not cleaned up; the next reconcile does")
					}
				}
			}
			if err != nil {
				return res.failed(err)
			}
			if stopped != nil {
				return *stopped
			}
		}
		promoted, err := r.apply(ctx, p, cands)
		if err != nil {
			return res.failed(err)
		}
		scrubChanges(promoted, scrub)
		res.Applied.Add(promoted.Changes...)
		// Once the stable version runs the new template (or failed to), the canaries go.
		defer func() {
			for _, pl := range plans {
				if err := pl.rel.Finish(context.WithoutCancel(ctx), pl.cands); err != nil {
					r.opts.Log.Warn().Err(err).Str("repo", p.repo).Str("env", p.envName).Msg("canaries not removed; the next reconcile removes them")
				}
			}
		}()
	}
	var final kube.Inventory
	if res.Pruned, final, err = r.prune(ctx, p, old, applied); err != nil {
		return res.failed(err)
	}
	res.Objects = len(final.IDs)
	summary := applySummary(res.Applied, res.Pruned)
	if res.Applied.HasFailed() || res.Pruned.HasFailed() {
		var msgs []string
		for _, ch := range append(res.Applied.Failed(), res.Pruned.Failed()...) {
			msgs = append(msgs, ch.String())
		}
		return r.syncFailed(ctx, p, plan, res.failed(applyFailed(fmt.Errorf("%s; failed: %s", summary, strings.Join(first(msgs, 5), "; ")), true)))
	}
	// Short: the counts of each action are in the outcome below and in `ssh status`.
	p.progress(fmt.Sprintf("applied %d objects, pruned %d; waiting for health ...",
		len(res.Applied.Changes)-res.Applied.Count(kube.Failed), res.Pruned.Count(kube.Deleted)))
	if res.Health, err = r.health(ctx, p, res.Applied, applied); err != nil {
		return res.failed(err)
	}
	if !res.Health.Healthy() {
		return r.syncFailed(ctx, p, plan, res.judged(summary, time.Since(p.start)))
	}
	if err := r.runHooks(ctx, p, plan.Hooks[desired.PostSync]); err != nil {
		return r.syncFailed(ctx, p, plan, res.failed(err))
	}
	return res.judged(summary, time.Since(p.start))
}

// unchanged is the result of a pass whose commit renders what the environment last applied
// and saw healthy (the same digest, and no failure since): nothing to apply, and the
// environment is at the commit now.
func (r *Reconciler) unchanged(p *pass, digest string, n int) (Result, bool) {
	st := r.opts.Store.Get(p.repo, p.envName)
	if digest == "" || st.Digest != digest || st.LastApplied == "" || st.LastApplied != st.LastHealthy || st.LastError != "" {
		return Result{}, false
	}
	res := Result{Commit: p.commit, Outcome: outcome.Healthy, Digest: digest, Unchanged: st.LastApplied, Objects: st.Objects}
	res.Summary = fmt.Sprintf("unchanged: renders the same %d objects as %.7s; nothing to apply", n, st.LastApplied)
	return res, true
}

// judged is the outcome of a pass whose every object was applied: the health's verdict,
// said as such, with each object that is not healthy and its pods on the lines below.
func (res Result) judged(summary string, elapsed time.Duration) Result {
	if res.Health.Healthy() {
		res.Outcome = outcome.Healthy
		res.Summary = said(res.Outcome, fmt.Sprintf("%s; healthy in %.1fs", summary, elapsed.Seconds()))
		return res
	}
	res.Outcome = outcome.Unhealthy
	lines := append([]string{said(res.Outcome, summary+"; "+res.Health.Summary())}, unhealthyLines(res.Health)...)
	res.Summary = strings.Join(lines, "\n")
	res.Err = errors.New(res.Summary)
	return res
}

// lease makes sure this gitopsd may apply the environment (see Options.Locker).
func (r *Reconciler) lease(ctx context.Context, p *pass) error {
	if r.opts.Locker == nil {
		return nil
	}
	held, holder, err := r.opts.Locker.Acquire(ctx, p.repo, p.envName, p.env.Cluster)
	if err != nil {
		return unreachable(p.env.Cluster, err)
	}
	if !held {
		return &stepError{outcome: outcome.Waiting, retry: true, standby: true,
			err: fmt.Errorf("another gitopsd (%s) holds the lease of this environment; it applies", holder)}
	}
	return nil
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

// render reads the commit's tree from the bare repository and renders the environment:
// the objects, their desired.Digest, and the scrubber that masks the values decrypted from
// its SOPS files (see scrubChanges). A commit that does not render is an apply failure
// that no retry mends; a cluster whose capabilities cannot be read is waited for.
func (r *Reconciler) render(ctx context.Context, repoName string, env config.Environment, commit string, cl *kube.Client) ([]*unstructured.Unstructured, string, *secrets.Scrubber, error) {
	tree, err := gittree.Open(r.opts.RepoDir(repoName), commit, gittree.Options{MaxBytes: env.Render.MaxBytes, MaxFileBytes: env.Render.MaxBytes})
	if err != nil {
		return nil, "", nil, applyFailed(&renderError{problems: []render.Problem{{Rule: render.RuleRead, Message: err.Error()}}}, false)
	}
	caps, err := r.opts.Clusters.Capabilities(env.Cluster)
	if err != nil {
		return nil, "", nil, unreachable(env.Cluster, err)
	}
	res, err := desired.Render(ctx, tree, env, desired.Online(caps, cl))
	if err != nil {
		return nil, "", nil, applyFailed(err, true)
	}
	if !res.OK() {
		return nil, "", nil, applyFailed(&renderError{problems: res.Problems}, false)
	}
	objs := render.Unstructured(res.Objects)
	return objs, desired.Digest(res.Objects), secrets.NewScrubber(res.Sensitive), nil
}

// readInventory reads what the environment owned before this pass. It comes before the
// apply: a cluster that cannot answer it is waited for, not sent every object to refuse.
func (r *Reconciler) readInventory(ctx context.Context, p *pass) (kube.Inventory, error) {
	old, _, err := p.cl.ReadInventory(ctx, p.owner)
	if err != nil {
		return kube.Inventory{}, unreachable(p.env.Cluster, err)
	}
	return old, nil
}

// apply applies objs with server-side apply; every object gets its Change, failed ones
// included. Its error is only for the context ending (a shutdown): the commit waits.
func (r *Reconciler) apply(ctx context.Context, p *pass, objs []*unstructured.Unstructured) (*kube.ChangeSet, error) {
	cs, err := p.cl.Apply(ctx, objs, desired.ApplyOptions(p.owner))
	if err != nil {
		return nil, &stepError{outcome: outcome.Waiting, retry: true, err: fmt.Errorf("apply: %w", err)}
	}
	return cs, nil
}

// recordInventory writes inv as what the environment owns. Before the prune it holds old
// and new together: if gitopsd dies then, the next run still knows what it has to prune.
func (r *Reconciler) recordInventory(ctx context.Context, p *pass, inv kube.Inventory) error {
	if err := p.cl.WriteInventory(ctx, p.owner, inv); err != nil {
		return applyFailed(fmt.Errorf("write inventory: %w", err), true)
	}
	return nil
}

// releasedMessage says why an object left git but was not deleted (desired.Prunable).
const releasedMessage = "outside the environment's namespaces: left in the cluster, no longer managed by it"

// prune deletes what the old inventory has and this apply does not, and records the
// final inventory: what was applied, and what could not be pruned, so that the next run
// retries it.
func (r *Reconciler) prune(ctx context.Context, p *pass, old, applied kube.Inventory) (*kube.ChangeSet, kube.Inventory, error) {
	pruned := &kube.ChangeSet{}
	stale, release := desired.BoundaryOf(p.env).Prunable(kube.Stale(old, applied))
	if len(stale) > 0 {
		var err error
		if pruned, err = p.cl.Prune(ctx, stale, kube.DefaultPruneOptions(p.owner)); err != nil {
			return nil, kube.Inventory{}, applyFailed(fmt.Errorf("prune: %w", err), true)
		}
	}
	for _, id := range release {
		pruned.Changes = append(pruned.Changes, kube.Change{ID: id, Action: kube.Skipped, Message: releasedMessage})
	}
	var keep []kube.ObjectID
	for _, ch := range pruned.Changes {
		if ch.Action == kube.Failed {
			keep = append(keep, ch.ID)
		}
	}
	final := applied.Union(kube.NewInventory(keep...))
	if err := r.recordInventory(ctx, p, final); err != nil {
		return nil, kube.Inventory{}, err
	}
	return pruned, final, nil
}

// health waits until the applied objects are healthy or the environment's health timeout
// ends. Its error is the cluster's (it stopped answering): the commit waits.
func (r *Reconciler) health(ctx context.Context, p *pass, cs *kube.ChangeSet, applied kube.Inventory) (*kube.HealthReport, error) {
	hopts := r.healthOptions(p)
	if p.commit == p.lastHealthy {
		// A commit that proved healthy, applied again (a drift correction, a resync, the
		// target of a rollback), has only what this apply changed to prove. A new commit
		// proves every workload: a ConfigMap it changes can crash the pods that read it,
		// and a daemon killed during its rollout left nothing proven.
		hopts.Fresh = changed(cs)
	}
	h, err := p.cl.WaitHealthy(ctx, applied.IDs, hopts)
	if err != nil {
		return nil, &stepError{outcome: outcome.Waiting, retry: true, err: fmt.Errorf("health: %w", err)}
	}
	return h, nil
}

// healthOptions are the environment's health wait: its timeout and settle time.
func (r *Reconciler) healthOptions(p *pass) kube.HealthOptions {
	hopts := kube.DefaultHealthOptions()
	hopts.Timeout = p.env.Apply.HealthTimeout
	hopts.Interval = r.opts.HealthInterval
	hopts.Settle = p.env.Apply.Settle
	return hopts
}

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
