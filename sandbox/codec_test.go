package sandbox

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/serializer/cbor/direct"

	"github.com/gitopsd/gitopsd/internal/testfs"
	"github.com/gitopsd/gitopsd/internal/testgit"
	"github.com/gitopsd/gitopsd/render"
)

var codecSample = []map[string]any{
	{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a", "labels": map[string]any{}},
		"data": map[string]any{"s": "ünïcode\x00\n", "empty": ""}},
	{"kind": "X", "spec": map[string]any{"replicas": int64(-3), "big": int64(1) << 62, "f": 1.5, "nan": 0.1,
		"on": true, "off": false, "none": nil, "list": []any{int64(1), "two", []any{}, map[string]any{"k": nil}}}},
}

func TestCodecRoundTrip(t *testing.T) {
	b, err := encodeObjects(codecSample)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeObjects(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, codecSample) {
		t.Errorf("round trip:\n%#v\nwant\n%#v", got, codecSample)
	}
	// Every cut of the encoding is an error, never a panic or a wrong object.
	for i := range b {
		if objs, err := decodeObjects(b[:i]); err == nil {
			t.Fatalf("a truncated encoding (%d of %d bytes) decoded: %v", i, len(b), objs)
		}
	}
	if _, err := encodeObjects([]map[string]any{{"x": struct{}{}}}); err == nil {
		t.Error("an unsupported type was encoded")
	}
}

// plainObjects renders the objects of the sandbox benchmark's 1,000 plain Deployments.
func plainObjects(b *testing.B) []map[string]any {
	res, err := render.Render(context.Background(), testgit.GitTree(b, testfs.Deployments1000()), render.Options{Path: "deploy", DefaultNamespace: "shop"})
	if err != nil || len(res.Objects) != 1000 {
		b.Fatal(err, res.Problems)
	}
	objs := make([]map[string]any, len(res.Objects))
	for i, o := range res.Objects {
		objs[i] = o.Object
	}
	return objs
}

// BenchmarkCodec and BenchmarkCodecCBOR encode and decode 1,000 rendered Deployments with
// this package's codec and with Kubernetes' CBOR: the figures behind codec.go.
func BenchmarkCodec(b *testing.B) {
	objs := plainObjects(b)
	for b.Loop() {
		data, err := encodeObjects(objs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeObjects(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecCBOR(b *testing.B) {
	objs := plainObjects(b)
	for b.Loop() {
		data, err := direct.Marshal(objs)
		if err != nil {
			b.Fatal(err)
		}
		var back []map[string]any
		if err := direct.Unmarshal(data, &back); err != nil {
			b.Fatal(err)
		}
	}
}
