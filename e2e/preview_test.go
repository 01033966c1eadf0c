package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func webDeployment(replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.example/web:1"}]}
`, replicas)
}

// TestPreviewNamesWhoLosesAField: a push takes back the fields it declares from whoever
// changed them by hand, and its preview says from whom, as the live object's managedFields
// name them: `kubectl scale` (an update of the scale subresource by field manager kubectl)
// and a server-side apply by another manager. A field the other manager keeps (git does
// not declare it) names nobody.
func TestPreviewNamesWhoLosesAField(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		`prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 1ms}}`, ns))
	d.Commit(t, alice, work, "v1", map[string]string{"deploy/web.yaml": webDeployment(3), "deploy/a.yaml": cmYAML("a", "git")})
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: applied and healthy: ") {
		t.Fatalf("v1:\n%s", out)
	}

	// kubectl scale deployment web --replicas 5, as the admin client.
	ctx := context.Background()
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "web", scale, metav1.UpdateOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	// A script that server-side applies a's value and a label of its own.
	patch := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":%q,"labels":{"owner":"ops"}},"data":{"value":"ops"}}`, ns)
	force := true
	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "a", types.ApplyPatchType, []byte(patch), metav1.PatchOptions{FieldManager: "ops-script", Force: &force}); err != nil {
		t.Fatal(err)
	}

	d.Commit(t, alice, work, "v2", map[string]string{"deploy/web.yaml": webDeployment(2)})
	out, ok := push(t, d, alice, work, "main")
	if !ok {
		t.Fatalf("v2:\n%s", out)
	}
	for _, want := range []string{
		"~ Deployment.apps/" + ns + "/web",
		".spec.replicas: 5 -> 2 (was kubectl's)",
		"~ ConfigMap/" + ns + "/a",
		`.data.value: "ops" -> "git" (was ops-script's)`,
		"ok: applied and healthy: ",
	} {
		if !hasWords(out, want) {
			t.Errorf("missing %q in the push output:\n%s", want, out)
		}
	}
	if hasWords(out, "owner") {
		t.Errorf("the label git does not declare stays with ops-script and is no change:\n%s", out)
	}

	// The push took the fields back: git's values, owned by gitopsd alone; the label
	// git does not declare stays the script's.
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 2 {
		t.Fatalf("replicas after the push: %v %v", dep.Spec.Replicas, err)
	}
	if m := replicasManagers(dep.ManagedFields); m != "gitopsd" {
		t.Errorf(".spec.replicas is owned by %q after the push, want gitopsd alone", m)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil || cm.Data["value"] != "git" || cm.Labels["owner"] != "ops" {
		t.Errorf("a after the push: %v %v %v", cm.Data, cm.Labels, err)
	}

	// Nothing left to take: the next push previews no owner.
	d.Commit(t, alice, work, "v3", map[string]string{"deploy/web.yaml": webDeployment(1)})
	out, ok = push(t, d, alice, work, "main")
	if !ok || !hasWords(out, ".spec.replicas: 2 -> 1") || hasWords(out, "(was ") {
		t.Errorf("a field only gitopsd owned names nobody:\n%s", out)
	}
}

// replicasManagers lists the managers whose fields hold .spec.replicas (the controller's
// .status.replicas is another field).
func replicasManagers(entries []metav1.ManagedFieldsEntry) string {
	var out []string
	for _, e := range entries {
		var set struct {
			Spec map[string]any `json:"f:spec"`
		}
		if e.FieldsV1 == nil || json.Unmarshal(e.FieldsV1.Raw, &set) != nil {
			continue
		}
		if _, ok := set.Spec["f:replicas"]; ok {
			out = append(out, e.Manager)
		}
	}
	return strings.Join(out, ",")
}
