package kube

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// PodIssue is why one pod of a workload is not ready, in the words `kubectl describe`
// would use: the container's waiting or terminated reason, its last exit, its restarts,
// a failed schedule or readiness probe.
type PodIssue struct {
	Pod       string
	Container string
	// Reason and Message are the container's waiting reason (CrashLoopBackOff,
	// ImagePullBackOff, ...) or, for the pod as a whole, Unschedulable, NotReady, Failed.
	Reason  string
	Message string
	// LastExit is the exit code and reason of the container's previous run, if it ended.
	LastExit       int32
	LastExitReason string
	Restarts       int32
	// Event is the newest Warning event of the pod ("Readiness probe failed: ..."),
	// filled in for the final report only.
	Event string
	// Fatal says waiting longer will not help (see fatalWaiting).
	Fatal bool
}

func (p PodIssue) String() string {
	var b strings.Builder
	b.WriteString("pod " + p.Pod + ": ")
	if p.Container != "" {
		b.WriteString("container " + p.Container + " ")
	}
	b.WriteString(p.Reason)
	if p.Message != "" {
		b.WriteString(" (" + p.Message + ")")
	}
	if p.LastExitReason != "" {
		fmt.Fprintf(&b, ", last exit %d (%s)", p.LastExit, p.LastExitReason)
	}
	if p.Restarts > 0 {
		fmt.Fprintf(&b, ", %d restart%s", p.Restarts, plural(int(p.Restarts)))
	}
	if p.Event != "" {
		b.WriteString("; " + p.Event)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// crashLoopsFatal is how many restarts in CrashLoopBackOff make a crash a verdict: one
// crash can be a dependency that was not up yet, the second in a row is the version.
const crashLoopsFatal = 2

// fatalWaiting says a container waiting for this reason will not start by itself: the
// image cannot be pulled or run, or it keeps crashing.
func fatalWaiting(reason string, restarts int32) bool {
	switch reason {
	case "CrashLoopBackOff":
		return restarts >= crashLoopsFatal
	case "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError":
		return true
	}
	return false
}

// workloadKinds are the kinds whose health rests on pods they own.
func isWorkload(id ObjectID) bool {
	switch {
	case id.Group == "apps":
		return id.Kind == "Deployment" || id.Kind == "StatefulSet" || id.Kind == "DaemonSet" || id.Kind == "ReplicaSet"
	case id.Group == "batch":
		return id.Kind == "Job"
	case id.Group == "":
		return id.Kind == "Pod"
	}
	return false
}

// settles says whether a Current object of this kind must stay Current for a while before
// it counts as healthy: long-running workloads. A Job that completed is done.
func settles(id ObjectID) bool { return isWorkload(id) && id.Kind != "Job" }

// podsOf returns the pods of a live workload's current version among the namespace's
// pods and ReplicaSets. Pods being deleted are left out, and so are those of a
// Deployment's, StatefulSet's or DaemonSet's earlier versions: a push that fixes a
// crashing version must not be judged by the crashing pods it replaces.
func podsOf(live *unstructured.Unstructured, ns namespacePods) []corev1.Pod {
	if live.GetKind() == "Pod" {
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &p); err != nil {
			return nil
		}
		return []corev1.Pod{p}
	}
	raw, ok, _ := unstructured.NestedMap(live.Object, "spec", "selector")
	if !ok {
		return nil
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || sel.Empty() {
		return nil
	}
	key, want, known := revisionLabel(live, ns.replicaSets)
	if !known {
		return nil
	}
	var out []corev1.Pod
	for _, p := range ns.pods {
		if p.DeletionTimestamp != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if _, labelled := p.Labels[key]; key != "" && labelled && p.Labels[key] != want {
			continue
		}
		out = append(out, p)
	}
	return out
}

// revisionLabel is the pod label and value that mark the workload's current version (key
// "": every selected pod counts). known is false while the controller has not seen the
// latest spec, or a Deployment's current ReplicaSet is not there yet: its pods cannot be
// told apart then.
func revisionLabel(live *unstructured.Unstructured, rss []appsv1.ReplicaSet) (key, value string, known bool) {
	// Until its controller has seen the latest spec, a workload's revision names the
	// version before it: a rollback just applied would be judged by the pods it replaces.
	switch live.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet":
		if observed, ok, _ := unstructured.NestedInt64(live.Object, "status", "observedGeneration"); !ok || observed < live.GetGeneration() {
			return "", "", false
		}
	}
	switch live.GetKind() {
	case "Deployment":
		rev := live.GetAnnotations()[revisionAnnotation]
		for _, rs := range rss {
			if rev == "" || rs.Annotations[revisionAnnotation] != rev {
				continue
			}
			for _, o := range rs.OwnerReferences {
				if o.UID == live.GetUID() {
					return appsv1.DefaultDeploymentUniqueLabelKey, rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey], true
				}
			}
		}
		return "", "", false
	case "StatefulSet":
		if rev, _, _ := unstructured.NestedString(live.Object, "status", "updateRevision"); rev != "" {
			return appsv1.ControllerRevisionHashLabelKey, rev, true
		}
	case "DaemonSet":
		return appsv1.DeprecatedTemplateGeneration, strconv.FormatInt(live.GetGeneration(), 10), true
	}
	return "", "", true
}

