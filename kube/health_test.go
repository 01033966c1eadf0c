package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestHealthConfigMapCurrentDeploymentTimesOut(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	ns := kubetest.Namespace(t)
	cs := mustApply(t, c, objs(t, configMap(ns, "cm", "1"), deployment(ns, "web", "nginx:1.25")), DefaultApplyOptions())
	cm, dep := cs.Changes[0].ID, cs.Changes[1].ID

	r, err := c.WaitHealthy(ctx, []ObjectID{cm}, HealthOptions{Timeout: 10 * time.Second, Interval: 100 * time.Millisecond})
	if err != nil || !r.Healthy() || r.TimedOut {
		t.Fatalf("configmap: %+v %v", r, err)
	}
	if !strings.HasPrefix(r.Summary(), "healthy: 1 current in ") {
		t.Errorf("summary %q", r.Summary())
	}

	// No controller runs in the test API server: the Deployment never rolls out.
	start := time.Now()
	r, err = c.WaitHealthy(ctx, []ObjectID{cm, dep}, HealthOptions{Timeout: 1500 * time.Millisecond, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Healthy() || !r.TimedOut || time.Since(start) > 10*time.Second {
		t.Fatalf("deployment: %+v", r)
	}
	if nr := r.NotReady(); len(nr) != 1 || nr[0].ID != dep || nr[0].Status != InProgress {
		t.Errorf("not ready %+v", nr)
	}
	if s := r.Summary(); !strings.Contains(s, "(timeout): 1 current, 1 inprogress") {
		t.Errorf("summary %q", s)
	}

	r, _ = c.WaitHealthy(ctx, []ObjectID{{Kind: "ConfigMap", Namespace: ns, Name: "missing"}}, HealthOptions{Timeout: 500 * time.Millisecond, Interval: 100 * time.Millisecond})
	if r.Objects[0].Status != NotFound {
		t.Errorf("missing object %+v", r.Objects[0])
	}
}

func TestHealthCustomResourceConditions(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	ns := kubetest.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	cr := fmt.Sprintf("apiVersion: %s/v1\nkind: Gadget\nmetadata: {name: g, namespace: %s}\nspec: {size: 1}\n", group, ns)
	cs := mustApply(t, c, objs(t, fmt.Sprintf(crdYAML, "gadget", group, "Gadget"), cr), DefaultApplyOptions())
	if cs.HasFailed() {
		t.Fatal(cs.Failed())
	}
	id := cs.Changes[1].ID
	ri := c.Dynamic().Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}).Namespace(ns)
	setCondition := func(typ string) {
		t.Helper()
		obj, err := ri.Get(ctx, "g", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds := []any{map[string]any{"type": typ, "status": "True", "reason": "Test", "message": typ + " set by the test"}}
		if err := unstructured.SetNestedSlice(obj.Object, conds, "status", "conditions"); err != nil {
			t.Fatal(err)
		}
		if _, err := ri.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	short := HealthOptions{Timeout: time.Second, Interval: 100 * time.Millisecond}

	setCondition("Reconciling")
	r, _ := c.WaitHealthy(ctx, []ObjectID{id}, short)
	if r.Objects[0].Status != InProgress || !r.TimedOut {
		t.Errorf("reconciling: %+v", r)
	}

	// Stalled is kstatus Failed: the wait ends at once, not at the timeout.
	setCondition("Stalled")
	r, _ = c.WaitHealthy(ctx, []ObjectID{id}, HealthOptions{Timeout: time.Minute, Interval: 100 * time.Millisecond})
	if r.Objects[0].Status != HealthFail || r.TimedOut || r.Duration > 30*time.Second {
		t.Errorf("stalled: %+v", r)
	}
	if !strings.Contains(r.Objects[0].Message, "Stalled set by the test") {
		t.Errorf("message %q", r.Objects[0].Message)
	}

	setCondition("Ready")
	r, _ = c.WaitHealthy(ctx, []ObjectID{id}, short)
	if !r.Healthy() {
		t.Errorf("ready: %+v", r)
	}
}
