package desired

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}

func TestOptionsCarryEverySetting(t *testing.T) {
	env := config.Environment{Path: "deploy", Namespace: "web"}
	env.Render = config.Render{Type: "helm", Values: []string{"v.yaml"}, Release: "r", Timeout: time.Second, MaxBytes: 42,
		MaxMemory: 256 << 20, MaxCPU: 3 * time.Second}
	if l := Limits(env); l.Memory != 256<<20 || l.CPU != 3*time.Second {
		t.Errorf("limits: %+v", l)
	}
	scope := func(schema.GroupVersionKind) (bool, bool) { return true, true }
	o := Options(env, Cluster{KubeVersion: "v1.37.2", APIVersions: []string{"apps/v1"}, Scope: scope})
	if o.Type != "helm" || o.Path != "deploy" || o.DefaultNamespace != "web" || len(o.ValuesFiles) != 1 || o.Release != "r" ||
		o.Timeout != time.Second || o.MaxBytes != 42 || o.KubeVersion != "v1.37.2" || len(o.APIVersions) != 1 || o.Scope == nil {
		t.Errorf("options lost a setting: %+v", o)
	}
	if Options(env, Cluster{}).Scope != nil {
		t.Error("the zero Cluster is offline: no scope")
	}
}

func TestRenderPutsTheEnvironmentNamespaceFirst(t *testing.T) {
	tree := fstest.MapFS{"deploy/cm.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")}}
	env := config.Environment{Path: "deploy", Namespace: "web"}
	res, err := Render(context.Background(), tree, env, Cluster{})
	if err != nil || !res.OK() {
		t.Fatalf("%v %+v", err, res)
	}
	if len(res.Objects) != 2 || res.Objects[0].GetKind() != "Namespace" || res.Objects[0].GetName() != "web" {
		t.Fatalf("objects %v", res.Objects)
	}
	if cm := res.Objects[1]; cm.GetNamespace() != "web" {
		t.Errorf("configmap namespace %q", cm.GetNamespace())
	}
}
