package kube

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

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

	// A Secret whose data appears whole (added to a Secret that had none) shows its keys.
	mustApply(t, c, objs(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: empty, namespace: "+ns+"}\n"), DefaultApplyOptions())
	cs = mustApply(t, c, objs(t, secretYAML(ns, "empty", map[string]string{"k": "whole-map-secret"})), opts)
	ch = wantAction(t, cs, ObjectID{Kind: "Secret", Namespace: ns, Name: "empty"}, Configured)
	if len(ch.Fields) != 1 || ch.Fields[0].New != `{"k":"***"}` {
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
