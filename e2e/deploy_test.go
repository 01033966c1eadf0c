package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

const badDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
`

// TestPushRejectedThenApplied is the product in one test: a push the API server would
// refuse is refused at the door with the API's message tied to its file and line, and
// leaves nothing behind; the fixed push is applied and reported in the same push output;
// removing a file prunes its object, and an unowned object of the same kind survives.
func TestPushRejectedThenApplied(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("staging: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 5s}}", ns))
	before := objectCount(t, d, ns)
	d.Commit(t, alice, work, "bad", map[string]string{"deploy/web.yaml": badDeployment, "deploy/a.yaml": cmYAML("a", "one")})
	out, ok := push(t, d, alice, work, "main")
	refusedBy(t, out, ok, "dry-run")
	for _, want := range []string{
		"remote:   x deploy/web.yaml:6  Deployment.apps/" + ns + "/web",
		"spec.replicas: Invalid value: -1: must be greater than or equal to 0",
		"remote:   REJECTED: 1 problem",
		"pre-receive hook declined",
	} {
		if !hasWords(out, want) {
			t.Errorf("missing %q in the push output:\n%s", want, out)
		}
	}
	if head := remoteHead(t, d, "main", ns); head != "" {
		t.Errorf("a rejected push moved the branch to %s", head)
	}
	if after := objectCount(t, d, ns); after != before {
		t.Errorf("objects of a rejected push remain: %s -> %s", before, after)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "a", metav1.GetOptions{}); err == nil {
		t.Error("nothing of a rejected push may reach the cluster")
	}

	writeFile(t, work+"/deploy/web.yaml", strings.Replace(badDeployment, "replicas: -1", "replicas: 1", 1))
	writeFile(t, work+"/deploy/b.yaml", cmYAML("b", "one"))
	d.MustGit(t, alice, work, "commit", "-qam", "fix")
	d.MustGit(t, alice, work, "add", "-A")
	d.MustGit(t, alice, work, "commit", "-qm", "add b")
	out, ok = push(t, d, alice, work, "main")
	if !ok {
		t.Fatalf("the fixed push must be accepted:\n%s", out)
	}
	// No controllers run in the test API server: the Deployment is applied but never
	// ready, so the push reports the apply and then the health failure.
	for _, want := range []string{"preview: 3 to create, 1 to configure", "ok: checks passed", "applied 4 objects, pruned 0; waiting for health ...",
		"FAILED: applied, not healthy: 4 objects (3 created, 1 configured, 0 unchanged), pruned 0; not healthy after"} {
		if !hasWords(out, want) {
			t.Errorf("missing %q in the push output:\n%s", want, out)
		}
	}
	if v := configMapValue(cs, ns, "a", "value"); v != "one" {
		t.Errorf("configmap a: %q", v)
	}

	if _, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "handmade"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d.MustGit(t, alice, work, "rm", "-q", "deploy/b.yaml", "deploy/web.yaml")
	d.MustGit(t, alice, work, "commit", "-qm", "drop b and web")
	out, ok = push(t, d, alice, work, "main")
	if !ok || !hasWords(out, "- ConfigMap/"+ns+"/b") || !hasWords(out, "pruned 2; healthy in") {
		t.Fatalf("removing files prunes their objects:\n%s", out)
	}
	if v := configMapValue(cs, ns, "b", "value"); !strings.Contains(v, "not found") {
		t.Errorf("b must be pruned, got %q", v)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "handmade", metav1.GetOptions{}); err != nil {
		t.Errorf("an object gitopsd does not own must survive: %v", err)
	}
	st, _, err := d.SSH(t, alice, nil, "status")
	if err != nil || !hasWords(st, ns+"/staging") || !hasWords(st, "healthy") {
		t.Errorf("ssh status: %v\n%s", err, st)
	}
	st, _, err = d.SSH(t, alice, nil, "status", ns, "staging")
	if err != nil || !hasWords(st, ns+"/staging  (branch main -> cluster local)") {
		t.Errorf("ssh status REPO ENV: %v\n%s", err, st)
	}
	if _, stderr, err := d.SSH(t, alice, nil, "status", ns, "nope"); err == nil || !hasWords(stderr, `has no environment "nope"`) {
		t.Errorf("ssh status of an unknown environment: %v %s", err, stderr)
	}
	// The form status prints, REPO/ENV, names the environment too.
	if st2, _, err := d.SSH(t, alice, nil, "status", ns+"/staging"); err != nil || !strings.Contains(st2, ns+"/staging  (branch main -> cluster local)") {
		t.Errorf("ssh status REPO/ENV: %v\n%s", err, st2)
	}
	if _, stderr, err := d.SSH(t, alice, nil, "status", ns+"/nope"); err == nil || !hasWords(stderr, `has no environment "nope"`) {
		t.Errorf("ssh status REPO/ENV of an unknown environment: %v %s", err, stderr)
	}
	// --help is help, not a repository.
	if help, _, err := d.SSH(t, alice, nil, "status", "--help"); err != nil || !strings.Contains(help, "usage: ssh git@HOST status [REPO [ENV]] | status REPO/ENV") {
		t.Errorf("ssh status --help: %v\n%s", err, help)
	}
}
