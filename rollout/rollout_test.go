package rollout

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/config"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		total          int64
		weight         int
		canary, stable int64
	}{
		{4, 25, 1, 3}, {4, 50, 2, 2}, {4, 10, 1, 3}, {3, 50, 2, 1}, {1, 10, 1, 0}, {10, 99, 10, 0}, {0, 50, 1, 0},
	} {
		if c1, s1 := split(c.total, c.weight); c1 != c.canary || s1 != c.stable {
			t.Errorf("split(%d, %d%%) = %d+%d, want %d+%d", c.total, c.weight, c1, s1, c.canary, c.stable)
		}
	}
}

func TestDescribe(t *testing.T) {
	steps := []config.Step{{Weight: 20, Pause: &config.Pause{Duration: time.Minute}}, {Weight: 50, Pause: &config.Pause{Gate: true}}, {Weight: 100}}
	if got, want := Describe(config.Rollout{Strategy: config.RolloutCanary, Steps: steps}), "canary 20% 1m0s, 50% {}, 100%"; got != want {
		t.Errorf("Describe: %q, want %q", got, want)
	}
	if CanaryName("web") != "web-canary" {
		t.Errorf("CanaryName")
	}
}

func obj(kind, ns, name string, ann map[string]string) *unstructured.Unstructured {
	api := "v1"
	if kind == "Deployment" {
		api = "apps/v1"
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": api, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}}}
	if ann != nil {
		u.SetAnnotations(ann)
	}
	return u
}

// TestNameClashes: git may not hold an object whose name a release would create and then
// delete: NAME-canary or NAME-preview next to a released Deployment, SVC-preview next to
// a Service. One that opts out of releases, or sits in another namespace, clashes with
// nothing.
func TestNameClashes(t *testing.T) {
	got := NameClashes([]*unstructured.Unstructured{
		obj("Deployment", "web", "shop", nil),
		obj("Deployment", "web", "shop-canary", nil),
		obj("Deployment", "web", "cart", map[string]string{StrategyAnnotation: "none"}),
		obj("Deployment", "web", "cart-preview", nil),
		obj("Deployment", "other", "shop-preview", nil),
		obj("Service", "web", "shop", nil),
		obj("Service", "web", "shop-preview", nil),
		obj("ConfigMap", "web", "shop-canary", nil),
	})
	want := []string{
		"Deployment web/shop-canary has the name a release of Deployment shop would take",
		"Service web/shop-preview has the name a blue-green release of Service shop would take",
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("clashes:\n%q\nwant\n%q", got, want)
	}
}
