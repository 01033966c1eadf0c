package kube

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// liveState is what readLive found for one ID: the object, nil when it does not exist,
// or the error that kept it from being read.
type liveState struct {
	obj *unstructured.Unstructured
	err error
}

// readLive reads the live objects of ids at their kinds' preferred versions, with one
// LIST per kind and namespace when at least threshold IDs share them (zero: never) and
// one GET each otherwise.
func (c *Client) readLive(ctx context.Context, ids []ObjectID, threshold, conc int) map[ObjectID]liveState {
	out := make(map[ObjectID]liveState, len(ids))
	var mu sync.Mutex
	set := func(id ObjectID, s liveState) {
		mu.Lock()
		out[id] = s
		mu.Unlock()
	}
	items := make([]*item, 0, len(ids))
	for _, id := range ids {
		ri, m, err := c.resourceForID(id)
		if err != nil {
			set(id, liveState{err: err})
			continue
		}
		items = append(items, &item{id: id, ri: ri, mapping: m, obj: stub(id)})
	}
	c.prefetch(ctx, items, ApplyOptions{PrefetchThreshold: threshold})
	forEach(len(items), conc, func(i int) {
		it := items[i]
		if it.liveKnown {
			set(it.id, liveState{obj: it.live})
			return
		}
		obj, err := it.ri.Get(ctx, it.id.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			set(it.id, liveState{})
		case err != nil:
			set(it.id, liveState{err: fmt.Errorf("get %s: %w", it.id.Short(), err)})
		default:
			set(it.id, liveState{obj: obj})
		}
	})
	return out
}

// stub is an object carrying only what prefetch groups by: name and namespace.
func stub(id ObjectID) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetName(id.Name)
	u.SetNamespace(id.Namespace)
	return u
}
