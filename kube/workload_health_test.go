package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// These tests run on the living cluster: controllers, a scheduler and kwok nodes, where a
// workload's image tag decides whether its pods come up (controlplane/stages.yaml).

func livingClient(t *testing.T) (*Client, string) {
	t.Helper()
	cp := kubetest.Living(t)
	c, err := New(cp.Config, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c, kubetest.NamespaceIn(t, cp.Config)
}

func workload(kind, ns, name, image string, replicas int, extra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: %s
metadata: {name: %s, namespace: %s}
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  %s
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: app, image: %q}]
`, kind, name, ns, replicas, name, extra, name, image)
}

func waitOne(t *testing.T, c *Client, doc string, opts HealthOptions) (*HealthReport, ObjectHealth) {
	t.Helper()
	cs := mustApply(t, c, objs(t, doc), DefaultApplyOptions())
	if cs.HasFailed() {
		t.Fatalf("apply: %v", cs.Failed())
	}
	r, err := c.WaitHealthy(ctxT(t), []ObjectID{cs.Changes[0].ID}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, r.Objects[0]
}

func TestHealthDeploymentRollsOutAndSettles(t *testing.T) {
	c, ns := livingClient(t)
	settle := 2 * time.Second
	r, o := waitOne(t, c, workload("Deployment", ns, "web", "nginx:1.27", 2, ""), HealthOptions{Timeout: time.Minute, Settle: settle})
	if !r.Healthy() || r.TimedOut {
		t.Fatalf("a Deployment whose pods come up must be healthy: %s", o)
	}
	if r.Duration < settle {
		t.Errorf("healthy after %v, before its settle time of %v", r.Duration, settle)
	}
	if len(o.Pods) != 0 {
		t.Errorf("a healthy workload lists no pods: %v", o.Pods)
	}
	// A StatefulSet rolls out too (pods one by one).
	r, o = waitOne(t, c, workload("StatefulSet", ns, "db", "postgres:17", 2, "serviceName: db"), HealthOptions{Timeout: time.Minute, Settle: time.Second})
	if !r.Healthy() {
		t.Fatalf("statefulset: %s", o)
	}
}

func TestHealthCrashingDeploymentFailsWithItsPods(t *testing.T) {
	c, ns := livingClient(t)
	r, o := waitOne(t, c, workload("Deployment", ns, "web", "example/web:v2-crash", 2, ""), HealthOptions{Timeout: 2 * time.Minute, Settle: time.Second})
	if r.Healthy() || r.TimedOut || o.Status != HealthFail {
		t.Fatalf("a crash-looping Deployment must fail before the timeout: timed out %v, %s", r.TimedOut, o)
	}
	if !strings.Contains(o.Message, "its pods cannot start (CrashLoopBackOff)") {
		t.Errorf("message %q", o.Message)
	}
	if len(o.Pods) != 2 {
		t.Fatalf("want both pods named, got %v", o.Pods)
	}
	p := o.Pods[0]
	if !strings.HasPrefix(p.Pod, "web-") || p.Container != "app" || p.Reason != "CrashLoopBackOff" || p.Restarts < crashLoopsFatal || p.LastExit != 1 || p.LastExitReason != "Error" {
		t.Errorf("pod issue %+v", p)
	}
	s := o.String()
	for _, want := range []string{"Deployment.apps/" + ns + "/web failed", "\n  pod web-", "container app CrashLoopBackOff (back-off 10s restarting failed container=app), last exit 1 (Error),"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}

	// The fix rolls out: the crashing pods it replaces do not count against it.
	r, o = waitOne(t, c, workload("Deployment", ns, "web", "example/web:v3", 2, ""), HealthOptions{Timeout: time.Minute, Settle: time.Second})
	if !r.Healthy() {
		t.Fatalf("the fixed version must be healthy: %s", o)
	}
}

// TestHealthReadyThenCrashIsAFailure: a version whose pods pass readiness and crash a
// moment later is healthy at its first Ready instant; the settle time catches it.
func TestHealthReadyThenCrashIsAFailure(t *testing.T) {
	c, ns := livingClient(t)
	r, o := waitOne(t, c, workload("Deployment", ns, "late", "example/web:crash-later", 1, ""), HealthOptions{Timeout: time.Minute, Settle: 8 * time.Second})
	if r.Healthy() || o.Status != HealthFail {
		t.Fatalf("a version that crashes after its first readiness must fail: %s", o)
	}
	if !strings.Contains(o.Message, "then failed within") && !strings.Contains(o.Message, "a pod restarted") {
		t.Errorf("message %q", o.Message)
	}
	if len(o.Pods) == 0 || !strings.Contains(o.String(), "last exit 1 (Error)") {
		t.Errorf("the pod that crashed is named with its exit: %s", o)
	}

}

func TestHealthUnreadyNamesTheProbe(t *testing.T) {
	c, ns := livingClient(t)
	r, o := waitOne(t, c, workload("Deployment", ns, "web", "example/web:unready", 1, ""), HealthOptions{Timeout: 4 * time.Second, Settle: time.Second})
	if r.Healthy() || !r.TimedOut || o.Status != InProgress {
		t.Fatalf("a pod that never passes readiness: timed out %v, %s", r.TimedOut, o)
	}
	if len(o.Pods) != 1 || o.Pods[0].Reason != "running, not ready" || !strings.Contains(o.Pods[0].Event, "Readiness probe failed") {
		t.Errorf("pods %+v", o.Pods)
	}
}

func TestHealthMinReadySecondsExtendsTheSettle(t *testing.T) {
	c, ns := livingClient(t)
	r, o := waitOne(t, c, workload("Deployment", ns, "slow", "nginx:1.27", 1, "minReadySeconds: 3"), HealthOptions{Timeout: time.Minute, Settle: 500 * time.Millisecond})
	if !r.Healthy() {
		t.Fatalf("%s", o)
	}
	if r.Duration < 3*time.Second {
		t.Errorf("healthy after %v, before minReadySeconds", r.Duration)
	}
}

func TestHealthJobs(t *testing.T) {
	c, ns := livingClient(t)
	job := func(name, image string) string {
		return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: %s, namespace: %s}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: %q}]
`, name, ns, image)
	}
	r, o := waitOne(t, c, job("migrate", "busybox:1.36"), HealthOptions{Timeout: time.Minute, Settle: time.Second})
	if !r.Healthy() {
		t.Fatalf("a Job that completes is healthy: %s", o)
	}
	r, o = waitOne(t, c, job("broken", "busybox:fail"), HealthOptions{Timeout: time.Minute, Settle: time.Second})
	if r.Healthy() || o.Status != HealthFail || r.TimedOut {
		t.Fatalf("a failed Job fails: %s", o)
	}
	if len(o.Pods) != 1 || !strings.Contains(o.String(), "last exit 1 (Error)") {
		t.Errorf("the failed pod is named with its exit: %s", o)
	}
}
