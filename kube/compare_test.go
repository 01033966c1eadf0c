package kube

import (
	"reflect"
	"testing"
)

func TestChangedFields(t *testing.T) {
	live := objs(t, `apiVersion: v1
kind: Pod
metadata: {name: p, resourceVersion: "1", uid: u1, generation: 1, annotations: {gitopsd.dev/commit: a, "example.com/x": "1"}}
spec:
  containers:
  - {name: a, image: "a:1"}
  - {name: b, image: "b:1", args: [x, z]}
  tolerations: [{key: k1}, {key: k2}]
`)[0]
	merged := objs(t, `apiVersion: v1
kind: Pod
metadata: {name: p, resourceVersion: "2", uid: u1, generation: 2, annotations: {gitopsd.dev/commit: b, "example.com/x": "2"}}
spec:
  containers:
  - {name: b, image: "b:2", args: [x]}
  - {name: c, image: "c:1"}
  tolerations: [{key: k1}, {key: k3}]
`)[0]
	got := changedFields(live, merged)
	want := []FieldChange{
		{Path: `.metadata.annotations["example.com/x"]`, Old: `"1"`, New: `"2"`},
		{Path: ".spec.containers[name=a]", Old: `{"image":"a:1","name":"a"}`},
		{Path: ".spec.containers[name=b].args[1]", Old: `"z"`},
		{Path: ".spec.containers[name=b].image", Old: `"b:1"`, New: `"b:2"`},
		{Path: ".spec.containers[name=c]", New: `{"image":"c:1","name":"c"}`},
		{Path: ".spec.tolerations[1].key", Old: `"k2"`, New: `"k3"`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
	if f := changedFields(live, live); len(f) != 0 {
		t.Errorf("self diff %v", f)
	}
}

func TestShortAndPaths(t *testing.T) {
	long := ""
	for i := 0; i < 100; i++ {
		long += "é"
	}
	if s := short(long, false); len(s) > shortMax || s[len(s)-3:] != "..." {
		t.Errorf("short %q", s)
	}
	if !matchPath(".spec.replicas", ".spec") || matchPath(".specx", ".spec") || !matchPath(".spec.a[name=x].b", ".spec.a[name=x]") {
		t.Error("matchPath")
	}
	if !valuesEqual(int64(3), float64(3)) || valuesEqual("3", int64(3)) {
		t.Error("valuesEqual numbers")
	}
	if !subset(map[string]any{"a": []any{map[string]any{"b": int64(1)}}}, map[string]any{"a": []any{map[string]any{"b": 1.0, "c": 2}}, "d": 1}) {
		t.Error("subset")
	}
}

// A field another manager set (kubectl scale, through the scale subresource) and the
// apply takes back names that manager; a field only ours, or one the other manager keeps,
// names nobody.
func TestChangedFieldsTakenFrom(t *testing.T) {
	live := objs(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  managedFields:
  - manager: gitopsd
    operation: Apply
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}
  - manager: kubectl
    operation: Update
    subresource: scale
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}}}
  - manager: kubectl-edit
    operation: Update
    fieldsType: FieldsV1
    fieldsV1: {"f:metadata": {"f:labels": {"f:team": {}}}}
spec:
  replicas: 5
  template: {spec: {containers: [{name: web, image: "web:1"}]}}
`)[0]
	merged := objs(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: a}
  managedFields:
  - manager: gitopsd
    operation: Apply
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}
  - manager: kubectl-edit
    operation: Update
    fieldsType: FieldsV1
    fieldsV1: {"f:metadata": {"f:labels": {"f:team": {}}}}
spec:
  replicas: 2
  template: {spec: {containers: [{name: web, image: "web:2"}]}}
`)[0]
	got := map[string]string{}
	for _, f := range changedFields(live, merged) {
		got[f.Path] = f.String()
	}
	want := map[string]string{
		".spec.replicas": ".spec.replicas: 5 -> 2 (was kubectl's)",
		".spec.template.spec.containers[name=web].image": `.spec.template.spec.containers[name=web].image: "web:1" -> "web:2"`,
		".metadata.labels": `.metadata.labels: + {"team":"a"}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	two := FieldChange{Path: ".data.x", Old: `"a"`, New: `"b"`, From: "helm, kubectl"}
	if s := two.String(); s != `.data.x: "a" -> "b" (was helm's and kubectl's)` {
		t.Errorf("two managers: %q", s)
	}
}

// A field removed from git that only the applier owned is taken from nobody.
func TestChangedFieldsRemovedIsTakenFromNobody(t *testing.T) {
	live := objs(t, `apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  managedFields:
  - {manager: gitopsd, operation: Apply, fieldsType: FieldsV1, fieldsV1: {"f:data": {"f:a": {}, "f:b": {}}}}
data: {a: "1", b: "2"}
`)[0]
	merged := objs(t, `apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  managedFields:
  - {manager: gitopsd, operation: Apply, fieldsType: FieldsV1, fieldsV1: {"f:data": {"f:a": {}}}}
data: {a: "1"}
`)[0]
	if f := changedFields(live, merged); len(f) != 1 || f[0].String() != `.data.b: - "2"` {
		t.Errorf("got %v", f)
	}
}
