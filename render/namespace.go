package render

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// WithNamespace returns objs with a Namespace object for ns in front, unless ns is empty
// or objs already hold one. An environment's default namespace is part of what it
// deploys: created on the first push, owned (and guarded against pruning) like the rest.
func WithNamespace(objs []Object, ns string) []Object {
	if ns == "" {
		return objs
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" && o.GetName() == ns {
			return objs
		}
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(ns)
	return append([]Object{{Unstructured: u, Source: Source{File: "(environment namespace)"}}}, objs...)
}
