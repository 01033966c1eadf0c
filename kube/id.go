package kube

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/objname"
)

// ObjectID names an object independently of its API version, so that an inventory
// written while a kind was served as v1beta1 still matches it once it is v1.
type ObjectID struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// IDOf returns the ID of obj.
func IDOf(obj *unstructured.Unstructured) ObjectID {
	gvk := obj.GroupVersionKind()
	return ObjectID{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupKind returns the ID's group and kind.
func (id ObjectID) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: id.Group, Kind: id.Kind}
}

// String is the canonical form "group/Kind/namespace/name" (group and namespace may be
// empty). Names and namespaces cannot contain "/", so ParseObjectID reads it back.
func (id ObjectID) String() string {
	return id.Group + "/" + id.Kind + "/" + id.Namespace + "/" + id.Name
}

// Short is the form people read: "Kind/namespace/name" or "Kind/name", with the group
// after the kind when it is not the core group ("Deployment.apps/web/api"); the same as
// render.ObjectName (both are objname.Short).
func (id ObjectID) Short() string {
	return objname.Short(id.Group, id.Kind, id.Namespace, id.Name)
}

// ParseObjectID reads the String form.
func ParseObjectID(s string) (ObjectID, error) {
	p := strings.Split(s, "/")
	if len(p) != 4 || p[1] == "" || p[3] == "" {
		return ObjectID{}, fmt.Errorf("%w: %q (want group/Kind/namespace/name)", ErrBadObjectID, s)
	}
	return ObjectID{Group: p[0], Kind: p[1], Namespace: p[2], Name: p[3]}, nil
}

// SortIDs sorts ids by their canonical form, for stable output and inventories.
func SortIDs(ids []ObjectID) {
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
}

func idLess(a, b ObjectID) bool {
	if a.Group != b.Group {
		return a.Group < b.Group
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}
