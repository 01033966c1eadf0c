package hooks

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/policy"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/rollout"
)

// Problem is one thing wrong with a push; it is the renderer's type, so that every stage
// reports in the same words (file, line, object, rule, message, hint).
type Problem = render.Problem

// Rules of the checks this package adds to the renderer's.
const (
	RuleDryRun     = "dry-run"
	RulePolicy     = "policy"
	RulePruneGuard = "prune-guard"
	RuleTest       = "test"
	RuleCluster    = "cluster"
	RulePermission = "permission"
	RuleRollout    = "rollout"
)

// Clusters gives the checks the client an environment acts through (see
// clusters.Registry.EnvClient) and its cluster's capabilities.
type Clusters interface {
	EnvClient(env config.Environment) (*kube.Client, error)
	Capabilities(name string) (clusters.Capabilities, error)
}

// Target is one environment of one push (or of a working tree, for `gitopsd validate`).
type Target struct {
	Repo    string
	EnvName string
	Env     config.Environment
	Commit  string
	// Tree is the whole repository at Commit.
	Tree fs.FS
	// Offline skips everything that needs the cluster (`gitopsd validate` without a
	// cluster it can reach); OfflineWhy says why, in the report's note that says so.
	Offline    bool
	OfflineWhy string
	// AllowPrune lifts the prune guard (push option gitopsd.allow-prune).
	AllowPrune bool

	// Previous, on a branch that deploys several environments, is the digest of what the
	// environment rendered before the push (desired.Digest; "" when unknown): a push whose
	// render has the same digest does not change the environment, which is then said to be
	// unchanged and not checked again.
	Previous string
	// Denied, if set, says why the pusher may not change this environment: the push is
	// refused if it changes what the environment renders.
	Denied string
}

// Checker runs the checks of one environment. It is safe for concurrent use.
type Checker struct {
	Config   *config.Config
	Clusters Clusters
}

// Checked is the outcome: the report for the pusher and the rendered objects.
type Checked struct {
	Report  *Report
	Objects []render.Object
	// Digest is desired.Digest of Objects, "" when the render had problems.
	Digest string
}

