package render

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// chart is a small chart with a vendored subchart, a CRD, a test hook and NOTES.txt.
func testChart(extra map[string]string) map[string]string {
	files := map[string]string{
		"charts/web/Chart.yaml":             "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  condition: redis.enabled\n",
		"charts/web/values.yaml":            "replicas: 1\nimage: nginx:1.27\nredis:\n  enabled: true\n",
		"charts/web/templates/_helpers.tpl": `{{- define "web.name" -}}{{ .Release.Name }}-web{{- end -}}`,
		"charts/web/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.name" . }}
  annotations:
    kube: {{ .Capabilities.KubeVersion.Version | quote }}
    hpa-v2: {{ .Capabilities.APIVersions.Has "autoscaling/v2" | quote }}
    widgets: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
    lookup: {{ lookup "v1" "Secret" "kube-system" "x" | len | quote }}
    ns: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
`,
		"charts/web/templates/NOTES.txt":             "Thanks for installing {{ .Release.Name }}",
		"charts/web/templates/test.yaml":             "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    helm.sh/hook: test\n",
		"charts/web/crds/widget.yaml":                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n",
		"charts/web/charts/redis/Chart.yaml":         "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
		"charts/web/charts/redis/values.yaml":        "port: 6379\n",
		"charts/web/charts/redis/templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-redis\nspec:\n  ports: [{port: {{ .Values.port }}}]\n",
		"envs/prod.yaml":                             "replicas: 3\nredis:\n  port: 7000\n",
		"envs/prod-2.yaml":                           "image: nginx:1.28\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

func helmOpts() Options {
	return Options{Path: "charts/web", DefaultNamespace: "shop", Release: "prod",
		ValuesFiles: []string{"envs/prod.yaml", "envs/prod-2.yaml"},
		KubeVersion: "v1.37.2", APIVersions: []string{"example.com/v1/Widget"}}
}

func TestHelmChart(t *testing.T) {
	res := render(t, tree(testChart(nil)), helmOpts())
	wantOK(t, res)
	if res.Type != TypeHelm {
		t.Errorf("type %s", res.Type)
	}
	got := names(res)
	want := []string{
		"CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com@charts/web/crds/widget.yaml:1",
		"Service/shop/prod-redis@charts/web/charts/redis/templates/svc.yaml:2",
		"Deployment.apps/shop/prod-web@charts/web/templates/deployment.yaml:2",
		// Kept for desired.PlanSync, which names it in a warning and never applies it.
		"Pod/shop/prod-test@charts/web/templates/test.yaml:2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("objects\n got %v\nwant %v", got, want)
	}
	d := res.Objects[2]
	anns := d.GetAnnotations()
	for k, v := range map[string]string{"kube": "v1.37.2", "hpa-v2": "true", "widgets": "true", "lookup": "0", "ns": "shop"} {
		if anns[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, anns[k], v)
		}
	}
	spec := d.Object["spec"].(map[string]any)
	if spec["replicas"] != int64(3) {
		t.Errorf("replicas %#v: values files not applied", spec["replicas"])
	}
	port := res.Objects[1].Object["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"]
	if port != int64(7000) {
		t.Errorf("subchart port %#v: values for the subchart not applied", port)
	}
}

// TestHelmFilesOutsideChart tries every way a template could read the host.
func TestHelmFilesOutsideChart(t *testing.T) {
	res := render(t, tree(testChart(map[string]string{
		"charts/web/templates/steal.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: steal
data:
  get: {{ .Files.Get "../../etc/passwd" | quote }}
  abs: {{ .Files.Get "/etc/passwd" | quote }}
  glob: {{ .Files.Glob "../**" | len | quote }}
  up: {{ .Files.Get "../../envs/prod.yaml" | quote }}
  env: {{ env "HOME" | quote }}
  dns: {{ getHostByName "localhost" | quote }}
`,
	})), helmOpts())
	// Literal paths outside the chart are refused before rendering, each at its line.
	if len(res.Problems) != 4 {
		t.Fatalf("want the 4 literal references refused, got %v", res.Problems)
	}
	for i, want := range []string{`:6: .Files.Get "../../etc/passwd"`, `:7: .Files.Get "/etc/passwd"`, `:8: .Files.Glob "../**"`, `:9: .Files.Get "../../envs/prod.yaml"`} {
		if p := res.Problems[i]; p.Rule != RuleOutsideRepo || !strings.Contains(p.String(), "charts/web/templates/steal.yaml"+want+" names a file outside the chart") {
			t.Errorf("problem %d: %s", i, p)
		}
	}
	// env is not a Helm function: the chart fails to parse, which is also safe.
	res = render(t, tree(testChart(map[string]string{
		"charts/web/templates/steal.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: steal\ndata:\n  env: {{ env \"HOME\" | quote }}\n",
	})), helmOpts())
	wantProblem(t, res, RuleHelm, `charts/web/templates/steal.yaml:6: parse error: function "env" not defined`)
	// Paths built at render time are not seen before rendering; they read nothing.
	res = render(t, tree(testChart(map[string]string{
		"charts/web/templates/steal.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: steal
data:
  get: {{ .Files.Get (printf "../../%s" "etc/passwd") | quote }}
  abs: {{ .Files.Get (printf "/etc/%s" "passwd") | quote }}
  glob: {{ .Files.Glob (printf "../%s" "**") | len | quote }}
  up: {{ .Files.Get (print "../../envs/" "prod.yaml") | quote }}
  dns: {{ getHostByName "localhost" | quote }}
`,
	})), helmOpts())
	wantOK(t, res)
	for _, o := range res.Objects {
		if o.GetName() != "steal" {
			continue
		}
		data := o.Object["data"].(map[string]any)
		for k, v := range map[string]any{"get": "", "abs": "", "glob": "0", "up": "", "dns": ""} {
			if data[k] != v {
				t.Errorf("%s = %q, want %q", k, data[k], v)
			}
		}
		return
	}
	t.Error("steal ConfigMap missing")
}

func TestHelmMissingValuesFile(t *testing.T) {
	o := helmOpts()
	o.ValuesFiles = append(o.ValuesFiles, "envs/missing.yaml")
	res := render(t, tree(testChart(nil)), o)
	wantProblem(t, res, RuleHelmValues, "envs/missing.yaml: values file: no such file or directory")
	if len(res.Objects) != 0 {
		t.Errorf("objects %v", names(res))
	}
}

func TestHelmMissingDependency(t *testing.T) {
	files := testChart(nil)
	for k := range files {
		if strings.HasPrefix(k, "charts/web/charts/") {
			delete(files, k)
		}
	}
	res := render(t, tree(files), helmOpts())
	wantProblem(t, res, RuleHelmDependency, `charts/web/Chart.yaml: dependency "redis" is not in charts/`)
}

func TestHelmSchemaRefs(t *testing.T) {
	for ref, want := range map[string]string{
		"file:///etc/passwd":              `schema reference "file:///etc/passwd" points outside the schema`,
		"passwd.json":                     `schema reference "passwd.json" points outside the schema`,
		"https://example.com/schema.json": `schema reference "https://example.com/schema.json" points outside the schema`,
	} {
		res := render(t, tree(testChart(map[string]string{
			"charts/web/values.schema.json": `{"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"replicas": {"$ref": "` + ref + `"}}}`,
		})), helmOpts())
		wantProblem(t, res, RuleHelmSchema, "charts/web/values.schema.json:1: "+want)
	}
	// A schema with local references is used, and its verdict is a problem.
	res := render(t, tree(testChart(map[string]string{
		"charts/web/values.schema.json": `{"definitions": {"n": {"type": "integer", "maximum": 2}}, "properties": {"replicas": {"$ref": "#/definitions/n"}}}`,
	})), helmOpts())
	wantProblem(t, res, RuleHelmValues, "charts/web/values.yaml: values don't meet the specifications of the schema", "replicas")
}

