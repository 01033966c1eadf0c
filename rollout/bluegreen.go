package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopsd/gitopsd/kube"
)

// A blue-green release pins each Service that selects a released Deployment's pods to
// one version by the pod-template-hash label the Deployment controller puts on every pod:
// first to the stable pods, then, at the switch, to the preview's, and at the end back to
// git's own selector. The pin is a field of its own manager (Manager): an apply of the
// Service from git leaves it.
const hashLabel = "pod-template-hash"

var (
	services    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	replicaSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
)

// PreviewName is the name of the preview Deployment of Deployment name, and of the preview
// Service of Service name.
func PreviewName(name string) string { return name + "-preview" }

// runBlueGreen releases deps blue-green: the preview at full size behind preview
// Services, the Services pinned to the stable pods meanwhile; once the preview is healthy
// for the pause (or promoted) the Services switch to it, and it is watched while the old
// version is kept; a failure before or after the switch puts the Services back on the
// stable pods.
func (r *Release) runBlueGreen(ctx context.Context, deps []*unstructured.Unstructured) (Outcome, error) {
	states := make([]State, len(deps))
	ids := make([]kube.ObjectID, len(deps))
	resumed := false
	for i, d := range deps {
		st, err := r.previewState(ctx, d)
		if err != nil {
			return Outcome{}, err
		}
		states[i] = st
		resumed = resumed || st.Switched
		ids[i] = kube.ObjectID{Group: "apps", Kind: "Deployment", Namespace: d.GetNamespace(), Name: PreviewName(d.GetName())}
		// Before the preview has pods, the Services stay on the stable ones; a release
		// resumed after its switch keeps them on the preview.
		if !st.Switched {
			if err := r.pin(ctx, d.GetNamespace(), st.Services, st.StableHash); err != nil {
				return Outcome{}, err
			}
		}
		if err := r.preview(ctx, d, st); err != nil {
			return Outcome{}, err
		}
	}
	fail := func(why string, h *kube.HealthReport) (Outcome, error) {
		for i, d := range deps {
			if err := r.pin(ctx, d.GetNamespace(), states[i].Services, states[i].StableHash); err != nil {
				return Outcome{}, err
			}
		}
		if err := r.finishBlueGreen(ctx, deps); err != nil {
			return Outcome{}, err
		}
		return Outcome{Failed: why, Health: h}, nil
	}
	if !resumed {
		r.Progress(fmt.Sprintf("release: preview of %d pods behind %s ...", states[0].StableReplicas, strings.Join(previewServices(states), ", ")))
		hopts := r.Health
		if p := r.Rollout.Pause; p != nil && !p.Gate {
			hopts.Settle = p.Duration
			hopts.Timeout += p.Duration
		}
		h, verdict, err := r.observe(ctx, ids, hopts, deps, "preview")
		switch {
		case err != nil:
			return Outcome{}, err
		case verdict.Failed != "":
			out, err := fail("the preview: "+verdict.Failed, h)
			out.Measured = verdict.Measured
			return out, err
		case !h.Healthy():
			return fail("the preview: "+h.Summary(), h)
		}
		r.Progress("release: preview healthy" + measured(verdict))
		if p := r.Rollout.Pause; p != nil && p.Gate {
			r.Progress(fmt.Sprintf("release: preview: waiting for `ssh HOST promote %s/%s` (or abort)", r.Owner.Repo, r.Owner.Env))
			ok, err := r.Gate(ctx, "preview")
			switch {
			case err != nil:
				return Outcome{}, err
			case !ok && r.Superseded != nil && r.Superseded():
				out, err := fail("", nil)
				out.Failed, out.Superseded = "", true
				return out, err
			case !ok:
				out, err := fail("the preview: aborted by hand (ssh abort)", &kube.HealthReport{})
				out.Aborted = true
				return out, err
			}
		}
		for i, d := range deps {
			hash, err := r.templateHash(ctx, d.GetNamespace(), PreviewName(d.GetName()))
			if err != nil {
				return Outcome{}, err
			}
			if err := r.pin(ctx, d.GetNamespace(), states[i].Services, hash); err != nil {
				return Outcome{}, err
			}
			states[i].Switched = true
			if err := r.saveStateOf(ctx, d.GetNamespace(), PreviewName(d.GetName()), states[i]); err != nil {
				return Outcome{}, err
			}
		}
		if r.Passed != nil {
			r.Passed(1, "switch")
		}
	}
	r.Progress(fmt.Sprintf("release: switched %s to the new version; the old one is kept %v", strings.Join(serviceNames(states), ", "), r.Rollout.Keep))
	if r.Rollout.Keep > 0 {
		hopts := r.Health
		hopts.Settle = r.Rollout.Keep
		hopts.Timeout += r.Rollout.Keep
		h, verdict, err := r.observe(ctx, ids, hopts, deps, "after the switch")
		switch {
		case err != nil:
			return Outcome{}, err
		case verdict.Failed != "" || !h.Healthy():
			r.Progress("release: the new version failed after the switch: switching back")
			why := verdict.Failed
			if why == "" {
				why = h.Summary()
			}
			out, err := fail("after the switch: "+why, h)
			out.Measured = verdict.Measured
			return out, err
		}
	}
	return Outcome{Promoted: true}, nil
}

