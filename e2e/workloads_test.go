package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// These tests push real workloads to the living cluster (controllers, scheduler, kwok
// nodes): Deployments roll out, StatefulSets come up pod by pod, Jobs complete, and an
// image tag makes a version crash (see controlplane/stages.yaml).

// app is a Deployment of two replicas with its Service and ConfigMap, a one-replica
// StatefulSet and a Job, as a team would keep them in git; tag is the web image's tag.
func app(tag string) map[string]string {
	return map[string]string{
		"deploy/web.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/shop/web:%s
        ports: [{containerPort: 8080}]
        envFrom: [{configMapRef: {name: web-config}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`, tag),
		"deploy/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {GREETING: hello}\n",
		"deploy/db.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:17"}]}
`,
		"deploy/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "registry.example/shop/migrate:1"}]
`,
	}
}

// webRunning says whether the web Deployment has rolled out tag completely: every replica
// updated and available, and no pod of another version left.
func webRunning(cs kubernetes.Interface, ns, tag string) bool {
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || !strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":"+tag) {
		return false
	}
	s := d.Status
	if s.ObservedGeneration != d.Generation || s.UpdatedReplicas != 2 || s.AvailableReplicas != 2 || s.Replicas != 2 {
		return false
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return false
	}
	for _, p := range pods.Items {
		if !strings.HasSuffix(p.Spec.Containers[0].Image, ":"+tag) {
			return false
		}
	}
	return true
}

// TestWorkloadsGoLiveCrashAndRollBack: a push of real workloads is reported healthy once
// they run; a version that crashes is reported with the pod and the reason, and with
// on_failure: rollback the previous version runs again; so does one that passes readiness
// and crashes a moment later.
func TestWorkloadsGoLiveCrashAndRollBack(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		"prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 90s, on_failure: rollback}}", ns))

	good := d.Commit(t, alice, work, "v1", app("v1"))
	out, ok := push(t, d, alice, work, "main")
	if !ok || !hasWords(out, "ok: applied and healthy: 6 objects (5 created, 1 configured, 0 unchanged), pruned 0; healthy in") {
		t.Fatalf("the first push must go live:\n%s", out)
	}
	if !webRunning(cs, ns, "v1") {
		t.Errorf("the push said healthy, but web v1 does not run")
	}
	job, err := cs.BatchV1().Jobs(ns).Get(context.Background(), "migrate", metav1.GetOptions{})
	if err != nil || job.Status.Succeeded != 1 {
		t.Errorf("the Job must have completed when the push says healthy: %v %+v", err, job.Status)
	}
	sts, err := cs.AppsV1().StatefulSets(ns).Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil || sts.Status.ReadyReplicas != 1 {
		t.Errorf("the StatefulSet must be ready when the push says healthy: %v %+v", err, sts.Status)
	}

	// A version that keeps crashing.
	d.Commit(t, alice, work, "v2", map[string]string{"deploy/web.yaml": app("v2-crash")["deploy/web.yaml"]})
	out, _ = push(t, d, alice, work, "main")
	for _, want := range []string{
		"FAILED: rolled back to " + good[:7] + ": ",
		" was applied, not healthy: 6 objects (0 created, 1 configured, 5 unchanged), pruned 0; not healthy after",
		"Deployment.apps/" + ns + "/web failed: its pods cannot start (CrashLoopBackOff)",
		"    pod web-",
		"container web CrashLoopBackOff (back-off 10s restarting failed container=web), last exit 1 (Error)",
		"rolled back: ",
		"restores " + good[:7],
	} {
		if !hasWords(out, want) && !hasWords(out, want) {
			t.Errorf("missing %q in the push output:\n%s", want, out)
		}
	}
	if hasWords(out, "apply failed") {
		t.Errorf("every object was applied: the failure is health's, not the apply's:\n%s", out)
	}
	waitFor(t, "v1 runs again after the rollback", func() bool { return webRunning(cs, ns, "v1") })
	// The rollback is a commit on the branch: pull it, as the push output says.
	d.MustGit(t, alice, work, "pull", "-q", "--ff-only", "origin", "main")
	revert := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "HEAD"))
	st, _, err := d.SSH(t, alice, nil, "status", ns, "prod")
	if err != nil || !hasWords(st, "CrashLoopBackOff") || !hasWords(st, "             pod web-") || !hasWords(st, "rollback") {
		t.Errorf("status names the crashing pod under the error, and the rollback: %v\n%s", err, st)
	}

	// A version that passes readiness and crashes a moment later: not healthy either; the
	// last healthy commit is now the revert (it holds v1's files).
	d.Commit(t, alice, work, "v3", map[string]string{"deploy/web.yaml": app("v3-crash-later")["deploy/web.yaml"]})
	out, _ = push(t, d, alice, work, "main")
	if !hasWords(out, "FAILED: ") || !hasWords(out, "Deployment.apps/"+ns+"/web failed: ") ||
		!hasWords(out, "last exit 1 (Error)") || !hasWords(out, "restores "+revert[:7]) {
		t.Errorf("a version that crashes after its first readiness must fail and roll back:\n%s", out)
	}
	if hasWords(out, "healthy in") && !hasWords(out, "rolled back") {
		t.Errorf("reported healthy:\n%s", out)
	}
	waitFor(t, "v1 runs again after the second rollback", func() bool { return webRunning(cs, ns, "v1") })
}

// TestWorkloadUnreadyTimesOutWithTheProbe: pods that run but never pass readiness are
// reported at the health timeout with the probe's failure.
func TestWorkloadUnreadyTimesOutWithTheProbe(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		"prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {health_timeout: 6s}}", ns))
	d.Commit(t, alice, work, "unready", map[string]string{"deploy/web.yaml": app("v1-unready")["deploy/web.yaml"]})
	out, _ := push(t, d, alice, work, "main")
	for _, want := range []string{
		"not healthy after",
		"(timeout)",
		"Deployment.apps/" + ns + "/web inprogress",
		"container web running, not ready; Readiness probe failed: HTTP probe failed with statuscode: 503",
	} {
		if !hasWords(out, want) {
			t.Errorf("missing %q in the push output:\n%s", want, out)
		}
	}
}

// TestKillDuringRollout: the daemon is killed (SIGKILL) while a Deployment rolls out; once
// started again it finishes the job without another push: the commit is healthy and runs.
func TestKillDuringRollout(t *testing.T) {
	cp := kubetest.Living(t)
	ns := kubetest.NamespaceIn(t, cp.Config)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf(
		"prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {settle: 8s}}", ns))
	commit := d.Commit(t, alice, work, "v1", app("v1"))
	if out, ok := push(t, d, alice, work, "main", "gitopsd.nowait"); !ok {
		t.Fatalf("push:\n%s", out)
	}
	// The long settle time keeps the daemon in the health wait while it is killed.
	waitFor(t, "rollout under way", func() bool {
		_, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
		return err == nil
	})
	if err := d.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.Exited()
	status := filepath.Join(d.DataDir, "status", ns+"@prod.json")
	if b, _ := os.ReadFile(status); strings.Contains(string(b), `"last_healthy": "`+commit+`"`) {
		t.Fatalf("killed too late: the commit was already healthy")
	}
	d.Restart(t)
	waitFor(t, "healthy after restart", func() bool {
		b, _ := os.ReadFile(status)
		return strings.Contains(string(b), `"last_healthy": "`+commit+`"`)
	})
	if !webRunning(cs, ns, "v1") {
		t.Errorf("healthy, but web v1 does not run")
	}
	// The commit was applied but never proven healthy: after the restart its workloads
	// still settle, though the apply changes nothing.
	var reconciled []string
	for _, l := range strings.Split(d.Logs(), "\n") {
		if strings.Contains(l, `"message":"reconciled"`) {
			reconciled = append(reconciled, l)
		}
	}
	if len(reconciled) == 0 || !strings.Contains(reconciled[len(reconciled)-1], `"unchanged":6`) {
		t.Fatalf("want the restarted daemon's reconcile to find everything applied: %v", reconciled)
	}
	if !settledFor(reconciled[len(reconciled)-1], 8000) {
		t.Errorf("the resumed rollout was called healthy before its settle time: %s", reconciled[len(reconciled)-1])
	}
}

// settledFor says whether a "reconciled" log line's duration (milliseconds) is at least ms.
func settledFor(line string, ms float64) bool {
	var v struct {
		Duration float64 `json:"duration_ms"`
	}
	return json.Unmarshal([]byte(line), &v) == nil && v.Duration >= ms
}