func TestHelmTemplateErrors(t *testing.T) {
	res := render(t, tree(testChart(map[string]string{
		"charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ required \"set .Values.needed\" .Values.needed }}\n",
	})), helmOpts())
	wantProblem(t, res, RuleHelm, "charts/web/templates/cm.yaml:6: set .Values.needed [helm]")

	res = render(t, tree(testChart(map[string]string{
		"charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.x \n",
	})), helmOpts())
	wantProblem(t, res, RuleHelm, "charts/web/templates/cm.yaml:6: parse error: unclosed action")

	// Rendered output that is not YAML: the line is in the output, not the template.
	res = render(t, tree(testChart(map[string]string{
		"charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.image }}: oops\n",
	})), helmOpts())
	wantProblem(t, res, RuleYAMLSyntax, "charts/web/templates/cm.yaml: line 6 of the rendered output: invalid YAML: mapping values are not allowed")

	// Infinite include recursion is stopped by Helm's own limit.
	res = render(t, tree(testChart(map[string]string{
		"charts/web/templates/_loop.tpl": `{{ define "loop" }}{{ include "loop" . }}{{ end }}`,
		"charts/web/templates/cm.yaml":   `{{ include "loop" . }}`,
	})), helmOpts())
	wantProblem(t, res, RuleHelm, "charts/web/templates/_loop.tpl:1: rendering template has a nested reference name: loop")
}

