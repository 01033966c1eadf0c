package controlplane_test

import (
	"context"
	"os/exec"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// TestConfigMapCreateGetApply talks to the real kube-apiserver: create, get, and a
// server-side apply that changes a field and records gitopsd as its manager.
func TestConfigMapCreateGetApply(t *testing.T) {
	cs := kubetest.Client(t, kubetest.Config(t))
	ns := kubetest.Namespace(t)
	ctx := context.Background()

	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Data:       map[string]string{"greeting": "hello"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil || got.Data["greeting"] != "hello" {
		t.Fatalf("get: %v %v", got, err)
	}

	applied, err := cs.CoreV1().ConfigMaps(ns).Apply(ctx,
		corev1apply.ConfigMap("demo", ns).WithData(map[string]string{"greeting": "bonjour"}),
		metav1.ApplyOptions{FieldManager: "gitopsd", Force: true})
	if err != nil {
		t.Fatalf("server-side apply: %v", err)
	}
	if applied.Data["greeting"] != "bonjour" {
		t.Errorf("apply did not change the field: %v", applied.Data)
	}
	managed := false
	for _, mf := range applied.ManagedFields {
		if mf.Manager == "gitopsd" && mf.Operation == metav1.ManagedFieldsOperationApply {
			managed = true
		}
	}
	if !managed {
		t.Errorf("gitopsd is not recorded as an apply manager: %+v", applied.ManagedFields)
	}
	t.Logf("real kube-apiserver at %s: created, read and server-side applied configmap %s/demo", kubetest.Config(t).Host, ns)
}

// TestKubeconfig checks the written kubeconfig works through client-go's loader, the way
// gitopsd and kubectl read it, and reports the pinned version (Helm's kubeVersion checks
// depend on it).
func TestKubeconfig(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("list namespaces through the kubeconfig: %v", err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("server version %q, want v1.37.2 (testbed ldflags)", v.GitVersion)
	}
	if path, err := exec.LookPath(kubetest.BinDir() + "/kubectl"); err == nil {
		out, err := exec.Command(path, "--kubeconfig", cp.Kubeconfig, "get", "ns", "default", "-o", "name").CombinedOutput()
		if err != nil || string(out) != "namespace/default\n" {
			t.Errorf("kubectl through the kubeconfig: %v %s", err, out)
		}
	}
}

// TestRestartAPIServer stops the API server and starts it again on the same address with
// the same data, as the reconcile tests do to make a cluster unreachable for a while.
func TestRestartAPIServer(t *testing.T) {
	cp := kubetest.Own(t)
	cs := kubetest.Client(t, cp.Config)
	ctx := context.Background()
	ns := kubetest.NamespaceIn(t, cp.Config)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kept", metav1.GetOptions{}); err == nil {
		t.Fatal("the API server still answers after StopAPIServer")
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("data lost across the restart: %v", err)
	}
}
