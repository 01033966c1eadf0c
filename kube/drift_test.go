package kube

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestDrift(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, kubetest.Config(t))
	owner := Owner{Repo: "shop", Env: "prod", Commit: "c1"}
	aopts := DefaultApplyOptions()
	aopts.Owner = &owner
	desired := objs(t, configMap(ns, "edited", "a"), configMap(ns, "other", "a"), configMap(ns, "deleted", "a"),
		deployment(ns, "web", "nginx:1.25"))
	if r := mustApply(t, c, desired, aopts); r.HasFailed() {
		t.Fatal(r.Failed())
	}

	// A kubectl-edit style update of a field gitopsd manages.
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "edited", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["key"] = "by-hand"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	// Another manager adds a field gitopsd does not set: not drift.
	other, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "other", metav1.GetOptions{})
	other.Data["extra"] = "x"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, other, metav1.UpdateOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "deleted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Scale the Deployment by hand; ignored by path below.
	dep, _ := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	three := int32(3)
	dep.Spec.Replicas = &three
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{FieldManager: "hpa"}); err != nil {
		t.Fatal(err)
	}

	// The next commit: its annotation alone is not drift.
	next := owner
	next.Commit = "c2"
	dopts := DefaultDriftOptions()
	dopts.Owner = &next
	r, err := c.Drift(ctx, desired, dopts)
	if err != nil {
		t.Fatal(err)
	}
	ch := wantAction(t, r, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "edited"}, Configured)
	// A correction would take it back from kubectl-edit (From), the manager that has it now.
	want := FieldChange{Path: ".data.key", Old: `"by-hand"`, New: `"a"`, Manager: "kubectl-edit", From: "kubectl-edit"}
	if len(ch.Fields) != 1 || ch.Fields[0] != want {
		t.Errorf("edited: %v, want %v", ch.Fields, want)
	}
	wantAction(t, r, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "other"}, Unchanged)
	wantAction(t, r, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "deleted"}, Created)
	ch = wantAction(t, r, ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].Path != ".spec.replicas" || ch.Fields[0].Manager != "hpa" {
		t.Errorf("deployment: %v", ch.Fields)
	}

	dopts.IgnorePaths = []string{".spec.replicas"}
	r, _ = c.Drift(ctx, desired, dopts)
	wantAction(t, r, ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}, Unchanged)
	dopts.IgnorePaths = nil
	dopts.IgnoreManagers = []string{"hpa"}
	r, _ = c.Drift(ctx, desired, dopts)
	wantAction(t, r, ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}, Unchanged)

	// Correcting: a forced apply takes the field back; the scan is then clean.
	aopts.Force = true
	if r := mustApply(t, c, desired, aopts); r.HasFailed() {
		t.Fatal(r.Failed())
	}
	r, _ = c.Drift(ctx, desired, DriftOptions{Owner: &owner})
	if r.Count(Unchanged) != len(desired) {
		t.Errorf("after correction: %v", r.Changes)
	}
	got, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "other", metav1.GetOptions{})
	if got.Data["extra"] != "x" {
		t.Errorf("another manager's field was removed: %v", got.Data)
	}
}