// spin is a template that iterates 2*10^6 times: a second or more, far beyond the timeouts
// below, and it allocates little.
const spin = `{{ range until 1000 }}{{ range until 100 }}{{ range until 20 }}{{ end }}{{ end }}{{ end }}`

// TestHelmTimeout renders a template that loops: Render gives up at its deadline, while the
// abandoned goroutine runs on until the template ends (in the daemon, the render process
// that holds it is killed: package sandbox). Renders after it are not held up.
func TestHelmTimeout(t *testing.T) {
	o := helmOpts()
	o.Timeout = 100 * time.Millisecond
	files := tree(testChart(map[string]string{"charts/web/templates/spin.yaml": spin}))
	for range 2 {
		start := time.Now()
		res := render(t, files, o)
		wantProblem(t, res, RuleTimeout, "charts/web: rendering took longer than 100ms")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Render returned after %v", d)
		}
	}
	res := render(t, tree(map[string]string{"m/a.yaml": deploy}), Options{Path: "m", DefaultNamespace: "x"})
	wantOK(t, res)
}

func TestHelmBombInValues(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, c := range "bcdefgh" {
		bomb += string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 10), ",") + "]\n"
		prev = string(c)
	}
	res := render(t, tree(testChart(map[string]string{"envs/prod.yaml": bomb})), helmOpts())
	wantProblem(t, res, RuleYAMLAliases, "envs/prod.yaml:")
	res = render(t, tree(testChart(map[string]string{"charts/web/values.yaml": bomb})), helmOpts())
	wantProblem(t, res, RuleYAMLAliases, "charts/web/values.yaml:")
}

func TestHelmKubeVersionConstraint(t *testing.T) {
	files := testChart(nil)
	files["charts/web/Chart.yaml"] = strings.Replace(files["charts/web/Chart.yaml"], "version: 0.1.0\n", "version: 0.1.0\nkubeVersion: \">=1.40.0\"\n", 1)
	res := render(t, tree(files), helmOpts())
	wantProblem(t, res, RuleHelm, "chart requires kubeVersion >=1.40.0, the cluster runs v1.37.2")
}

// TestHelmSymlinkOut commits a chart file that is a symlink to /etc/passwd: the chart is
// refused with the link named, and nothing of the file reaches the output.
func TestHelmSymlinkOut(t *testing.T) {
	files := testChart(map[string]string{
		"charts/web/files/passwd":      "symlink:/etc/passwd",
		"charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\ndata:\n  p: {{ .Files.Get \"files/passwd\" | quote }}\n",
	})
	res := render(t, gitTree(t, files), helmOpts())
	wantProblem(t, res, RuleRead, "charts/web/files/passwd: cannot read: charts/web/files/passwd -> /etc/passwd: symlink points outside the repository")
	if len(res.Objects) != 0 || strings.Contains(dump(res), "root:") {
		t.Errorf("rendered anyway: %s", dump(res))
	}
}

