package kube

import (
	"encoding/base64"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Masked replaces every Secret value in output.
const Masked = "***"

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func isSecret(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	gvk := obj.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// sensitivePath says whether a path inside a Secret holds values: its data, its
// stringData, and kubectl's last-applied annotation, which is a copy of both.
func sensitivePath(p string) bool {
	for _, pre := range []string{".data", ".stringData", `.metadata.annotations["` + lastApplied + `"]`} {
		if matchPath(p, pre) {
			return true
		}
	}
	return false
}

// maskValue keeps the keys of maps and the length of lists and replaces every scalar.
func maskValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, w := range x {
			m[k] = maskValue(w)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, w := range x {
			l[i] = maskValue(w)
		}
		return l
	case nil:
		return nil
	}
	return Masked
}

// MaskSecret returns a copy of obj in which, if it is a Secret, every data and
// stringData value and the last-applied annotation are "***". Other objects are
// returned as they are (not copied).
func MaskSecret(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if !isSecret(obj) {
		return obj
	}
	c := obj.DeepCopy()
	for _, f := range []string{"data", "stringData"} {
		if m, ok := c.Object[f].(map[string]any); ok {
			c.Object[f] = maskValue(m)
		}
	}
	if ann := c.GetAnnotations(); ann[lastApplied] != "" {
		ann[lastApplied] = Masked
		c.SetAnnotations(ann)
	}
	return c
}

// minScrub is the shortest Secret value scrubbed from messages: replacing every "a" in an
// API message would make it unreadable while hiding nothing.
const minScrub = 4

// scrubSecret removes obj's Secret values (raw and base64) from an API message. The API
// server does not echo Secret values in its errors as far as we know; this makes sure of it.
func scrubSecret(obj *unstructured.Unstructured, msg string) string {
	if !isSecret(obj) {
		return msg
	}
	var vals []string
	add := func(s string) {
		if len(s) >= minScrub {
			vals = append(vals, s)
		}
	}
	if m, ok := obj.Object["data"].(map[string]any); ok {
		for _, v := range m {
			if s, ok := v.(string); ok {
				add(s)
				if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
					add(string(dec))
				}
			}
		}
	}
	if m, ok := obj.Object["stringData"].(map[string]any); ok {
		for _, v := range m {
			if s, ok := v.(string); ok {
				add(s)
				add(base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		msg = strings.ReplaceAll(msg, v, Masked)
	}
	return msg
}

// scrubbedError is a Secret's error whose text went through scrubSecret. It still
// unwraps to the original, for errors.Is and API status checks.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
