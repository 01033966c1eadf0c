package kube

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func configMap(ns, name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {key: %q}\n", name, ns, value)
}

func deployment(ns, name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: web, image: %q}]
`, name, ns, name, name, image)
}

func TestApplyCreateConfigureUnchanged(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	opts := DefaultApplyOptions()
	cmID := ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "cm"}
	depID := ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}

	in := objs(t, configMap(ns, "cm", "a"), deployment(ns, "web", "nginx:1.25"))
	before := in[1].DeepCopy()
	opts.Owner = &Owner{Repo: "r", Env: "e", Commit: "c0ffee"}
	cs := mustApply(t, c, in, opts)
	// Apply stamps its own copies: the caller's objects are as they were.
	if !reflect.DeepEqual(in[1].Object, before.Object) {
		t.Errorf("Apply changed its input:\n%v\nwas\n%v", in[1].Object, before.Object)
	}
	wantAction(t, cs, cmID, Created)
	wantAction(t, cs, depID, Created)
	if got := cs.Summary(); got != "2 objects (2 created)" {
		t.Errorf("summary %q", got)
	}

	cs = mustApply(t, c, objs(t, configMap(ns, "cm", "a"), deployment(ns, "web", "nginx:1.26")), opts)
	wantAction(t, cs, cmID, Unchanged)
	ch := wantAction(t, cs, depID, Configured)
	want := FieldChange{Path: ".spec.template.spec.containers[name=web].image", Old: `"nginx:1.25"`, New: `"nginx:1.26"`}
	if len(ch.Fields) != 1 || ch.Fields[0] != want {
		t.Errorf("fields %v, want [%v]", ch.Fields, want)
	}

	// A dry run reports the change and stores nothing.
	dry := opts
	dry.DryRun = true
	cs = mustApply(t, c, objs(t, configMap(ns, "cm", "b")), dry)
	ch = wantAction(t, cs, cmID, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].String() != `.data.key: "a" -> "b"` {
		t.Errorf("fields %v", ch.Fields)
	}
	cs = mustApply(t, c, objs(t, configMap(ns, "cm", "a")), dry)
	wantAction(t, cs, cmID, Unchanged)

	// Diff is the same dry run.
	cs, err := c.Diff(ctxT(t), objs(t, configMap(ns, "cm", "c"), configMap(ns, "new", "n")), DefaultApplyOptions())
	if err != nil {
		t.Fatal(err)
	}
	wantAction(t, cs, cmID, Configured)
	wantAction(t, cs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "new"}, Created)
	if got := cs.Summary(); got != "2 objects (1 created, 1 configured)" {
		t.Errorf("summary %q", got)
	}
	cm, err := kubetest.Client(t, kubetest.Config(t)).CoreV1().ConfigMaps(ns).Get(ctxT(t), "cm", metav1.GetOptions{})
	if err != nil || cm.Data["key"] != "a" {
		t.Errorf("a dry run changed the object: %v %v", cm.Data, err)
	}
}

func TestApplyReportsEveryFailure(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	bad := strings.Replace(deployment(ns, "bad", "nginx:1.25"), "matchLabels: {app: bad}", "matchLabels: {app: other}", 1)
	// A misspelt field is refused, not dropped (the apply requests skip strict decoding,
	// which for apply only looks for duplicate keys).
	typo := strings.Replace(deployment(ns, "typo", "nginx:1.25"), "spec:\n", "spec:\n  replicsa: 2\n", 1)
	in := objs(t,
		bad,
		typo,
		configMap(ns, "good", "x"),
		"apiVersion: example.com/v1\nkind: Nope\nmetadata: {name: nope, namespace: "+ns+"}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nons}\n",
	)
	for _, dry := range []bool{true, false} {
		opts := DefaultApplyOptions()
		opts.DryRun = dry
		cs := mustApply(t, c, in, opts)
		ch := wantAction(t, cs, ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "bad"}, Failed)
		if !strings.Contains(ch.Message, `Deployment.apps "bad" is invalid`) || !strings.Contains(ch.Message, "`selector` does not match template `labels`") {
			t.Errorf("dry=%v: message %q is not the API's", dry, ch.Message)
		}
		wantAction(t, cs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "good"}, map[bool]Action{true: Created, false: Created}[dry])
		ch = wantAction(t, cs, ObjectID{Group: "example.com", Kind: "Nope", Namespace: ns, Name: "nope"}, Failed)
		if !strings.Contains(ch.Message, "serves no Nope") {
			t.Errorf("unknown kind message %q", ch.Message)
		}
		ch = wantAction(t, cs, ObjectID{Kind: "ConfigMap", Name: "nons"}, Failed)
		if !strings.Contains(ch.Message, "no namespace") {
			t.Errorf("no namespace message %q", ch.Message)
		}
		ch = wantAction(t, cs, ObjectID{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "typo"}, Failed)
		if !strings.Contains(ch.Message, ".spec.replicsa: field not declared in schema") {
			t.Errorf("dry=%v: unknown field message %q", dry, ch.Message)
		}
		if cs.Count(Failed) != 4 {
			t.Errorf("dry=%v: %d failed, want 4: %v", dry, cs.Count(Failed), cs.Changes)
		}
	}
}

const crdYAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %[1]ss.%[2]s}
spec:
  group: %[2]s
  scope: Namespaced
  names: {plural: %[1]ss, singular: %[1]s, kind: %[3]s, listKind: %[3]sList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
`

