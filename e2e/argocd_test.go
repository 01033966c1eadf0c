package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// These tests push what Argo CD users keep in git: sync waves, hook Jobs (PreSync, Sync,
// PostSync, with generateName), and a Helm chart with hooks and a test hook.

// wavesApp has the shape of Argo CD's sync-waves example: a PreSync migration, a ConfigMap
// in wave -1, a ReplicaSet in wave 0, a Service and a Sync hook Job in wave 1, a ConfigMap
// in wave 2, and a PostSync smoke test deleted once it succeeded. migrateTag is the
// migration's image tag (a tag ending in -fail fails it, see controlplane/stages.yaml).
func wavesApp(migrateTag, setting string) map[string]string {
	job := func(gen, ann, tag string) string {
		return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  generateName: %s
  annotations:
%s
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: "registry.example/shop/tool:%s"}]
`, gen, ann, tag)
	}
	return map[string]string{
		"deploy/hooks.yaml": job("migrate-", "    argocd.argoproj.io/hook: PreSync", migrateTag) + "---\n" +
			job("page-up-", "    argocd.argoproj.io/hook: Sync\n    argocd.argoproj.io/sync-wave: \"1\"", "1") + "---\n" +
			job("smoke-", "    argocd.argoproj.io/hook: PostSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded", "1"),
		"deploy/settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: {argocd.argoproj.io/sync-wave: "-1"}
data: {value: ` + setting + `}
`,
		"deploy/backend.yaml": `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: backend}
spec:
  replicas: 2
  selector: {matchLabels: {tier: backend}}
  template:
    metadata: {labels: {tier: backend}}
    spec: {containers: [{name: main, image: "registry.example/shop/backend:1"}]}
`,
		"deploy/frontend.yaml": `apiVersion: v1
kind: Service
metadata:
  name: frontend
  annotations: {argocd.argoproj.io/sync-wave: "1"}
spec:
  selector: {tier: frontend}
  ports: [{port: 80}]
`,
		"deploy/done.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: done
  annotations: {argocd.argoproj.io/sync-wave: "2"}
