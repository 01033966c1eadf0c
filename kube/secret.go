package kube

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// quotedValue matches where API messages quote a field's value: field validation's
// `Invalid value: "..."` and server-side apply's `expected map, got &{...}`. In a Secret's
// error that value may be a Secret value of any length, so it goes whole.
var quotedValue = regexp.MustCompile(`(Invalid value: )"(?:[^"\\]|\\.)*"|(got )&\{[^}]*\}`)

// scrubSecret removes obj's Secret values from an API message: every value under data and
// stringData whatever its shape (a map, a string, a list, a number), raw and base64, and
// every value the message quotes.
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
	for _, f := range []string{"data", "stringData"} {
		for _, s := range scalars(obj.Object[f], nil) {
			add(s)
			add(base64.StdEncoding.EncodeToString([]byte(s)))
			if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
				add(string(dec))
			}
		}
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		msg = strings.ReplaceAll(msg, v, Masked)
	}
	return quotedValue.ReplaceAllString(msg, "$1$2"+Masked)
}

// scalars appends the text of every scalar inside v (map values, list items, v itself).
func scalars(v any, out []string) []string {
	switch x := v.(type) {
	case nil:
	case map[string]any:
		for _, w := range x {
			out = scalars(w, out)
		}
	case []any:
		for _, w := range x {
			out = scalars(w, out)
		}
	case float64:
		out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
	default:
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// scrubbedError is a Secret's error whose text went through scrubSecret. It still
// unwraps to the original, for errors.Is and API status checks.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubbedAPIError is a scrubbedError around an API status: it answers the status itself,
// scrubbed, so that errors.As finds it before the original's message and causes.
type scrubbedAPIError struct {
	scrubbedError
	st metav1.Status
}

func (e *scrubbedAPIError) Status() metav1.Status { return e.st }

// scrubError is err with obj's Secret values scrubbed from its text and from any API
// status it carries; err itself if obj is not a Secret.
func scrubError(obj *unstructured.Unstructured, err error) error {
	if !isSecret(obj) || err == nil {
		return err
	}
	se := scrubbedError{err: err, msg: scrubSecret(obj, err.Error())}
	var as apierrors.APIStatus
	if !errors.As(err, &as) {
		return &se
	}
	orig := as.Status()
	st := *orig.DeepCopy()
	st.Message = scrubSecret(obj, st.Message)
	if st.Details != nil {
		for i := range st.Details.Causes {
			st.Details.Causes[i].Message = scrubSecret(obj, st.Details.Causes[i].Message)
		}
	}
	return &scrubbedAPIError{scrubbedError: se, st: st}
}
