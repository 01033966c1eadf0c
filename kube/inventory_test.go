package kube

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestInventoryPureFunctions(t *testing.T) {
	a := ObjectID{Kind: "ConfigMap", Namespace: "ns", Name: "a"}
	b := ObjectID{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "b"}
	crd := ObjectID{Group: crdGroup, Kind: "CustomResourceDefinition", Name: "widgets.example.com"}
	old := NewInventory(b, a, crd, a)
	if len(old.IDs) != 3 {
		t.Fatalf("duplicates kept: %v", old.IDs)
	}
	cur := NewInventory(a)
	if got := Stale(old, cur); !reflect.DeepEqual(got, []ObjectID{crd, b}) {
		t.Errorf("stale %v", got)
	}
	if got := Stale(cur, old); len(got) != 0 {
		t.Errorf("stale of a subset %v", got)
	}
	if u := cur.Union(NewInventory(b)); !u.Contains(a) || !u.Contains(b) || u.Contains(crd) {
		t.Errorf("union %v", u.IDs)
	}
	back, err := DecodeInventory(old.Encode())
	if err != nil || !reflect.DeepEqual(back, old) {
		t.Errorf("round trip %v %v", back, err)
	}
	if _, err := DecodeInventory("ConfigMap/a\n"); err == nil {
		t.Error("bad line accepted")
	}
}

func TestInventoryInCluster(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	// Unique per run: the API server outlives a test run with -count.
	repo := "shop/App-" + kubetest.Namespace(t)
	o := Owner{Repo: repo, Env: "prod_eu"}
	if _, found, err := c.ReadInventory(ctx, o); err != nil || found {
		t.Fatalf("fresh inventory found=%v err=%v", found, err)
	}
	inv := NewInventory(ObjectID{Kind: "ConfigMap", Namespace: "x", Name: "a"}, ObjectID{Kind: "Namespace", Name: "x"})
	for i := 0; i < 2; i++ { // the second write updates in place
		if err := c.WriteInventory(ctx, o, inv); err != nil {
			t.Fatal(err)
		}
	}
	got, found, err := c.ReadInventory(ctx, o)
	if err != nil || !found || !reflect.DeepEqual(got, inv) {
		t.Fatalf("read back %v found=%v err=%v", got, found, err)
	}
	// Another environment of the same repo has its own.
	if _, found, _ := c.ReadInventory(ctx, Owner{Repo: repo, Env: "staging"}); found {
		t.Error("inventories shared between environments")
	}
	if n := InventoryName(o); strings.ContainsAny(n, "/_A") || len(n) > 253 {
		t.Errorf("invalid name %q", n)
	}
}
