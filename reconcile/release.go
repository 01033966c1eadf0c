package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/analysis"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/outcome"
	"github.com/gitopsd/gitopsd/rollout"
)

// planned is one release of a pass: the Deployments it rolls out, and how.
type planned struct {
	rel   *rollout.Release
	cands []*unstructured.Unstructured
}

// planRelease finds what of objs an environment with a rollout releases step by step (see
// package rollout): the Deployments whose pod template changes, one release per strategy
// they ask for (the environment's, or their annotation's). Canaries and previews of a
// release that no longer runs (git went back, the rollout was switched off, a daemon died
// in one) are cleaned up first, the stable back at its size.
func (r *Reconciler) planRelease(ctx context.Context, p *pass, objs []*unstructured.Unstructured) ([]planned, []*unstructured.Unstructured, error) {
	releasing := r.opts.Store.Get(p.repo, p.envName).Release != ""
	if p.env.Rollout == nil && !releasing {
		return nil, nil, nil
	}
	var cands []*unstructured.Unstructured
	if p.env.Rollout != nil {
		if clash := rollout.NameClashes(objs); len(clash) > 0 {
			return nil, nil, applyFailed(fmt.Errorf("release: %s; rename it", strings.Join(clash, "; ")), false)
		}
		var err error
		if cands, err = rollout.Candidates(ctx, p.cl, objs, desired.ApplyOptions(p.owner)); err != nil {
			return nil, nil, unreachable(p.env.Cluster, err)
		}
	}
	left, err := rollout.Leftovers(ctx, p.cl, p.owner, objs, cands)
	if err != nil {
		return nil, nil, unreachable(p.env.Cluster, err)
	}
	if len(left) > 0 {
		names := make([]string, len(left))
		for i, c := range left {
			names[i] = c.GetName()
		}
		p.progress(fmt.Sprintf("release: removing what is left of a release that no longer runs (%s)", strings.Join(names, ", ")))
		if err := rollout.CleanUp(ctx, p.cl, left); err != nil {
			return nil, nil, unreachable(p.env.Cluster, err)
		}
	}
	if len(cands) == 0 {
		return nil, nil, nil
	}
	key := p.repo + "/" + p.envName
	var svcs []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GroupVersionKind().Group == "" {
			svcs = append(svcs, o)
		}
	}
	var an *analysis.Analyzer
	if spec := p.env.Rollout.Analysis; spec != nil {
		var err error
		if an, err = analysis.New(*spec); err != nil {
			return nil, nil, applyFailed(err, false)
		}
	}
	var plans []planned
	for _, group := range rollout.ByStrategy(cands, *p.env.Rollout) {
		rel := &rollout.Release{
			Analysis: an,
			Client:   p.cl, Owner: p.owner, Services: svcs,
			Rollout: rollout.For(*p.env.Rollout, rollout.StrategyOf(group[0], *p.env.Rollout)),
			Health:  r.healthOptions(p),
			Progress: func(line string) {
				p.progress(line)
				r.opts.Store.Update(p.repo, p.envName, func(s *Status) {
					s.Release = fmt.Sprintf("%.7s: %s (%s)", p.commit, strings.TrimPrefix(line, "release: "), time.Now().UTC().Format(time.TimeOnly))
				})
			},
			Gate:       func(ctx context.Context, step string) (bool, error) { return r.gate(ctx, key, p.commit) },
			Superseded: func() bool { return r.superseded(key, p.commit) },
		}
		plans = append(plans, planned{rel, group})
	}
	return plans, cands, nil
}

