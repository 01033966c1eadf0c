package kube

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestPruneOnlyOwnedAndNotOptedOut(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	ns := kubetest.Namespace(t)
	owner := Owner{Repo: "shop", Env: "prod", Commit: "abc123"}
	opts := DefaultApplyOptions()
	opts.Owner = &owner

	kept := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: " + ns + ", annotations: {gitopsd.dev/prune: disabled}}\n"
	cs := mustApply(t, c, objs(t, configMap(ns, "stays", "1"), configMap(ns, "goes", "1"), kept), opts)
	old := InventoryOf(cs)

	// Not gitopsd's: same kind, same namespace, no label.
	mustApply(t, c, objs(t, configMap(ns, "unowned", "1")), DefaultApplyOptions())
	// Another environment's.
	other := Owner{Repo: "shop", Env: "staging"}
	oopts := DefaultApplyOptions()
	oopts.Owner = &other
	mustApply(t, c, objs(t, configMap(ns, "theirs", "1")), oopts)

	cs = mustApply(t, c, objs(t, configMap(ns, "stays", "1")), opts)
	cur := InventoryOf(cs)
	stale := Stale(old, cur)
	// The inventory says nothing of "unowned" and "theirs"; ask to prune them anyway, as a
	// corrupted or hand-edited inventory might, to see the label check hold.
	stale = append(stale, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "unowned"},
		ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "theirs"},
		ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "never-existed"})

	dry := DefaultPruneOptions(owner)
	dry.DryRun = true
	pcs, err := c.Prune(ctx, stale, dry)
	if err != nil {
		t.Fatal(err)
	}
	wantAction(t, pcs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "goes"}, Deleted)
	if _, err := kubetest.Client(t, kubetest.Config(t)).CoreV1().ConfigMaps(ns).Get(ctx, "goes", metav1.GetOptions{}); err != nil {
		t.Fatalf("dry-run prune deleted: %v", err)
	}

	pcs, err = c.Prune(ctx, stale, DefaultPruneOptions(owner))
	if err != nil {
		t.Fatal(err)
	}
	wantAction(t, pcs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "goes"}, Deleted)
	wantAction(t, pcs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "kept"}, Skipped)
	wantAction(t, pcs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "unowned"}, Skipped)
	ch := wantAction(t, pcs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "theirs"}, Skipped)
	if ch.Message != "owned by environment shop/staging" {
		t.Errorf("message %q", ch.Message)
	}
	wantAction(t, pcs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "never-existed"}, Skipped)

	cms, err := kubetest.Client(t, kubetest.Config(t)).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, cm := range cms.Items {
		left[cm.Name] = true
	}
	for name, want := range map[string]bool{"stays": true, "goes": false, "kept": true, "unowned": true, "theirs": true} {
		if left[name] != want {
			t.Errorf("%s present=%v, want %v", name, left[name], want)
		}
	}
}

func TestPruneOrdersNamespacesLast(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	ns := kubetest.Namespace(t) + "-own"
	owner := Owner{Repo: "r", Env: "e"}
	opts := DefaultApplyOptions()
	opts.Owner = &owner
	cs := mustApply(t, c, objs(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n", configMap(ns, "in", "1")), opts)
	if cs.HasFailed() {
		t.Fatal(cs.Failed())
	}
	ids := InventoryOf(cs).IDs // sorted: Namespace after ConfigMap by kind, so reverse it
	ids = []ObjectID{ids[1], ids[0]}
	pcs, err := c.Prune(ctx, ids, DefaultPruneOptions(owner))
	if err != nil {
		t.Fatal(err)
	}
	if pcs.Changes[0].ID.Kind != "ConfigMap" || pcs.Changes[1].ID.Kind != "Namespace" || pcs.Count(Deleted) != 2 {
		t.Errorf("prune order/result %v", pcs.Changes)
	}
}
