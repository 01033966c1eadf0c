package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/notify"
)

// shop is a Deployment of four replicas behind its Service; tag is its image's tag (see
// controlplane/stages.yaml for the tags that fail).
func shop(tag string) map[string]string {
	return map[string]string{"deploy/shop.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 4
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: shop, image: "registry.example/shop:%s"}]
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  selector: {app: shop}
  ports: [{port: 80}]
`, tag)}
}

// pods counts the ready pods of the shop's Service by image tag: what the traffic reaches.
func shopPods(cs kubernetes.Interface, ns string) map[string]int {
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=shop"})
	if err != nil {
		return nil
	}
	return readyByTag(pods.Items)
}

// readyByTag counts the ready pods that are not going away, by their image's tag.
func readyByTag(pods []corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				image := p.Spec.Containers[0].Image
				out[image[strings.LastIndexByte(image, ':')+1:]]++
			}
		}
	}
	return out
}

// mix says the ready versions of shopPods: "v1=3,v2=1".
func mix(pods map[string]int) string {
	var parts []string
	for tag, n := range pods {
		parts = append(parts, fmt.Sprintf("%s=%d", tag, n))
	}
	return strings.Join(sortStrings(parts), ",")
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func canaryGone(cs kubernetes.Interface, ns string) bool {
	list, err := cs.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "gitopsd.dev/release-of"})
	return err == nil && len(list.Items) == 0
}

func stableAt(cs kubernetes.Interface, ns, tag string) bool {
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "shop", metav1.GetOptions{})
	return err == nil && *d.Spec.Replicas == 4 && strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":"+tag) &&
		d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == 4 && d.Status.ReadyReplicas == 4 && d.Status.Replicas == 4
}

// TestCanaryRelease: a push of a new version releases it step by step as a canary behind
// the stable version's Service; a good version ends as the only one, a crashing one is
// rolled back by itself, as a commit, the stable version at full size again.
func TestCanaryRelease(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	var mu sync.Mutex
	var events []notify.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer hook.Close()
	rolloutEvents := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, ev := range events {
			if strings.HasPrefix(ev.Type, "rollout.") {
				out = append(out, ev.Type+": "+ev.Summary)
			}
		}
		return out
	}
	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  %s:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s},
        rollout: {strategy: canary, steps: [{weight: 25, pause: 2s}, {weight: 50, pause: 2s}, {weight: 100}]}}
webhooks:
  - {url: %q, events: [rollout.started, rollout.step, rollout.promoted, rollout.aborted]}
`, ns, ns, hook.URL))
	work := d.Clone(t, alice, ns)

	// A new Deployment has no stable version to compare with: it starts at once.
	d.Commit(t, alice, work, "v1", shop("v1"))
	out, ok := push(t, d, alice, work, "main")
	if !ok || !hasWords(out, "ok: applied and healthy") || hasWords(out, "release:") {
		t.Fatalf("v1 deploys at once:\n%s", out)
	}
	waitFor(t, "v1 runs", func() bool { return stableAt(cs, ns, "v1") })

	// A good version goes through every step.
	d.Commit(t, alice, work, "v2", shop("v2"))
	watch := watchChanges(func() string { return mix(shopPods(cs, ns)) })
	out, ok = push(t, d, alice, work, "main")
	shares := watch()
	if !ok {
		t.Errorf("the push failed:\n%s", out)
	}
	outputHas(t, out,
		"note: Deployment.apps/"+ns+"/shop is released as canary 25% 2s, 50% 2s, 100% after the push",
		"release: canary 25% 2s, 50% 2s, 100% of shop (local)",
		"release: canary 25% (step 1 of 3; canary+stable pods, shop 1+3) ...",
		"release: canary 25% healthy, stayed healthy for 2s",
		"release: canary 50% (step 2 of 3; canary+stable pods, shop 2+2) ...",
		"release: canary 50% healthy, stayed healthy for 2s",
		"release: every step passed in",
		"ok: applied and healthy")
	// The Service's pods had the canary's share at each step.
	joined := strings.Join(shares, " ")
	if !strings.Contains(joined, "v1=3,v2=1") || !strings.Contains(joined, "v1=2,v2=2") {
		t.Errorf("the mixes of versions behind the Service: %v", shares)
	}
	waitFor(t, "only v2 runs, and no canary", func() bool {
		return stableAt(cs, ns, "v2") && canaryGone(cs, ns) && shopPods(cs, ns)["v1"] == 0 && shopPods(cs, ns)["v2"] == 4
	})
	good := remoteHead(t, d, "main", ns)
	want := []string{
		"rollout.started: canary 25% 2s, 50% 2s, 100% of shop (local)",
		"rollout.step: canary 25% passed (step 1 of 3)",
		"rollout.step: canary 50% passed (step 2 of 3)",
		"rollout.promoted: every step passed in ",
	}
	waitFor(t, "the release's webhook events", func() bool { return len(rolloutEvents()) >= len(want) })
	for i, ev := range rolloutEvents()[:len(want)] {
		if !strings.HasPrefix(ev, want[i]) {
			t.Errorf("event %d: %q, want %q...", i, ev, want[i])
		}
	}

	// A version that crashes is stopped at its first step and rolled back as a commit,
	// whatever on_failure says.
	d.Commit(t, alice, work, "v3", shop("v3-crash"))
	out, _ = push(t, d, alice, work, "main")
	outputHas(t, out,
		"FAILED: rolled back to "+good[:7],
		"release stopped at canary 25% (step 1 of 3)",
		"CrashLoopBackOff",
		"the canary is gone, and the stable version runs at full size",
		"rolled back: ")
	waitFor(t, "v2 at full size and no canary", func() bool { return stableAt(cs, ns, "v2") && canaryGone(cs, ns) })
	waitFor(t, "rollout.aborted", func() bool {
		evs := rolloutEvents()
		return len(evs) >= 6 && strings.HasPrefix(evs[5], "rollout.aborted: canary 25% (step 1 of 3): not healthy")
	})
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")
	if got := d.MustGit(t, alice, work, "show", "HEAD:deploy/shop.yaml"); strings.TrimSpace(got) != strings.TrimSpace(shop("v2")["deploy/shop.yaml"]) {
		t.Errorf("the revert restores v2's file:\n%s", got)
	}
}

