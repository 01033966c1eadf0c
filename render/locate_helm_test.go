package render

import (
	"testing"
)

// valuesChart is a chart whose Deployment takes its replicas, image and resources from
// values, with an HPA behind hpa.enabled, and two environment values files.
func valuesChart(extra map[string]string) map[string]string {
	files := map[string]string{
		"chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"chart/values.yaml": `replicas: 1
image: nginx:1.27
resources:
  limits:
    memory: 128Mi
    cpu: 500m
hpa:
  enabled: false
  minReplicas: 1
  maxReplicas: 3
`,
		"chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
        imagePullPolicy: Alwayz
        resources:
          {{- toYaml .Values.resources | nindent 10 }}
`,
		"chart/templates/hpa.yaml": `{{- if .Values.hpa.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .Release.Name }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ .Release.Name }}}
  minReplicas: {{ .Values.hpa.minReplicas }}
  maxReplicas: {{ .Values.hpa.maxReplicas }}
{{- end }}
`,
		"envs/base.yaml": "resources:\n  limits:\n    memory: 1Gi\n",
		"envs/prod.yaml": `replicas: 3
hpa:
  enabled: true
resources:
  limits:
    memory: 256MB_
`,
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

func valuesOpts() Options {
	return Options{Path: "chart", DefaultNamespace: "shop", Release: "web", ValuesFiles: []string{"envs/base.yaml", "envs/prod.yaml"}}
}

// rendered renders files with opts and returns the object of kind, and a Locator for it.
func rendered(t *testing.T, files map[string]string, opts Options, kind string) (Object, *Locator) {
	t.Helper()
	fsys := tree(files)
	res := render(t, fsys, opts)
	wantOK(t, res)
	for _, o := range res.Objects {
		if o.GetKind() == kind {
			return o, NewLocator(fsys, res.Type, opts)
		}
	}
	t.Fatalf("no %s in %s", kind, dump(res))
	return Object{}, nil
}

func TestLocateHelm(t *testing.T) {
	dep, loc := rendered(t, valuesChart(nil), valuesOpts(), "Deployment")
	hpa, _ := rendered(t, valuesChart(nil), valuesOpts(), "HorizontalPodAutoscaler")
	const tmpl = "chart/templates/deployment.yaml"
	for _, c := range []struct {
		name  string
		obj   Object
		field string
		at    string
		via   string
	}{
		// The environment's last file wins over its first and over the chart's values.yaml;
		// the template passes the whole of .Values.resources on.
		{"env file, last wins", dep, "spec.template.spec.containers[0].resources.limits.memory", "envs/prod.yaml:6", tmpl + ":16"},
		{"list keys", dep, `.spec.template.spec.containers[name="web"].resources.limits.memory`, "envs/prod.yaml:6", tmpl + ":16"},
		{"chart's values.yaml", dep, "spec.template.spec.containers[0].resources.limits.cpu", "chart/values.yaml:6", tmpl + ":16"},
		{"read by name", dep, "spec.replicas", "envs/prod.yaml:1", tmpl + ":6"},
		// replicas and hpa.maxReplicas are both 3 and both read: the template that reads
		// it, and the field's own key, decide.
		{"same value, the field's key", hpa, "spec.maxReplicas", "chart/values.yaml:10", "chart/templates/hpa.yaml:9"},
		// Written in the template: its key's line there.
		{"literal", dep, "spec.template.spec.containers[0].imagePullPolicy", tmpl + ":14", ""},
		// Not in the object: the object's own line.
		{"absent field", dep, "spec.paused", tmpl + ":2", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			at, via := loc.Locate(c.obj, c.field)
			if at.String() != c.at {
				t.Errorf("at %s, want %s", at, c.at)
			}
			got := ""
			if len(via) == 1 {
				got = via[0].String()
			} else if len(via) > 1 {
				t.Errorf("via %v, want one", via)
			}
			if got != c.via {
				t.Errorf("via %q, want %q", got, c.via)
			}
		})
	}
}

// TestLocateHelmUnsure: a value two values keys set alike, neither named as the field
// and both read by the object's template, is not guessed: the template is the place.
func TestLocateHelmUnsure(t *testing.T) {
	files := valuesChart(map[string]string{
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: {{ .Values.left | quote }}\n  b: {{ .Values.right | quote }}\n",
		"envs/prod.yaml":          "left: same\nright: same\n",
	})
	cm, loc := rendered(t, files, valuesOpts(), "ConfigMap")
	at, via := loc.Locate(cm, "data.a")
	if at.File != "chart/templates/cm.yaml" || len(via) != 0 {
		t.Errorf("at %s via %v: guessed between two equal values", at, via)
	}
}

// TestLocateHelmSubchart: a subchart's value is set under its name in the parent's
// values, and in its own values.yaml otherwise.
func TestLocateHelmSubchart(t *testing.T) {
	files := valuesChart(map[string]string{
		"chart/Chart.yaml":                          "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: cache\n  version: 1.0.0\n",
		"chart/charts/cache/Chart.yaml":             "apiVersion: v2\nname: cache\nversion: 1.0.0\n",
		"chart/charts/cache/values.yaml":            "port: 6379\nprotocol: TCB\n",
		"chart/charts/cache/templates/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: cache\nspec:\n  ports:\n  - port: {{ .Values.port }}\n    protocol: {{ .Values.protocol }}\n",
		"envs/prod.yaml":                            "cache:\n  port: 70000\n",
	})
	svc, loc := rendered(t, files, valuesOpts(), "Service")
	if at, via := loc.Locate(svc, "spec.ports[0].port"); at.String() != "envs/prod.yaml:2" || len(via) != 1 || via[0].String() != "chart/charts/cache/templates/service.yaml:7" {
		t.Errorf("port at %s via %v", at, via)
	}
	if at, _ := loc.Locate(svc, "spec.ports[0].protocol"); at.String() != "chart/charts/cache/values.yaml:2" {
		t.Errorf("protocol at %s", at)
	}
}