// revisionAnnotation numbers a Deployment's versions, on it and on its ReplicaSets.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// namespacePods is what one poll read of a namespace.
type namespacePods struct {
	pods        []corev1.Pod
	replicaSets []appsv1.ReplicaSet
}

// restarts is the pods' total container restarts.
func restarts(pods []corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		for _, c := range p.Status.ContainerStatuses {
			n += c.RestartCount
		}
	}
	return n
}

// podIssues says why each pod that is not ready is not, worst first (fatal ones, then by
// name).
func podIssues(pods []corev1.Pod) []PodIssue {
	var out []PodIssue
	for _, p := range pods {
		if is, ok := podIssue(p); ok {
			out = append(out, is)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Fatal != out[j].Fatal {
			return out[i].Fatal
		}
		return out[i].Pod < out[j].Pod
	})
	return out
}

func podIssue(p corev1.Pod) (PodIssue, bool) {
	is := PodIssue{Pod: p.Name}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return is, false
	case corev1.PodFailed:
		is.Reason, is.Message = "Failed", p.Status.Message
		if p.Status.Reason != "" {
			is.Reason = "Failed: " + p.Status.Reason
		}
		for _, c := range p.Status.ContainerStatuses {
			if t := c.State.Terminated; t != nil && t.ExitCode != 0 {
				is.Container, is.LastExit, is.LastExitReason = c.Name, t.ExitCode, t.Reason
				if is.Message == "" {
					is.Message = t.Message
				}
				break
			}
		}
		return is, true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			is.Reason, is.Message = "not scheduled", c.Message
			return is, true
		}
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return is, false
		}
	}
	// The worst container speaks for the pod.
	for _, c := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if c.Ready {
			continue
		}
		cand := PodIssue{Pod: p.Name, Container: c.Name, Restarts: c.RestartCount}
		if t := c.LastTerminationState.Terminated; t != nil {
			cand.LastExit, cand.LastExitReason = t.ExitCode, t.Reason
		}
		switch {
		case c.State.Waiting != nil:
			cand.Reason, cand.Message = c.State.Waiting.Reason, c.State.Waiting.Message
			cand.Fatal = fatalWaiting(cand.Reason, c.RestartCount)
		case c.State.Terminated != nil:
			t := c.State.Terminated
			cand.Reason, cand.Message = "terminated: "+t.Reason, t.Message
			cand.LastExit, cand.LastExitReason = t.ExitCode, t.Reason
		case c.State.Running != nil:
			cand.Reason = "running, not ready"
		default:
			cand.Reason = "not started"
		}
		if is.Reason == "" || (cand.Fatal && !is.Fatal) {
			is = cand
		}
	}
	if is.Reason == "" {
		is.Reason = "not ready"
		if p.Spec.NodeName == "" {
			is.Reason = "pending"
		}
	}
	return is, true
}

// listPods reads the pods and ReplicaSets of each namespace, one LIST of each (protobuf,
// through the typed clients: a rollout's hundreds of pods decode much faster than as
// unstructured JSON). A namespace whose LISTs failed is left out: its workloads wait for
// the next poll.
func (c *Client) listPods(ctx context.Context, namespaces []string, conc int) map[string]namespacePods {
	res := make([]*namespacePods, len(namespaces))
	forEach(len(namespaces), conc, func(i int) {
		pods, err := c.core.Pods(namespaces[i]).List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		rss, err := c.apps.ReplicaSets(namespaces[i]).List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		res[i] = &namespacePods{pods: pods.Items, replicaSets: rss.Items}
	})
	out := make(map[string]namespacePods, len(namespaces))
	for i, ns := range namespaces {
		if res[i] != nil {
			out[ns] = *res[i]
		}
	}
	return out
}

// lastWarning is the message of the newest Warning event about a pod, or "".
func (c *Client) lastWarning(ctx context.Context, ns, pod string) string {
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": pod, "type": corev1.EventTypeWarning}.AsSelector()
	l, err := c.core.Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	if err != nil || len(l.Items) == 0 {
		return ""
	}
	newest := l.Items[0]
	for _, e := range l.Items[1:] {
		if eventTime(e).After(eventTime(newest).Time) {
			newest = e
		}
	}
	return strings.TrimSpace(newest.Message)
}

func eventTime(e corev1.Event) metav1.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp
	}
	if !e.EventTime.IsZero() {
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.CreationTimestamp
}