// TestCanaryGate: a step with pause: {} waits for `ssh promote` by someone who may deploy
// the environment (a reader may not), `ssh abort` stops the release and rolls it back, and
// a daemon killed while a release waits resumes it after its restart.
func TestCanaryGate(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	alice, bob := gittest.NewKey(t, "alice"), gittest.NewKey(t, "bob")
	d := gittest.Start(t, gittest.Users(alice, bob)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  %s:
    read: [bob]
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s, wait: 5m},
             rollout: {strategy: canary, steps: [{weight: 50, pause: {}}, {weight: 100}]}}
`, ns, ns))
	work := d.Clone(t, alice, ns)
	d.Commit(t, alice, work, "v1", shop("v1"))
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("v1:\n%s", out)
	}
	waitFor(t, "v1 runs", func() bool { return stableAt(cs, ns, "v1") })
	status := func() string {
		st, _, _ := d.SSH(t, alice, nil, "status", ns+"/prod")
		return st
	}
	pushingFrom := func(dir, tag string) <-chan string {
		commit := d.Commit(t, alice, dir, tag, shop(tag))
		done := make(chan string, 1)
		go func() {
			out, _ := push(t, d, alice, dir, "main")
			done <- out
		}()
		waitFor(t, tag+" waits at its gate", func() bool {
			return hasWords(status(), commit[:7]+": canary 50%: waiting for `ssh HOST promote "+ns+"/prod` (or abort)")
		})
		return done
	}
	pushing := func(tag string) <-chan string { return pushingFrom(work, tag) }

	// Promote: only those who may deploy.
	done := pushing("v2")
	if _, stderr, err := d.SSH(t, bob, nil, "promote", ns+"/prod"); err == nil || !hasWords(stderr, "bob may not deploy "+ns+"/prod") {
		t.Errorf("a reader must not promote: %v %s", err, stderr)
	}
	if _, stderr, err := d.SSH(t, bob, nil, "abort", ns, "prod"); err == nil || !hasWords(stderr, "may not deploy") {
		t.Errorf("a reader must not abort: %v %s", err, stderr)
	}
	if shopPods(cs, ns)["v2"] != 2 || shopPods(cs, ns)["v1"] != 2 {
		t.Errorf("at the gate, half the pods are the canary's: %v", shopPods(cs, ns))
	}
	if out, stderr, err := d.SSH(t, alice, nil, "promote", ns+"/prod"); err != nil || !hasWords(out, "promoted") {
		t.Fatalf("alice promotes: %v %s %s", err, out, stderr)
	}
	out := <-done
	if !hasWords(out, "release: canary 50% promoted by hand") || !hasWords(out, "ok: applied and healthy") {
		t.Errorf("the promoted release ends healthy:\n%s", out)
	}
	waitFor(t, "only v2 runs", func() bool { return stableAt(cs, ns, "v2") && canaryGone(cs, ns) })
	if _, stderr, err := d.SSH(t, alice, nil, "promote", ns, "prod"); err == nil || !hasWords(stderr, "no release of "+ns+"/prod is waiting") {
		t.Errorf("nothing waits: %v %s", err, stderr)
	}

	// Abort: the canary goes, and the release is rolled back as a commit.
	good := remoteHead(t, d, "main", ns)
	done = pushing("v3")
	if _, stderr, err := d.SSH(t, alice, nil, "abort", ns+"/prod"); err != nil {
		t.Fatalf("alice aborts: %v %s", err, stderr)
	}
	out = <-done
	if !hasWords(out, "release stopped at canary 50% (step 1 of 2): aborted by hand (ssh abort)") || !hasWords(out, "rolled back to "+good[:7]) {
		t.Errorf("the aborted release is rolled back:\n%s", out)
	}
	waitFor(t, "v2 at full size, no canary", func() bool { return stableAt(cs, ns, "v2") && canaryGone(cs, ns) })
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")

	// A newer push while a release waits supersedes it: the canary of the first goes, no
	// revert is written (git says the newer commit), and the newer one is released.
	done = pushing("v5")
	other := d.Clone(t, alice, ns)
	newer := pushingFrom(other, "v6")
	out = <-done
	if !hasWords(out, "the release of ") || !hasWords(out, "stopped: a newer commit is waiting, and is released next") || hasWords(out, "rolled back") {
		t.Errorf("the superseded release says so, and is not rolled back:\n%s", out)
	}
	waitFor(t, "the superseded canary's pods gone", func() bool { return shopPods(cs, ns)["v5"] == 0 })
	if _, stderr, err := d.SSH(t, alice, nil, "promote", ns+"/prod"); err != nil {
		t.Fatalf("promote v6: %v %s", err, stderr)
	}
	if out := <-newer; !hasWords(out, "ok: applied and healthy") {
		t.Errorf("v6 is released:\n%s", out)
	}
	waitFor(t, "only v6 runs", func() bool { return stableAt(cs, ns, "v6") && canaryGone(cs, ns) })
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")

	// SIGKILL while a release waits at its gate: after the restart it waits again, from
	// the state in the cluster, and ends when promoted.
	done = pushing("v4")
	if err := d.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.Exited()
	<-done
	d.Restart(t)
	waitFor(t, "the release waits at its gate again", func() bool {
		st := status()
		return hasWords(st, "canary 50%: waiting for `ssh HOST promote") && !hasWords(st, "interrupted by a restart")
	})
	if shopPods(cs, ns)["v4"] != 2 {
		t.Errorf("the canary of the resumed release: %v", shopPods(cs, ns))
	}
	if _, stderr, err := d.SSH(t, alice, nil, "promote", ns+"/prod"); err != nil {
		t.Fatalf("promote after restart: %v %s", err, stderr)
	}
	statusFile := filepath.Join(d.DataDir, "status", ns+"@prod.json")
	head := remoteHead(t, d, "main", ns)
	waitFor(t, "v4 healthy after the restart", func() bool {
		b, _ := os.ReadFile(statusFile)
		return strings.Contains(string(b), `"last_healthy": "`+head+`"`) && stableAt(cs, ns, "v4") && canaryGone(cs, ns)
	})

	// SIGTERM while a release waits at its gate: nobody can promote it while the daemon
	// stops, so it stops waiting, the push says why, and the daemon does not wait out its
	// grace for it; after the restart the release waits at the same gate.
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")
	done = pushing("v7")
	d.Stop(t)
	if out := <-done; !hasWords(out, "gitopsd is stopping: the release waits at this step again after the restart") {
		t.Errorf("the push waiting at the gate says the daemon stops:\n%s", out)
	}
	if logs := d.Logs(); strings.Contains(logs, "cut at the end of the shutdown grace") {
		t.Errorf("the stop waited out its grace for a release at its gate:\n%s", logs)
	}
	d.Restart(t)
	waitFor(t, "the release waits at its gate after the stop", func() bool {
		st := status()
		return hasWords(st, "canary 50%: waiting for `ssh HOST promote") && !hasWords(st, "interrupted by a restart")
	})
	if _, stderr, err := d.SSH(t, alice, nil, "promote", ns+"/prod"); err != nil {
		t.Fatalf("promote after the stop: %v %s", err, stderr)
	}
	head = remoteHead(t, d, "main", ns)
	waitFor(t, "v7 healthy after the stop", func() bool {
		b, _ := os.ReadFile(statusFile)
		return strings.Contains(string(b), `"last_healthy": "`+head+`"`) && stableAt(cs, ns, "v7") && canaryGone(cs, ns)
	})
}

