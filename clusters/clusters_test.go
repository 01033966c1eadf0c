package clusters

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/kube"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

func configFor(kubeconfig string) *config.Config {
	return &config.Config{Clusters: map[string]config.Cluster{
		"local": {Kubeconfig: kubeconfig, Context: controlplane.ContextName},
	}}
}

func TestClientAndPing(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	r := New(configFor(cp.Kubeconfig), kube.DefaultClientOptions())
	ctx := context.Background()
	if err := r.Ping(ctx, "local", 5*time.Second); err != nil {
		t.Fatalf("ping: %v", err)
	}
	c1, err := r.Client("local")
	if err != nil {
		t.Fatal(err)
	}
	if namespaced, known, err := c1.Namespaced(kubeGVK("", "v1", "ConfigMap")); err != nil || !known || !namespaced {
		t.Errorf("the client must reach discovery: namespaced=%v known=%v err=%v", namespaced, known, err)
	}
	r.Update(configFor(cp.Kubeconfig))
	if c2, _ := r.Client("local"); c2 != c1 {
		t.Error("an unchanged cluster keeps its client across Update")
	}
	r.Update(&config.Config{Clusters: map[string]config.Cluster{"local": {Kubeconfig: cp.Kubeconfig}}})
	if c3, _ := r.Client("local"); c3 == c1 {
		t.Error("a changed cluster gets a new client")
	}
	if _, err := r.Client("nope"); err == nil {
		t.Error("an unknown cluster is an error")
	}
	if err := New(configFor("/nonexistent/kubeconfig"), kube.DefaultClientOptions()).Ping(ctx, "local", time.Second); err == nil {
		t.Error("a missing kubeconfig must fail the ping")
	}
}

// TestPingFailsWhenAPIServerStops: the ping, and the cached capabilities with it, fail from
// the moment the API server stops.
func TestPingFailsWhenAPIServerStops(t *testing.T) {
	cp := kubetest.Own(t)
	r := New(configFor(cp.Kubeconfig), kube.DefaultClientOptions())
	if err := r.Ping(context.Background(), "local", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Capabilities("local"); err != nil {
		t.Fatal(err)
	}
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := r.Ping(context.Background(), "local", 2*time.Second); err == nil {
		t.Fatal("ping must fail while the API server is down")
	}
	if _, err := r.Capabilities("local"); err == nil {
		t.Fatal("cached capabilities must not be served for a cluster that does not answer")
	}
}

func TestCapabilities(t *testing.T) {
	r := New(configFor(kubetest.ControlPlane(t).Kubeconfig), kube.DefaultClientOptions())
	c, err := r.Capabilities("local")
	if err != nil {
		t.Fatal(err)
	}
	if c.KubeVersion != "v1.37.2" {
		t.Errorf("kube version %q", c.KubeVersion)
	}
	found := false
	for _, v := range c.APIVersions {
		found = found || v == "apps/v1/Deployment"
	}
	if !found {
		t.Errorf("apps/v1/Deployment missing from %d API versions", len(c.APIVersions))
	}
}

// TestEnvClientPerIdentity: an environment without impersonate: gets the cluster's client;
// one with it, a client of its own per identity, kept until its cluster changes, that acts
// as that identity.
func TestEnvClientPerIdentity(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	r := New(configFor(cp.Kubeconfig), kube.DefaultClientOptions())
	plain := config.Environment{Cluster: "local"}
	deployer := config.Environment{Cluster: "local", Impersonate: &config.Impersonate{ServiceAccount: "web/deployer"}}
	ops := config.Environment{Cluster: "local", Impersonate: &config.Impersonate{User: "ops", Groups: []string{"a"}}}
	opsB := config.Environment{Cluster: "local", Impersonate: &config.Impersonate{User: "ops", Groups: []string{"b"}}}

	base, err := r.Client("local")
	if err != nil {
		t.Fatal(err)
	}
	clients := map[*kube.Client]string{}
	for name, env := range map[string]config.Environment{"plain": plain, "deployer": deployer, "ops": ops, "ops with other groups": opsB} {
		c1, err := r.EnvClient(env)
		if err != nil {
			t.Fatal(err)
		}
		if c2, _ := r.EnvClient(env); c2 != c1 {
			t.Errorf("%s: a second call builds another client", name)
		}
		if other, dup := clients[c1]; dup {
			t.Errorf("%s shares the client of %s", name, other)
		}
		clients[c1] = name
	}
	if c, _ := r.EnvClient(plain); c != base {
		t.Error("without impersonate: the cluster's own client")
	}
	before, _ := r.EnvClient(deployer)
	r.Update(&config.Config{Clusters: map[string]config.Cluster{"local": {Kubeconfig: cp.Kubeconfig}}})
	if after, _ := r.EnvClient(deployer); after == before {
		t.Error("a changed cluster gets new impersonating clients")
	}
	if got := Impersonation(deployer.Impersonate); got.UserName != "system:serviceaccount:web:deployer" || len(got.Groups) != 0 {
		t.Errorf("service account: %+v", got)
	}

	// The client acts as the account, which was granted nothing.
	ns := kubetest.Namespace(t)
	cl, _ := r.EnvClient(deployer)
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "namespace": ns}}}
	cs, err := cl.Apply(context.Background(), []*unstructured.Unstructured{u}, kube.DefaultApplyOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Changes) != 1 || cs.Changes[0].Action != kube.Failed || !strings.Contains(cs.Changes[0].Message, `User "system:serviceaccount:web:deployer" cannot`) {
		t.Errorf("want a refusal naming the account: %+v", cs.Changes)
	}
}
