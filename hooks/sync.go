package hooks

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// synced splits the rendered objects as the apply will take them (desired.PlanSync): the
// objects it applies, in their waves, and the plan with the hooks it runs.
func synced(objs []render.Object) ([]render.Object, *desired.SyncPlan) {
	plan := desired.PlanSync(render.Unstructured(objs))
	applied := map[*unstructured.Unstructured]bool{}
	for _, u := range plan.Objects() {
		applied[u] = true
	}
	var out []render.Object
	for _, o := range objs {
		if applied[o.Unstructured] {
			out = append(out, o)
		}
	}
	return out, plan
}

// dryRunHooks asks the cluster whether it would create each hook (a dry-run create, so a
// generateName works), and reports a refusal at the hook's file and line.
func (c *Checker) dryRunHooks(ctx context.Context, cl *kube.Client, t Target, objs []render.Object, plan *desired.SyncPlan, rep *Report) {
	owner := kube.Owner{Repo: t.Repo, Env: t.EnvName, Commit: t.Commit}
	sources := map[*unstructured.Unstructured]render.Source{}
	for _, o := range objs {
		sources[o.Unstructured] = o.Source
	}
	for _, h := range plan.AllHooks() {
		err := cl.DryRunHook(ctx, h, &owner)
		name := kube.NameOf(h.Object)
		switch {
		case err == nil:
		case apierrors.IsNotFound(err) && h.Object.GetNamespace() != "":
			// Its namespace comes with this push: the hook is checked when it runs.
			rep.Notes = append(rep.Notes, fmt.Sprintf("hook %s: namespace not there yet, checked when it runs", name))
		default:
			src := sources[h.Object]
			rep.Problems = append(rep.Problems, Problem{File: src.File, Line: src.Line, Object: name, Rule: RuleDryRun,
				Message: "hook " + h.Phase + ": " + err.Error(), Hint: "the API server refused this hook; fix the field it names"})
		}
	}
}
