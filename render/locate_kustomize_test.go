package render

import (
	"slices"
	"testing"
)

// podinfo is a podinfo-style tree: a base, and an overlay with a strategic-merge patch, a
// JSON 6902 patch file and an inline JSON 6902 patch. Line numbers matter to the tests.
var podinfo = map[string]string{
	"kustomize/base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
	"kustomize/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 1
  template:
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
	"kustomize/base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\nspec:\n  ports:\n  - port: 9898\n",
	"kustomize/overlays/prod/kustomization.yaml": `resources:
- ../../base
namePrefix: prod-
patches:
- path: resources.yaml
- path: image.yaml
  target:
    kind: Deployment
    name: podinfo
- target: {kind: Deployment, name: podinfo}
  patch: |-
    - op: add
      path: /spec/minReadySeconds
      value: 5
`,
	"kustomize/overlays/prod/resources.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: podinfod
        resources:
          limits:
            memory: 256Mi
`,
	"kustomize/overlays/prod/image.yaml": `- op: replace
  path: /spec/template/spec/containers/0/image
  value: ghcr.io/stefanprodan/podinfo:6.7.1
- op: add
  path: /spec/template/metadata
  value:
    labels:
      tier: web
`,
}

func TestLocateKustomize(t *testing.T) {
	fsys := tree(podinfo)
	opts := Options{Path: "kustomize/overlays/prod", DefaultNamespace: "shop"}
	res := render(t, fsys, opts)
	wantOK(t, res)
	objs := map[string]Object{}
	for _, o := range res.Objects {
		objs[o.GetKind()] = o
		for k := range o.GetAnnotations() {
			if k == originKey || k == transformationsKey {
				t.Errorf("%s keeps the annotation %s", ObjectName(o.Unstructured), k)
			}
		}
	}
	dep, svc := objs["Deployment"], objs["Service"]
	if dep.Unstructured == nil || svc.Unstructured == nil {
		t.Fatalf("objects: %v", names(res))
	}
	const kust, smp, ops = "kustomize/overlays/prod/kustomization.yaml", "kustomize/overlays/prod/resources.yaml", "kustomize/overlays/prod/image.yaml"
	wantPatches := []Source{{File: smp, Line: 1}, {File: ops, Line: 1}, {File: kust, Line: 12}}
	if !slices.Equal(sourceStrings(dep.Source.Patches), sourceStrings(wantPatches)) {
		t.Errorf("Deployment's patches %v, want %v", dep.Source.Patches, wantPatches)
	}
	if len(svc.Source.Patches) != 0 {
		t.Errorf("Service's patches %v: none targets it", svc.Source.Patches)
	}

	loc := NewLocator(fsys, res.Type, opts)
	const base = "kustomize/base/deployment.yaml"
	for _, tc := range []struct {
		o     Object
		field string
		want  string
	}{
		// Set by the strategic-merge patch, which names the container by name.
		{dep, "spec.replicas", smp + ":6"},
		{dep, "spec.template.spec.containers[0].resources.limits.memory", smp + ":13"},
		{dep, `.spec.template.spec.containers[name="podinfod"].resources.limits`, smp + ":12"},
		// Set by an operation: the line of its value, or of the field inside it.
		{dep, "spec.template.spec.containers[0].image", ops + ":3"},
		{dep, "spec.template.metadata.labels.tier", ops + ":8"},
		{dep, "spec.minReadySeconds", kust + ":14"},
		// Untouched by the patches: the base's line, not the patch's parent fields.
		{dep, "spec.template.spec.containers[0].resources.requests.cpu", base + ":17"},
		{dep, `.spec.template.spec.containers[name="podinfod"].ports[containerPort=9898].name`, base + ":13"},
		{dep, "spec.template.spec.containers[0].ports[0].containerPort", base + ":14"},
		{dep, "spec.strategy.type", base + ":5"},
		{dep, "status", base + ":1"},
		{svc, "spec.ports[0].port", "kustomize/base/service.yaml:7"},
	} {
		at, via := loc.Locate(tc.o, tc.field)
		if at.String() != tc.want || via != nil {
			t.Errorf("Locate(%s, %q) = %s %v; want %s", tc.o.GetKind(), tc.field, at, via, tc.want)
		}
	}
}

// TestLocateKustomizeBasePatch: a patch in the base is found from the overlay, and the
// overlay's later patch of the same field wins over it; patchesStrategicMerge and a
// patch selected by label count too.
func TestLocateKustomizeBasePatch(t *testing.T) {
	files := map[string]string{}
	for k, v := range podinfo {
		files[k] = v
	}
	files["kustomize/base/kustomization.yaml"] = "resources:\n- deployment.yaml\n- service.yaml\npatchesStrategicMerge:\n- replicas.yaml\n"
	files["kustomize/base/replicas.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: 2\n  paused: false\n"
	files["kustomize/overlays/prod/kustomization.yaml"] = "resources:\n- ../../base\npatches:\n- path: resources.yaml\n- path: svc.yaml\n  target:\n    labelSelector: app=nothing\n"
	files["kustomize/overlays/prod/svc.yaml"] = "- op: add\n  path: /spec/paused\n  value: true\n"
	fsys := tree(files)
	opts := Options{Path: "kustomize/overlays/prod", DefaultNamespace: "shop"}
	res := render(t, fsys, opts)
	wantOK(t, res)
	loc := NewLocator(fsys, res.Type, opts)
	for _, o := range res.Objects {
		if o.GetKind() != "Deployment" {
			continue
		}
		for field, want := range map[string]string{
			"spec.replicas": "kustomize/overlays/prod/resources.yaml:6",
			"spec.paused":   "kustomize/base/replicas.yaml:7",
		} {
			if at, _ := loc.Locate(o, field); at.String() != want {
				t.Errorf("Locate(%q) = %s, want %s (patches %v)", field, at, want, o.Source.Patches)
			}
		}
		return
	}
	t.Fatalf("no Deployment: %v", names(res))
}

func sourceStrings(ss []Source) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.String())
	}
	return out
}

func TestFieldLinesSets(t *testing.T) {
	fsys := tree(map[string]string{
		"k/kustomization.yaml": "patches:\n- patch: |\n    - op: replace\n      path: /spec/template/spec/containers/1/image\n      value: x\n    - op: add\n      path: /spec/template/spec/containers/-\n      value: {name: extra, image: y}\n  target: {kind: Deployment}\n",
	})
	obj := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
		map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "extra"},
	}}}}}
	lines := NewFieldLines(fsys)
	src := Source{File: "k/kustomization.yaml", Line: 3}
	for field, want := range map[string]int{
		"spec.template.spec.containers[1].image":          5,
		"spec.template.spec.containers[2].image":          8, // appended: the list's last item
		`spec.template.spec.containers[name="extra"]`:     8,
		"spec.template.spec.containers[0].image":          0,
		`spec.template.spec.containers[name="gone"].name`: 0,
		"spec.replicas": 0,
	} {
		got, ok := lines.sets(src, fillSegments(obj, fieldSegments(field)))
		if got != want || ok != (want > 0) {
			t.Errorf("sets(%q) = %d, %v; want %d", field, got, ok, want)
		}
	}
}

// TestLocateKustomizeComponent: a component's patch is found as the overlay's are.
func TestLocateKustomizeComponent(t *testing.T) {
	files := map[string]string{}
	for k, v := range podinfo {
		files[k] = v
	}
	files["kustomize/overlays/prod/kustomization.yaml"] = "resources:\n- ../../base\ncomponents:\n- ../../comp\n"
	files["kustomize/comp/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: p.yaml\n"
	files["kustomize/comp/p.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: 7\n"
	fsys := tree(files)
	opts := Options{Path: "kustomize/overlays/prod", DefaultNamespace: "shop"}
	res := render(t, fsys, opts)
	wantOK(t, res)
	loc := NewLocator(fsys, res.Type, opts)
	for _, o := range res.Objects {
		if o.GetKind() == "Deployment" {
			if at, _ := loc.Locate(o, "spec.replicas"); at.String() != "kustomize/comp/p.yaml:6" {
				t.Errorf("Locate(spec.replicas) = %s (patches %v)", at, o.Source.Patches)
			}
			return
		}
	}
	t.Fatalf("no Deployment: %v", names(res))
}