func TestApplyCRDAndCustomResourceInOneBatch(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	crd := fmt.Sprintf(crdYAML, "widget", group, "Widget")
	cr := fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\nspec: {size: 3}\n", group, ns)
	newNS := ns + "-new"
	inNew := configMap(newNS, "in-new", "v")
	crID := ObjectID{Group: group, Kind: "Widget", Namespace: ns, Name: "w1"}

	// The CR comes first on purpose: order is the engine's job.
	in := objs(t, cr, inNew, crd, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+newNS+"}\n")
	opts := DefaultApplyOptions()
	opts.DryRun = true
	cs := mustApply(t, c, in, opts)
	ch := wantAction(t, cs, crID, Created)
	if !strings.Contains(ch.Message, "checked against the schema of CustomResourceDefinition widgets."+group) {
		t.Errorf("dry-run CR message %q", ch.Message)
	}
	wantAction(t, cs, ObjectID{Kind: "ConfigMap", Namespace: newNS, Name: "in-new"}, Created)
	wantAction(t, cs, ObjectID{Group: crdGroup, Kind: "CustomResourceDefinition", Name: "widgets." + group}, Created)
	if cs.HasFailed() {
		t.Fatalf("dry run failed: %v", cs.Failed())
	}
	// Before its CRD exists, a CR is still checked against the CRD's schema.
	badCR := strings.Replace(cr, "size: 3", "size: three", 1)
	cs = mustApply(t, c, objs(t, crd, badCR), opts)
	ch = wantAction(t, cs, crID, Failed)
	if want := `Widget.` + group + ` "w1" is invalid: spec.size in body must be of type integer: "string"`; ch.Message != want {
		t.Errorf("dry-run CR schema message\n%q, want\n%q", ch.Message, want)
	}

	// A bad object in a namespace the batch creates is still checked by the API.
	bad := strings.Replace(deployment(newNS, "bad", "x:1"), "matchLabels: {app: bad}", "matchLabels: {app: other}", 1)
	cs = mustApply(t, c, append(in, objs(t, bad)...), opts)
	ch = wantAction(t, cs, ObjectID{Group: "apps", Kind: "Deployment", Namespace: newNS, Name: "bad"}, Failed)
	if !strings.Contains(ch.Message, "does not match template") {
		t.Errorf("message %q", ch.Message)
	}
	// ... with server-side apply's own rules, as the real apply will: two env entries of
	// one name pass a create but not an apply.
	dupEnv := strings.Replace(deployment(newNS, "dup", "x:1"), `containers: [{name: web, image: "x:1"}]`,
		`containers: [{name: web, image: "x:1", env: [{name: A, value: a}, {name: A, value: b}]}]`, 1)
	cs = mustApply(t, c, append(in, objs(t, dupEnv)...), opts)
	ch = wantAction(t, cs, ObjectID{Group: "apps", Kind: "Deployment", Namespace: newNS, Name: "dup"}, Failed)
	if !strings.Contains(ch.Message, `duplicate entries for key [name="A"]`) || !strings.Contains(ch.Message, "("+newNS+"/dup;") {
		t.Errorf("duplicate env message %q", ch.Message)
	}
	// A name the probe namespace already uses is checked under a generated name.
	taken := ns + "-taken"
	cli := kubetest.Client(t, kubetest.Config(t))
	if _, err := cli.CoreV1().ConfigMaps(probeNamespace).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: taken}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cli.CoreV1().ConfigMaps(probeNamespace).Delete(context.Background(), taken, metav1.DeleteOptions{})
	})
	cs = mustApply(t, c, append(in, objs(t, configMap(newNS, taken, "v"))...), opts)
	wantAction(t, cs, ObjectID{Kind: "ConfigMap", Namespace: newNS, Name: taken}, Created)

	cs = mustApply(t, c, in, DefaultApplyOptions())
	if cs.HasFailed() {
		t.Fatalf("apply failed: %v", cs.Failed())
	}
	wantAction(t, cs, crID, Created)

	// Now the CRD exists: a dry run checks the CR for real.
	cs = mustApply(t, c, objs(t, crd, badCR), opts)
	ch = wantAction(t, cs, crID, Failed)
	if !strings.Contains(ch.Message, "spec.size") {
		t.Errorf("schema message %q", ch.Message)
	}
	// A field the CRD's schema does not declare is refused, not pruned away.
	typoCR := strings.Replace(cr, "size: 3", "sise: 3", 1)
	cs = mustApply(t, c, objs(t, crd, typoCR), opts)
	ch = wantAction(t, cs, crID, Failed)
	if !strings.Contains(ch.Message, ".spec.sise: field not declared in schema") {
		t.Errorf("unknown CR field message %q", ch.Message)
	}
}

