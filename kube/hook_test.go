package kube

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// TestRunHook runs hooks against the API server: a generateName hook is created under a
// generated name and deleted once it succeeded (HookSucceeded); a named hook replaces the
// one of the last run (BeforeHookCreation); a hook never takes the name of an object that
// is not one of the environment's hooks.
func TestRunHook(t *testing.T) {
	c := newClient(t)
	ns := kubetest.Namespace(t)
	owner := &Owner{Repo: "r", Env: "e"}
	opts := HookOptions{Owner: owner, Timeout: 20 * time.Second, Interval: 50 * time.Millisecond}

	gen := objs(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: once-, namespace: "+ns+"}\n")[0]
	res, err := c.RunHook(ctxT(t), Hook{Object: gen, Phase: "PostSync", DeleteOnSuccess: true}, opts)
	if err != nil || !res.OK || !strings.HasPrefix(res.ID.Name, "once-") || len(res.ID.Name) <= len("once-") {
		t.Fatalf("a generateName hook gets a generated name and succeeds: %+v %v", res, err)
	}
	if got := res.String(); !strings.HasPrefix(got, "hook PostSync ConfigMap/"+ns+"/once-") || !strings.Contains(got, ": succeeded in ") {
		t.Errorf("result line: %q", got)
	}
	cms := c.Dynamic().Resource(configMapsGVR).Namespace(ns)
	if _, err := cms.Get(ctxT(t), res.ID.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("HookSucceeded: the hook must be gone, got %v", err)
	}

	named := objs(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: again, namespace: "+ns+"}\ndata: {run: \"1\"}\n")[0]
	for run := 1; run <= 2; run++ {
		res, err := c.RunHook(ctxT(t), Hook{Object: named, Phase: "PreSync", DeleteBefore: true}, opts)
		if err != nil || !res.OK || res.ID.Name != "again" {
			t.Fatalf("run %d of a named hook with BeforeHookCreation: %+v %v", run, res, err)
		}
	}
	live, err := cms.Get(ctxT(t), "again", metav1.GetOptions{})
	if err != nil || live.GetLabels()[HookLabel] != "PreSync" || !owner.Owns(live) {
		t.Fatalf("the hook stays (no HookSucceeded), labelled as a hook of its owner: %v %v", live, err)
	}

	mustApply(t, c, objs(t, configMap(ns, "taken", "v")), DefaultApplyOptions())
	taken := objs(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: taken, namespace: "+ns+"}\n")[0]
	res, err = c.RunHook(ctxT(t), Hook{Object: taken, Phase: "PreSync", DeleteBefore: true}, opts)
	if err != nil || res.OK || !strings.Contains(res.Reason, "not a hook of this environment") {
		t.Fatalf("a hook must not delete an object that is not its own: %+v %v", res, err)
	}
	if _, err := cms.Get(ctxT(t), "taken", metav1.GetOptions{}); err != nil {
		t.Errorf("the object must still be there: %v", err)
	}
	if err := c.DryRunHook(ctxT(t), Hook{Object: taken, Phase: "PreSync"}, owner); err != nil {
		t.Errorf("a dry run of a named hook whose last object is there must pass: %v", err)
	}
}

// TestHookFinished reads the outcome of the kinds a hook usually is.
func TestHookFinished(t *testing.T) {
	for _, tc := range []struct {
		doc      string
		done, ok bool
		reason   string
	}{
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nstatus: {conditions: [{type: Complete, status: \"True\"}]}\n", true, true, ""},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nstatus: {conditions: [{type: Failed, status: \"True\", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]}\n", true, false, "BackoffLimitExceeded: Job has reached the specified backoff limit"},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nstatus: {active: 1}\n", false, false, "running"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Failed, message: exit 1}\n", true, false, "pod Failed exit 1"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Succeeded}\n", true, true, "pod Succeeded "},
	} {
		done, ok, reason := hookFinished(objs(t, tc.doc)[0])
		if done != tc.done || ok != tc.ok || reason != tc.reason {
			t.Errorf("%s: got %v %v %q, want %v %v %q", tc.doc, done, ok, reason, tc.done, tc.ok, tc.reason)
		}
	}
}
