package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// listPage bounds the objects of one LIST response.
const listPage = 500

type groupKey struct {
	gvr schema.GroupVersionResource
	ns  string
}

// prefetch reads, with one paged LIST per kind and namespace, the live state of items
// that share them with at least opts.PrefetchThreshold others. A failed LIST is not an
// error: those items fall back to a GET each.
func (c *Client) prefetch(ctx context.Context, items []*item, opts ApplyOptions) {
	if opts.PrefetchThreshold <= 0 {
		return
	}
	groups := map[groupKey][]*item{}
	for _, it := range items {
		if it.done || it.mapping == nil {
			continue
		}
		k := groupKey{it.mapping.Resource, it.obj.GetNamespace()}
		groups[k] = append(groups[k], it)
	}
	for k, g := range groups {
		if len(g) < opts.PrefetchThreshold {
			continue
		}
		live, err := c.listAll(ctx, g[0], k)
		if err != nil {
			continue
		}
		for _, it := range g {
			it.live, it.liveKnown = live[it.obj.GetName()], true
		}
	}
}

func (c *Client) listAll(ctx context.Context, sample *item, k groupKey) (map[string]*unstructured.Unstructured, error) {
	out := map[string]*unstructured.Unstructured{}
	gvk := sample.mapping.GroupVersionKind
	opts := metav1.ListOptions{Limit: listPage}
	for {
		l, err := sample.ri.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			o := &l.Items[i]
			// List items come without apiVersion and kind; the diff needs them.
			o.SetGroupVersionKind(gvk)
			out[o.GetName()] = o
		}
		if l.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = l.GetContinue()
	}
}