// activeMix is the mix of ready versions the shop Service selects now, by its live
// selector ("v1=4"), and whether its preview Service exists.
func activeMix(cs kubernetes.Interface, ns string) (string, bool) {
	ctx := context.Background()
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		return "", false
	}
	var sel []string
	for k, v := range svc.Spec.Selector {
		sel = append(sel, k+"="+v)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: strings.Join(sel, ",")})
	if err != nil {
		return "", false
	}
	ready := readyByTag(pods.Items)
	_, err = cs.CoreV1().Services(ns).Get(ctx, "shop-preview", metav1.GetOptions{})
	return mix(ready), err == nil
}

// TestBlueGreenRelease: the new version comes up at full size behind a preview Service
// while the Service keeps sending every request to the old one; once the preview stayed
// healthy the Service switches at once, the old version is kept a while, and at the end
// the Service has git's selector again and no preview is left. A preview that crashes
// never gets the Service's traffic and is rolled back as a commit.
func TestBlueGreenRelease(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(`prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s},
        rollout: {strategy: blue-green, pause: 2s, keep: 2s}}`, ns))
	d.Commit(t, alice, work, "v1", shop("v1"))
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("v1:\n%s", out)
	}
	waitFor(t, "v1 runs", func() bool { return stableAt(cs, ns, "v1") })

	previewSeen := false
	watch := func() func() []string {
		return watchChanges(func() string {
			m, p := activeMix(cs, ns)
			previewSeen = previewSeen || p // read after stop only
			return m
		})
	}
	gitSelector := func() bool {
		svc, err := cs.CoreV1().Services(ns).Get(context.Background(), "shop", metav1.GetOptions{})
		return err == nil && len(svc.Spec.Selector) == 1 && svc.Spec.Selector["app"] == "shop"
	}

	d.Commit(t, alice, work, "v2", shop("v2"))
	stop := watch()
	out, ok := push(t, d, alice, work, "main")
	mixes := stop()
	if !ok {
		t.Errorf("the push failed:\n%s", out)
	}
	outputHas(t, out,
		"release: blue-green, pause 2s, keep 2s of shop (local)",
		"release: preview of 4 pods behind shop-preview ...",
		"release: preview healthy",
		"release: switched shop to the new version; the old one is kept 2s",
		"ok: applied and healthy")
	if !previewSeen {
		t.Errorf("no preview Service during the release")
	}
	for _, m := range mixes {
		if strings.Contains(m, "v1=") && strings.Contains(m, "v2=") {
			t.Errorf("the Service sent traffic to both versions at once: %v", mixes)
		}
	}
	if strings.Join(mixes, " ") == "" || !strings.Contains(strings.Join(mixes, " "), "v2=4") {
		t.Errorf("the Service's versions during the release: %v", mixes)
	}
	waitFor(t, "v2 runs, git's selector, no preview", func() bool {
		_, p := activeMix(cs, ns)
		return stableAt(cs, ns, "v2") && canaryGone(cs, ns) && !p && gitSelector()
	})

	// A preview that crashes: the Service never leaves v2, the release is rolled back.
	good := remoteHead(t, d, "main", ns)
	d.Commit(t, alice, work, "v3", shop("v3-crash"))
	stop = watch()
	out, _ = push(t, d, alice, work, "main")
	mixes = stop()
	if !hasWords(out, "release stopped at the preview: ") || !hasWords(out, "CrashLoopBackOff") || !hasWords(out, "rolled back to "+good[:7]) {
		t.Errorf("the crashing preview is rolled back:\n%s", out)
	}
	for _, m := range mixes {
		if strings.Contains(m, "v3") {
			t.Errorf("the crashing version got the Service's traffic: %v", mixes)
		}
	}
	waitFor(t, "v2 runs, git's selector, no preview", func() bool {
		_, p := activeMix(cs, ns)
		return stableAt(cs, ns, "v2") && canaryGone(cs, ns) && !p && gitSelector()
	})
}