// TestHelmUnreadValues: a key of the environment's values that no template reads is
// warned at its line, with the read key it likely meant; keys read whole, through a
// prefix, by a subchart, or global are not; nothing is refused.
func TestHelmUnreadValues(t *testing.T) {
	files := valuesChart(map[string]string{
		"chart/Chart.yaml":                          "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: cache\n  version: 1.0.0\n  alias: redis\n",
		"chart/charts/cache/Chart.yaml":             "apiVersion: v2\nname: cache\nversion: 1.0.0\n",
		"chart/charts/cache/templates/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: cache\nspec:\n  ports:\n  - port: {{ index .Values \"port-number\" }}\n",
		"envs/prod.yaml": `replicas: 3
hpaa:
  enabled: true
hpa:
  enabld: true
resources:
  limits: {memory: 1Gi, cpus: 2}
redis:
  port-number: 6380
global:
  anything: 1
imagee: nginx:1.28
zzz: 1
`,
	})
	res := render(t, tree(files), valuesOpts())
	wantOK(t, res)
	for _, o := range res.Objects {
		if o.GetKind() == "HorizontalPodAutoscaler" {
			t.Errorf("hpa.enabled was not set, yet the HPA renders:%s", dump(res))
		}
		if o.GetKind() == "Service" && o.Source.File != "chart/charts/cache/templates/service.yaml" {
			t.Errorf("the aliased subchart's Service is at %s", o.Source)
		}
	}
	var got []string
	for _, w := range res.Warnings {
		if w.Rule != RuleHelmUnread {
			t.Errorf("warning with rule %s", w.Rule)
		}
		got = append(got, w.String()+" / "+w.Hint)
	}
	want := []string{
		"envs/prod.yaml:2: hpaa: no template reads it [helm-unread-value] / did you mean hpa?",
		"envs/prod.yaml:5: hpa.enabld: no template reads it [helm-unread-value] / did you mean hpa.enabled?",
		"envs/prod.yaml:12: imagee: no template reads it [helm-unread-value] / did you mean image?",
		"envs/prod.yaml:13: zzz: no template reads it [helm-unread-value] / check its spelling against the chart's values.yaml, or remove it",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n got %q\nwant %q", got, want)
	}

	// A template that passes .Values on whole may read any key.
	files["chart/templates/all.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: all\ndata:\n  values: {{ toYaml .Values | quote }}\n"
	if res := render(t, tree(files), valuesOpts()); len(res.Warnings) != 0 {
		t.Errorf("warnings with .Values read whole: %v", res.Warnings)
	}
}

// TestHelmKindLines: each object of a template that renders several of one kind is at its
// own kind line; objects behind an if that did not render leave the others at line 0.
func TestHelmKindLines(t *testing.T) {
	files := valuesChart(map[string]string{
		"chart/templates/cms.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n" +
			"---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
		"chart/templates/maybe.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n{{- if .Values.hpa.enabled }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n{{- end }}\n",
		"envs/prod.yaml":             "hpa: {enabled: false}\n",
	})
	res := render(t, tree(files), valuesOpts())
	wantOK(t, res)
	got := names(res)
	want := []string{
		"ConfigMap/shop/a@chart/templates/cms.yaml:2",
		"ConfigMap/shop/b@chart/templates/cms.yaml:6",
		"Secret/shop/s@chart/templates/cms.yaml:10",
		"Deployment.apps/shop/web@chart/templates/deployment.yaml:2",
		"ConfigMap/shop/c@chart/templates/maybe.yaml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("objects\n got %v\nwant %v", got, want)
	}
}
