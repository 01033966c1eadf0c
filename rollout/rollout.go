// Package rollout releases a new version of an environment's Deployments as a canary,
// without a service mesh or a controller of its own: the new pod template runs as a
// Deployment of its own next to the stable one, behind the same Service (the canary's
// pods carry the stable's labels, and one more), and the share of the pods, which is the
// share of the traffic, follows the steps of repos.yaml. At the end the stable Deployment
// takes the new template and the canary goes away; a canary that fails its checks goes
// away with the stable version at full size again.
//
// The state of a release lives in the cluster, on the canary Deployment (see State), so
// that a daemon that was killed in the middle of one resumes it at the step it had
// reached, or cleans it up if git no longer asks for it.
package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopsd/gitopsd/analysis"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
)

// Labels and annotations of a release.
const (
	// ReleaseOf labels a canary or preview Deployment (and a preview Service) with the
	// name of the Deployment it releases.
	ReleaseOf = "gitopsd.dev/release-of"
	// TrackLabel tells a canary's or preview's pods from the stable's ("canary",
	// "preview"): their Deployment's selector needs it, the Service's selector ignores it.
	TrackLabel = "gitopsd.dev/track"
	// StateAnnotation holds the release's State, as JSON, on the canary Deployment.
	StateAnnotation = "gitopsd.dev/release"
	// StrategyAnnotation on a Deployment in git chooses its release: "none" applies it at
	// once, "canary" or "blue-green" override the environment's strategy.
	StrategyAnnotation = "gitopsd.dev/rollout"
	// Manager is the field manager of the stable's replicas while a release runs.
	Manager = "gitopsd-rollout"
)

var deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// State is what the cluster keeps of a release: the commit released, the steps it has
// passed, and the stable Deployment's replicas before the release scaled it down. A
// blue-green release also keeps the stable pods' template hash, the Services it pinned to
// it and whether they were switched to the new version.
type State struct {
	Commit         string   `json:"commit"`
	Passed         int      `json:"passed"`
	StableReplicas int64    `json:"stable_replicas"`
	StableHash     string   `json:"stable_hash,omitempty"`
	Services       []string `json:"services,omitempty"`
	Switched       bool     `json:"switched,omitempty"`
}

// Release is the rollout of one commit's new pod templates in one environment.
type Release struct {
	Client  *kube.Client
	Owner   kube.Owner
	Rollout config.Rollout
	// Services are the environment's Services (blue-green switches those that select a
	// released Deployment's pods).
	Services []*unstructured.Unstructured
	// Health is how the canary's health is judged at each step: the timeout, the poll
	// interval and the settle time of a step without a pause.
	Health kube.HealthOptions
	// Progress receives the lines the pusher sees.
	Progress func(string)
	// Gate waits at a step with pause: {} until someone promotes (true) or aborts (false)
	// the release, or ctx ends.
	Gate func(ctx context.Context, step string) (bool, error)
	// Superseded reports a newer commit waiting for the environment: the release stops,
	// and the newer commit is what runs next.
	Superseded func() bool
	// Passed, if set, is told of each step passed (1-based).
	Passed func(step int, name string)
	// Analysis, if set, judges the new version while each step runs, besides its health.
	Analysis *analysis.Analyzer

	// versions are each released Deployment's new and stable versions, as the analysis
	// knows them (analysis.Version).
	versions map[string][2]string
}

// Outcome is how a release ended.
type Outcome struct {
	// Promoted: every step passed; the caller applies the new template to the stable
	// Deployments (Candidates) and then calls Finish.
	Promoted bool
	// Failed says which step failed and why; the canaries are gone and the stable
	// Deployments are back at their size.
	Failed string
	// Health is the canary's health at the failed step, with its pods' reasons.
	Health *kube.HealthReport
	// Measured is what the analysis found at the failed step.
	Measured []string
	// Aborted by `ssh abort` (Failed says at which step), or Superseded by a newer commit.
	Aborted, Superseded bool
}

// ErrNoCandidates is Run's error when there is nothing to release.
var ErrNoCandidates = errors.New("no Deployment changes its pod template")

