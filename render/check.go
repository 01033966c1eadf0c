package render

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/objname"
)

// ObjectName names u for people, as kube.ObjectID.Short does: objname.Short.
func ObjectName(u *unstructured.Unstructured) string {
	name := u.GetName()
	if name == "" {
		name = u.GetGenerateName()
	}
	gvk := u.GroupVersionKind()
	return objname.Short(gvk.Group, gvk.Kind, u.GetNamespace(), name)
}

// check runs the checks that need no cluster, sets the default namespace, and returns the
// objects that are well-formed enough to go further.
func check(objs []Object, opts Options, ps *problems) []Object {
	crds := crdScopes(objs)
	seen := make(map[string]Source, len(objs))
	kept := objs[:0]
	for _, o := range objs {
		if !wellFormed(o, ps) {
			continue
		}
		gvk := o.GroupVersionKind()
		namespaced, known := scope(gvk, crds, opts.Scope)
		ns := o.GetNamespace()
		switch {
		case !known:
			if opts.Scope != nil {
				ps.add(o.problem(RuleUnknownKind,
					fmt.Sprintf("the cluster does not serve %s %s and no CustomResourceDefinition in the push defines it", gvk.GroupVersion(), gvk.Kind),
					"check apiVersion and kind for typos, or add the CRD"))
				continue
			}
		case namespaced && ns == "":
			if opts.DefaultNamespace == "" {
				ps.add(o.problem(RuleNamespace, "namespaced object without metadata.namespace, and the environment has no default namespace",
					"set metadata.namespace, or namespace: for the environment in repos.yaml"))
				continue
			}
			o.SetNamespace(opts.DefaultNamespace)
		case !namespaced && ns != "":
			ps.add(o.problem(RuleClusterScoped, fmt.Sprintf("%s is cluster-scoped but sets metadata.namespace %q", gvk.Kind, ns),
				"remove metadata.namespace"))
			continue
		}
		id := objectKey(o.Unstructured)
		if first, dup := seen[id]; dup {
			ps.add(o.problem(RuleDuplicate, "duplicate object, first defined at "+first.String(),
				"keep one definition; kustomize overlays should patch rather than redefine"))
			continue
		}
		seen[id] = o.Source
		kept = append(kept, o)
	}
	return kept
}

func (o Object) problem(rule, msg, hint string) Problem {
	return Problem{File: o.Source.File, Line: o.Source.Line, Object: ObjectName(o.Unstructured), Rule: rule, Message: msg, Hint: hint}
}

// wellFormed checks apiVersion, kind and metadata.name.
func wellFormed(o Object, ps *problems) bool {
	var missing []string
	for _, f := range []string{"apiVersion", "kind"} {
		if s, ok := o.Object[f].(string); !ok || s == "" {
			missing = append(missing, f)
		}
	}
	if md, ok := o.Object["metadata"]; ok {
		if _, isMap := md.(map[string]any); !isMap {
			ps.add(o.problem(RuleMissingField, "metadata is not a mapping", ""))
			return false
		}
	}
	_, generated, _ := unstructured.NestedString(o.Object, "metadata", "generateName")
	if name, _, _ := unstructured.NestedString(o.Object, "metadata", "name"); name == "" && !(generated && isHook(o)) {
		missing = append(missing, "metadata.name")
	}
	if len(missing) == 0 {
		if _, err := schema.ParseGroupVersion(o.GetAPIVersion()); err != nil {
			ps.add(o.problem(RuleMissingField, fmt.Sprintf("invalid apiVersion %q", o.GetAPIVersion()), "write group/version, or v1 for the core group"))
			return false
		}
		return true
	}
	hint := "every object needs apiVersion, kind and metadata.name"
	if generated {
		hint = "generateName is for hooks only (annotation argocd.argoproj.io/hook: PreSync, Sync or PostSync); give other objects a name"
	}
	ps.add(o.problem(RuleMissingField, "missing "+strings.Join(missing, ", "), hint))
	return false
}

// isHook says whether o is a hook (Argo CD's or Helm's): created at its phase of the
// sync, not applied, so it may have a generateName instead of a name.
func isHook(o Object) bool {
	ann := o.GetAnnotations()
	_, argo := ann["argocd.argoproj.io/hook"]
	_, helm := ann["helm.sh/hook"]
	return argo || helm
}

// objectKey identifies an object for duplicate detection: the version does not matter.
func objectKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + u.GetNamespace() + "/" + u.GetName() + "/" + u.GetGenerateName()
}

// crdScopes reads the scope of the kinds defined by CustomResourceDefinitions in the
// push, so that their objects are checked before the CRD exists in the cluster.
func crdScopes(objs []Object) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" || !strings.HasPrefix(o.GetAPIVersion(), "apiextensions.k8s.io/") {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		sc, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		if kind != "" {
			out[schema.GroupKind{Group: group, Kind: kind}] = sc != "Cluster"
		}
	}
	return out
}

// Scope answers, for the objects of one render, whether a kind is namespaced as Render
// decides it: the push's own CustomResourceDefinitions first, then fn (the cluster's; nil:
// offline, Kubernetes' own kinds).
func Scope(objs []Object, fn ScopeFunc) ScopeFunc {
	crds := crdScopes(objs)
	return func(gvk schema.GroupVersionKind) (bool, bool) { return scope(gvk, crds, fn) }
}

func scope(gvk schema.GroupVersionKind, crds map[schema.GroupKind]bool, fn ScopeFunc) (namespaced, known bool) {
	if ns, ok := crds[gvk.GroupKind()]; ok {
		return ns, true
	}
	if fn != nil {
		return fn(gvk)
	}
	return builtinScope(gvk.GroupKind())
}
