package hooks

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/kube"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

type checkBed struct {
	t       *testing.T
	ns      string
	cfg     *config.Config
	checker *Checker
	env     config.Environment
}

func newCheckBed(t *testing.T, tweak func(*config.Environment)) *checkBed {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	env := config.Environment{
		Branch: "main", Cluster: "local", Path: "deploy", Namespace: ns,
		Render: config.Render{Type: config.RenderAuto, Release: "main", Timeout: 30 * time.Second, MaxBytes: 64 << 20},
		Checks: config.Checks{MaxPrune: 20},
	}
	if tweak != nil {
		tweak(&env)
	}
	cfg := &config.Config{
		Clusters: map[string]config.Cluster{"local": {Kubeconfig: cp.Kubeconfig, Context: controlplane.ContextName}},
		Tests:    map[string]config.TestSpec{"no-api": {Command: []string{"sh", "-c", "! grep -q \"name: api\" all.yaml"}, Timeout: 10 * time.Second}},
	}
	return &checkBed{t: t, ns: ns, cfg: cfg, env: env,
		checker: &Checker{Config: cfg, Clusters: clusters.New(cfg, kube.DefaultClientOptions())}}
}

func (b *checkBed) check(files map[string]string, allowPrune bool) (*Checked, string) {
	fsys := fstest.MapFS{}
	for p, c := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(c)}
	}
	res := b.checker.Check(context.Background(), Target{Repo: b.ns, EnvName: "main", Env: b.env, Commit: strings.Repeat("ab", 20), Tree: fsys, AllowPrune: allowPrune})
	var out bytes.Buffer
	res.Report.Write(&out, Style{})
	return res, out.String()
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %s
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: %s
`

func deploymentYAML(replicas, image string) string {
	return strings.Replace(strings.Replace(webDeployment, "%s", replicas, 1), "%s", image, 1)
}

func TestCheckGoodPushPreview(t *testing.T) {
	b := newCheckBed(t, nil)
	res, out := b.check(map[string]string{
		"deploy/web.yaml":    deploymentYAML("2", "nginx:1.27"),
		"deploy/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n",
	}, false)
	if !res.Report.OK() {
		t.Fatalf("a good push must pass:\n%s", out)
	}
	for _, want := range []string{"preview: 2 to create", "+ Deployment.apps/" + b.ns + "/web", "+ Secret/" + b.ns + "/db", "ok: checks passed", "dry-run"} {
		if !containsWords(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if containsWords(out, "hunter2") {
		t.Errorf("secret value in the output:\n%s", out)
	}
}

func TestCheckAPIRefusalTiedToFileAndLine(t *testing.T) {
	b := newCheckBed(t, nil)
	res, out := b.check(map[string]string{
		"deploy/ok.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n",
		"deploy/web.yaml": "# the web tier\n---\n" + deploymentYAML("-1", "nginx:1.27"),
	}, false)
	if res.Report.OK() {
		t.Fatalf("a negative replica count must be refused:\n%s", out)
	}
	// The refusal names spec.replicas: the problem points at its line, not the object's.
	for _, want := range []string{"x deploy/web.yaml:8  Deployment.apps/" + b.ns + "/web", "dry-run:", "spec.replicas", "REJECTED: 1 problem"} {
		if !containsWords(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}

	// Server-side apply's own refusal of a misspelt field points at the misspelling.
	typo := strings.Replace(deploymentYAML("2", "nginx:1.27"), "        image:", "        imagee:", 1)
	res, out = b.check(map[string]string{"deploy/web.yaml": typo}, false)
	if res.Report.OK() {
		t.Fatalf("a misspelt field must be refused:\n%s", out)
	}
	for _, want := range []string{"x deploy/web.yaml:13  Deployment.apps/" + b.ns + "/web", "imagee: field not declared in schema",
		"hint: did you mean `image`?"} {
		if !containsWords(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestCheckCRDInSamePush(t *testing.T) {
	b := newCheckBed(t, func(e *config.Environment) { e.ClusterScoped = []string{"CustomResourceDefinition"} })
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`
	res, out := b.check(map[string]string{
		"deploy/crd.yaml":    crd,
		"deploy/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n",
	}, false)
	if !res.Report.OK() {
		t.Fatalf("a CR whose CRD arrives in the same push must pass:\n%s", out)
	}
}