// Check renders t and runs every configured check on it. It never returns early on a
// problem it can report: the pusher should see everything wrong in one push.
func (c *Checker) Check(ctx context.Context, t Target) *Checked {
	env := t.Env
	rep := &Report{Repo: t.Repo, Env: t.EnvName, Branch: env.Branch, Cluster: env.Cluster, Commit: t.Commit}
	out := &Checked{Report: rep}
	// Every problem leaves with a hint: its own, or its rule's (render.Hint).
	defer func() { render.FillHints(rep.Problems) }()

	var target desired.Cluster
	var cl *kube.Client
	if !t.Offline {
		var err error
		target, cl, err = c.cluster(env)
		switch {
		case err != nil && env.Checks.RequireCluster:
			rep.Problems = append(rep.Problems, Problem{Rule: RuleCluster,
				Message: fmt.Sprintf("cluster %s cannot be reached, so the push cannot be checked against it", env.Cluster),
				Hint:    "try again later: this environment requires the cluster's checks (checks.require_cluster)"})
			cl = nil
		case err != nil:
			rep.Notes = append(rep.Notes, fmt.Sprintf("cluster %s cannot be reached: offline checks only; the apply waits until it is back", env.Cluster))
			cl = nil
		}
	}

	start := time.Now()
	res, err := desired.Render(ctx, t.Tree, env, target)
	rep.Timings = append(rep.Timings, Timing{"render", time.Since(start)})
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Rule: RuleRender, Message: err.Error()})
		return out
	}
	rep.Problems = append(rep.Problems, res.Problems...)
	for _, w := range res.Warnings {
		rep.Notes = append(rep.Notes, warningNote(w))
	}
	// What did not render cannot be sent to the API server; policy findings can, so the
	// pusher sees the API's verdict in the same push.
	rendered := res.OK()
	out.Objects = res.Objects
	defer scrubReport(rep, res.Sensitive)
	if rendered {
		out.Digest = desired.Digest(res.Objects)
	}
	switch {
	case rendered && t.Previous != "" && out.Digest == t.Previous:
		rep.Unchanged = len(res.Objects)
		return out
	case t.Denied != "":
		// Changed (or broken) by someone who may not change it: nothing more is said of
		// it, and nothing of it is sent to its cluster.
		rep.Problems = append(rep.Problems, Problem{Rule: RulePermission, Message: t.Denied,
			Hint: "leave this environment's files as they are, or ask one of its pushers (push: in repos.yaml) to push the change"})
		return out
	}

	if env.Rollout != nil {
		for _, clash := range rollout.NameClashes(render.Unstructured(res.Objects)) {
			rep.Problems = append(rep.Problems, Problem{Rule: RuleRollout, Message: clash,
				Hint: "rename it: a release creates and deletes objects of these names (see rollout: in repos.yaml)"})
		}
	}

	start = time.Now()
	rep.Problems = append(rep.Problems, c.policies(t, res.Objects)...)
	rep.Timings = append(rep.Timings, Timing{"policies", time.Since(start)})

	applied, plan := synced(res.Objects)
	if rendered {
		rep.Notes = append(rep.Notes, plan.Notes()...)
	}
	// Plain manifests that parsed are whole objects even when another file did not parse:
	// the API's verdict on them comes in the same push. What would be pruned is not
	// known then (the broken file's objects are missing), so there is no prune preview.
	if cl != nil && env.Checks.DryRunEnabled() && (rendered || wholeObjects(res)) {
		start = time.Now()
		c.dryRun(ctx, cl, t, applied, render.NewLocator(t.Tree, res.Type, desired.Options(env, target)), !rendered, rep)
		if rendered {
			c.dryRunHooks(ctx, cl, t, res.Objects, plan, rep)
		}
		rep.Timings = append(rep.Timings, Timing{"dry-run", time.Since(start)})
	} else if t.Offline {
		why := t.OfflineWhy
		if why == "" {
			why = "no cluster given"
		}
		rep.Notes = append(rep.Notes, "offline: "+why+"; no dry run, no preview")
	}

	if len(env.Checks.Tests) > 0 && len(rep.Problems) == 0 {
		start = time.Now()
		c.tests(ctx, t, res.Objects, rep)
		rep.Timings = append(rep.Timings, Timing{"tests", time.Since(start)})
	}
	return out
}

// wholeObjects says the objects of a render with problems are whole and may go to the
// dry run: plain manifests, none of whose problems is about a Secret (whose values
// would go to the API server as they are in git).
func wholeObjects(res *render.Result) bool {
	if res.Type != render.TypePlain || len(res.Objects) == 0 {
		return false
	}
	for _, p := range res.Problems {
		if strings.HasPrefix(p.Rule, "secret-") {
			return false
		}
	}
	return true
}

// cluster is what the checks of env need of its cluster: the client env acts through, and
// the cluster to render for.
func (c *Checker) cluster(env config.Environment) (desired.Cluster, *kube.Client, error) {
	cl, err := c.Clusters.EnvClient(env)
	if err != nil {
		return desired.Cluster{}, nil, err
	}
	caps, err := c.Clusters.Capabilities(env.Cluster)
	if err != nil {
		return desired.Cluster{}, nil, err
	}
	return desired.Online(caps, cl), cl, nil
}

// Digest renders env from tree, as Check would, and returns desired.Digest of what it
// wants, or "" when it cannot be rendered (or its cluster is out of reach, since the
// render depends on it): Target.Previous of the push that follows tree.
func (c *Checker) Digest(ctx context.Context, env config.Environment, tree fs.FS) string {
	target, _, err := c.cluster(env)
	if err != nil {
		return ""
	}
	res, err := desired.Render(ctx, tree, env, target)
	if err != nil || !res.OK() {
		return ""
	}
	return desired.Digest(res.Objects)
}