// release runs rel for cands and says how it ended: promoted (nil), or a Result for a
// release that stopped. Every release but a superseded one that stops is rolled back as a
// commit (see reconcile): the stable version runs, and git must say so.
func (r *Reconciler) release(ctx context.Context, p *pass, rel *rollout.Release, cands []*unstructured.Unstructured, res Result) (*Result, error) {
	names := make([]string, len(cands))
	for i, d := range cands {
		names[i] = d.GetName()
	}
	start := time.Now()
	plan := fmt.Sprintf("%s of %s (%s)", rollout.Describe(rel.Rollout), strings.Join(names, ", "), p.env.Cluster)
	event := func(typ, summary string) {
		r.notify(notify.Event{Type: typ, Repo: p.repo, Env: p.envName, Commit: p.commit, Summary: summary})
	}
	rel.Progress("release: " + plan)
	event(notify.RolloutStarted, plan)
	rel.Passed = func(step int, name string) {
		event(notify.RolloutStep, fmt.Sprintf("%s passed (step %d of %d)", name, step, len(rel.Rollout.Steps)))
		if m := r.opts.Metrics; m != nil {
			m.ReleaseStep.WithLabelValues(p.repo, p.envName).Set(float64(step))
		}
	}
	out, err := rel.Run(ctx, cands)
	if m := r.opts.Metrics; m != nil {
		m.ReleaseStep.WithLabelValues(p.repo, p.envName).Set(0)
	}
	switch {
	case errors.Is(err, errStopping):
		// Nothing decided: the commit is not applied, and the next start resumes it.
		return nil, &stepError{outcome: outcome.Waiting, plain: true, err: err}
	case err != nil:
		return nil, unreachable(p.env.Cluster, fmt.Errorf("release: %w", err))
	}
	switch {
	case out.Promoted:
		done := fmt.Sprintf("every step passed in %.1fs; promoting %s", time.Since(start).Seconds(), strings.Join(names, ", "))
		rel.Progress("release: " + done)
		event(notify.RolloutPromoted, done)
		return nil, nil
	case out.Superseded:
		event(notify.RolloutAborted, "superseded by a newer commit")
		res.Outcome = outcome.Waiting
		res.Summary = said(res.Outcome, fmt.Sprintf("the release of %.7s stopped: a newer commit is waiting, and is released next", p.commit))
		res.Err = errors.New(res.Summary)
		return &res, nil
	}
	why := out.Failed
	res.Health = out.Health
	if res.Health == nil {
		res.Health = &kube.HealthReport{}
	}
	event(notify.RolloutAborted, why)
	res.Outcome, res.released = outcome.Unhealthy, true
	lines := append([]string{said(res.Outcome, "release stopped at "+why)}, unhealthyLines(res.Health)...)
	for _, m := range out.Measured {
		lines = append(lines, "  analysis: "+m)
	}
	lines = append(lines, "  the canary is gone, and the stable version runs at full size")
	res.Summary = strings.Join(lines, "\n")
	res.Err = errors.New(res.Summary)
	return &res, nil
}

// errStopping ends a release waiting at a gate when the daemon stops (see Stopping).
var errStopping = errors.New("gitopsd is stopping: the release waits at this step again after the restart")

// gate waits for `ssh promote` (true) or `ssh abort` (false) of the environment at key,
// for the release of commit; a newer commit waiting ends it as an abort.
func (r *Reconciler) gate(ctx context.Context, key, commit string) (bool, error) {
	ch := make(chan bool, 1)
	r.gates.Store(key, ch)
	defer r.gates.CompareAndDelete(key, ch)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ok := <-ch:
			return ok, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-r.stopping:
			return false, errStopping
		case <-tick.C:
			if r.superseded(key, commit) {
				return false, nil
			}
		}
	}
}

// Promote lets the release of repo/env waiting at a gate go on (promote true) or stops it
// (false: it is rolled back). It fails when no release of the environment waits.
func (r *Reconciler) Promote(repo, env string, promote bool) error {
	v, ok := r.gates.Load(repo + "/" + env)
	if !ok {
		return fmt.Errorf("no release of %s/%s is waiting for promote or abort", repo, env)
	}
	select {
	case v.(chan bool) <- promote:
		return nil
	default:
		return fmt.Errorf("the release of %s/%s was promoted or aborted already", repo, env)
	}
}

// superseded reports whether a newer commit than commit waits for the environment at key.
func (r *Reconciler) superseded(key, commit string) bool {
	r.mu.Lock()
	w := r.workers[key]
	r.mu.Unlock()
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.want != "" && w.want != commit
}

// without returns objs without those of drop.
func without(objs, drop []*unstructured.Unstructured) []*unstructured.Unstructured {
	skip := map[kube.ObjectID]bool{}
	for _, d := range drop {
		skip[kube.IDOf(d)] = true
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if !skip[kube.IDOf(o)] {
			out = append(out, o)
		}
	}
	return out
}
