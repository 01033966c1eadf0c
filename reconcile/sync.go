package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/outcome"
)

// hookError is a hook that failed: the sync stops there, as Argo CD's does. It is not
// retried: the hook ran and said no, and running a failed migration again every minute
// helps nobody; the next push (or ssh sync) runs it again.
type hookError struct{ result kube.HookResult }

func (e *hookError) Error() string { return e.result.String() }

// hookFailed is the step error of a failed hook.
func hookFailed(r kube.HookResult) error {
	return &stepError{outcome: outcome.ApplyFailed, retry: false, err: &hookError{result: r}}
}

// isHookFailure says whether res ended at a failed hook (see reconcile: with on_failure:
// rollback, the branch goes back as after a health failure).
func isHookFailure(res Result) bool {
	var he *hookError
	return errors.As(res.Err, &he)
}

// runHooks runs hooks one after the other, in their order, saying each outcome to the
// pusher; it returns the error of the first that failed. The error is a stepError.
func (r *Reconciler) runHooks(ctx context.Context, p *pass, hooks []kube.Hook) error {
	hopts := kube.HookOptions{Owner: &p.owner, Timeout: p.env.Apply.HealthTimeout, Interval: r.opts.HealthInterval}
	for _, h := range hooks {
		p.progress(fmt.Sprintf("hook %s %s: running ...", h.Phase, h.Name()))
		res, err := p.cl.RunHook(ctx, h, hopts)
		if err != nil {
			return &stepError{outcome: outcome.Waiting, retry: true, err: fmt.Errorf("hook %s: %w", h.Name(), err)}
		}
		r.opts.Log.Info().Str("repo", p.repo).Str("env", p.envName).Str("commit", p.commit).Str("hook", res.ID.String()).Bool("ok", res.OK).Str("reason", res.Reason).Msg("hook")
		if !res.OK {
			return hookFailed(res)
		}
		p.progress(res.String())
	}
	return nil
}

// applyWaves applies objs (the plan's objects, less those a release holds back) wave by
// wave, each with its Sync hooks and healthy before the next; a plan of one wave and no
// hooks is one apply, as before waves. The ChangeSet holds every object applied; stop,
// if set, is the result of a wave that failed (an object refused, a hook failed, or it
// did not become healthy): the waves after it were not applied.
func (r *Reconciler) applyWaves(ctx context.Context, p *pass, plan *desired.SyncPlan, objs []*unstructured.Unstructured, old kube.Inventory, res Result) (*kube.ChangeSet, *Result, error) {
	if !plan.Staged() {
		cs, err := r.apply(ctx, p, objs)
		return cs, nil, err
	}
	keep := map[*unstructured.Unstructured]bool{}
	for _, o := range objs {
		keep[o] = true
	}
	all := &kube.ChangeSet{}
	for i, w := range plan.Waves {
		var wave []*unstructured.Unstructured
		for _, o := range w.Objects {
			if keep[o] {
				wave = append(wave, o)
			}
		}
		cs, err := r.apply(ctx, p, wave)
		if err != nil {
			return nil, nil, err
		}
		all.Add(cs.Changes...)
		if cs.HasFailed() {
			// The caller reports the refused objects, as for any apply.
			return all, nil, nil
		}
		if err := r.runHooks(ctx, p, w.Hooks); err != nil {
			stopped := res.failed(err)
			stopped.Applied = all
			return all, &stopped, nil
		}
		if i == len(plan.Waves)-1 {
			break
		}
		// What the waves applied is the environment's before the wait: if gitopsd stops
		// during it, the next run still knows what it owns.
		if err := r.recordInventory(ctx, p, old.Union(kube.InventoryOf(all))); err != nil {
			return nil, nil, err
		}
		p.progress(fmt.Sprintf("wave %d applied: %s; waiting for health ...", w.N, objectCount(len(wave))))
		h, err := r.health(ctx, p, cs, kube.InventoryOf(cs))
		if err != nil {
			return nil, nil, err
		}
		if !h.Healthy() {
			stopped := res
			stopped.Applied, stopped.Health = all, h
			stopped = stopped.judged(fmt.Sprintf("wave %d of %d, the rest not applied: %s", i+1, len(plan.Waves), applySummary(all, &kube.ChangeSet{})), 0)
			return all, &stopped, nil
		}
	}
	return all, nil, nil
}

// syncFailed runs the plan's SyncFail hooks after res, a sync that failed, and adds their
// outcome to what the pusher reads.
func (r *Reconciler) syncFailed(ctx context.Context, p *pass, plan *desired.SyncPlan, res Result) Result {
	hooks := plan.Hooks[desired.SyncFail]
	if len(hooks) == 0 || res.Outcome == outcome.Waiting || res.Outcome == outcome.Healthy {
		return res
	}
	if err := r.runHooks(context.WithoutCancel(ctx), p, hooks); err != nil {
		res.Summary += "\n" + strings.TrimSpace(err.Error())
	} else {
		res.Summary += fmt.Sprintf("\nSyncFail hooks ran (%d)", len(hooks))
	}
	return res
}

// objectCount is "1 object" or "n objects".
func objectCount(n int) string {
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}
