package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// Tests of "git stays the truth": what the door checked is what gets applied.

// TestNamespacedCustomResourceAppliedAsChecked: a namespaced custom resource without
// metadata.namespace, of a CRD the cluster already serves, is checked (and previewed) in the
// environment's namespace at the door and applied there. The door and the apply render
// through one function (desired.Render).
func TestNamespacedCustomResourceAppliedAsChecked(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`, group)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("prod: {branch: main, cluster: local, path: deploy, namespace: %s, cluster_scoped: [CustomResourceDefinition], apply: {health_timeout: 20s}}", ns))
	// The CRD first: then the kind is the cluster's, and only the cluster's discovery says
	// that it is namespaced. The apply once rendered without it, so the widget the door
	// had checked in the environment's namespace failed there with "is namespaced and has
	// no namespace" (and went into the inventory without one).
	d.Commit(t, alice, work, "crd", map[string]string{"deploy/crd.yaml": crd})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("the CRD:\n%s", out)
	}
	d.Commit(t, alice, work, "widget", map[string]string{
		"deploy/widget.yaml": fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n", group),
	})
	out, ok := push(t, d, alice, work, "main")
	if !ok || !hasWords(out, "+ Widget."+group+"/"+ns+"/w") || !hasWords(out, "ok: applied and healthy: 3 objects") {
		t.Fatalf("the widget is checked in the environment's namespace and applied there:\n%s", out)
	}
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}).Namespace(ns).Get(context.Background(), "w", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the widget must be applied in %s: %v", ns, err)
	}
	if size, _, _ := unstructuredInt(w.Object, "spec", "size"); size != 3 {
		t.Errorf("widget spec.size %d", size)
	}
	st, _, err := d.SSH(t, alice, nil, "status", ns, "prod")
	if err != nil || hasWords(st, "error") {
		t.Errorf("status must show no error: %v\n%s", err, st)
	}
}

func unstructuredInt(obj map[string]any, path ...string) (int64, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[p]
	}
	n, ok := cur.(int64)
	return n, ok, nil
}

// TestRollbackIsACommit: a version whose Deployment crashes, with on_failure: rollback and
// a drift scan every 5 s in mode correct. The rollback used to re-apply the last healthy
// commit and leave the branch on the failed one, so the next scan applied the failed
// commit again, and so on. Now the rollback is a revert commit on the branch: git fetch
// shows it, and while the scans run the cluster stays on the good version and the failed
// commit is never applied again.
func TestRollbackIsACommit(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		`prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 60s, settle: 2s, on_failure: rollback}, drift: {schedule: "@every 5s", mode: correct}}`, ns))
	good := d.Commit(t, alice, work, "v1", app("v1"))
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "healthy in") {
		t.Fatalf("v1:\n%s", out)
	}
	bad := d.Commit(t, alice, work, "v2", map[string]string{"deploy/web.yaml": app("v2-crash")["deploy/web.yaml"]})
	out, _ := push(t, d, alice, work, "main")
	if !hasWords(out, "FAILED: ") || !hasWords(out, "CrashLoopBackOff") || !hasWords(out, "restores "+good[:7]) {
		t.Fatalf("the push must show the health failure and the revert commit:\n%s", out)
	}

	d.MustGit(t, alice, work, "fetch", "-q", "origin")
	revert := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "origin/main"))
	if revert == bad || revert == good {
		t.Fatalf("git fetch must show a revert commit on main, got %s", revert)
	}
	if !hasWords(out, revert[:7]+" on main restores") {
		t.Errorf("the push output names the revert %s:\n%s", revert[:7], out)
	}
	subject := strings.TrimSpace(d.MustGit(t, alice, work, "log", "-1", "--format=%an: %s", "origin/main"))
	if subject != "gitopsd: gitopsd: roll prod back to "+good[:12] {
		t.Errorf("revert subject %q", subject)
	}
	if parent := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "origin/main^")); parent != bad {
		t.Errorf("the revert's parent %s, want the failed commit %s", parent, bad)
	}
	if diff := d.MustGit(t, alice, work, "diff", "--stat", good, "origin/main"); diff != "" {
		t.Errorf("the revert holds v1's files:\n%s", diff)
	}

	// Scans every 5 s: for the next minute, and at least two scans, the cluster stays on v1
	// and nothing applies v2.
	waitFor(t, "v1 runs", func() bool { return webRunning(cs, ns, "v1") })
	scans := func() int {
		return strings.Count(d.Logs(), `"message":"drift scan: in sync"`) + strings.Count(d.Logs(), `"message":"drift found"`)
	}
	before, start := scans(), time.Now()
	for time.Since(start) < time.Minute || scans() < before+2 {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("fewer than two drift scans in 2 minutes (%d before, %d now)", before, scans())
		}
		if !webRunning(cs, ns, "v1") {
			t.Fatalf("the cluster left v1 after the rollback")
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, l := range strings.Split(d.Logs(), "\n") {
		if strings.Contains(l, `"commit":"`+bad+`"`) && strings.Contains(l, `"message":"reconciled"`) {
			t.Errorf("the failed commit was applied again: %s", l)
		}
	}
	if n := strings.Count(d.Logs(), `"message":"reconcile failed"`); n != 1 {
		t.Errorf("one failed reconcile (v2's health) is expected, the log has %d", n)
	}
}

// TestHandEditDoesNotBlockPushes: in drift mode report, a hand edit of a field git declares
// (kubectl's field manager) made every later push fail its dry run with a conflict, even
// one that changed another object, and no push option got past it. A push now takes the
// fields it declares back: the push is accepted and the hand edit undone.
func TestHandEditDoesNotBlockPushes(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		`prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 20s}, drift: {schedule: "@every 1h", mode: report}}`, ns))
	d.Commit(t, alice, work, "v1", map[string]string{"deploy/a.yaml": cmYAML("a", "git"), "deploy/b.yaml": cmYAML("b", "one")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "healthy in") {
		t.Fatalf("v1:\n%s", out)
	}
	// kubectl edit, as a person on call would: an update by another field manager.
	handEdit(t, cs, ns, "a", "hand")
	d.Commit(t, alice, work, "b two", map[string]string{"deploy/b.yaml": cmYAML("b", "two")})
	out, ok := push(t, d, alice, work, "main")
	if !ok || hasWords(out, "conflict") || !hasWords(out, "healthy in") {
		t.Fatalf("a hand edit of a must not block a push that changes b:\n%s", out)
	}
	if !hasWords(out, `~ ConfigMap/`+ns+`/a`) {
		t.Errorf("the preview shows that the push takes a's field back:\n%s", out)
	}
	if v := configMapValue(cs, ns, "a", "value"); v != "git" {
		t.Errorf("a must hold git's value again, has %q", v)
	}
	if v := configMapValue(cs, ns, "b", "value"); v != "two" {
		t.Errorf("b: %q", v)
	}
}

// TestSyncAndRollbackCommands: `ssh HOST sync REPO ENV` re-applies the branch head now and
// undoes a hand edit; `ssh HOST rollback REPO ENV [COMMIT]` writes a revert commit on the
// branch and applies it; a reader may do neither.
func TestSyncAndRollbackCommands(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	alice, bob := gittest.NewKey(t, "alice"), gittest.NewKey(t, "bob")
	d := gittest.Start(t, gittest.Users(alice, bob)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  %[1]s:
    read: [bob]
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %[1]s, apply: {health_timeout: 20s}}
`, ns))
	work := d.Clone(t, alice, ns)
	v1 := d.Commit(t, alice, work, "v1", map[string]string{"deploy/a.yaml": cmYAML("a", "one")})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("v1:\n%s", out)
	}
	d.Commit(t, alice, work, "v2", map[string]string{"deploy/a.yaml": cmYAML("a", "two")})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("v2:\n%s", out)
	}

	// A hand edit, then sync: git's value is back at once.
	handEdit(t, cs, ns, "a", "hand")
	if _, stderr, err := d.SSH(t, bob, nil, "sync", ns, "prod"); err == nil || !hasWords(stderr, "bob may not deploy "+ns+"/prod") {
		t.Errorf("a reader may not sync: %v %s", err, stderr)
	}
	out, stderr, err := d.SSH(t, alice, nil, "sync", ns, "prod")
	if err != nil || !hasWords(out, "ok: applied") {
		t.Fatalf("sync: %v\n%s%s", err, out, stderr)
	}
	if v := configMapValue(cs, ns, "a", "value"); v != "two" {
		t.Errorf("after sync a holds %q, want git's two", v)
	}

	// Rollback to v1 by name: a revert commit on main, applied.
	if _, stderr, err := d.SSH(t, bob, nil, "rollback", ns, "prod", v1); err == nil || !hasWords(stderr, "may not deploy") {
		t.Errorf("a reader may not roll back: %v %s", err, stderr)
	}
	if _, stderr, err := d.SSH(t, alice, nil, "rollback", ns, "prod", "--help"); err == nil || !hasWords(stderr, "not a commit") {
		t.Errorf("an option-looking commit is refused: %v %s", err, stderr)
	}
	out, stderr, err = d.SSH(t, alice, nil, "rollback", ns, "prod", v1[:10])
	if err != nil || !hasWords(out, "restores "+v1[:7]) || !hasWords(out, "ok: rolled back to "+v1[:7]+": ") {
		t.Fatalf("rollback: %v\n%s%s", err, out, stderr)
	}
	if v := configMapValue(cs, ns, "a", "value"); v != "one" {
		t.Errorf("after the rollback a holds %q, want v1's one", v)
	}
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")
	if diff := d.MustGit(t, alice, work, "diff", "--stat", v1, "HEAD"); diff != "" {
		t.Errorf("the branch's head must hold v1's files:\n%s", diff)
	}
	if msg := d.MustGit(t, alice, work, "log", "-1", "--format=%an%n%B"); !strings.Contains(msg, "gitopsd\n") || !strings.Contains(msg, "Asked by alice") {
		t.Errorf("revert commit: %s", msg)
	}
}