// TestRolloutAnnotationOverrides: a Deployment's gitopsd.dev/rollout annotation chooses
// its release over the environment's: blue-green for one, none (at once) for another,
// while the rest are canaries, all in one push.
func TestRolloutAnnotationOverrides(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(`prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s},
        rollout: {strategy: canary, steps: [{weight: 50, pause: 2s}, {weight: 100}]}}`, ns))
	app := func(name, strategy, tag string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, annotations: {gitopsd.dev/rollout: %q}}
spec:
  replicas: 2
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: app, image: "registry.example/%s:%s"}]}
---
apiVersion: v1
kind: Service
metadata: {name: %s}
spec: {selector: {app: %s}, ports: [{port: 80}]}
`, name, strategy, name, name, name, tag, name, name)
	}
	files := func(tag string) map[string]string {
		f := shop(tag)
		f["deploy/cart.yaml"] = app("cart", "blue-green", tag)
		f["deploy/batch.yaml"] = app("batch", "none", tag)
		return f
	}
	d.Commit(t, alice, work, "v1", files("v1"))
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "ok: applied and healthy") {
		t.Fatalf("v1:\n%s", out)
	}
	d.Commit(t, alice, work, "v2", files("v2"))
	out, ok := push(t, d, alice, work, "main")
	if !ok {
		t.Errorf("the push failed:\n%s", out)
	}
	outputHas(t, out,
		"release: canary 50% 2s, 100% of shop (local)",
		"release: blue-green of cart (local)",
		"release: switched cart to the new version",
		"ok: applied and healthy: 7 objects (0 created, 3 configured, 4 unchanged)")
	if hasWords(out, "of batch") || hasWords(out, "shop, cart") {
		t.Errorf("batch is applied at once, and each strategy releases its own:\n%s", out)
	}
	waitFor(t, "every Deployment at v2, no canary or preview", func() bool {
		for _, name := range []string{"shop", "cart", "batch"} {
			dep, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil || !strings.HasSuffix(dep.Spec.Template.Spec.Containers[0].Image, ":v2") || dep.Status.UpdatedReplicas != *dep.Spec.Replicas {
				return false
			}
		}
		return canaryGone(cs, ns)
	})
}

// TestRolloutNamesAndLabelsFromGit: what git declares is never taken for a release's own
// objects. A Deployment named as a canary would be is refused at the door; one that
// carries the release label is neither deleted nor recreated by a release.
func TestRolloutNamesAndLabelsFromGit(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(`prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s},
        rollout: {strategy: canary, steps: [{weight: 50}]}}`, ns))
	labelled := `apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, labels: {gitopsd.dev/release-of: shop}}