`,
	}
}

// syncState is what the cluster shows of wavesApp, as tokens: "PreSync=complete settings
// backend=ready frontend Sync=complete done PostSync=complete". It reads the later waves
// first: what a wave needs only grows, so a state read this way never shows a later wave
// without what it waited for, unless gitopsd broke the order.
func syncState(cs kubernetes.Interface, ns string) string {
	ctx := context.Background()
	var s []string
	job := func(phase string) {
		jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: "gitopsd.dev/hook=" + phase})
		if err != nil || len(jobs.Items) == 0 {
			return
		}
		st := "running"
		if jobs.Items[len(jobs.Items)-1].Status.Succeeded > 0 {
			st = "complete"
		}
		s = append(s, phase+"="+st)
	}
	exists := func(name string, get func() error) {
		if get() == nil {
			s = append(s, name)
		}
	}
	job("PostSync")
	exists("done", func() error { _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "done", metav1.GetOptions{}); return err })
	job("Sync")
	exists("frontend", func() error { _, err := cs.CoreV1().Services(ns).Get(ctx, "frontend", metav1.GetOptions{}); return err })
	if rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, "backend", metav1.GetOptions{}); err == nil {
		st := "backend"
		if rs.Status.ReadyReplicas == 2 {
			st += "=ready"
		}
		s = append(s, st)
	}
	exists("settings", func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
		return err
	})
	job("PreSync")
	return strings.Join(s, " ")
}

// syncOrderBroken says which rule of the sync's order a state breaks ("" if none): each
// wave after the PreSync hook succeeded and the wave before it healthy, its Sync hook
// with it, the PostSync hook after everything.
func syncOrderBroken(state string) string {
	has := func(tok string) bool {
		return strings.Contains(" "+state+" ", " "+tok+" ") || strings.Contains(" "+state, " "+tok+"=")
	}
	rules := []struct {
		then, first string
	}{
		{"settings", "PreSync=complete"},
		{"backend", "settings"},
		{"frontend", "backend=ready"},
		{"Sync", "backend=ready"},
		{"done", "Sync=complete"},
		{"done", "frontend"},
		{"PostSync", "done"},
	}
	for _, r := range rules {
		if has(r.then) && !has(r.first) {
			return fmt.Sprintf("%s before %s", r.then, r.first)
		}
	}
	return ""
}

// TestArgoCDSyncWaves: a push of Argo CD's sync-waves shape is applied wave by wave, each
// healthy before the next, with its PreSync, Sync and PostSync hooks at their phase, and
// the push says so; a bad wave is refused at the door; a failing PreSync Job stops the
// apply, and with on_failure: rollback the branch goes back to what the cluster runs.
func TestArgoCDSyncWaves(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		"prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 90s, on_failure: rollback}}", ns))

	bad := wavesApp("1", "v1")
	bad["deploy/done.yaml"] = strings.Replace(bad["deploy/done.yaml"], `"2"`, `"soon"`, 1)
	d.Commit(t, alice, work, "bad wave", bad)
	out, ok := push(t, d, alice, work, "main")
	if ok {
		t.Fatalf("a wave that is no number must be refused:\n%s", out)
	}
	outputHas(t, out, "deploy/done.yaml:1  ConfigMap/"+ns+"/done", `sync-wave: argocd.argoproj.io/sync-wave "soon" is not a whole number`, "hint: write an integer")

	// A hook the API server would refuse is refused at the door, by a dry-run create.
	broken := wavesApp("1", "v1")
	broken["deploy/hooks.yaml"] = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: broken-\n" +
		"  annotations: {argocd.argoproj.io/hook: PreSync}\nspec: {template: {spec: {restartPolicy: Never, containers: []}}}\n"
	d.Commit(t, alice, work, "broken hook", broken)
	out, ok = push(t, d, alice, work, "main")
	if ok {
		t.Fatalf("a hook the API server refuses must be refused at the door:\n%s", out)
	}
	outputHas(t, out, "deploy/hooks.yaml:1  Job.batch/"+ns+"/broken-", "dry-run: hook PreSync: ", "containers: Required value")

	good := d.Commit(t, alice, work, "v1", wavesApp("1", "v1"))
	stop := watchChanges(func() string { return syncState(cs, ns) })
	out, ok = push(t, d, alice, work, "main")
	seen := stop()
	if !ok {
		t.Fatalf("the push must go live:\n%s", out)
	}
	outputHas(t, out,
		"note: applied in 4 waves: -1 (2 objects), 0 (1), 1 (2), 2 (1)",
		"note: hook PreSync Job.batch/"+ns+"/migrate-: runs before the apply",
		"note: hook Sync Job.batch/"+ns+"/page-up-: runs with wave 1",
		"note: hook PostSync Job.batch/"+ns+"/smoke-: runs once healthy",
		"hook PreSync Job.batch/"+ns+"/migrate-", ": succeeded in ",
		"wave -1 applied: 2 objects; waiting for health",
		"wave 0 applied: 1 object; waiting for health",
		"hook Sync Job.batch/"+ns+"/page-up-",
		"hook PostSync Job.batch/"+ns+"/smoke-",
		"ok: applied and healthy: 5 objects (",
	)
	for _, s := range seen {
		if why := syncOrderBroken(s); why != "" {
			t.Errorf("the cluster showed %s: %q (all seen: %q)", why, s, seen)
		}
	}
	// The PostSync hook ran after all the rest, and went once it had succeeded
	// (HookSucceeded); the PreSync one stays (BeforeHookCreation, a generated name).
	if !strings.Contains(seen[len(seen)-1], "done") {
		t.Errorf("the last state must have every wave: %q", seen)
	}
	waitFor(t, "the PostSync Job deleted after it succeeded", func() bool {
		jobs, err := cs.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "gitopsd.dev/hook=PostSync"})
		return err == nil && len(jobs.Items) == 0
	})
	if s := syncState(cs, ns); !strings.Contains(s, "PreSync=complete") {
		t.Errorf("the PreSync Job must stay, complete: %q", s)
	}

	// A migration that fails: nothing of the commit is applied, and the branch goes back.
	v2 := wavesApp("2-fail", "v2")
	v2["deploy/notify.yaml"] = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: notify-\n" +
		"  annotations: {argocd.argoproj.io/hook: SyncFail}\nspec:\n  backoffLimit: 0\n" +
		"  template: {spec: {restartPolicy: Never, containers: [{name: n, image: \"registry.example/tool:1\"}]}}\n"
	failing := d.Commit(t, alice, work, "v2", v2)
	out, _ = push(t, d, alice, work, "main")
	outputHas(t, out,
		"FAILED: rolled back to "+good[:7],
		"hook PreSync Job.batch/"+ns+"/migrate-",
		": failed",
		"BackoffLimitExceeded",
		"nothing applied: a PreSync hook must succeed first",
		"hook SyncFail Job.batch/"+ns+"/notify-",
		"SyncFail hooks ran (1)",
		"a hook failed; rolling back: ",
	)
	if v := configMapValue(cs, ns, "settings", "value"); v != "v1" {
		t.Errorf("a failed PreSync hook must leave the cluster as it was: settings %q", v)
	}
	head := remoteHead(t, d, "main", ns)
	if head == failing || head == "" {
		t.Fatalf("the branch must have gone back (a revert commit), it is at %s", head)
	}
}

// TestArgoCDHelmHooks: a chart's pre-install hook runs before the apply, its test hook is
// named in a warning and never created, and an Argo CD annotation gitopsd does not honour
// is named too.
func TestArgoCDHelmHooks(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		"prod: {branch: main, cluster: local, path: chart, namespace: %s, render: {release: web}, apply: {health_timeout: 90s}}", ns))
	d.Commit(t, alice, work, "chart", map[string]string{
		"chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  annotations: {argocd.argoproj.io/sync-options: Prune=false}
data: {value: "1"}
`,
		"chart/templates/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: "registry.example/shop/tool:1"}]
`,
		"chart/templates/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers: [{name: test, image: "registry.example/shop/tool:1"}]
`,
	})
	out, ok := push(t, d, alice, work, "main")
	if !ok {
		t.Fatalf("the chart must go live:\n%s", out)
	}
	outputHas(t, out,
		"note: hook PreSync Job.batch/"+ns+"/web-migrate: runs before the apply",
		"note: warning: not run (Helm test hook): Pod/"+ns+"/web-test",
		"note: warning: argocd.argoproj.io/sync-options not honoured: ConfigMap/"+ns+"/web-config",
		"hook PreSync Job.batch/"+ns+"/web-migrate: succeeded in ",
		"ok: applied and healthy: 2 objects (",
	)
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods(ns).Get(ctx, "web-test", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Helm test hook must never be created: %v", err)
	}
	waitFor(t, "the hook Job deleted once it succeeded (hook-succeeded)", func() bool {
		_, err := cs.BatchV1().Jobs(ns).Get(ctx, "web-migrate", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