// Candidates are the Deployments of objs that a release rolls out: those that exist in
// the cluster and whose pod template the objects change (a new Deployment starts at
// once: there is no stable version to compare with), unless they opt out.
func Candidates(ctx context.Context, cl *kube.Client, objs []*unstructured.Unstructured, opts kube.ApplyOptions) ([]*unstructured.Unstructured, error) {
	var deps []*unstructured.Unstructured
	for _, o := range objs {
		if Releasable(o) {
			deps = append(deps, o)
		}
	}
	if len(deps) == 0 {
		return nil, nil
	}
	cs, err := cl.Diff(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, d := range deps {
		if ch, ok := cs.Get(kube.IDOf(d)); ok && ChangesTemplate(ch) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Releasable says whether obj is released step by step when its pod template changes: a
// Deployment that does not opt out.
func Releasable(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "Deployment" && obj.GroupVersionKind().Group == "apps" && obj.GetAnnotations()[StrategyAnnotation] != "none"
}

// ChangesTemplate says whether a change (of an apply's dry run) configures the pod
// template of an object that exists.
func ChangesTemplate(ch kube.Change) bool {
	if ch.Action != kube.Configured {
		return false
	}
	for _, f := range ch.Fields {
		if strings.HasPrefix(f.Path, ".spec.template") {
			return true
		}
	}
	return false
}

// ByStrategy splits deps by the strategy each is released with: its annotation's
// (StrategyAnnotation), or the environment's, in the order canary, blue-green.
func ByStrategy(deps []*unstructured.Unstructured, env config.Rollout) [][]*unstructured.Unstructured {
	groups := map[string][]*unstructured.Unstructured{}
	for _, d := range deps {
		s := StrategyOf(d, env)
		groups[s] = append(groups[s], d)
	}
	var out [][]*unstructured.Unstructured
	for _, s := range []string{config.RolloutCanary, config.RolloutBlueGreen} {
		if len(groups[s]) > 0 {
			out = append(out, groups[s])
		}
	}
	return out
}

// For is the environment's rollout as a Deployment released with strategy uses it: a
// canary in an environment that gives no steps has one, at half the pods.
func For(env config.Rollout, strategy string) config.Rollout {
	env.Strategy = strategy
	if strategy == config.RolloutCanary && len(env.Steps) == 0 {
		env.Steps = []config.Step{{Weight: 50}, {Weight: 100}}
	}
	return env
}

// StrategyOf is the strategy d is released with in env.
func StrategyOf(d *unstructured.Unstructured, env config.Rollout) string {
	if s := d.GetAnnotations()[StrategyAnnotation]; s == config.RolloutCanary || s == config.RolloutBlueGreen {
		return s
	}
	return env.Strategy
}

// NameClashes says which objects of objs have the name a release of another would take
// (NAME-canary or NAME-preview next to a released Deployment NAME, SVC-preview next to a
// Service of one): a release would apply over them and then delete them. One message per
// clash, naming both.
func NameClashes(objs []*unstructured.Unstructured) []string {
	declared := map[kube.ObjectID]bool{}
	for _, o := range objs {
		declared[kube.IDOf(o)] = true
	}
	var out []string
	for _, o := range objs {
		ns := o.GetNamespace()
		switch {
		case Releasable(o):
			for _, name := range []string{CanaryName(o.GetName()), PreviewName(o.GetName())} {
				if declared[kube.ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: name}] {
					out = append(out, fmt.Sprintf("Deployment %s/%s has the name a release of Deployment %s would take", ns, name, o.GetName()))
				}
			}
		case o.GetKind() == "Service" && o.GroupVersionKind().Group == "":
			name := PreviewName(o.GetName())
			if declared[kube.ObjectID{Kind: "Service", Namespace: ns, Name: name}] {
				out = append(out, fmt.Sprintf("Service %s/%s has the name a blue-green release of Service %s would take", ns, name, o.GetName()))
			}
		}
	}
	return out
}

// CanaryName is the name of the canary of Deployment name.
func CanaryName(name string) string { return name + "-canary" }

// Run releases the new templates of deps (Candidates) step by step. It returns when the
// release is promoted (the canaries still run: the caller applies deps, waits for their
// health and calls Finish), or failed, aborted or superseded (the canaries are gone, the
// stable Deployments back at their size). Its error is for a cluster that stopped
// answering; the release then resumes at the next reconcile from the state in the cluster.
func (r *Release) Run(ctx context.Context, deps []*unstructured.Unstructured) (Outcome, error) {
	if len(deps) == 0 {
		return Outcome{}, ErrNoCandidates
	}
	if r.Rollout.Strategy == config.RolloutBlueGreen {
		return r.runBlueGreen(ctx, deps)
	}
	states := make([]State, len(deps))
	passed := len(r.Rollout.Steps)
	for i, d := range deps {
		st, err := r.state(ctx, d)
		if err != nil {
			return Outcome{}, err
		}
		states[i] = st
		passed = min(passed, st.Passed)
	}
	if passed > 0 {
		r.Progress(fmt.Sprintf("release: resuming after step %d of %d (its state is in the cluster)", passed, len(r.Rollout.Steps)))
	}
	for i := passed; i < len(r.Rollout.Steps); i++ {
		step := r.Rollout.Steps[i]
		if step.Weight == 100 {
			break
		}
		if r.Superseded != nil && r.Superseded() {
			return r.stop(ctx, deps, states, Outcome{Superseded: true})
		}
		name := fmt.Sprintf("canary %d%%", step.Weight)
		ids := make([]kube.ObjectID, len(deps))
		pods := ""
		for j, d := range deps {
			c, s := split(states[j].StableReplicas, step.Weight)
			if err := r.scale(ctx, d, states[j], c, s); err != nil {
				return Outcome{}, err
			}
			ids[j] = kube.ObjectID{Group: "apps", Kind: "Deployment", Namespace: d.GetNamespace(), Name: CanaryName(d.GetName())}
			pods += fmt.Sprintf(", %s %d+%d", d.GetName(), c, s)
		}
		r.Progress(fmt.Sprintf("release: %s (step %d of %d; canary+stable pods%s) ...", name, i+1, len(r.Rollout.Steps), pods))
		hopts := r.Health
		if step.Pause != nil && !step.Pause.Gate {
			hopts.Settle = step.Pause.Duration
			hopts.Timeout += step.Pause.Duration
		}
		h, verdict, err := r.observe(ctx, ids, hopts, deps, name)
		if err != nil {
			return Outcome{}, err
		}
		at := fmt.Sprintf("%s (step %d of %d)", name, i+1, len(r.Rollout.Steps))
		switch {
		case verdict.Failed != "":
			return r.stop(ctx, deps, states, Outcome{Failed: at + ": " + verdict.Failed, Health: h, Measured: verdict.Measured})
		case !h.Healthy():
			return r.stop(ctx, deps, states, Outcome{Failed: at + ": " + h.Summary(), Health: h, Measured: verdict.Measured})
		}
		held := ""
		if hopts.Settle > 0 {
			held = fmt.Sprintf(", stayed healthy for %v", hopts.Settle)
		}
		r.Progress(fmt.Sprintf("release: %s healthy%s%s", name, held, measured(verdict)))
		if step.Pause != nil && step.Pause.Gate {
			r.Progress(fmt.Sprintf("release: %s: waiting for `ssh HOST promote %s/%s` (or abort)", name, r.Owner.Repo, r.Owner.Env))
			ok, err := r.Gate(ctx, name)
			switch {
			case err != nil:
				return Outcome{}, err
			case !ok && r.Superseded != nil && r.Superseded():
				return r.stop(ctx, deps, states, Outcome{Superseded: true})
			case !ok:
				out := Outcome{Aborted: true, Failed: fmt.Sprintf("%s (step %d of %d): aborted by hand (ssh abort)", name, i+1, len(r.Rollout.Steps))}
				return r.stop(ctx, deps, states, out)
			}
			r.Progress(fmt.Sprintf("release: %s promoted by hand", name))
		}
		for j, d := range deps {
			states[j].Passed = i + 1
			if err := r.saveState(ctx, d, states[j]); err != nil {
				return Outcome{}, err
			}
		}
		if r.Passed != nil {
			r.Passed(i+1, name)
		}
	}
	// The stable back at its size before it takes the new template: a Deployment whose
	// replicas git does not declare (an autoscaler's) would keep the canary's share
	// otherwise.
	for j, d := range deps {
		if err := r.scaleStable(ctx, d.GetNamespace(), d.GetName(), states[j].StableReplicas); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Promoted: true}, nil
}

// observe waits until the released Deployments ids are healthy under hopts while the
// analysis, if any, watches each of deps; a check that fails ends the wait. The verdict is
// the analysis's: its first failure, or what every check measured.
func (r *Release) observe(ctx context.Context, ids []kube.ObjectID, hopts kube.HealthOptions, deps []*unstructured.Unstructured, step string) (*kube.HealthReport, analysis.Verdict, error) {
	if r.Analysis == nil {
		h, err := r.Client.WaitHealthy(ctx, ids, hopts)
		return h, analysis.Verdict{}, err
	}
	if err := r.readVersions(ctx, deps); err != nil {
		return nil, analysis.Verdict{}, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var verdict analysis.Verdict
	var wg sync.WaitGroup
	for _, d := range deps {
		v := r.versions[d.GetNamespace()+"/"+d.GetName()]
		s := analysis.Subject{Repo: r.Owner.Repo, Env: r.Owner.Env, Commit: r.Owner.Commit, Step: step,
			Namespace: d.GetNamespace(), Name: d.GetName(), Canary: v[0], Stable: v[1]}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := r.Analysis.Watch(sctx, s)
			mu.Lock()
			defer mu.Unlock()
			prefix := ""
			if len(deps) > 1 {
				prefix = s.Name + ": "
			}
			if got.Failed != "" && verdict.Failed == "" {
				verdict.Failed = prefix + got.Failed
				cancel()
			}
			for _, m := range got.Measured {
				verdict.Measured = append(verdict.Measured, prefix+m)
			}
		}()
	}
	h, err := r.Client.WaitHealthy(sctx, ids, hopts)
	cancel() // the step is over: the comparisons are judged now
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, verdict, ctx.Err()
	case verdict.Failed != "":
		return h, verdict, nil
	}
	return h, verdict, err
}

// readVersions reads, once, the new and the stable version of each of deps.
func (r *Release) readVersions(ctx context.Context, deps []*unstructured.Unstructured) error {
	if r.versions != nil {
		return nil
	}
	r.versions = map[string][2]string{}
	for _, d := range deps {
		live, err := r.Client.Dynamic().Resource(deployments).Namespace(d.GetNamespace()).Get(ctx, d.GetName(), metav1.GetOptions{})
		if err != nil {
			r.versions = nil
			return err
		}
		r.versions[d.GetNamespace()+"/"+d.GetName()] = [2]string{versionOf(d), versionOf(live)}
	}
	return nil
}

// versionOf is the version of a Deployment's pod template (analysis.Version).
func versionOf(d *unstructured.Unstructured) string {
	podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	image := ""
	if len(containers) > 0 {
		if c, ok := containers[0].(map[string]any); ok {
			image, _ = c["image"].(string)
		}
	}
	return analysis.Version(podLabels, image)
}

// measured is the analysis's findings for a progress line: "; error-rate 0.002 <= 0.01".
func measured(v analysis.Verdict) string {
	if len(v.Measured) == 0 {
		return ""
	}
	return "; " + strings.Join(v.Measured, "; ")
}

// split is the canary's and the stable's pods at weight percent of total: the canary has
// its share rounded up (at least one pod), the stable the rest.
func split(total int64, weight int) (canary, stable int64) {
	if total < 1 {
		total = 1
	}
	canary = int64(math.Ceil(float64(total) * float64(weight) / 100))
	canary = max(1, min(canary, total))
	return canary, total - canary
}

// state reads the release state of d's canary, or starts one: a canary of another commit
// is a release that was superseded, and this one starts over from its state's stable
// size (the stable Deployment may be scaled down by it).
func (r *Release) state(ctx context.Context, d *unstructured.Unstructured) (State, error) {
	res := r.Client.Dynamic().Resource(deployments).Namespace(d.GetNamespace())
	canary, err := res.Get(ctx, CanaryName(d.GetName()), metav1.GetOptions{})
	switch {
	case err == nil:
		var st State
		if json.Unmarshal([]byte(canary.GetAnnotations()[StateAnnotation]), &st) == nil && st.StableReplicas > 0 {
			if st.Commit != r.Owner.Commit {
				st = State{Commit: r.Owner.Commit, StableReplicas: st.StableReplicas}
			}
			return st, nil
		}
	case !apierrors.IsNotFound(err):
		return State{}, err
	}
	stable, err := res.Get(ctx, d.GetName(), metav1.GetOptions{})
	if err != nil {
		return State{}, err
	}
	n, _, _ := unstructured.NestedInt64(stable.Object, "spec", "replicas")
	if want, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); ok {
		n = want
	}
	return State{Commit: r.Owner.Commit, StableReplicas: max(n, 1)}, nil
}

