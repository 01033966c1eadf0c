package kube

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func secretYAML(ns, name string, data map[string]string) string {
	s := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ndata:\n", name, ns)
	for k, v := range data {
		s += fmt.Sprintf("  %s: %s\n", k, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return s
}

// render is everything a change set could show: fields, messages, summaries.
func render(cs *ChangeSet) string {
	var b strings.Builder
	for _, c := range cs.Changes {
		fmt.Fprintln(&b, c.String())
		for _, f := range c.Fields {
			fmt.Fprintln(&b, "  ", f.String(), f.Old, f.New)
		}
		if c.Err != nil {
			fmt.Fprintln(&b, c.Err.Error())
		}
	}
	return b.String()
}

func TestSecretValuesNeverShown(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	const old, new = "hunter2-old-password", "correct-horse-battery"
	mustApply(t, c, objs(t, secretYAML(ns, "db", map[string]string{"password": old, "user": "admin-user"})), DefaultApplyOptions())

	next := objs(t, secretYAML(ns, "db", map[string]string{"password": new, "user": "admin-user", "token": "brand-new-token"}))
	opts := DefaultApplyOptions()
	opts.DryRun = true
	cs := mustApply(t, c, next, opts)
	ch := wantAction(t, cs, ObjectID{Kind: "Secret", Namespace: ns, Name: "db"}, Configured)
	got := map[string]FieldChange{}
	for _, f := range ch.Fields {
		got[f.Path] = f
	}
	if f := got[".data.password"]; f.Old != `"***"` || f.New != `"***"` {
		t.Errorf("changed value not masked: %+v", f)
	}
	if f := got[".data.token"]; f.Old != "" || f.New != `"***"` {
		t.Errorf("added value not masked: %+v", f)
	}
	if _, ok := got[".data.user"]; ok {
		t.Error("unchanged key reported")
	}
	// Told as changed keys only (the preview's "~ Secret/ns/db: .data.password changed").
	if s, s2 := got[".data.password"].String(), got[".data.token"].String(); s != ".data.password changed" || s2 != ".data.token added" {
		t.Errorf("fields told as %q, %q", s, s2)
	}

	// A Secret whose data appears whole (added to a Secret that had none) is told key by key.
	mustApply(t, c, objs(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: empty, namespace: "+ns+"}\n"), DefaultApplyOptions())
	cs = mustApply(t, c, objs(t, secretYAML(ns, "empty", map[string]string{"k": "whole-map-secret"})), opts)
	ch = wantAction(t, cs, ObjectID{Kind: "Secret", Namespace: ns, Name: "empty"}, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].New != `"***"` || ch.Fields[0].String() != ".data.k added" {
		t.Errorf("whole data map: %+v", ch.Fields)
	}

	// An invalid Secret: the API's message, with nothing of the values.
	bad := secretYAML(ns, "bad", map[string]string{"password": new}) + "type: kubernetes.io/basic-auth\nstringData: {\"bad key!\": correct-horse-battery}\n"
	cs = mustApply(t, c, objs(t, bad), opts)
	wantAction(t, cs, ObjectID{Kind: "Secret", Namespace: ns, Name: "bad"}, Failed)

	out := render(cs) + render(mustApply(t, c, next, opts))
	for _, v := range []string{old, new, "brand-new-token", "whole-map-secret"} {
		for _, enc := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(out, enc) {
				t.Errorf("output shows %q:\n%s", enc, out)
			}
		}
	}
}

func TestScrubAndMask(t *testing.T) {
	s := objs(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, annotations: {kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"a\":\"c2VjcmV0LXZhbHVl\"}}'}}\ndata: {a: c2VjcmV0LXZhbHVl}\nstringData: {b: plain-secret}\n")[0]
	msg := scrubSecret(s, `bad: "secret-value" and c2VjcmV0LXZhbHVl and plain-secret and cGxhaW4tc2VjcmV0`)
	if msg != `bad: "***" and *** and *** and ***` {
		t.Errorf("scrubbed %q", msg)
	}
	m := MaskSecret(s)
	if m.Object["data"].(map[string]any)["a"] != Masked || m.Object["stringData"].(map[string]any)["b"] != Masked ||
		m.GetAnnotations()[lastApplied] != Masked {
		t.Errorf("masked %v", m.Object)
	}
	if s.Object["data"].(map[string]any)["a"] == Masked {
		t.Error("MaskSecret changed its input")
	}
	it := &item{obj: s}
	it.fail(fmt.Errorf("apply: %w", errors.New("value secret-value rejected")), "value plain-secret rejected")
	if it.change.Err.Error() != "apply: value *** rejected" || it.change.Message != "value *** rejected" {
		t.Errorf("failure of a Secret: %q / %q", it.change.Err, it.change.Message)
	}
	cm := objs(t, configMap("n", "c", "secret-value"))[0]
	if scrubSecret(cm, "secret-value") != "secret-value" || MaskSecret(cm) != cm {
		t.Error("ConfigMaps are not secrets")
	}
}

// TestScrubAnyShape: a Secret's values go from its errors whatever the shape of data and
// stringData, including inside the API status that errors.As finds.
func TestScrubAnyShape(t *testing.T) {
	for name, c := range map[string]struct{ yaml, leak string }{
		"string": {"data: c3RyaW5nLXNlY3JldA==\n", "string-secret c3RyaW5nLXNlY3JldA=="},
		"list":   {"stringData: [string-secret]\n", "string-secret c3RyaW5nLXNlY3JldA=="},
		"number": {"data: 987654321\n", "987654321"},
		"nested": {"stringData: {a: [{b: string-secret}]}\n", "string-secret"},
	} {
		s := objs(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"+c.yaml)[0]
		for _, leak := range strings.Fields(c.leak) {
			if msg := scrubSecret(s, "value "+leak+" refused"); msg != "value *** refused" {
				t.Errorf("%s: %q", name, msg)
			}
		}
	}
	s := objs(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: YWJj}\n")[0]
	// Values shorter than minScrub, and values the API quotes, go only where quoted.
	msg := scrubSecret(s, `data[k]: Invalid value: "a\"bc": bad; .data: expected map, got &{abc}; abc`)
	if msg != `data[k]: Invalid value: ***: bad; .data: expected map, got ***; abc` {
		t.Errorf("quoted values: %q", msg)
	}
	api := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "s", field.ErrorList{field.Invalid(field.NewPath("data"), "abc", "bad")})
	err := scrubError(s, fmt.Errorf("apply: %w", api))
	var st apierrors.APIStatus
	if !errors.As(err, &st) || strings.Contains(st.Status().Message, `"abc"`) || strings.Contains(st.Status().Details.Causes[0].Message, `"abc"`) ||
		strings.Contains(err.Error(), `"abc"`) || !apierrors.IsInvalid(err) {
		t.Errorf("API error not scrubbed: %v / %+v", err, st.Status())
	}
}
