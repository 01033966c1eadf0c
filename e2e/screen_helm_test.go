package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// screenChart is a chart as most are written: the Deployment's resources are the
// values' resources passed on whole (line 16 of the template), and the HPA renders only
// when hpa.enabled is set.
var screenChart = map[string]string{
	"chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"chart/values.yaml": `replicas: 1
image: nginx:1.27
resources:
  limits:
    memory: 128Mi
    cpu: 500m
hpa:
  enabled: false
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
        imagePullPolicy: IfNotPresent
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
  minReplicas: 1
  maxReplicas: {{ .Values.hpa.maxReplicas }}
{{- end }}
`,
}

// prodValues is the environment's values file: memory on line 6, the hpa key on line 2.
func prodValues(hpaKey, memory string) string {
	return "replicas: 2\n" + hpaKey + ":\n  enabled: true\nresources:\n  limits:\n    memory: " + memory + "\n"
}

// TestScreenHelmValues: a value the API server refuses is reported at the values file
// line that set it, the environment's file before the chart's values.yaml, with the
// template line it passes through; a misspelt values key that drops the HPA is warned at
// its line, with the key it meant.
func TestScreenHelmValues(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		"prod: {branch: main, cluster: local, path: chart, namespace: %s, render: {type: helm, release: web, values: [envs/values-prod.yaml]}, apply: {health_timeout: 5s}}", ns))
	files := map[string]string{"envs/values-prod.yaml": prodValues("hpa", "256MB_")}
	for k, v := range screenChart {
		files[k] = v
	}
	dep := "Deployment.apps/" + ns + "/web"

	d.Commit(t, alice, work, "bad memory in the environment", files)
	out, ok := push(t, d, alice, work, "main")
	if ok {
		t.Fatalf("memory: 256MB_ was accepted:\n%s", out)
	}
	outputHas(t, out,
		"remote:   x envs/values-prod.yaml:6  "+dep,
		"remote:     via: chart/templates/deployment.yaml:16",
		`remote:     dry-run: spec.template.spec.containers[0].resources.limits.memory: "256MB_" is not a quantity`,
		"remote:   REJECTED: 1 problem")
	if head := remoteHead(t, d, "main", ns); head != "" {
		t.Errorf("a refused push moved the branch to %s", head)
	}

	// The environment's file does not set cpu: the chart's values.yaml does.
	d.Commit(t, alice, work, "bad cpu in the chart", map[string]string{
		"envs/values-prod.yaml": prodValues("hpa", "256Mi"),
		"chart/values.yaml":     strings.Replace(screenChart["chart/values.yaml"], "cpu: 500m", "cpu: 500mm", 1),
	})
	out, ok = push(t, d, alice, work, "main")
	if ok {
		t.Fatalf("cpu: 500mm was accepted:\n%s", out)
	}
	outputHas(t, out,
		"remote:   x chart/values.yaml:6  "+dep,
		"remote:     via: chart/templates/deployment.yaml:16",
		`remote:     dry-run: spec.template.spec.containers[0].resources.limits.cpu: "500mm" is not a quantity`,
		"remote:   REJECTED: 1 problem")
	if hasWords(out, "envs/values-prod.yaml:6") {
		t.Errorf("the environment's memory, now good, is still blamed:\n%s", out)
	}
	if head := remoteHead(t, d, "main", ns); head != "" {
		t.Errorf("a refused push moved the branch to %s", head)
	}

	// hpaa: for hpa: renders no HPA, which is no refusal: the push goes through, warned.
	d.Commit(t, alice, work, "typo", map[string]string{
		"envs/values-prod.yaml": prodValues("hpaa", "256Mi"),
		"chart/values.yaml":     screenChart["chart/values.yaml"],
	})
	out, ok = push(t, d, alice, work, "main")
	if !ok {
		t.Fatalf("a values typo was refused:\n%s", out)
	}
	outputHas(t, out,
		"remote:   note: envs/values-prod.yaml:2: hpaa: no template reads it",
		"remote:       did you mean hpa?",
		"remote:     + "+dep)
	if hasWords(out, "HorizontalPodAutoscaler") {
		t.Errorf("the HPA renders though hpa.enabled is unset:\n%s", out)
	}
}