// canaryOf is the canary Deployment of d at canary replicas, carrying st: d's template
// and labels, its selector and pods told apart by TrackLabel.
func (r *Release) canaryOf(d *unstructured.Unstructured, st State, replicas int64) (*unstructured.Unstructured, error) {
	return released(d, CanaryName(d.GetName()), st, replicas, trackCanary)
}

// Tracks: what TrackLabel says of a release's pods.
const (
	trackCanary  = "canary"
	trackPreview = "preview"
)

// released is the Deployment name that runs d's new template for a release (a canary or
// a preview) at replicas, carrying st: d's template and labels, its selector and pods told
// apart by TrackLabel.
func released(d *unstructured.Unstructured, name string, st State, replicas int64, trackName string) (*unstructured.Unstructured, error) {
	c := d.DeepCopy()
	c.SetName(name)
	labels := c.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ReleaseOf] = d.GetName()
	c.SetLabels(labels)
	state, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	ann := c.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[StateAnnotation] = string(state)
	c.SetAnnotations(ann)
	if err := unstructured.SetNestedField(c.Object, replicas, "spec", "replicas"); err != nil {
		return nil, err
	}
	return c, track(c, trackName)
}

// track sets TrackLabel on c, its selector and its pods.
func track(c *unstructured.Unstructured, name string) error {
	labels := c.GetLabels()
	labels[TrackLabel] = name
	c.SetLabels(labels)
	if err := unstructured.SetNestedField(c.Object, name, "spec", "selector", "matchLabels", TrackLabel); err != nil {
		return err
	}
	return unstructured.SetNestedField(c.Object, name, "spec", "template", "metadata", "labels", TrackLabel)
}

