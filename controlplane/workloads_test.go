package controlplane_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

// poll checks cond every 200 ms until it holds or the timeout passes; it returns the last
// description cond gave, for the failure message.
func poll(t *testing.T, timeout time.Duration, cond func() (bool, string)) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %s", timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func podsOf(t *testing.T, cs kubernetes.Interface, ns, app string) []corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// TestLivingDeploymentRollsOut: on the living cluster a Deployment gets its ReplicaSet,
// pods scheduled on kwok nodes, and becomes Available; a new image rolls out and the old
// pods go away.
func TestLivingDeploymentRollsOut(t *testing.T) {
	cp := kubetest.Living(t)
	cs := kubetest.Client(t, cp.Config)
	ns := kubetest.NamespaceIn(t, cp.Config)
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", "nginx:1.27", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	available := func() (bool, string) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := d.Status
		return d.Status.ObservedGeneration == d.Generation && s.UpdatedReplicas == 3 && s.AvailableReplicas == 3 && s.Replicas == 3,
			fmt.Sprintf("status %+v", s)
	}
	poll(t, 60*time.Second, available)
	for _, p := range podsOf(t, cs, ns, "web") {
		if p.Spec.NodeName == "" || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: node %q ip %q phase %s", p.Name, p.Spec.NodeName, p.Status.PodIP, p.Status.Phase)
		}
	}

	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, func() (bool, string) {
		if ok, s := available(); !ok {
			return false, s
		}
		pods := podsOf(t, cs, ns, "web")
		for _, p := range pods {
			if p.Spec.Containers[0].Image != "nginx:1.28" {
				return false, fmt.Sprintf("old pod %s still there", p.Name)
			}
		}
		return len(pods) == 3, fmt.Sprintf("%d pods", len(pods))
	})
}

// TestLivingFailures: the image tags of stages.yaml make pods fail the way real ones do.
func TestLivingFailures(t *testing.T) {
	cp := kubetest.Living(t)
	cs := kubetest.Client(t, cp.Config)
	ns := kubetest.NamespaceIn(t, cp.Config)
	ctx := context.Background()
	for _, d := range []*appsv1.Deployment{
		deployment("crash", "example/app:v2-crash", 1),
		deployment("unready", "example/app:unready", 1),
		deployment("later", "example/app:crash-later", 1),
	} {
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(app string) (corev1.Pod, corev1.ContainerStatus, bool) {
		pods := podsOf(t, cs, ns, app)
		if len(pods) == 0 || len(pods[0].Status.ContainerStatuses) == 0 {
			return corev1.Pod{}, corev1.ContainerStatus{}, false
		}
		return pods[0], pods[0].Status.ContainerStatuses[0], true
	}

	// Ready for a moment, then crashing: first seen Ready, later restarting. Watched
	// first: it is Ready for about two seconds only.
	sawReady := false
	poll(t, 60*time.Second, func() (bool, string) {
		_, c, ok := status("later")
		if !ok {
			return false, "no pod status yet"
		}
		sawReady = sawReady || c.Ready
		return sawReady && !c.Ready && c.RestartCount >= 1, fmt.Sprintf("seen ready %v, container %+v", sawReady, c)
	})
	// Crashing: CrashLoopBackOff, never ready, and the restart count goes up.
	poll(t, 60*time.Second, func() (bool, string) {
		_, c, ok := status("crash")
		if !ok {
			return false, "no pod status yet"
		}
		waiting := c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff"
		crashed := c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.ExitCode == 1
		return waiting && crashed && !c.Ready && c.RestartCount >= 2, fmt.Sprintf("container status %+v", c)
	})

	// Running but never ready.
	poll(t, 60*time.Second, func() (bool, string) {
		p, c, ok := status("unready")
		if !ok {
			return false, "no pod status yet"
		}
		return p.Status.Phase == corev1.PodRunning && c.State.Running != nil && !c.Ready, fmt.Sprintf("phase %s container %+v", p.Status.Phase, c)
	})

	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "later", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 0 {
		t.Errorf("a crashing pod must not count as available: %+v", d.Status)
	}
}

// TestLivingJobs: a Job completes; one whose image has the :fail tag fails for good.
func TestLivingJobs(t *testing.T) {
	cp := kubetest.Living(t)
	cs := kubetest.Client(t, cp.Config)
	ns := kubetest.NamespaceIn(t, cp.Config)
	ctx := context.Background()
	job := func(name, image string) *batchv1.Job {
		backoff := int32(1)
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.JobSpec{
				BackoffLimit: &backoff,
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "job", Image: image}},
				}},
			},
		}
	}
	for _, j := range []*batchv1.Job{job("ok", "busybox:1.36"), job("bad", "busybox:fail")} {
		if _, err := cs.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	condition := func(name string, want batchv1.JobConditionType) func() (bool, string) {
		return func() (bool, string) {
			j, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, c := range j.Status.Conditions {
				if c.Type == want && c.Status == corev1.ConditionTrue {
					return true, c.Reason
				}
			}
			return false, fmt.Sprintf("status %+v", j.Status)
		}
	}
	poll(t, 60*time.Second, condition("ok", batchv1.JobComplete))
	reason := poll(t, 90*time.Second, condition("bad", batchv1.JobFailed))
	if reason != "BackoffLimitExceeded" {
		t.Errorf("failed job's reason %q, want BackoffLimitExceeded", reason)
	}
}

// TestLivingRestartAPIServer: the components reconnect after the API server comes back,
// so a Deployment created after the restart still rolls out.
func TestLivingRestartAPIServer(t *testing.T) {
	cp, err := kubetest.StartLiving(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	ctx := context.Background()
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	cs := kubetest.Client(t, cp.Config)
	ns := kubetest.NamespaceIn(t, cp.Config)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("after", "nginx:1.27", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 90*time.Second, func() (bool, string) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "after", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return d.Status.AvailableReplicas == 2, fmt.Sprintf("status %+v", d.Status)
	})
}