// policies evaluates the environment's policies (built in, of repos.yaml, and the repo's
// own when it allows them) on every object.
func (c *Checker) policies(t Target, objs []render.Object) []Problem {
	var ps []policy.Policy
	for _, name := range t.Env.Checks.Policies {
		if p, ok := policy.Builtins[name]; ok {
			p.Source = "built in"
			ps = append(ps, p)
			continue
		}
		cp := c.Config.Policies[name]
		ps = append(ps, policy.Policy{Name: name, Kinds: cp.Kinds, Expression: cp.Expression, Message: cp.Message, Hint: cp.Hint, Source: "repos.yaml"})
	}
	var problems []Problem
	if t.Env.Checks.RepoPolicies {
		repoPs, err := policy.LoadRepo(t.Tree)
		if err != nil {
			problems = append(problems, Problem{File: policy.RepoDir, Rule: RulePolicy, Message: err.Error(), Hint: "fix the policy file; every push is checked with the policies it carries"})
		}
		ps = append(ps, repoPs...)
	}
	if len(ps) == 0 {
		return problems
	}
	set, err := policy.Compile(ps)
	if err != nil {
		problems = append(problems, Problem{Rule: RulePolicy, Message: err.Error()})
	}
	for _, o := range objs {
		for _, v := range set.Evaluate(o.Unstructured) {
			problems = append(problems, Problem{
				File: o.Source.File, Line: o.Source.Line, Object: kube.IDOf(o.Unstructured).Short(),
				Rule: v.Policy, Message: v.Message, Hint: v.Hint,
			})
		}
	}
	return problems
}

// dryRun runs a server-side dry-run apply of every object (schema, CRDs, admission all take
// part), turns refusals into problems, one per field refused, each at the file and line a
// person edits to fix it (render.Locator), and builds the preview, including what the
// inventory says would be pruned; partial says some objects did not render (no prune
// preview then).
func (c *Checker) dryRun(ctx context.Context, cl *kube.Client, t Target, objs []render.Object, loc *render.Locator, partial bool, rep *Report) {
	owner := kube.Owner{Repo: t.Repo, Env: t.EnvName, Commit: t.Commit}
	us := make([]*unstructured.Unstructured, len(objs))
	byID := map[kube.ObjectID]render.Object{}
	for i, o := range objs {
		us[i] = o.Unstructured
		byID[kube.IDOf(o.Unstructured)] = o
	}
	cs, err := cl.Diff(ctx, us, desired.ApplyOptions(owner))
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Rule: RuleDryRun, Message: fmt.Sprintf("the dry run against cluster %s failed: %v", t.Env.Cluster, err)})
		return
	}
	for _, ch := range cs.Changes {
		obj := byID[ch.ID]
		switch ch.Action {
		case kube.Failed:
			for _, r := range refusedQuantities(ch, obj, refusals(ch, t.Env, fieldSuggester(cl, obj.Unstructured))) {
				at, via := obj.Source, []render.Source(nil)
				if obj.Unstructured != nil {
					at, via = loc.Locate(obj, r.Field)
				}
				rep.Problems = append(rep.Problems, Problem{File: at.File, Line: at.Line, Via: via, Object: ch.ID.Short(),
					Rule: RuleDryRun, Message: r.Message, Hint: r.Hint})
			}
		case kube.Created:
			rep.Preview = append(rep.Preview, PreviewLine{Op: "+", Object: ch.ID.Short()})
		case kube.Configured:
			fields := make([]string, len(ch.Fields))
			for i, f := range ch.Fields {
				fields[i] = f.String()
			}
			rep.Preview = append(rep.Preview, PreviewLine{Op: "~", Object: ch.ID.Short(), Fields: fields})
			if u, ro := obj.Unstructured, t.Env.Rollout; u != nil && ro != nil && rollout.Releasable(u) && rollout.ChangesTemplate(ch) {
				plan := rollout.For(*ro, rollout.StrategyOf(u, *ro))
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s is released as %s after the push", ch.ID.Short(), rollout.Describe(plan)))
			}
		case kube.Unchanged:
			rep.Preview = append(rep.Preview, PreviewLine{Op: "=", Object: ch.ID.Short()})
		case kube.Skipped:
			rep.Notes = append(rep.Notes, ch.String())
		}
	}
	if !partial {
		c.prunePreview(ctx, cl, t, &owner, us, rep)
	}
}

