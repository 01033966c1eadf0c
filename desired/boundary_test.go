package desired

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

func obj(apiVersion, kind, ns, name string, line int) render.Object {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return render.Object{Unstructured: u, Source: render.Source{File: "deploy/all.yaml", Line: line}}
}

// names are the objects as render names them.
func names(objs []render.Object) string {
	var s []string
	for _, o := range objs {
		s = append(s, render.ObjectName(o.Unstructured))
	}
	return strings.Join(s, " ")
}

func TestBoundaryNamespaces(t *testing.T) {
	env := config.Environment{Name: "staging", Namespace: "staging", Namespaces: []string{"shared"}}
	objs := []render.Object{
		obj("v1", "Namespace", "", "staging", 0),
		obj("v1", "ConfigMap", "staging", "a", 1),
		obj("v1", "ConfigMap", "shared", "b", 5),
		obj("v1", "ConfigMap", "prod", "c", 9),
		obj("v1", "Namespace", "", "shared", 13),
		obj("v1", "Namespace", "", "prod", 17),
	}
	kept, problems := BoundaryOf(env).Check(objs, nil)
	if got, want := names(kept), "Namespace/staging ConfigMap/staging/a ConfigMap/shared/b Namespace/shared"; got != want {
		t.Errorf("kept %s, want %s", got, want)
	}
	if len(problems) != 2 {
		t.Fatalf("want 2 problems, got %+v", problems)
	}
	p := problems[0]
	want := render.Problem{File: "deploy/all.yaml", Line: 9, Object: "ConfigMap/prod/c", Rule: RuleNamespaceBoundary,
		Message: "ConfigMap/prod/c is in namespace prod, which environment staging may not touch (its namespaces: shared, staging)",
		Hint:    "add prod to namespaces: of environment staging in repos.yaml, or remove metadata.namespace"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("problem\n got %+v\nwant %+v", p, want)
	}
	if p := problems[1]; p.Rule != RuleClusterBoundary || p.Object != "Namespace/prod" || p.Line != 17 ||
		p.Hint != "add Namespace to cluster_scoped: of environment staging in repos.yaml, or remove the object" {
		t.Errorf("a Namespace the environment does not use is cluster-scoped like any other: %+v", p)
	}
}

func TestBoundaryClusterScopedKinds(t *testing.T) {
	objs := []render.Object{
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader", 1),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com", 5),
		obj("example.com/v1", "Widget", "", "w", 9),
		obj("v1", "Namespace", "", "other", 13),
	}
	unstructured.SetNestedField(objs[1].Object, "example.com", "spec", "group")
	unstructured.SetNestedField(objs[1].Object, "Widget", "spec", "names", "kind")
	unstructured.SetNestedField(objs[1].Object, "Cluster", "spec", "scope")

	cases := []struct {
		name  string
		kinds []string
		kept  string
	}{
		{"none listed", nil, ""},
		{"by kind", []string{"ClusterRole", "Widget"}, "ClusterRole.rbac.authorization.k8s.io/reader Widget.example.com/w"},
		{"by kind and group", []string{"ClusterRole.rbac.authorization.k8s.io", "CustomResourceDefinition.apiextensions.k8s.io"}, "ClusterRole.rbac.authorization.k8s.io/reader CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com"},
		{"another group", []string{"ClusterRole.example.com"}, ""},
		{"namespaces", []string{"Namespace"}, "Namespace/other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := config.Environment{Name: "ops", Namespace: "ops", ClusterScoped: tc.kinds}
			kept, problems := BoundaryOf(env).Check(objs, nil)
			if got := names(kept); got != tc.kept {
				t.Errorf("kept %q, want %q", got, tc.kept)
			}
			if len(kept)+len(problems) != len(objs) {
				t.Errorf("every object is kept or a problem: %d kept, %+v", len(kept), problems)
			}
			for _, p := range problems {
				if p.Rule != RuleClusterBoundary || !strings.Contains(p.Message, "is cluster-scoped, and environment ops may apply no cluster-scoped ") {
					t.Errorf("problem %+v", p)
				}
			}
		})
	}
}