func TestCheckPolicyAndTests(t *testing.T) {
	b := newCheckBed(t, func(e *config.Environment) {
		e.Checks.Policies = []string{"no-latest-tag"}
		e.Checks.Tests = []string{"no-api"}
	})
	res, out := b.check(map[string]string{"deploy/web.yaml": deploymentYAML("1", "nginx:latest")}, false)
	if res.Report.OK() || !containsWords(out, "x deploy/web.yaml:1  Deployment.apps/"+b.ns+"/web\n    no-latest-tag:") || !containsWords(out, "hint: pin the image") {
		t.Fatalf("policy violation expected:\n%s", out)
	}
	res, out = b.check(map[string]string{"deploy/web.yaml": deploymentYAML("1", "nginx:1.27")}, false)
	if !res.Report.OK() {
		t.Fatalf("pinned image and passing test:\n%s", out)
	}
	b.env.Checks.Policies = nil
	res, out = b.check(map[string]string{"deploy/api.yaml": strings.Replace(deploymentYAML("1", "nginx:1.27"), "name: web\nspec", "name: api\nspec", 1)}, false)
	if res.Report.OK() || !containsWords(out, "test: test no-api: exited with status 1") {
		t.Fatalf("a failing test must reject:\n%s", out)
	}
}

func TestCheckPruneGuard(t *testing.T) {
	b := newCheckBed(t, nil)
	cl, err := b.checker.Clusters.EnvClient(b.env)
	if err != nil {
		t.Fatal(err)
	}
	// What the environment owns now, as a previous apply would have recorded it.
	owner := kube.Owner{Repo: b.ns, Env: "main"}
	inv := kube.NewInventory(
		kube.ObjectID{Kind: "ConfigMap", Namespace: b.ns, Name: "kept"},
		kube.ObjectID{Kind: "ConfigMap", Namespace: b.ns, Name: "gone"},
		kube.ObjectID{Kind: "PersistentVolumeClaim", Namespace: b.ns, Name: "data"},
	)
	if err := cl.WriteInventory(context.Background(), owner, inv); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"deploy/kept.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n"}
	res, out := b.check(files, false)
	if res.Report.OK() || !containsWords(out, "prune-guard: this push would delete [PersistentVolumeClaim/"+b.ns+"/data]") || !containsWords(out, "- ConfigMap/"+b.ns+"/gone") {
		t.Fatalf("deleting a PVC needs confirmation:\n%s", out)
	}
	res, out = b.check(files, true)
	if !res.Report.OK() || !containsWords(out, "to prune") {
		t.Fatalf("with -o gitopsd.allow-prune the push passes:\n%s", out)
	}
	b.env.Checks.MaxPrune = 1
	b.env.Path = "other"
	res, out = b.check(map[string]string{"other/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}, false)
	if res.Report.OK() || !containsWords(out, "would delete 3 objects, more than the 1 allowed") {
		t.Fatalf("too many deletions need confirmation:\n%s", out)
	}
}

// TestCheckReportsEverythingAtOnce: a policy finding does not hide the API's verdict; the
// pusher fixes both in one round.
func TestCheckReportsEverythingAtOnce(t *testing.T) {
	b := newCheckBed(t, func(e *config.Environment) { e.Checks.Policies = []string{"no-latest-tag"} })
	res, out := b.check(map[string]string{"deploy/web.yaml": deploymentYAML("-1", "nginx:latest")}, false)
	if res.Report.OK() || !containsWords(out, "no-latest-tag:") || !containsWords(out, "dry-run:") || !containsWords(out, "REJECTED: 2 problems") {
		t.Fatalf("want the policy and the API refusal together:\n%s", out)
	}
}

// TestCheckBoundaryAndOwner: the door refuses an object outside the environment's
// namespaces (at render, so without the cluster too) and one that another environment owns
// (at the dry run), each with the way out.
func TestCheckBoundaryAndOwner(t *testing.T) {
	b := newCheckBed(t, func(e *config.Environment) { e.Name = "main" })
	res, out := b.check(map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: elsewhere}\n"}, false)
	if res.Report.OK() || !containsWords(out, "x deploy/cm.yaml:1  ConfigMap/elsewhere/a\n    namespace-boundary: ConfigMap/elsewhere/a is in namespace elsewhere, which environment main may not touch") ||
		!containsWords(out, "hint: add elsewhere to namespaces: of environment main in repos.yaml, or remove metadata.namespace") {
		t.Fatalf("an object outside the environment's namespaces must be refused:\n%s", out)
	}

	cl, err := b.checker.Clusters.EnvClient(b.env)
	if err != nil {
		t.Fatal(err)
	}
	opts := kube.DefaultApplyOptions()
	opts.Owner = &kube.Owner{Repo: "shop", Env: "prod"}
	theirs := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "theirs", "namespace": b.ns}}}
	if cs, err := cl.Apply(context.Background(), []*unstructured.Unstructured{theirs}, opts); err != nil || cs.HasFailed() {
		t.Fatalf("%v %v", err, cs)
	}
	res, out = b.check(map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs}\ndata: {a: b}\n"}, false)
	if res.Report.OK() || !containsWords(out, "dry-run: ConfigMap/"+b.ns+"/theirs is owned by environment shop/prod") ||
		!containsWords(out, "hint: remove it from this push; if its environment gave it up, remove the gitopsd.dev/owner label") {
		t.Fatalf("another environment's object must be refused naming its owner:\n%s", out)
	}
}
