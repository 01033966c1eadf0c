package desired

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// Rules of the problems Check reports; like render's rules they are stable.
const (
	// RuleNamespaceBoundary is an object in a namespace the environment may not touch.
	RuleNamespaceBoundary = "namespace-boundary"
	// RuleClusterBoundary is a cluster-scoped object of a kind the environment does not list.
	RuleClusterBoundary = "cluster-scoped-boundary"
)

// Boundary is what an environment may touch: objects in its own namespace and those of its
// namespaces: list, and cluster-scoped objects of the kinds its cluster_scoped: lists (and
// the Namespace objects of its namespaces, which it is given with them). Without it, any
// writer of one environment could overwrite another environment's objects by naming their
// namespace, with gitopsd's identity.
type Boundary struct {
	env string
	// namespaces is nil for an environment that names no namespace at all: see BoundaryOf.
	namespaces map[string]bool
	kinds      []string
}

// BoundaryOf is env's boundary. An environment with neither namespace: nor namespaces:
// has no namespace boundary, as before boundaries existed: it never said where it lives,
// and each of its namespaced objects names its namespace itself. Such an environment is
// still bounded by the owner check (no object of another environment is overwritten or
// pruned), by cluster_scoped:, and by its impersonate: identity's RBAC; give it a
// namespace to bound it.
func BoundaryOf(env config.Environment) Boundary {
	b := Boundary{env: env.Name, kinds: env.ClusterScoped}
	if env.Namespace == "" && len(env.Namespaces) == 0 {
		return b
	}
	b.namespaces = map[string]bool{}
	if env.Namespace != "" {
		b.namespaces[env.Namespace] = true
	}
	for _, ns := range env.Namespaces {
		b.namespaces[ns] = true
	}
	return b
}

// Check returns the objects of objs within the boundary, and a problem, at the object's
// file and line, for each of the others. scope is the cluster's (nil: offline); objs are
// rendered, so namespaced objects carry their namespace.
func (b Boundary) Check(objs []render.Object, scope render.ScopeFunc) ([]render.Object, []render.Problem) {
	scope = render.Scope(objs, scope)
	var problems []render.Problem
	kept := objs[:0:0]
	for _, o := range objs {
		if p, bad := b.check(o, scope); bad {
			problems = append(problems, p)
			continue
		}
		kept = append(kept, o)
	}
	return kept, problems
}

func (b Boundary) check(o render.Object, scope render.ScopeFunc) (render.Problem, bool) {
	problem := func(rule, msg, hint string) (render.Problem, bool) {
		return render.Problem{File: o.Source.File, Line: o.Source.Line, Object: render.ObjectName(o.Unstructured), Rule: rule, Message: msg, Hint: hint}, true
	}
	if ns := o.GetNamespace(); ns != "" {
		if b.namespaces == nil || b.namespaces[ns] {
			return render.Problem{}, false
		}
		return problem(RuleNamespaceBoundary,
			fmt.Sprintf("%s is in namespace %s, which %s may not touch (its namespaces: %s)", render.ObjectName(o.Unstructured), ns, b.name(), b.list()),
			fmt.Sprintf("add %s to namespaces: of %s in repos.yaml, or remove metadata.namespace", ns, b.name()))
	}
	gvk := o.GroupVersionKind()
	if namespaced, known := scope(gvk); !known || namespaced {
		// Offline, a kind that neither Kubernetes nor the push defines: the apply, which
		// knows the kind's scope, checks it again.
		return render.Problem{}, false
	}
	if b.clusterScopedAllowed(gvk.Group, gvk.Kind, o.GetName()) {
		return render.Problem{}, false
	}
	return problem(RuleClusterBoundary,
		fmt.Sprintf("%s is cluster-scoped, and %s may apply no cluster-scoped %s", render.ObjectName(o.Unstructured), b.name(), kindName(gvk)),
		fmt.Sprintf("add %s to cluster_scoped: of %s in repos.yaml, or remove the object", gvk.Kind, b.name()))
}

// clusterScopedAllowed says whether the environment may have the cluster-scoped object
// kind (of group) named name: a kind its cluster_scoped: lists, or the Namespace object of
// one of its namespaces.
func (b Boundary) clusterScopedAllowed(group, kind, name string) bool {
	if group == "" && kind == "Namespace" && b.namespaces[name] {
		return true
	}
	for _, k := range b.kinds {
		k, g, grouped := strings.Cut(k, ".")
		if k == kind && (!grouped || g == group) {
			return true
		}
	}
	return false
}

// Holds says whether the object id is within the boundary: in one of the environment's
// namespaces, or cluster-scoped and allowed (see Check).
func (b Boundary) Holds(id kube.ObjectID) bool {
	if id.Namespace != "" {
		return b.namespaces == nil || b.namespaces[id.Namespace]
	}
	return b.clusterScopedAllowed(id.Group, id.Kind, id.Name)
}

// Prunable splits what the environment's inventory has and its commit no longer declares
// into what it may delete and what it lets go: an object outside the boundary stays in the
// cluster, unmanaged. Such an object can only be in the inventory from before boundaries
// (taken from another environment by naming its namespace, which is what they stop), and
// deleting it would finish the attack.
func (b Boundary) Prunable(stale []kube.ObjectID) (prune, release []kube.ObjectID) {
	for _, id := range stale {
		if b.Holds(id) {
			prune = append(prune, id)
		} else {
			release = append(release, id)
		}
	}
	return prune, release
}

func (b Boundary) name() string {
	if b.env == "" {
		return "this environment"
	}
	return "environment " + b.env
}

func (b Boundary) list() string {
	names := make([]string, 0, len(b.namespaces))
	for ns := range b.namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func kindName(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Kind
	}
	return gvk.Kind + "." + gvk.Group
}

// bound keeps in res only the objects within env's boundary, and adds a problem for each
// of the others: every caller of Render (the door, the apply, the drift scan, validate)
// enforces it.
func bound(res *render.Result, env config.Environment, scope render.ScopeFunc) {
	var problems []render.Problem
	res.Objects, problems = BoundaryOf(env).Check(res.Objects, scope)
	res.Problems = append(res.Problems, problems...)
}

var _ = render.RegisterRules(map[string]string{
	RuleNamespaceBoundary: "move it to one of the environment's namespaces (namespaces: in repos.yaml)",
	RuleClusterBoundary:   "remove it, or ask the operators to list its kind in cluster_scoped:",
})