// scale sets d's canary to canary pods (applying it with the release's state) and the
// stable Deployment to stable pods.
func (r *Release) scale(ctx context.Context, d *unstructured.Unstructured, st State, canary, stable int64) error {
	c, err := r.canaryOf(d, st, canary)
	if err != nil {
		return err
	}
	opts := kube.DefaultApplyOptions()
	opts.Force = true
	opts.Owner = &r.Owner
	cs, err := r.Client.Apply(ctx, []*unstructured.Unstructured{c}, opts)
	if err != nil {
		return err
	}
	if failed := cs.Failed(); len(failed) > 0 {
		return fmt.Errorf("canary %s: %s", c.GetName(), failed[0].Message)
	}
	return r.scaleStable(ctx, d.GetNamespace(), d.GetName(), stable)
}

func (r *Release) scaleStable(ctx context.Context, ns, name string, replicas int64) error {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := r.Client.Dynamic().Resource(deployments).Namespace(ns).Patch(ctx, name, types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: Manager}, "scale")
	return err
}

// saveState records st on d's canary.
func (r *Release) saveState(ctx context.Context, d *unstructured.Unstructured, st State) error {
	return r.saveStateOf(ctx, d.GetNamespace(), CanaryName(d.GetName()), st)
}

// stop ends a release that does not promote: the stable Deployments back at their size,
// then the canaries deleted.
func (r *Release) stop(ctx context.Context, deps []*unstructured.Unstructured, states []State, out Outcome) (Outcome, error) {
	for i, d := range deps {
		if err := r.scaleStable(ctx, d.GetNamespace(), d.GetName(), states[i].StableReplicas); err != nil {
			return Outcome{}, err
		}
	}
	if err := r.deleteCanaries(ctx, deps); err != nil {
		return Outcome{}, err
	}
	return out, nil
}