// previewState reads the state of d's preview, or starts one: the Services that select
// d's pods and the stable pods' template hash.
func (r *Release) previewState(ctx context.Context, d *unstructured.Unstructured) (State, error) {
	ns := d.GetNamespace()
	p, err := r.Client.Dynamic().Resource(deployments).Namespace(ns).Get(ctx, PreviewName(d.GetName()), metav1.GetOptions{})
	switch {
	case err == nil:
		var st State
		if json.Unmarshal([]byte(p.GetAnnotations()[StateAnnotation]), &st) == nil && st.StableHash != "" && st.Commit == r.Owner.Commit {
			return st, nil
		}
	case !apierrors.IsNotFound(err):
		return State{}, err
	}
	hash, err := r.templateHash(ctx, ns, d.GetName())
	if err != nil {
		return State{}, err
	}
	replicas, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if !ok {
		replicas = 1
	}
	st := State{Commit: r.Owner.Commit, StableReplicas: replicas, StableHash: hash}
	podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	for _, s := range r.Services {
		sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector")
		delete(sel, hashLabel)
		if s.GetNamespace() == ns && len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(podLabels)) {
			st.Services = append(st.Services, s.GetName())
		}
	}
	if len(st.Services) == 0 {
		return State{}, fmt.Errorf("blue-green needs a Service that selects the pods of Deployment %s/%s: none does", ns, d.GetName())
	}
	return st, nil
}

// templateHash is the pod-template-hash of the pods of Deployment name's current
// ReplicaSet (the one of its revision).
func (r *Release) templateHash(ctx context.Context, ns, name string) (string, error) {
	dep, err := r.Client.Dynamic().Resource(deployments).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	revision := dep.GetAnnotations()["deployment.kubernetes.io/revision"]
	sel, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels")
	list, err := r.Client.Dynamic().Resource(replicaSets).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return "", err
	}
	for _, rs := range list.Items {
		owned := false
		for _, ref := range rs.GetOwnerReferences() {
			owned = owned || ref.UID == dep.GetUID()
		}
		if owned && rs.GetAnnotations()["deployment.kubernetes.io/revision"] == revision && rs.GetLabels()[hashLabel] != "" {
			return rs.GetLabels()[hashLabel], nil
		}
	}
	return "", fmt.Errorf("deployment %s/%s has no ReplicaSet of its revision %s yet", ns, name, revision)
}

// preview applies d's preview Deployment at full size and, for each Service it releases
// behind, a preview Service that selects only the preview's pods.
func (r *Release) preview(ctx context.Context, d *unstructured.Unstructured, st State) error {
	p, err := released(d, PreviewName(d.GetName()), st, st.StableReplicas, trackPreview)
	if err != nil {
		return err
	}
	objs := []*unstructured.Unstructured{p}
	for _, name := range st.Services {
		for _, s := range r.Services {
			if s.GetName() != name || s.GetNamespace() != d.GetNamespace() {
				continue
			}
			ps := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
				"metadata": map[string]any{"name": PreviewName(name), "namespace": s.GetNamespace(),
					"labels": map[string]any{ReleaseOf: d.GetName(), TrackLabel: trackPreview}}}}
			spec, _, _ := unstructured.NestedMap(s.Object, "spec")
			sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector")
			selector := map[string]any{TrackLabel: trackPreview}
			for k, v := range sel {
				selector[k] = v
			}
			ports, _, _ := unstructured.NestedSlice(spec, "ports")
			for _, p := range ports {
				if m, ok := p.(map[string]any); ok {
					delete(m, "nodePort") // a node port is the active Service's
				}
			}
			ps.Object["spec"] = map[string]any{"selector": selector, "ports": ports}
			objs = append(objs, ps)
		}
	}
	opts := kube.DefaultApplyOptions()
	opts.Force = true
	opts.Owner = &r.Owner
	cs, err := r.Client.Apply(ctx, objs, opts)
	if err != nil {
		return err
	}
	if failed := cs.Failed(); len(failed) > 0 {
		return fmt.Errorf("preview %s: %s", failed[0].ID.Short(), failed[0].Message)
	}
	return nil
}

// pin makes the Services select only the pods of template hash (or, for "", git's
// selector again).
func (r *Release) pin(ctx context.Context, ns string, names []string, hash string) error {
	var value any = hash
	if hash == "" {
		value = nil
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"selector": map[string]any{hashLabel: value}}})
	if err != nil {
		return err
	}
	for _, name := range names {
		_, err := r.Client.Dynamic().Resource(services).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: Manager})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// finishBlueGreen ends a blue-green release: the Services back on git's selector, the
// previews deleted.
func (r *Release) finishBlueGreen(ctx context.Context, deps []*unstructured.Unstructured) error {
	for _, d := range deps {
		st, err := r.previewState(ctx, d)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := r.unpreview(ctx, d.GetNamespace(), st.Services); err != nil {
			return err
		}
		err = r.Client.Dynamic().Resource(deployments).Namespace(d.GetNamespace()).Delete(ctx, PreviewName(d.GetName()),
			metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// unpreview puts the Services back on git's selector and deletes their previews.
func (r *Release) unpreview(ctx context.Context, ns string, names []string) error {
	if err := r.pin(ctx, ns, names, ""); err != nil {
		return err
	}
	for _, name := range names {
		err := r.Client.Dynamic().Resource(services).Namespace(ns).Delete(ctx, PreviewName(name), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// saveStateOf records st on the Deployment name.
func (r *Release) saveStateOf(ctx context.Context, ns, name string, st State) error {
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{StateAnnotation: string(state)}}})
	if err != nil {
		return err
	}
	_, err = r.Client.Dynamic().Resource(deployments).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: Manager})
	return err
}

func previewServices(states []State) []string {
	var out []string
	for _, st := range states {
		for _, s := range st.Services {
			out = append(out, PreviewName(s))
		}
	}
	return out
}

func serviceNames(states []State) []string {
	var out []string
	for _, st := range states {
		out = append(out, st.Services...)
	}
	return out
}
