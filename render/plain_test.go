package render

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const deploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
`

func TestPlainGood(t *testing.T) {
	fsys := tree(map[string]string{
		"deploy/app/web.yaml":   deploy + "---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: other\n",
		"deploy/ns.yml":         "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
		"deploy/cm.json":        "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\"name\": \"json\"},\n  \"data\": {\"n\": \"1\"}\n}\n",
		"deploy/list.yaml":      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
		"deploy/README.md":      "# apiVersion: not a manifest\n",
		"deploy/manifest":       "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sniffed\n",
		"deploy/.hidden/x.yaml": "not: [valid",
		"other/ignored.yaml":    "not: [valid",
		"deploy/anchors.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchors\n  labels: &l {app: web}\n  annotations:\n    <<: *l\n    team: x\ndata:\n  port: \"80\"\n",
	})
	res := render(t, fsys, Options{Path: "deploy", DefaultNamespace: "shop"})
	wantOK(t, res)
	if res.Type != TypePlain {
		t.Errorf("type %s", res.Type)
	}
	want := []string{
		"ConfigMap/shop/anchors@deploy/anchors.yaml:1",
		"Deployment.apps/shop/web@deploy/app/web.yaml:1",
		"Service/other/web@deploy/app/web.yaml:10",
		"ConfigMap/shop/json@deploy/cm.json:1",
		"ConfigMap/shop/a@deploy/list.yaml:4",
		"ConfigMap/shop/b@deploy/list.yaml:7",
		"Secret/shop/sniffed@deploy/manifest:1",
		"Namespace/shop@deploy/ns.yml:1",
	}
	if got := names(res); !slices.Equal(got, want) {
		t.Errorf("objects:\n got %v\nwant %v", got, want)
	}
	// Values are JSON-compatible (int64, not int), so the objects can be deep-copied.
	d := res.Objects[1].DeepCopy()
	if r, _ := d.Object["spec"].(map[string]any)["replicas"].(int64); r != 2 {
		t.Errorf("replicas: %#v", d.Object["spec"])
	}
	if anns := res.Objects[0].GetAnnotations(); anns["app"] != "web" || anns["team"] != "x" {
		t.Errorf("merge key: %v", anns)
	}
}

func TestPlainSingleFile(t *testing.T) {
	res := render(t, tree(map[string]string{"a/web.yaml": deploy}), Options{Path: "./a/web.yaml/", DefaultNamespace: "x"})
	wantOK(t, res)
	if len(res.Objects) != 1 {
		t.Errorf("objects: %v", names(res))
	}
}

func TestPlainInvalidYAML(t *testing.T) {
	res := render(t, tree(map[string]string{
		"m/bad.yaml": deploy + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: 1\n",
	}), Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleYAMLSyntax, "m/bad.yaml:8: invalid YAML: did not find expected key")
	// The document before the error is still rendered.
	if len(res.Objects) != 1 {
		t.Errorf("objects: %v", names(res))
	}
}

func TestPlainUnknownAnchor(t *testing.T) {
	// The YAML library gives no line for this error: it is the alias's first use.
	res := render(t, tree(map[string]string{"m/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: *nope\n"}), Options{Path: "m"})
	wantProblem(t, res, RuleYAMLSyntax, `m/a.yaml:4: invalid YAML: unknown anchor 'nope' referenced`)
}

func TestPlainDuplicateKey(t *testing.T) {
	res := render(t, tree(map[string]string{"m/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n"}), Options{Path: "m"})
	wantProblem(t, res, RuleYAMLSyntax, `m/a.yaml:5: mapping key "name" already defined at line 4`)
}

// TestPlainYAMLBomb is the "billion laughs": nine levels of nine aliases would expand to
// 387 million nodes.
func TestPlainYAMLBomb(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, c := range "bcdefghi" {
		n := string(c)
		bomb += "  " + n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n"
		prev = n
	}
	res := render(t, tree(map[string]string{"m/bomb.yaml": bomb}), Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleYAMLAliases, "m/bomb.yaml:", "YAML aliases expand to more than 100000 nodes")
	if len(res.Objects) != 0 {
		t.Errorf("objects: %v", names(res))
	}
}

func TestPlainDeepNesting(t *testing.T) {
	deep := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: " + strings.Repeat("[", 150) + strings.Repeat("]", 150) + "\n"
	res := render(t, tree(map[string]string{"m/deep.yaml": deep}), Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleYAMLDepth, "m/deep.yaml:5: document is nested more than 100 levels deep")

	// Deeper than the parser's own limit: refused by the parser, with a line.
	deeper := "a: " + strings.Repeat("[", 20000) + "\n"
	res = render(t, tree(map[string]string{"m/deep.yaml": deeper}), Options{Path: "m"})
	wantProblem(t, res, RuleYAMLSyntax, "m/deep.yaml: invalid YAML: exceeded max depth of 10000")
}

func TestPlainBinaryAndUTF8(t *testing.T) {
	res := render(t, tree(map[string]string{
		"m/blob.yaml":  "apiVersion: v1\n\x00\x01\x02",
		"m/logo.png":   "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"m/latin.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n",
		"m/ok.yaml":    deploy,
	}), Options{Path: "m", DefaultNamespace: "x"})
	var bin []string
	for _, p := range res.Problems {
		if p.Rule == RuleBinary {
			bin = append(bin, p.String())
		}
	}
	slices.Sort(bin)
	want := []string{
		"m/blob.yaml:2: binary file in the manifest path [binary-file]",
		"m/logo.png:3: binary file in the manifest path [binary-file]",
	}
	if !slices.Equal(bin, want) {
		t.Errorf("binary problems %q, want %q", bin, want)
	}
	wantProblem(t, res, RuleUTF8, "m/latin.yaml:4: invalid UTF-8 at byte 52")
	if len(res.Objects) != 1 {
		t.Errorf("objects: %v", names(res))
	}
}

func TestPlainMissingFields(t *testing.T) {
	res := render(t, tree(map[string]string{
		"m/a.yaml": "kind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: b-\n---\n- just a list\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: [x]\n",
		// A hook may have a generateName: it is created at its phase, not applied.
		"m/hook.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations: {argocd.argoproj.io/hook: PreSync}\n",
	}), Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleNotObject, "m/a.yaml:10: document is a list, not a Kubernetes object")
	var got []string
	for _, p := range res.Problems {
		if p.Rule == RuleMissingField {
			got = append(got, p.String()+" / "+p.Hint)
		}
	}
	want := []string{
		"m/a.yaml:1: ConfigMap/a: missing apiVersion [missing-field] / every object needs apiVersion, kind and metadata.name",
		"m/a.yaml:5: ConfigMap/b-: missing metadata.name [missing-field] / generateName is for hooks only (annotation argocd.argoproj.io/hook: PreSync, Sync or PostSync); give other objects a name",
		"m/a.yaml:12: ConfigMap/?: metadata is not a mapping [missing-field] / ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlainDuplicates(t *testing.T) {
	res := render(t, tree(map[string]string{
		"m/a.yaml": deploy,
		"m/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n---\n" + strings.Replace(deploy, "apps/v1", "apps/v1beta2", 1),
	}), Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleDuplicate, "m/b.yaml:6: Deployment.apps/x/web: duplicate object, first defined at m/a.yaml:1")
	if len(res.Objects) != 2 {
		t.Errorf("objects: %v", names(res))
	}
}

func TestPlainNamespaces(t *testing.T) {
	files := map[string]string{
		"m/a.yaml": deploy +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cr\n  namespace: nope\n" +
			"---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n" +
			"---\napiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n" +
			"---\napiVersion: other.io/v1\nkind: Thing\nmetadata:\n  name: t\n",
		"m/crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: {kind: Gadget, plural: gadgets}\n",
	}
	// Offline, no default namespace: the Deployment is refused, the unknown Widget and
	// Thing pass (the cluster dry-run will judge them).
	res := render(t, tree(files), Options{Path: "m"})
	wantProblem(t, res, RuleNamespace, "m/a.yaml:1: Deployment.apps/web: namespaced object without metadata.namespace")
	wantProblem(t, res, RuleClusterScoped, "m/a.yaml:8: ClusterRole.rbac.authorization.k8s.io/nope/cr: ClusterRole is cluster-scoped but sets metadata.namespace \"nope\"")
	if len(res.Problems) != 2 {
		t.Errorf("problems: %s", dump(res))
	}
	// With the cluster's scopes: Widget is namespaced and defaulted, Thing is unknown,
	// Gadget is cluster-scoped by the CRD in the same push.
	res = render(t, tree(files), Options{Path: "m", DefaultNamespace: "shop",
		Scope: scopeOf(map[string]bool{"Deployment": true, "ClusterRole": false, "Widget": true, "CustomResourceDefinition": false})})
	wantProblem(t, res, RuleUnknownKind, "m/a.yaml:24: Thing.other.io/t: the cluster does not serve other.io/v1 Thing")
	got := names(res)
	for _, w := range []string{"Deployment.apps/shop/web@m/a.yaml:1", "Widget.example.com/shop/w@m/a.yaml:14", "Gadget.example.com/g@m/a.yaml:19", "CustomResourceDefinition.apiextensions.k8s.io/gadgets.example.com@m/crd.yaml:1"} {
		if !slices.Contains(got, w) {
			t.Errorf("missing %s in %v", w, got)
		}
	}
}

func TestPathErrors(t *testing.T) {
	res := render(t, tree(map[string]string{"a.yaml": deploy}), Options{Path: "missing"})
	wantProblem(t, res, RuleRead, "missing: cannot read the manifest path: no such file or directory")
	if _, err := Render(t.Context(), tree(nil), Options{Type: "jsonnet"}); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestPlainProblemsInWalkOrder(t *testing.T) {
	// Files are decoded concurrently; what they report still comes in the walk's order.
	files := map[string]string{}
	var want []string
	for i := range 12 {
		name := fmt.Sprintf("m/f%02d.yaml", i)
		files[name] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x}\n"
		want = append(want, name)
	}
	res := render(t, tree(files), Options{Path: "m", DefaultNamespace: "x"})
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.File)
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems in order %v, want %v", got, want)
	}
}
