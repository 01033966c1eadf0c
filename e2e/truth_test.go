package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// Tests of "git stays the truth": what the door checked is what gets applied.

// TestNamespacedCustomResourceAppliedAsChecked: a namespaced custom resource without
// metadata.namespace, pushed with its CRD, is checked (and previewed) in the environment's
// namespace at the door and applied there. The door and the apply render through one
// function (desired.Render); this guards that they keep agreeing.
func TestNamespacedCustomResourceAppliedAsChecked(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`, group)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 20s}}", ns))
	// The CRD and the widget in one push: the kind is not served yet when the push is
	// rendered, at the door or at the apply.
	d.Commit(t, alice, work, "crd and widget", map[string]string{
		"deploy/crd.yaml":    crd,
		"deploy/widget.yaml": fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n", group),
	})
	out, ok := push(t, d, alice, work, "main")
	if !ok || !strings.Contains(out, "+ Widget."+group+"/"+ns+"/w") || !strings.Contains(out, "ok: applied 3 objects") {
		t.Fatalf("the widget is checked in the environment's namespace and applied there:\n%s", out)
	}
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}).Namespace(ns).Get(context.Background(), "w", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the widget must be applied in %s: %v", ns, err)
	}
	if size, _, _ := unstructuredInt(w.Object, "spec", "size"); size != 3 {
		t.Errorf("widget spec.size %d", size)
	}
	st, _, err := d.SSH(t, alice, nil, "status", ns, "prod")
	if err != nil || strings.Contains(st, "error") {
		t.Errorf("status must show no error: %v\n%s", err, st)
	}
}

func unstructuredInt(obj map[string]any, path ...string) (int64, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[p]
	}
	n, ok := cur.(int64)
	return n, ok, nil
}
