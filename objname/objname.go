// Package objname names a Kubernetes object the one way people read it everywhere
// gitopsd speaks of one: in the push's report, the preview, `ssh status`, and logs.
// It is a leaf, so that render (which may import nothing of the project's) and kube name
// an object alike.
package objname

// Short is "Kind.group/namespace/name", or "Kind.group/name" for a cluster-scoped
// object; the core group has no ".group" ("Deployment.apps/web/api", "Namespace/web").
// An empty kind or name, as in a broken manifest, reads "?".
func Short(group, kind, namespace, name string) string {
	if kind == "" {
		kind = "?"
	}
	if name == "" {
		name = "?"
	}
	if group != "" {
		kind += "." + group
	}
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}
