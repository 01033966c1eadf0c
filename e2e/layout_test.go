package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// TestLayoutBranchPerEnvironment: one repo, staging -> cluster A, main -> cluster B;
// promotion is a merge of staging into main, pushed by the one person allowed to.
func TestLayoutBranchPerEnvironment(t *testing.T) {
	a := kubetest.ControlPlane(t)
	b, err := kubetest.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	nsA, nsB := kubetest.NamespaceIn(t, a.Config), kubetest.NamespaceIn(t, b.Config)
	csA, csB := kubetest.Client(t, a.Config), kubetest.Client(t, b.Config)
	alice, bob := gittest.NewKey(t, "alice"), gittest.NewKey(t, "bob")
	d := gittest.Start(t, gittest.Users(alice, bob)+"clusters:\n"+cluster("a", a)+cluster("b", b)+fmt.Sprintf(`repos:
  platform:
    write: [alice, bob]
    environments:
      staging: {branch: staging, cluster: a, path: deploy, namespace: %s}
      production: {branch: main, cluster: b, path: deploy, namespace: %s, push: [alice]}
`, nsA, nsB))

	work := d.Clone(t, bob, "platform")
	d.MustGit(t, bob, work, "checkout", "-q", "-b", "staging")
	d.Commit(t, bob, work, "v1", map[string]string{"deploy/app.yaml": cmYAML("app", "v1")})
	if out, ok := push(t, d, bob, work, "staging"); !ok || !hasWords(out, "platform/staging: ok: applied") {
		t.Fatalf("bob deploys staging:\n%s", out)
	}
	if v := configMapValue(csA, nsA, "app", "value"); v != "v1" {
		t.Fatalf("cluster a: %q", v)
	}
	if v := configMapValue(csB, nsB, "app", "value"); !strings.Contains(v, "not found") {
		t.Fatalf("cluster b must not see staging's commit yet: %q", v)
	}

	// bob may not promote: main is alice's.
	out, ok := push(t, d, bob, work, "main")
	refusedBy(t, out, ok, "ref-permission")

	// alice promotes by merging staging into main.
	aw := d.Clone(t, alice, "platform")
	d.MustGit(t, alice, aw, "fetch", "-q", "origin", "staging")
	d.MustGit(t, alice, aw, "checkout", "-q", "-b", "main")
	d.MustGit(t, alice, aw, "merge", "-q", "--ff-only", "origin/staging")
	if out, ok := push(t, d, alice, aw, "main"); !ok || !hasWords(out, "platform/production: ok: applied") {
		t.Fatalf("alice promotes to production:\n%s", out)
	}
	if v := configMapValue(csB, nsB, "app", "value"); v != "v1" {
		t.Fatalf("cluster b after promotion: %q", v)
	}
	cm, err := csB.CoreV1().ConfigMaps(nsB).Get(context.Background(), "app", metav1.GetOptions{})
	if err != nil || cm.Annotations["gitopsd.dev/environment"] != "production" {
		t.Errorf("production's objects say who owns them: %v %v", cm.GetAnnotations(), err)
	}
}

// TestLayoutAppAndEnvironmentRepos: developers write the application repo, which deploys
// nothing; only the release manager writes the environment repo, where bumping an image
// tag deploys it.
func TestLayoutAppAndEnvironmentRepos(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	dev, rel := gittest.NewKey(t, "dev"), gittest.NewKey(t, "rel")
	d := gittest.Start(t, gittest.Users(dev, rel)+"clusters:\n"+cluster("prod", cp)+fmt.Sprintf(`repos:
  app:
    read: [rel]
    write: [dev]
  env-production:
    read: [dev]
    write: [rel]
    environments:
      production: {branch: main, cluster: prod, path: ., namespace: %s, apply: {health_timeout: 3s}}
`, ns))

	appWork := d.Clone(t, dev, "app")
	d.Commit(t, dev, appWork, "feature", map[string]string{"main.go": "package main\n"})
	if out, ok := push(t, d, dev, appWork, "main"); !ok || hasWords(out, "deploying") {
		t.Fatalf("the app repo takes pushes and deploys nothing:\n%s", out)
	}

	envWork := d.Clone(t, rel, "env-production")
	deploy := func(tag string) string {
		return strings.Replace(strings.Replace(badDeployment, "replicas: -1", "replicas: 1", 1), "nginx:1.27", "registry.example/app:"+tag, 1)
	}
	d.Commit(t, rel, envWork, "app 1.0", map[string]string{"app.yaml": deploy("1.0")})
	if out, ok := push(t, d, rel, envWork, "main"); !ok || !hasWords(out, "applied") {
		t.Fatalf("release 1.0:\n%s", out)
	}
	d.Commit(t, rel, envWork, "app 1.1", map[string]string{"app.yaml": deploy("1.1")})
	out, ok := push(t, d, rel, envWork, "main")
	if !ok || !hasWords(out, ".spec.template.spec.containers[name=web].image") {
		t.Fatalf("bumping the tag shows in the preview and deploys:\n%s", out)
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Spec.Containers[0].Image != "registry.example/app:1.1" {
		t.Fatalf("deployed image: %v %v", dep, err)
	}

	// The developer may read the environment repo but not change it.
	devEnv := d.Clone(t, dev, "env-production")
	d.Commit(t, dev, devEnv, "sneak", map[string]string{"app.yaml": deploy("9.9")})
	// Refused at the SSH session, before any ref is seen: the reader's push never starts.
	out, ok = push(t, d, dev, devEnv, "main")
	refusedBy(t, out, ok, "repo-permission")
	if !hasWords(out, "repo-permission: dev may read env-production but not push to it") {
		t.Fatalf("a developer must not deploy production:\n%s", out)
	}
}