spec:
  replicas: 1
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: batch, image: "registry.example/batch:1"}]}
`
	files := shop("v1")
	files["deploy/batch.yaml"] = labelled
	d.Commit(t, alice, work, "v1", files)
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("v1:\n%s", out)
	}
	before, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "batch", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	head := remoteHead(t, d, "main", ns)
	d.Commit(t, alice, work, "a canary's name", map[string]string{"deploy/shop-canary.yaml": strings.Replace(shop("v1")["deploy/shop.yaml"], "name: shop}", "name: shop-canary}", 1)})
	out, ok := push(t, d, alice, work, "main")
	if ok || !hasWords(out, "rollout: Deployment "+ns+"/shop-canary has the name a release of Deployment shop would take") || remoteHead(t, d, "main", ns) != head {
		t.Errorf("a Deployment named as a canary must be refused at the door:\n%s", out)
	}
	d.MustGit(t, alice, work, "reset", "-q", "--hard", "HEAD~1")

	d.Commit(t, alice, work, "v2", shop("v2"))
	if out, ok := push(t, d, alice, work, "main"); !ok || !hasWords(out, "release: canary 50%") || !hasWords(out, "ok: applied and healthy") {
		t.Fatalf("v2 is released:\n%s", out)
	}
	after, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "batch", metav1.GetOptions{})
	if err != nil || after.UID != before.UID {
		t.Errorf("the release took git's labelled Deployment for a leftover (uid %s, now %v %v)", before.UID, after.GetUID(), err)
	}
}