// TestDeleteEnvironmentBranch: deleting an environment branch left its objects and
// inventory in place and its status saying applied and healthy. It now does what
// on_delete says: keep leaves the objects and says so; prune deletes them, and only with
// -o gitopsd.allow-prune.
func TestDeleteEnvironmentBranch(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns, ns2 := kubetest.Namespace(t), kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("kept: {branch: kept, cluster: local, path: kept, namespace: %s, allow_delete: true}", ns),
		fmt.Sprintf("gone: {branch: gone, cluster: local, path: gone, namespace: %s, allow_delete: true, on_delete: prune}", ns2))
	d.Commit(t, alice, work, "both", map[string]string{"kept/k.yaml": cmYAML("k", "one"), "gone/g.yaml": cmYAML("g", "one")})
	for _, b := range []string{"kept", "gone"} {
		if out, ok := push(t, d, alice, work, b); !ok || !hasWords(out, "healthy in") {
			t.Fatalf("push %s:\n%s", b, out)
		}
	}
	del := func(branch string, opts ...string) (string, bool) {
		args := []string{"push"}
		for _, o := range opts {
			args = append(args, "-o", o)
		}
		out, err := d.Git(t, alice, work, append(args, "origin", ":"+branch)...)
		return out, err == nil
	}

	out, ok := del("kept")
	if !ok || !hasWords(out, "branch kept deleted: its 2 objects stay in cluster local, unmanaged (on_delete: keep)") {
		t.Errorf("delete kept:\n%s", out)
	}
	if v := configMapValue(cs, ns, "k", "value"); v != "one" {
		t.Errorf("on_delete keep must leave k, got %q", v)
	}

	out, ok = del("gone")
	if ok || !hasWords(out, "prune-guard: deleting branch gone prunes every object of environment gone (on_delete: prune)") || remoteHead(t, d, "gone", ns) == "" {
		t.Fatalf("deleting a pruning environment's branch needs -o gitopsd.allow-prune:\n%s", out)
	}
	out, ok = del("gone", "gitopsd.allow-prune")
	if !ok || !hasWords(out, "pruned 2 objects of environment gone (on_delete: prune)") {
		t.Fatalf("delete gone:\n%s", out)
	}
	if v := configMapValue(cs, ns2, "g", "value"); !strings.Contains(v, "not found") {
		t.Errorf("on_delete prune must delete g, got %q", v)
	}
	st, _, err := d.SSH(t, alice, nil, "status", ns)
	if err != nil || !hasWords(st, "deleted  branch kept deleted by alice") || !hasWords(st, "deleted  branch gone deleted by alice") || !hasWords(st, "pruned 2 objects") {
		t.Errorf("status says what the deletes did: %v\n%s", err, st)
	}
}

// handEdit changes a ConfigMap's value the way `kubectl edit` does: an update by another
// field manager.
func handEdit(t *testing.T, cs kubernetes.Interface, ns, name, value string) {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = value
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
}
