package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestNamespacedAndDiscoveryRefresh(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	for gvk, want := range map[schema.GroupVersionKind]bool{
		{Version: "v1", Kind: "ConfigMap"}:                                                        true,
		{Version: "v1", Kind: "Namespace"}:                                                        false,
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}:                  false,
		{Group: "apps", Version: "v1", Kind: "Deployment"}:                                        true,
		{Group: crdGroup, Version: "v1", Kind: "CustomResourceDefinition"}:                        false,
		{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:                        true,
		{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"}:                              true,
		{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"}: false,
	} {
		ns, known, err := c.Namespaced(gvk)
		if err != nil || !known || ns != want {
			t.Errorf("%v: namespaced=%v known=%v err=%v, want %v", gvk, ns, known, err, want)
		}
	}

	// A CRD created behind the client's back, after it cached discovery.
	ns := kubetest.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: "Sprocket"}
	if _, known, err := c.Namespaced(gvk); known || err != nil {
		t.Fatalf("unknown kind: known=%v err=%v", known, err)
	}
	other := newClient(t)
	crd := objs(t, fmt.Sprintf(crdYAML, "sprocket", group, "Sprocket"))[0]
	ri, _, err := other.resourceFor(crd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ri.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The first client finds it without being told, by refreshing on the miss.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		namespaced, known, err := c.Namespaced(gvk)
		return known && namespaced, err
	})
	if err != nil {
		t.Fatalf("new CRD never found: %v", err)
	}
}

func TestApplyConflictAndForce(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	id := ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "cm"}
	mustApply(t, c, objs(t, configMap(ns, "cm", "ours")), DefaultApplyOptions())
	theirs := DefaultApplyOptions()
	theirs.FieldManager = "someone-else"
	theirs.Force = true
	theirs.SkipUnchanged = false // the hash annotation is gitopsd's alone
	mustApply(t, c, objs(t, configMap(ns, "cm", "theirs")), theirs)

	ch := wantAction(t, mustApply(t, c, objs(t, configMap(ns, "cm", "ours")), DefaultApplyOptions()), id, Failed)
	if !strings.Contains(ch.Message, `with "someone-else"`) || !strings.Contains(ch.Message, ".data.key") {
		t.Errorf("conflict message %q", ch.Message)
	}
	force := DefaultApplyOptions()
	force.Force = true
	ch = wantAction(t, mustApply(t, c, objs(t, configMap(ns, "cm", "ours")), force), id, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].String() != `.data.key: "theirs" -> "ours" (was someone-else's)` {
		t.Errorf("fields %v", ch.Fields)
	}
}

// TestImpersonate: an impersonating client is bounded by its identity's RBAC (a user with
// no grants may not even read a ConfigMap), and keeps the inventory as gitopsd itself.
func TestImpersonate(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	nobody, err := c.Impersonate(rest.ImpersonationConfig{UserName: "nobody", Groups: []string{"nobodies"}})
	if err != nil {
		t.Fatal(err)
	}
	owner := Owner{Repo: "r", Env: ns}
	opts := DefaultApplyOptions()
	opts.Owner = &owner
	cs, err := nobody.Apply(ctxT(t), objs(t, configMap(ns, "cm", "x")), opts)
	if err != nil {
		t.Fatal(err)
	}
	ch := wantAction(t, cs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "cm"}, Failed)
	var st apierrors.APIStatus
	if !errors.As(ch.Err, &st) || !apierrors.IsForbidden(st.(error)) || !strings.Contains(ch.Message, `is forbidden: User "nobody" cannot get resource "configmaps"`) {
		t.Errorf("want the API's refusal naming the identity: %v / %q", ch.Err, ch.Message)
	}
	if _, err := c.Impersonate(rest.ImpersonationConfig{}); err != nil {
		t.Fatal(err)
	}

	inv := NewInventory(ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "cm"})
	if err := nobody.WriteInventory(ctxT(t), owner, inv); err != nil {
		t.Fatalf("the inventory is written as gitopsd: %v", err)
	}
	got, found, err := nobody.ReadInventory(ctxT(t), owner)
	if err != nil || !found || len(got.IDs) != 1 {
		t.Fatalf("the inventory is read as gitopsd: %v %v %v", got, found, err)
	}
	pcs, err := nobody.Prune(ctxT(t), got.IDs, DefaultPruneOptions(owner))
	if err != nil {
		t.Fatal(err)
	}
	if ch := wantAction(t, pcs, got.IDs[0], Failed); !strings.Contains(ch.Message, `User "nobody" cannot`) {
		t.Errorf("prune as nobody: %q", ch.Message)
	}
}
