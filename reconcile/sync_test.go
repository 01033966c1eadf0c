package reconcile

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/outcome"
)

// hookCM is a ConfigMap hook (Current as soon as it exists, so it needs no controllers).
func hookCM(meta, phase, extra string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  " + meta + "\n  annotations:\n    argocd.argoproj.io/hook: " + phase + "\n" + extra
}

func waveCM(name, wave, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  annotations: {argocd.argoproj.io/sync-wave: \"" + wave + "\"}\ndata: {value: " + value + "}\n"
}

// applySaying is apply with the progress lines it said.
func (b *bed) applySaying(commit string) (Result, []string) {
	b.t.Helper()
	var mu sync.Mutex
	var lines []string
	say := func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }
	select {
	case o := <-b.rec.Enqueue(b.repo, "staging", commit, say):
		mu.Lock()
		defer mu.Unlock()
		return o, append([]string(nil), lines...)
	case <-time.After(2 * time.Minute):
		b.t.Fatal("reconcile did not finish within 2 minutes")
		return Result{}, nil
	}
}

// inOrder says whether each of want is in a later line of lines than the one before.
func inOrder(lines []string, want ...string) bool {
	i := 0
	for _, l := range lines {
		if i < len(want) && strings.Contains(l, want[i]) {
			i++
		}
	}
	return i == len(want)
}

func (b *bed) hooks(phase string) []corev1.ConfigMap {
	l, err := b.cs.CoreV1().ConfigMaps(b.ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.HookLabel + "=" + phase})
	if err != nil {
		b.t.Fatal(err)
	}
	return l.Items
}

// TestSyncWavesAndHooks: the PreSync hook, then the waves in order, then the PostSync
// hook (deleted once it succeeded); hooks are in no inventory. A PreSync hook that fails
// leaves the commit unapplied, is not retried, and the SyncFail hook runs.
func TestSyncWavesAndHooks(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), nil)
	c1 := b.commit(map[string]string{
		"deploy/late.yaml":  waveCM("late", "1", "one"),
		"deploy/early.yaml": waveCM("early", "-1", "one"),
		"deploy/pre.yaml":   hookCM("generateName: pre-", "PreSync", ""),
		"deploy/post.yaml":  hookCM("name: post", "PostSync", "    argocd.argoproj.io/hook-delete-policy: HookSucceeded\n"),
	})
	o, lines := b.applySaying(c1)
	if o.Outcome != outcome.Healthy || !strings.HasPrefix(o.Summary, "applied and healthy: 3 objects") {
		t.Fatalf("outcome %q (hooks are not counted: the namespace and two ConfigMaps): %q", o.Outcome, o.Summary)
	}
	if !inOrder(lines, "hook PreSync ConfigMap/"+b.ns+"/pre-", "wave -1 applied: 2 objects", "hook PostSync ConfigMap/"+b.ns+"/post: succeeded") {
		t.Errorf("PreSync, waves, PostSync in order; said:\n%s", strings.Join(lines, "\n"))
	}
	if pre, post := b.hooks("PreSync"), b.hooks("PostSync"); len(pre) != 1 || len(post) != 0 {
		t.Errorf("the PreSync hook stays (BeforeHookCreation), the PostSync one is gone (HookSucceeded): %d %d", len(pre), len(post))
	}
	if st := b.store.Get(b.repo, "staging"); st.Objects != 3 {
		t.Errorf("the inventory holds no hook: %d objects", st.Objects)
	}

	// A PreSync hook whose name a ConfigMap that is no hook holds cannot run.
	if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "handmade"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c2 := b.commit(map[string]string{
		"deploy/early.yaml": waveCM("early", "-1", "two"),
		"deploy/pre.yaml":   hookCM("name: handmade", "PreSync", ""),
		"deploy/fail.yaml":  hookCM("generateName: failed-", "SyncFail", ""),
	})
	o, _ = b.applySaying(c2)
	if o.Outcome != outcome.ApplyFailed || o.Retry || !strings.Contains(o.Summary, "hook PreSync ConfigMap/"+b.ns+"/handmade: failed") ||
		!strings.Contains(o.Summary, "not a hook of this environment") || !strings.Contains(o.Summary, "nothing applied") {
		t.Fatalf("a failed PreSync hook fails the sync, not retried: %+v", o)
	}
	if cm, err := b.configMap("early"); err != nil || cm.Data["value"] != "one" {
		t.Errorf("nothing of the commit may be applied: %v %v", cm, err)
	}
	if len(b.hooks("SyncFail")) != 1 {
		t.Errorf("the SyncFail hook must have run")
	}
}

// TestUnhealthyWaveStopsTheNext: a wave that does not become healthy is the sync's
// verdict; the waves after it are not applied. (A Deployment never becomes available on
// an API server without controllers.)
func TestUnhealthyWaveStopsTheNext(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), func(env *config.Environment) { env.Apply.HealthTimeout = 2 * time.Second })
	c := b.commit(map[string]string{
		"deploy/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.example/web:1"}]}
`,
		"deploy/after.yaml": waveCM("after", "1", "one"),
	})
	o, _ := b.applySaying(c)
	if o.Outcome != outcome.Unhealthy || !strings.HasPrefix(o.Summary, "applied, not healthy: wave 1 of 2, the rest not applied: ") || !strings.Contains(o.Summary, "Deployment.apps/"+b.ns+"/web") {
		t.Fatalf("the first wave's health is the verdict: %q %q", o.Outcome, o.Summary)
	}
	if _, err := b.configMap("after"); !apierrors.IsNotFound(err) {
		t.Errorf("the wave after an unhealthy one must not be applied: %v", err)
	}
}
