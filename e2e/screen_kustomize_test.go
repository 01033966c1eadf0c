package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// A podinfo-style Kustomize tree: a base, and an overlay with a strategic-merge patch and
// a JSON 6902 patch. The tests name lines of these files.
var screenKustomize = map[string]string{
	"deploy/base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
	"deploy/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.7.0
        ports:
        - name: http
          containerPort: 9898
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
`,
	"deploy/base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\nspec:\n  selector:\n    app: podinfo\n  ports:\n  - port: 9898\n",
	"deploy/overlays/prod/kustomization.yaml": `resources:
- ../../base
patches:
- path: resources.yaml
- path: image.yaml
  target:
    kind: Deployment
    name: podinfo
`,
	"deploy/overlays/prod/resources.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: podinfod
        resources:
          limits:
            memory: 256Mi
`,
	"deploy/overlays/prod/image.yaml": `- op: replace
  path: /spec/template/spec/containers/0/image
  value: ghcr.io/stefanprodan/podinfo:6.7.1
- op: add
  path: /spec/minReadySeconds
  value: 3
`,
}

// TestScreenKustomize pushes broken variants of a Kustomize overlay: each refusal names
// the file and line that sets the refused field (the base's resource file, the
// strategic-merge patch, the JSON 6902 operation), not the overlay's kustomization; a
// file missing in the base is blamed on the base's kustomization, at the line that names
// it, with a hint. The branch never moves.
func TestScreenKustomize(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("production: {branch: main, cluster: local, path: deploy/overlays/prod, namespace: %s, apply: {health_timeout: 1s}}", ns))
	// This cluster runs no pods: the apply is what matters here, not the health.
	d.Commit(t, alice, work, "podinfo", screenKustomize)
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: checks passed") || !hasWords(out, "applied 3 objects") {
		t.Fatalf("the good overlay is accepted and applied:\n%s", out)
	}
	head := remoteHead(t, d, "main", ns)

	refused := func(what string, change map[string]string, want ...problemLine) string {
		t.Helper()
		d.Commit(t, alice, work, what, change)
		out, ok := push(t, d, alice, work, "main")
		t.Logf("%s:\n%s", what, out)
		if ok {
			t.Errorf("%s: the push must be refused:\n%s", what, out)
		}
		for _, w := range want {
			w.check(t, out)
		}
		if hasWords(out, "kustomize: kustomize:") || hasWords(out, "x deploy/overlays/prod/kustomization.yaml") {
			t.Errorf("%s: a problem blamed on the overlay's kustomization, or kustomize: twice:\n%s", what, out)
		}
		if h := remoteHead(t, d, "main", ns); h != head {
			t.Errorf("%s: a refused push moved main from %s to %s", what, head, h)
		}
		d.MustGit(t, alice, work, "reset", "-q", "--hard", "HEAD~1")
		return out
	}

	// Three bad fields of one Deployment, each set in another file: three problems, each
	// at the line to edit.
	refused("bad fields in the base and in both patches", map[string]string{
		"deploy/base/deployment.yaml":         strings.Replace(screenKustomize["deploy/base/deployment.yaml"], "containerPort: 9898", "containerPort: 99999", 1),
		"deploy/overlays/prod/resources.yaml": strings.Replace(screenKustomize["deploy/overlays/prod/resources.yaml"], "replicas: 2", "replicas: -1", 1),
		"deploy/overlays/prod/image.yaml":     strings.Replace(screenKustomize["deploy/overlays/prod/image.yaml"], "value: 3", "value: -3", 1),
	},
		problemLine{"deploy/base/deployment.yaml:20", "dry-run", "containerPort"},
		problemLine{"deploy/overlays/prod/resources.yaml:6", "dry-run", "spec.replicas"},
		problemLine{"deploy/overlays/prod/image.yaml:6", "dry-run", "spec.minReadySeconds"},
	)

	// The base's own value, refused where the overlay does not patch it.
	refused("a bad field in the base", map[string]string{
		"deploy/base/deployment.yaml": strings.Replace(screenKustomize["deploy/base/deployment.yaml"], "replicas: 1\n", "replicas: 1\n  revisionHistoryLimit: -2\n", 1),
	}, problemLine{"deploy/base/deployment.yaml:7", "dry-run", "spec.revisionHistoryLimit"})

	// A file the base lists and the push lacks: the base's kustomization, at its entry.
	out := refused("a file missing in the base", map[string]string{
		"deploy/base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n- hpa.yaml\n",
	}, problemLine{"deploy/base/kustomization.yaml:4", "kustomize", "deploy/base/hpa.yaml does not exist"})
	outputHas(t, out, "remote:     hint: add it, or fix the path (relative to the kustomization)")
}
