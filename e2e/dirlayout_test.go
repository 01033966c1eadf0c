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

// podinfoBase is a podinfo-style base: a Deployment, its Service and a ConfigMap whose
// value each overlay sets.
const podinfoBase = `apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo}
spec:
  replicas: 1
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.7.0"}]
---
apiVersion: v1
kind: Service
metadata: {name: podinfo}
spec:
  selector: {app: podinfo}
  ports: [{port: 9898}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: podinfo}
data: {level: info}
`

// overlay is deploy/overlays/NAME: the base, with its own level.
func overlay(level string) string {
	return `resources: [../../base]
patches:
- target: {kind: ConfigMap, name: podinfo}
  patch: |-
    - {op: replace, path: /data/level, value: "` + level + `"}
`
}

// TestLayoutDirectoryPerEnvironment: podinfo-style overlays dev, staging and production on
// one branch, three environments. A push is checked and applied for the environments whose
// objects it changes, refused whole when one of them is wrong, and refused when it
// changes an environment the pusher may not deploy, even on the shared branch. A rollback
// of one environment restores its files only: the others keep what they run.
func TestLayoutDirectoryPerEnvironment(t *testing.T) {
	cp := kubetest.Living(t)
	cs := kubetest.Client(t, cp.Config)
	ns := map[string]string{}
	for _, env := range []string{"dev", "staging", "production"} {
		ns[env] = kubetest.NamespaceIn(t, cp.Config)
	}
	alice, bob := gittest.NewKey(t, "alice"), gittest.NewKey(t, "bob")
	d := gittest.Start(t, gittest.Users(alice, bob)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  podinfo:
    write: [alice, bob]
    environments:
      dev: {branch: main, cluster: local, path: deploy/overlays/dev, namespace: %s, push: [alice, bob], apply: {settle: 1s}}
      staging: {branch: main, cluster: local, path: deploy/overlays/staging, namespace: %s, push: [alice, bob], apply: {settle: 1s, on_failure: rollback, health_timeout: 60s}}
      production: {branch: main, cluster: local, path: deploy/overlays/production, namespace: %s, push: [alice], apply: {settle: 1s}}
`, ns["dev"], ns["staging"], ns["production"]))
	level := func(env string) string { return configMapValue(cs, ns[env], "podinfo", "level") }
	generation := func(env string) int64 {
		dep, err := cs.AppsV1().Deployments(ns[env]).Get(context.Background(), "podinfo", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		return dep.Generation
	}

	// alice creates the branch: every environment is checked and applied.
	aw := d.Clone(t, alice, "podinfo")
	d.Commit(t, alice, aw, "podinfo, three environments", map[string]string{
		"deploy/base/kustomization.yaml":                "resources: [podinfo.yaml]\n",
		"deploy/base/podinfo.yaml":                      podinfoBase,
		"deploy/overlays/dev/kustomization.yaml":        overlay("debug"),
		"deploy/overlays/staging/kustomization.yaml":    overlay("info"),
		"deploy/overlays/production/kustomization.yaml": overlay("warn"),
		"README.md": "podinfo\n",
	})
	out, ok := push(t, d, alice, aw, "main")
	for _, env := range []string{"dev", "staging", "production"} {
		if !ok || !hasWords(out, "podinfo/"+env+": ok: applied") || !hasWords(out, "healthy in") {
			t.Fatalf("the first push deploys %s:\n%s", env, out)
		}
	}
	if level("dev") != "debug" || level("staging") != "info" || level("production") != "warn" {
		t.Fatalf("levels: dev %q staging %q production %q", level("dev"), level("staging"), level("production"))
	}
	prodGen := generation("production")

	// bob changes staging only: staging is checked and applied, the others are unchanged.
	bw := d.Clone(t, bob, "podinfo")
	d.Commit(t, bob, bw, "staging: debug", map[string]string{"deploy/overlays/staging/kustomization.yaml": overlay("debug")})
	out, ok = push(t, d, bob, bw, "main")
	if !ok || !hasWords(out, "podinfo/staging: ok: applied") {
		t.Fatalf("bob's staging change is applied:\n%s", out)
	}
	for _, env := range []string{"dev", "production"} {
		// The door renders it and says so; post-receive applies nothing.
		if hasWords(out, "podinfo/"+env+": ok: applied") || !hasWords(out, "podinfo/"+env+": ok: unchanged: renders the same 4 objects") {
			t.Errorf("%s is not changed by bob's push, and must not be applied:\n%s", env, out)
		}
	}
	if got := countWords(out, "ok: unchanged: renders the same 4 objects as before this push; not checked again"); got != 2 {
		t.Errorf("the door says dev and production are unchanged (got %d):\n%s", got, out)
	}
	if level("staging") != "debug" || level("production") != "warn" {
		t.Errorf("after bob's push: staging %q production %q", level("staging"), level("production"))
	}
	head := remoteHead(t, d, "main", "podinfo")
	status, _, err := d.SSH(t, alice, nil, "status", "podinfo/production")
	if err != nil || !strings.Contains(status, "applied  "+head[:12]) || !strings.Contains(status, "healthy  "+head[:12]) {
		t.Errorf("production is at the head, which renders what it runs: %v\n%s", err, status)
	}

	// bob may not change production: not its directory, nor the base it is built from.
	before := remoteHead(t, d, "main", "podinfo")
	for _, change := range []map[string]string{
		{"deploy/overlays/production/kustomization.yaml": overlay("debug")},
		{"deploy/base/podinfo.yaml": strings.Replace(podinfoBase, "replicas: 1", "replicas: 2", 1)},
	} {
		d.Commit(t, bob, bw, "bob touches production", change)
		out, ok = push(t, d, bob, bw, "main")
		if ok || !hasWords(out, "permission: bob may not change environment production (push: alice), and this push changes what it deploys") {
			t.Errorf("bob's change of production must be refused with the reason:\n%s", out)
		}
		if remoteHead(t, d, "main", "podinfo") != before {
			t.Errorf("a refused push moved the branch")
		}
		d.MustGit(t, bob, bw, "reset", "-q", "--hard", "HEAD~1")
	}
	if generation("production") != prodGen || level("production") != "warn" {
		t.Errorf("production changed by refused pushes")
	}

	// A push that breaks production is refused whole: staging's part of it does not land.
	d.MustGit(t, alice, aw, "pull", "-q", "--ff-only", "origin", "main")
	d.Commit(t, alice, aw, "staging trace, production broken", map[string]string{
		"deploy/overlays/staging/kustomization.yaml":    overlay("trace"),
		"deploy/overlays/production/kustomization.yaml": strings.Replace(overlay("warn"), "[../../base]", "[../../base, bad.yaml]", 1),
		"deploy/overlays/production/bad.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
	})
	out, ok = push(t, d, alice, aw, "main")
	refusedBy(t, out, ok, "dry-run")
	if !hasWords(out, "podinfo/production") || !hasWords(out, "Bad_Name") || !hasWords(out, "REJECTED") {
		t.Errorf("a push that breaks production is refused:\n%s", out)
	}
	if remoteHead(t, d, "main", "podinfo") != before || level("staging") != "debug" {
		t.Errorf("a refused push landed: staging %q", level("staging"))
	}

	// One push, two environments: dev's change is good, staging's version crashes. Each
	// has its own outcome; staging's rollback is a commit that restores staging's files
	// only, and dev keeps its new level, in git and in the cluster.
	d.MustGit(t, alice, aw, "reset", "-q", "--hard", before)
	crash := overlay("debug") + "images:\n- {name: ghcr.io/stefanprodan/podinfo, newTag: crash}\n"
	d.Commit(t, alice, aw, "dev trace, staging crashes", map[string]string{
		"deploy/overlays/dev/kustomization.yaml":     overlay("trace"),
		"deploy/overlays/staging/kustomization.yaml": crash,
	})
	out, _ = push(t, d, alice, aw, "main")
	if !hasWords(out, "podinfo/dev: ok: applied") || !hasWords(out, "podinfo/staging: FAILED: rolled back to "+before[:7]) ||
		!hasWords(out, "CrashLoopBackOff") || hasWords(out, "podinfo/production: ok: applied") {
		t.Fatalf("dev applied, staging rolled back, production untouched:\n%s", out)
	}
	d.MustGit(t, alice, aw, "pull", "-q", "--ff-only", "origin", "main")
	if got := d.MustGit(t, alice, aw, "show", "HEAD:deploy/overlays/staging/kustomization.yaml"); got != overlay("debug") {
		t.Errorf("the revert restores staging's files:\n%s", got)
	}
	if got := d.MustGit(t, alice, aw, "show", "HEAD:deploy/overlays/dev/kustomization.yaml"); got != overlay("trace") {
		t.Errorf("the revert keeps dev's newer files:\n%s", got)
	}
	if level("dev") != "trace" {
		t.Errorf("dev keeps its level: %q", level("dev"))
	}
	waitFor(t, "staging runs its previous version again", func() bool {
		dep, err := cs.AppsV1().Deployments(ns["staging"]).Get(context.Background(), "podinfo", metav1.GetOptions{})
		return err == nil && dep.Spec.Template.Spec.Containers[0].Image == "ghcr.io/stefanprodan/podinfo:6.7.0" && dep.Status.UpdatedReplicas == 1 && dep.Status.ReadyReplicas == 1
	})
	// The revert is the head of every environment of the branch: dev and production are
	// recorded at it, as unchanged by it.
	revert := remoteHead(t, d, "main", "podinfo")
	for _, env := range []string{"dev", "production"} {
		waitFor(t, env+" is at the revert", func() bool {
			st, _, err := d.SSH(t, alice, nil, "status", "podinfo/"+env)
			return err == nil && hasWords(st, "applied  "+revert[:12])
		})
	}
	if generation("production") != prodGen {
		t.Errorf("production was applied by a push that did not change it")
	}
}
