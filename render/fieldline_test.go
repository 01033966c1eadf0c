package render

import (
	"io/fs"
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
	fsys := &countingFS{MapFS: fstest.MapFS{"deploy/web.yaml": {Data: []byte(web)}, "deploy/list.yaml": {Data: []byte(list)}}}
	lines := NewFieldLines(fsys)
	for _, tc := range []struct {
		src   Source
		field string
		want  int
		ok    bool
	}{
		{Source{File: "deploy/web.yaml", Line: 7}, "spec.replicas", 12, true},
		{Source{File: "deploy/web.yaml", Line: 7}, ".spec.replicas", 12, true},
		{Source{File: "deploy/web.yaml", Line: 7}, "spec.template.spec.containers[1].image", 19, true},
		{Source{File: "deploy/web.yaml", Line: 7}, `.spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].protocol`, 22, true},
		// A field the file does not have: the deepest one that is there.
		{Source{File: "deploy/web.yaml", Line: 7}, "spec.template.spec.containers[0].resources.limits", 16, true},
		{Source{File: "deploy/web.yaml", Line: 7}, "spec.strategy", 11, true},
		{Source{File: "deploy/web.yaml", Line: 7}, "status", 0, false},
		// The first document is another object.
		{Source{File: "deploy/web.yaml", Line: 3}, "metadata.name", 5, true},
		{Source{File: "deploy/list.yaml", Line: 4}, "data.key", 8, true},
		{Source{File: "deploy/web.yaml", Line: 99}, "spec", 0, false},
		{Source{File: "deploy/gone.yaml", Line: 1}, "spec", 0, false},
	} {
		got, ok := lines.Line(tc.src, tc.field)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Line(%v, %q) = %d, %v; want %d, %v", tc.src, tc.field, got, ok, tc.want, tc.ok)
		}
	}

	// Each file was read once, however many lookups went to it.
	if fsys.opens["deploy/web.yaml"] > 2 { // a Stat and a read
		t.Errorf("deploy/web.yaml opened %d times", fsys.opens["deploy/web.yaml"])
	}
}

// countingFS counts the opens of each file.
type countingFS struct {
	fstest.MapFS
	opens map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	if c.opens == nil {
		c.opens = map[string]int{}
	}
	c.opens[name]++
	return c.MapFS.Open(name)
}