func TestApplySkipsProvenUnchanged(t *testing.T) {
	c, requests := countingClient(t)
	ns := kubetest.Namespace(t)
	twoKeys := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: " + ns + "}\ndata: {a: '1', b: '2'}\n"
	id := ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "cm"}
	opts := DefaultApplyOptions()
	wantAction(t, mustApply(t, c, objs(t, twoKeys), opts), id, Created)

	before := requests.Load()
	wantAction(t, mustApply(t, c, objs(t, twoKeys), opts), id, Unchanged)
	if n := requests.Load() - before; n != 1 { // the GET of the live object only
		t.Errorf("unchanged object took %d requests", n)
	}

	// A key removed from git: every remaining value is still live, but the hash differs,
	// so the server is asked and the removal shows.
	dry := opts
	dry.DryRun = true
	oneKey := strings.Replace(twoKeys, ", b: '2'", "", 1)
	ch := wantAction(t, mustApply(t, c, objs(t, oneKey), dry), id, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].String() != `.data.b: - "2"` {
		t.Errorf("removed key: %v", ch.Fields)
	}

	// A value changed by hand: the hash matches but the value does not.
	cs := kubetest.Client(t, kubetest.Config(t))
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctxT(t), "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["a"] = "edited"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctxT(t), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	dry.Force = true
	ch = wantAction(t, mustApply(t, c, objs(t, twoKeys), dry), id, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].Path != ".data.a" {
		t.Errorf("edited value: %v", ch.Fields)
	}
	// Without the shortcut, the same answers come from the server.
	dry.SkipUnchanged = false
	ch = wantAction(t, mustApply(t, c, objs(t, twoKeys), dry), id, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].Path != ".data.a" {
		t.Errorf("edited value without shortcut: %v", ch.Fields)
	}
}

// TestApplyNeverTakesAnotherEnvironmentsObject: an object carrying another owner's label
// fails, in the dry run and the apply alike, naming the owner, and stays as it was; an
// object nobody owns is adopted; a Namespace another environment owns is left to it.
func TestApplyNeverTakesAnotherEnvironmentsObject(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	prod, staging := DefaultApplyOptions(), DefaultApplyOptions()
	prod.Owner = &Owner{Repo: "shop", Env: "prod"}
	staging.Owner = &Owner{Repo: "shop", Env: "staging"}
	mustApply(t, c, objs(t, configMap(ns, "theirs", "prod"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n"), prod)
	mustApply(t, c, objs(t, configMap(ns, "nobodys", "hand")), DefaultApplyOptions())

	in := objs(t, configMap(ns, "theirs", "staging"), configMap(ns, "nobodys", "staging"),
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+", labels: {team: staging}}\n")
	theirs := ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "theirs"}
	for _, dry := range []bool{true, false} {
		opts := staging
		opts.DryRun = dry
		cs, err := c.Apply(ctxT(t), in, opts)
		if err != nil {
			t.Fatal(err)
		}
		ch := wantAction(t, cs, theirs, Failed)
		if !errors.Is(ch.Err, ErrOwnedByOther) || ch.Message != "ConfigMap/"+ns+"/theirs is owned by environment shop/prod: an environment never adopts, overwrites or prunes another's object" {
			t.Errorf("dry run %v: %v / %q", dry, ch.Err, ch.Message)
		}
		if ch := wantAction(t, cs, ObjectID{Kind: "Namespace", Name: ns}, Skipped); ch.Message != "owned by environment shop/prod: left as it is" {
			t.Errorf("namespace: %q", ch.Message)
		}
		wantAction(t, cs, ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "nobodys"}, Configured)
	}
	cs := kubetest.Client(t, kubetest.Config(t))
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctxT(t), "theirs", metav1.GetOptions{})
	if err != nil || cm.Data["key"] != "prod" || cm.Labels[OwnerLabel] != prod.Owner.LabelValue() {
		t.Errorf("prod's ConfigMap changed: %v %v", err, cm)
	}
	nsObj, err := cs.CoreV1().Namespaces().Get(ctxT(t), ns, metav1.GetOptions{})
	if err != nil || nsObj.Labels[OwnerLabel] != prod.Owner.LabelValue() || nsObj.Labels["team"] != "" {
		t.Errorf("prod's Namespace changed: %v %v", err, nsObj.Labels)
	}
	if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctxT(t), "nobodys", metav1.GetOptions{}); err != nil || cm.Labels[OwnerLabel] != staging.Owner.LabelValue() {
		t.Errorf("an object nobody owned is adopted: %v %v", err, cm)
	}

	// The drift scan leaves it out too: it is not staging's to correct.
	dopts := DefaultDriftOptions()
	dopts.Owner = staging.Owner
	dcs, err := c.Drift(ctxT(t), in[:1], dopts)
	if err != nil {
		t.Fatal(err)
	}
	wantAction(t, dcs, theirs, Skipped)
}