// TestBoundaryScope: whether an object without a namespace is cluster-scoped comes from the
// cluster when online; offline, a kind nobody defines is left for the apply to judge.
func TestBoundaryScope(t *testing.T) {
	env := config.Environment{Name: "team", Namespace: "team"}
	gadget := []render.Object{obj("example.com/v1", "Gadget", "", "g", 1)}
	if kept, problems := BoundaryOf(env).Check(gadget, nil); len(kept) != 1 || len(problems) != 0 {
		t.Errorf("offline, an unknown kind passes: %v %+v", names(kept), problems)
	}
	clusterWide := func(schema.GroupVersionKind) (bool, bool) { return false, true }
	if kept, problems := BoundaryOf(env).Check(gadget, clusterWide); len(kept) != 0 || len(problems) != 1 || problems[0].Rule != RuleClusterBoundary {
		t.Errorf("online, a cluster-scoped kind is refused: %v %+v", names(kept), problems)
	}
}

// TestBoundaryWithoutNamespace: an environment that names no namespace keeps the behaviour
// it had (its objects name their namespaces), but not for cluster-scoped kinds.
func TestBoundaryWithoutNamespace(t *testing.T) {
	objs := []render.Object{obj("v1", "ConfigMap", "anywhere", "a", 1), obj("v1", "Namespace", "", "anywhere", 5)}
	kept, problems := BoundaryOf(config.Environment{}).Check(objs, nil)
	if names(kept) != "ConfigMap/anywhere/a" || len(problems) != 1 {
		t.Fatalf("kept %s, problems %+v", names(kept), problems)
	}
	if p := problems[0]; !strings.Contains(p.Message, "this environment may apply no cluster-scoped Namespace") {
		t.Errorf("unnamed environment: %+v", p)
	}

	// With only an allow-list, the allow-list is the boundary.
	kept, problems = BoundaryOf(config.Environment{Name: "x", Namespaces: []string{"a"}}).Check(objs, nil)
	if len(kept) != 0 || len(problems) != 2 || !strings.Contains(problems[0].Message, "(its namespaces: a)") {
		t.Errorf("kept %s, problems %+v", names(kept), problems)
	}
}

// TestRenderEnforcesBoundary: the boundary is part of the one desired state, so every caller
// of Render (door, apply, drift scan, validate) gets the problem, and never the object.
func TestRenderEnforcesBoundary(t *testing.T) {
	tree := fstest.MapFS{"deploy/cm.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: prod}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")}}
	env := config.Environment{Name: "staging", Path: "deploy", Namespace: "staging"}
	res, err := Render(context.Background(), tree, env, Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Objects); got != "Namespace/staging ConfigMap/staging/b" {
		t.Errorf("objects %s", got)
	}
	if len(res.Problems) != 1 || res.Problems[0].Rule != RuleNamespaceBoundary || res.Problems[0].File != "deploy/cm.yaml" || res.Problems[0].Line != 1 {
		t.Errorf("problems %+v", res.Problems)
	}
}

func TestBoundaryPrunable(t *testing.T) {
	b := BoundaryOf(config.Environment{Name: "staging", Namespace: "web", Namespaces: []string{"jobs"}, ClusterScoped: []string{"ClusterRole"}})
	ids := []kube.ObjectID{
		{Kind: "ConfigMap", Namespace: "web", Name: "a"},
		{Kind: "ConfigMap", Namespace: "jobs", Name: "b"},
		{Kind: "ConfigMap", Namespace: "prod", Name: "stolen"},
		{Kind: "Namespace", Name: "web"},
		{Kind: "Namespace", Name: "prod"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "r"},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "w.example.com"},
	}
	prune, release := b.Prunable(ids)
	short := func(ids []kube.ObjectID) string {
		var s []string
		for _, id := range ids {
			s = append(s, id.Short())
		}
		return strings.Join(s, " ")
	}
	if got, want := short(prune), "ConfigMap/web/a ConfigMap/jobs/b Namespace/web ClusterRole.rbac.authorization.k8s.io/r"; got != want {
		t.Errorf("prune %s, want %s", got, want)
	}
	if got, want := short(release), "ConfigMap/prod/stolen Namespace/prod CustomResourceDefinition.apiextensions.k8s.io/w.example.com"; got != want {
		t.Errorf("release %s, want %s", got, want)
	}
}
