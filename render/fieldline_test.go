package render

import (
	"testing"
	"testing/fstest"
)

func TestFieldLine(t *testing.T) {
	const web = `# two documents
---
apiVersion: v1
kind: ConfigMap
metadata: {name: first}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
  template:
    spec:
      containers:
      - name: sidecar
        image: envoy
      - name: web
        image: nginx
        ports:
        - containerPort: 80
          protocol: TCP
`
	const list = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
  data:
    key: x
`
	fsys := fstest.MapFS{"deploy/web.yaml": {Data: []byte(web)}, "deploy/list.yaml": {Data: []byte(list)}}
	for _, tc := range []struct {
		src   Source
		field string
		want  int
		ok    bool
	}{
		{Source{"deploy/web.yaml", 7}, "spec.replicas", 12, true},
		{Source{"deploy/web.yaml", 7}, ".spec.replicas", 12, true},
		{Source{"deploy/web.yaml", 7}, "spec.template.spec.containers[1].image", 19, true},
		{Source{"deploy/web.yaml", 7}, `.spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].protocol`, 22, true},
		// A field the file does not have: the deepest one that is there.
		{Source{"deploy/web.yaml", 7}, "spec.template.spec.containers[0].resources.limits", 16, true},
		{Source{"deploy/web.yaml", 7}, "spec.strategy", 11, true},
		{Source{"deploy/web.yaml", 7}, "status", 0, false},
		// The first document is another object.
		{Source{"deploy/web.yaml", 3}, "metadata.name", 5, true},
		{Source{"deploy/list.yaml", 4}, "data.key", 8, true},
		{Source{"deploy/web.yaml", 99}, "spec", 0, false},
		{Source{"deploy/gone.yaml", 1}, "spec", 0, false},
	} {
		got, ok := FieldLine(fsys, tc.src, tc.field)
		if got != tc.want || ok != tc.ok {
			t.Errorf("FieldLine(%v, %q) = %d, %v; want %d, %v", tc.src, tc.field, got, ok, tc.want, tc.ok)
		}
	}
}
