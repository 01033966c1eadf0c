package kube

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestOwnerLabelValue(t *testing.T) {
	cases := map[Owner]string{
		{Repo: "shop", Env: "prod"}: "shop.prod",
		{Repo: "a_b-c", Env: "E1"}:  "a_b-c.E1",
	}
	for o, want := range cases {
		if got := o.LabelValue(); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
	hashed := regexp.MustCompile(`(^|-)[0-9a-f]{10}$`)
	seen := map[string]Owner{}
	for _, o := range []Owner{
		{Repo: "team/shop", Env: "prod"},
		{Repo: "team-shop", Env: "prod"}, // would collide with the one above without the hash
		{Repo: strings.Repeat("long", 30), Env: "prod"},
		{Repo: "-_.", Env: "."},
		{Repo: "ünïcode", Env: "prod"},
	} {
		v := o.LabelValue()
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%+v: %q invalid: %v", o, v, errs)
		}
		if o.Repo != "team-shop" && !hashed.MatchString(v) {
			t.Errorf("%+v: %q changed without a hash", o, v)
		}
		if prev, dup := seen[v]; dup {
			t.Errorf("%+v and %+v share %q", o, prev, v)
		}
		seen[v] = o
		if n := InventoryName(o); len(validation.IsDNS1123Subdomain(n)) > 0 {
			t.Errorf("inventory name %q invalid", n)
		}
	}
}

func TestOwnerStamp(t *testing.T) {
	obj := objs(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {app: x}}\n")[0]
	o := Owner{Repo: "shop", Env: "prod", Commit: "0123abc"}
	o.Stamp(obj)
	if !o.Owns(obj) || obj.GetLabels()["app"] != "x" {
		t.Errorf("labels %v", obj.GetLabels())
	}
	if a := obj.GetAnnotations(); a[CommitAnnotation] != "0123abc" || a[RepoAnnotation] != "shop" || a[EnvAnnotation] != "prod" {
		t.Errorf("annotations %v", a)
	}
	if (Owner{Repo: "shop", Env: "staging"}).Owns(obj) {
		t.Error("another environment owns it")
	}
}