// pruneKinds are the kinds whose deletion takes data with it: a push that would prune one
// needs the pusher's explicit -o gitopsd.allow-prune.
var pruneKinds = map[string]bool{"Namespace": true, "CustomResourceDefinition": true, "PersistentVolumeClaim": true}

func (c *Checker) prunePreview(ctx context.Context, cl *kube.Client, t Target, owner *kube.Owner, objs []*unstructured.Unstructured, rep *Report) {
	inv, _, err := cl.ReadInventory(ctx, *owner)
	if err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("prune preview unavailable: %v", err))
		return
	}
	want := make([]kube.ObjectID, len(objs))
	for i, o := range objs {
		want[i] = kube.IDOf(o)
	}
	gone, release := desired.BoundaryOf(t.Env).Prunable(kube.Stale(inv, kube.NewInventory(want...)))
	for _, id := range release {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is not pruned: outside the environment's namespaces, it is left in the cluster, no longer managed by it", id.Short()))
	}
	var dangerous []string
	for _, id := range gone {
		rep.Preview = append(rep.Preview, PreviewLine{Op: "-", Object: id.Short()})
		if pruneKinds[id.Kind] {
			dangerous = append(dangerous, id.Short())
		}
	}
	if t.AllowPrune {
		return
	}
	if len(dangerous) > 0 {
		rep.Problems = append(rep.Problems, Problem{Rule: RulePruneGuard,
			Message: fmt.Sprintf("this push would delete %s, and the data in it", joinMax(dangerous, 3)),
			Hint:    "if that is what you want: git push -o gitopsd.allow-prune"})
	}
	if max := t.Env.Checks.MaxPrune; len(gone) > max {
		rep.Problems = append(rep.Problems, Problem{Rule: RulePruneGuard,
			Message: fmt.Sprintf("this push would delete %d objects, more than the %d allowed without confirmation", len(gone), max),
			Hint:    "if that is what you want: git push -o gitopsd.allow-prune"})
	}
}

func (c *Checker) tests(ctx context.Context, t Target, objs []render.Object, rep *Report) {
	us := render.Unstructured(objs)
	for _, name := range t.Env.Checks.Tests {
		spec := c.Config.Tests[name]
		var out lineBuffer
		err := RunTest(ctx, TestCommand{Name: name, Command: spec.Command, Timeout: spec.Timeout}, us, &out)
		rep.Notes = append(rep.Notes, out.lines...)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Rule: RuleTest, Message: err.Error(), Hint: "the test's own output is above"})
		}
	}
}

// lineBuffer collects written text as lines.
type lineBuffer struct {
	lines   []string
	partial []byte
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			b.lines = append(b.lines, string(b.partial))
			b.partial = b.partial[:0]
			continue
		}
		b.partial = append(b.partial, c)
	}
	return len(p), nil
}

func joinMax(s []string, n int) string {
	if len(s) <= n {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v and %d more", s[:n], len(s)-n)
}

// warningNote is a render warning as a note: where, what, and on its own line the hint.
func warningNote(w Problem) string {
	n := w.Message
	if loc := location(w); loc != "" {
		n = loc + ": " + n
	}
	if w.Hint != "" {
		n += "\n" + w.Hint
	}
	return n
}
