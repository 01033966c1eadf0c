package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

const crdGroup = "apiextensions.k8s.io"

func isCRD(id ObjectID) bool { return id.Group == crdGroup && id.Kind == "CustomResourceDefinition" }

func isNamespace(id ObjectID) bool { return id.Group == "" && id.Kind == "Namespace" }

// crdInfo is what a CustomResourceDefinition of the batch says about its kind.
type crdInfo struct {
	item       *item
	namespaced bool
	served     map[string]bool
}

// batchCRDs indexes the batch's CRDs by the group/kind they define.
func batchCRDs(items []*item) map[schema.GroupKind]*crdInfo {
	out := map[schema.GroupKind]*crdInfo{}
	for _, it := range items {
		if !isCRD(it.id) {
			continue
		}
		group, _, _ := unstructured.NestedString(it.obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(it.obj.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(it.obj.Object, "spec", "scope")
		info := &crdInfo{item: it, namespaced: scope != "Cluster", served: map[string]bool{}}
		versions, _, _ := unstructured.NestedSlice(it.obj.Object, "spec", "versions")
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			name, _ := vm["name"].(string)
			if served, _ := vm["served"].(bool); served {
				info.served[name] = true
			}
		}
		out[schema.GroupKind{Group: group, Kind: kind}] = info
	}
	return out
}

// checkPending settles, in a dry run, an object whose kind the cluster does not serve.
// If a CRD of the batch defines it, the server cannot check it before the CRD exists;
// what can be checked here is that the CRD serves its version and its namespace matches
// the CRD's scope.
func (c *Client) checkPending(it *item, crds map[schema.GroupKind]*crdInfo) {
	gvk := it.obj.GroupVersionKind()
	info := crds[gvk.GroupKind()]
	switch {
	case info == nil:
		it.fail(fmt.Errorf("%w: %s", ErrUnknownKind, gvk), unknownKindMessage(gvk))
	case info.item.change.Action == Failed:
		it.fail(info.item.change.Err, fmt.Sprintf("its CustomResourceDefinition %s failed", info.item.id.Name))
	case !info.served[gvk.Version]:
		it.fail(fmt.Errorf("%w: %s", ErrUnknownKind, gvk),
			fmt.Sprintf("CustomResourceDefinition %s does not serve version %s", info.item.id.Name, gvk.Version))
	case info.namespaced && it.obj.GetNamespace() == "":
		it.fail(ErrNoNamespace, fmt.Sprintf("%s is namespaced (CustomResourceDefinition %s) and has no namespace", gvk.Kind, info.item.id.Name))
	default:
		if !info.namespaced {
			it.obj.SetNamespace("")
			it.id.Namespace = ""
		}
		problems, err := validateAgainstCRD(info.item.obj, gvk.Version, it.obj)
		if err != nil {
			it.fail(err, err.Error())
			return
		}
		if len(problems) > 0 {
			it.fail(fmt.Errorf("dry-run %s: invalid", it.id.Short()), invalidMessage(it, problems))
			return
		}
		it.change = Change{ID: it.id, Action: Created,
			Message: fmt.Sprintf("checked against the schema of CustomResourceDefinition %s, which this batch creates; admission runs at apply", info.item.id.Name)}
		it.done = true
	}
}

func unknownKindMessage(gvk schema.GroupVersionKind) string {
	return fmt.Sprintf("the cluster serves no %s in %s (is its CustomResourceDefinition installed?)", gvk.Kind, gvk.GroupVersion())
}

// resolvePending waits, in a real apply, for the batch's CRDs to be Established and their
// kinds to appear in discovery, then binds the pending objects. It returns those ready to
// apply; the others are failed.
func (c *Client) resolvePending(ctx context.Context, pending, first []*item, crds map[schema.GroupKind]*crdInfo, opts ApplyOptions) []*item {
	var crdItems []*item
	for _, it := range first {
		if isCRD(it.id) && it.change.Action != Failed {
			crdItems = append(crdItems, it)
		}
	}
	established := map[*item]error{}
	errs := make([]error, len(crdItems))
	forEach(len(crdItems), opts.Concurrency, func(i int) {
		errs[i] = c.waitEstablished(ctx, crdItems[i], opts.CRDTimeout)
	})
	for i, it := range crdItems {
		established[it] = errs[i]
	}
	c.mapper.forget()

	var ready []*item
	for _, it := range pending {
		gvk := it.obj.GroupVersionKind()
		info := crds[gvk.GroupKind()]
		if info == nil {
			it.fail(fmt.Errorf("%w: %s", ErrUnknownKind, gvk), unknownKindMessage(gvk))
			continue
		}
		if info.item.change.Action == Failed {
			it.fail(info.item.change.Err, fmt.Sprintf("its CustomResourceDefinition %s failed", info.item.id.Name))
			continue
		}
		if err := established[info.item]; err != nil {
			it.fail(err, fmt.Sprintf("its CustomResourceDefinition %s: %v", info.item.id.Name, err))
			continue
		}
		m, err := c.waitServed(ctx, gvk, opts.CRDTimeout)
		if err != nil {
			it.fail(err, unknownKindMessage(gvk))
			continue
		}
		c.bind(it, m)
		if !it.done {
			ready = append(ready, it)
		}
	}
	return ready
}

// crdPoll is how often CRD establishment and discovery are polled: CRDs usually become
// Established within a second.
const crdPoll = 200 * time.Millisecond

func (c *Client) waitEstablished(ctx context.Context, it *item, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, crdPoll, timeout, true, func(ctx context.Context) (bool, error) {
		crd, err := it.ri.Get(ctx, it.obj.GetName(), metav1.GetOptions{})
		if err != nil {
			last = apiMessage(err)
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cnd := range conds {
			m, _ := cnd.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
			if m["type"] == "NamesAccepted" && m["status"] == "False" {
				last, _ = m["message"].(string)
			}
		}
		return false, nil
	})
	if err != nil {
		if last != "" {
			return fmt.Errorf("%w after %v: %s", ErrCRDNotEstablished, timeout, last)
		}
		return fmt.Errorf("%w after %v", ErrCRDNotEstablished, timeout)
	}
	return nil
}

// waitServed polls discovery until gvk is served: a CRD is Established a moment before
// discovery lists it.
func (c *Client) waitServed(ctx context.Context, gvk schema.GroupVersionKind, timeout time.Duration) (*meta.RESTMapping, error) {
	var m *meta.RESTMapping
	err := wait.PollUntilContextTimeout(ctx, crdPoll, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		m, err = c.mapper.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			return true, nil
		}
		if !meta.IsNoMatchError(err) {
			return false, err
		}
		c.mapper.forget()
		return false, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err) {
			return nil, fmt.Errorf("%w: %s not served after %v", ErrUnknownKind, gvk, timeout)
		}
		return nil, err
	}
	return m, nil
}