// Finish deletes the canaries of a promoted release, once the stable Deployments run the
// new template.
func (r *Release) Finish(ctx context.Context, deps []*unstructured.Unstructured) error {
	if r.Rollout.Strategy == config.RolloutBlueGreen {
		return r.finishBlueGreen(ctx, deps)
	}
	return r.deleteCanaries(ctx, deps)
}

// Abandon undoes a release that was promoted but whose new template will not be applied
// (a release after it in the same pass stopped): the stable Deployments back at their size
// and the canaries deleted, or the Services back on git's selector and the previews
// deleted.
func (r *Release) Abandon(ctx context.Context, deps []*unstructured.Unstructured) error {
	if r.Rollout.Strategy == config.RolloutBlueGreen {
		return r.finishBlueGreen(ctx, deps)
	}
	var canaries []unstructured.Unstructured
	for _, d := range deps {
		c, err := r.Client.Dynamic().Resource(deployments).Namespace(d.GetNamespace()).Get(ctx, CanaryName(d.GetName()), metav1.GetOptions{})
		switch {
		case err == nil:
			canaries = append(canaries, *c)
		case !apierrors.IsNotFound(err):
			return err
		}
	}
	return CleanUp(ctx, r.Client, canaries)
}

func (r *Release) deleteCanaries(ctx context.Context, deps []*unstructured.Unstructured) error {
	for _, d := range deps {
		err := r.Client.Dynamic().Resource(deployments).Namespace(d.GetNamespace()).Delete(ctx, CanaryName(d.GetName()),
			metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// Leftovers are the canaries of owner in the namespaces of objs whose release is not
// running: their stable Deployment is no longer a candidate (a newer commit went back to
// the stable template, the rollout was switched off) or no longer exists. CleanUp removes
// them, the stable back at its size first.
func Leftovers(ctx context.Context, cl *kube.Client, owner kube.Owner, objs []*unstructured.Unstructured, running []*unstructured.Unstructured) ([]unstructured.Unstructured, error) {
	namespaces := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			namespaces[o.GetNamespace()] = true
		}
	}
	keep := map[string]bool{}
	// What git declares is never a leftover, whatever labels it carries.
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			keep[o.GetNamespace()+"/"+o.GetName()] = true
		}
	}
	for _, d := range running {
		keep[d.GetNamespace()+"/"+CanaryName(d.GetName())] = true
		keep[d.GetNamespace()+"/"+PreviewName(d.GetName())] = true
	}
	var out []unstructured.Unstructured
	for ns := range namespaces {
		list, err := cl.Dynamic().Resource(deployments).Namespace(ns).List(ctx, metav1.ListOptions{
			LabelSelector: ReleaseOf + "," + kube.OwnerLabel + "=" + owner.LabelValue()})
		if err != nil {
			return nil, err
		}
		for _, c := range list.Items {
			if !keep[c.GetNamespace()+"/"+c.GetName()] {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// CleanUp removes leftover canaries and previews (Leftovers): a canary's stable
// Deployment back at the size its state recorded, a preview's Services no longer pinned,
// then the canary or preview deleted.
func CleanUp(ctx context.Context, cl *kube.Client, leftovers []unstructured.Unstructured) error {
	r := &Release{Client: cl}
	for _, c := range leftovers {
		var st State
		if json.Unmarshal([]byte(c.GetAnnotations()[StateAnnotation]), &st) != nil {
			st = State{}
		}
		switch {
		case c.GetLabels()[TrackLabel] == trackPreview:
			if err := r.unpreview(ctx, c.GetNamespace(), st.Services); err != nil {
				return err
			}
		case st.StableReplicas > 0:
			err := r.scaleStable(ctx, c.GetNamespace(), c.GetLabels()[ReleaseOf], st.StableReplicas)
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		err := cl.Dynamic().Resource(deployments).Namespace(c.GetNamespace()).Delete(ctx, c.GetName(),
			metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// Describe is the release's plan in a line: "canary 20% 1m0s, 50% {}, 100%", or
// "blue-green, pause 1m0s, keep 5m0s".
func Describe(r config.Rollout) string {
	if r.Strategy == config.RolloutBlueGreen {
		out := "blue-green"
		if r.Pause != nil {
			out += ", pause " + r.Pause.String()
		}
		if r.Keep > 0 {
			out += fmt.Sprintf(", keep %v", r.Keep)
		}
		return out
	}
	steps := r.Steps
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprintf("%d%%", s.Weight)
		if s.Pause != nil {
			parts[i] += " " + s.Pause.String()
		}
	}
	return "canary " + strings.Join(parts, ", ")
}
