package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// HealthStatus is an object's kstatus status.
type HealthStatus string

// The kstatus statuses (sigs.k8s.io/cli-utils/pkg/kstatus/status), named here so callers
// need not import kstatus.
const (
	Current     HealthStatus = HealthStatus(status.CurrentStatus)
	InProgress  HealthStatus = HealthStatus(status.InProgressStatus)
	HealthFail  HealthStatus = HealthStatus(status.FailedStatus)
	Terminating HealthStatus = HealthStatus(status.TerminatingStatus)
	NotFound    HealthStatus = HealthStatus(status.NotFoundStatus)
	Unknown     HealthStatus = HealthStatus(status.UnknownStatus)
)

// HealthOptions configure WaitHealthy.
type HealthOptions struct {
	// Timeout bounds the whole wait.
	Timeout time.Duration
	// Interval is the time between two polls.
	Interval time.Duration
	// Concurrency bounds the requests of one poll.
	Concurrency int
	// ListThreshold: at least this many objects of a kind and namespace are read with one
	// LIST (see ApplyOptions.PrefetchThreshold).
	ListThreshold int
	// Settle is how long a long-running workload (Deployment, StatefulSet, DaemonSet,
	// ReplicaSet, Pod) must stay healthy, without a pod restarting, before it counts as
	// healthy: many broken versions pass readiness for a moment and crash a second later.
	// It is never shorter than the workload's own minReadySeconds. Zero: no settle time.
	Settle time.Duration
	// Fresh, if set, limits the settle time to these objects (for example the ones an
	// apply of an already proven commit changed); nil settles every workload.
	Fresh map[ObjectID]bool
}

// DefaultHealthOptions polls every half second for up to five minutes, with no settle
// time (the caller decides: gitopsd's environments default to apply.settle in config).
func DefaultHealthOptions() HealthOptions {
	return HealthOptions{Timeout: 5 * time.Minute, Interval: 500 * time.Millisecond, Concurrency: 16, ListThreshold: 20}
}

// ObjectHealth is one object's last computed status.
type ObjectHealth struct {
	ID      ObjectID
	Status  HealthStatus
	Message string
	// Pods says, for a workload that is not healthy, which of its pods are not ready and
	// why (worst first).
	Pods []PodIssue
}

// String is the object, its status and message, then one line per pod (at most three),
// indented by two spaces under the object.
func (o ObjectHealth) String() string {
	s := fmt.Sprintf("%s %s", o.ID.Short(), strings.ToLower(string(o.Status)))
	if o.Message != "" {
		s += ": " + o.Message
	}
	for i, p := range o.Pods {
		if i == maxPodsShown {
			s += fmt.Sprintf("\n  and %d more pod%s", len(o.Pods)-i, plural(len(o.Pods)-i))
			break
		}
		s += "\n  " + p.String()
	}
	return s
}

// maxPodsShown bounds the pods ObjectHealth.String names.
const maxPodsShown = 3

// HealthReport is the outcome of WaitHealthy.
type HealthReport struct {
	Objects  []ObjectHealth
	Duration time.Duration
	// TimedOut says the timeout ended the wait before every object settled.
	TimedOut bool
}

// Healthy says whether every object is Current.
func (r *HealthReport) Healthy() bool {
	for _, o := range r.Objects {
		if o.Status != Current {
			return false
		}
	}
	return true
}

// NotReady returns the objects that are not Current.
func (r *HealthReport) NotReady() []ObjectHealth {
	var out []ObjectHealth
	for _, o := range r.Objects {
		if o.Status != Current {
			out = append(out, o)
		}
	}
	return out
}

// Summary is one line: "healthy: 12 current in 2.1s" or
// "not healthy after 5s (timeout): 11 current, 1 in progress".
func (r *HealthReport) Summary() string {
	counts := map[HealthStatus]int{}
	for _, o := range r.Objects {
		counts[o.Status]++
	}
	var parts []string
	for _, s := range []HealthStatus{Current, InProgress, HealthFail, Terminating, NotFound, Unknown} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], strings.ToLower(string(s))))
		}
	}
	d := r.Duration.Round(100 * time.Millisecond)
	if r.Healthy() {
		return fmt.Sprintf("healthy: %s in %v", strings.Join(parts, ", "), d)
	}
	why := ""
	if r.TimedOut {
		why = " (timeout)"
	}
	return fmt.Sprintf("not healthy after %v%s: %s", d, why, strings.Join(parts, ", "))
}

// watched is what WaitHealthy knows of one object between polls.
type watched struct {
	h ObjectHealth
	// since is when the object was first seen not healthy (zero: not yet polled), and
	// current when it turned Current without a break (zero: it is not Current).
	since, current time.Time
	// restarts is its pods' restart total when it turned Current (baseKnown: read).
	restarts  int32
	baseKnown bool
	// settle is how long it must stay Current; done says the verdict is in.
	settle time.Duration
	done   bool
	// live is the object as last read, for the final report's pods.
	live *unstructured.Unstructured
}

// podCheckAfter is how long a workload may be not ready before its pods are read on each
// poll: a rollout that goes well is done before, and costs no pod LIST.
const podCheckAfter = 1500 * time.Millisecond

// WaitHealthy polls ids with kstatus until each is healthy or Failed, or the timeout.
//
// A long-running workload is healthy once it has been Current for the settle time (see
// HealthOptions.Settle) with no pod restarting; falling back within it is a failure. A
// workload whose pods cannot start (they keep crashing, their image cannot be pulled)
// fails at once instead of waiting for the timeout. Every workload that is not healthy at
// the end comes with its pods' reasons. The error is only for the caller's context.
func (c *Client) WaitHealthy(ctx context.Context, ids []ObjectID, opts HealthOptions) (*HealthReport, error) {
	def := DefaultHealthOptions()
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	if opts.Interval <= 0 {
		opts.Interval = def.Interval
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = def.Concurrency
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	state := make(map[ObjectID]*watched, len(ids))
	for _, id := range ids {
		state[id] = &watched{h: ObjectHealth{ID: id, Status: Unknown, Message: "not checked yet"}}
	}
	pending := append([]ObjectID(nil), ids...)
	for len(pending) > 0 {
		polled := time.Now()
		// The poll runs under the caller's context, not the timeout's: a poll cut short
		// by the deadline would turn statuses into errors. It may overrun the timeout by
		// one poll.
		live := c.readLive(ctx, pending, opts.ListThreshold, opts.Concurrency)
		if ctx.Err() != nil {
			break
		}
		now := time.Now()
		// kstatus once per object and poll: the pod decision and the verdict share it.
		health := make(map[ObjectID]ObjectHealth, len(pending))
		for _, id := range pending {
			health[id] = healthOf(id, live[id])
		}
		pods := c.listPods(ctx, namespacesNeedingPods(pending, state, live, health, now), opts.Concurrency)
		var next []ObjectID
		for _, id := range pending {
			w := state[id]
			w.observe(live[id], health[id], pods, now, opts)
			if !w.done {
				next = append(next, id)
			}
		}
		pending = next
		if len(pending) == 0 {
			break
		}
		wait := time.NewTimer(nextPoll(pending, state, polled, opts.Interval))
		select {
		case <-wctx.Done():
		case <-wait.C:
		}
		wait.Stop()
		if wctx.Err() != nil {
			break
		}
	}
	r := &HealthReport{Duration: time.Since(start)}
	for _, id := range ids {
		w := state[id]
		if !w.done && w.h.Status == Current {
			// Still settling at the deadline: not proven healthy.
			w.h.Status = InProgress
			w.h.Message = fmt.Sprintf("healthy for %v only, less than its settle time of %v", time.Since(w.current).Round(100*time.Millisecond), w.settle)
		}
		r.Objects = append(r.Objects, w.h)
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	c.explainPods(ctx, r, state, opts.Concurrency)
	r.TimedOut = errors.Is(wctx.Err(), context.DeadlineExceeded) && len(pending) > 0
	return r, nil
}

// nextPoll is how long to wait before the next poll: the interval after the last one, or
// less when a workload's settle time ends sooner, so that its verdict is not one interval
// late.
func nextPoll(pending []ObjectID, state map[ObjectID]*watched, polled time.Time, interval time.Duration) time.Duration {
	at := polled.Add(interval)
	for _, id := range pending {
		if w := state[id]; !w.current.IsZero() && w.baseKnown {
			if end := w.current.Add(w.settle); end.Before(at) {
				at = end
			}
		}
	}
	return max(time.Until(at), 0)
}

// namespacesNeedingPods returns the namespaces whose pods this poll must read: those of
// workloads that are settling, or have been not ready for podCheckAfter.
func namespacesNeedingPods(pending []ObjectID, state map[ObjectID]*watched, live map[ObjectID]liveState, health map[ObjectID]ObjectHealth, now time.Time) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range pending {
		w := state[id]
		if !isWorkload(id) || live[id].obj == nil || seen[id.Namespace] {
			continue
		}
		settling := !w.current.IsZero()
		slow := !w.since.IsZero() && now.Sub(w.since) >= podCheckAfter
		if settling || slow || health[id].Status == Current {
			seen[id.Namespace] = true
			out = append(out, id.Namespace)
		}
	}
	sort.Strings(out)
	return out
}

// observe folds one poll into w. pods holds the pods of the namespaces that were read.
func (w *watched) observe(s liveState, h ObjectHealth, pods map[string]namespacePods, now time.Time, opts HealthOptions) {
	id := w.h.ID
	w.live = s.obj
	nsPods, podsRead := pods[id.Namespace]
	var mine []corev1.Pod
	if podsRead && s.obj != nil && isWorkload(id) {
		mine = podsOf(s.obj, nsPods)
		h.Pods = podIssues(mine)
	}
	if w.since.IsZero() {
		w.since = now
	}
	switch {
	case h.Status == HealthFail:
		w.h, w.done = h, true
	case h.Status != Current:
		if !w.current.IsZero() {
			// It was healthy and fell back within its settle time. A pod that restarted
			// or crashed makes that the verdict; anything else (new pods of a scale-up)
			// starts the settle time again once it is back.
			if crashed(h.Pods) || (podsRead && w.baseKnown && restarts(mine) > w.restarts) {
				h.Status = HealthFail
				h.Message = fmt.Sprintf("was ready, then failed within %v: %s", now.Sub(w.current).Round(100*time.Millisecond), h.Message)
				if len(h.Pods) == 0 {
					h.Pods = restartedPods(mine)
				}
				w.h, w.done = h, true
				return
			}
			w.current, w.baseKnown = time.Time{}, false
		}
		if len(h.Pods) > 0 && h.Pods[0].Fatal {
			h.Status = HealthFail
			h.Message = fmt.Sprintf("its pods cannot start (%s); %s", h.Pods[0].Reason, h.Message)
			w.h, w.done = h, true
			return
		}
		w.h = h
	default: // Current
		settle := w.settleTime(s.obj, opts)
		if settle <= 0 {
			w.h, w.done = h, true
			return
		}
		if w.current.IsZero() {
			w.current, w.settle = now, settle
		}
		if podsRead && !w.baseKnown {
			w.restarts, w.baseKnown = restarts(mine), true
		} else if podsRead && restarts(mine) > w.restarts {
			h.Status = HealthFail
			h.Message = fmt.Sprintf("a pod restarted %v after the workload was ready", now.Sub(w.current).Round(100*time.Millisecond))
			h.Pods = restartedPods(mine)
			w.h, w.done = h, true
			return
		}
		w.h = h
		w.done = w.baseKnown && now.Sub(w.current) >= w.settle
	}
}

// crashed says whether one of the pods' containers crashed: it waits in a crash loop or
// its last run ended with an error.
func crashed(issues []PodIssue) bool {
	for _, p := range issues {
		if p.Reason == "CrashLoopBackOff" || (p.LastExitReason != "" && p.LastExit != 0) {
			return true
		}
	}
	return false
}

// settleTime is how long the object must stay Current: the settle time for a fresh
// long-running workload, at least its minReadySeconds; zero otherwise.
func (w *watched) settleTime(live *unstructured.Unstructured, opts HealthOptions) time.Duration {
	id := w.h.ID
	if !settles(id) || (opts.Fresh != nil && !opts.Fresh[id]) || live == nil {
		return 0
	}
	d := opts.Settle
	if mrs, ok, _ := unstructured.NestedInt64(live.Object, "spec", "minReadySeconds"); ok {
		if m := time.Duration(mrs) * time.Second; m > d {
			d = m
		}
	}
	return d
}

// restartedPods describes the pods that restarted, for a failure found while settling.
func restartedPods(pods []corev1.Pod) []PodIssue {
	var out []PodIssue
	for _, p := range pods {
		for _, cst := range p.Status.ContainerStatuses {
			if cst.RestartCount == 0 {
				continue
			}
			is := PodIssue{Pod: p.Name, Container: cst.Name, Reason: "restarted", Restarts: cst.RestartCount}
			if t := cst.LastTerminationState.Terminated; t != nil {
				is.LastExit, is.LastExitReason = t.ExitCode, t.Reason
			}
			out = append(out, is)
			break
		}
	}
	return out
}

// explainPods completes the pods shown for each workload that is not healthy: read now
// for those whose pods no poll read, and with the newest Warning event of those running
// but not ready (a failing readiness probe says why there).
func (c *Client) explainPods(ctx context.Context, r *HealthReport, state map[ObjectID]*watched, conc int) {
	var missing []string
	seen := map[string]bool{}
	for i := range r.Objects {
		o := &r.Objects[i]
		if o.Status == Current {
			o.Pods = nil
			continue
		}
		if o.Pods == nil && isWorkload(o.ID) && state[o.ID].live != nil && !seen[o.ID.Namespace] {
			seen[o.ID.Namespace] = true
			missing = append(missing, o.ID.Namespace)
		}
	}
	pods := c.listPods(ctx, missing, conc)
	for i := range r.Objects {
		o := &r.Objects[i]
		if o.Status == Current {
			continue
		}
		if ns, ok := pods[o.ID.Namespace]; ok && o.Pods == nil && state[o.ID].live != nil {
			o.Pods = podIssues(podsOf(state[o.ID].live, ns))
		}
		for j := range o.Pods {
			if j == maxPodsShown {
				break
			}
			if p := &o.Pods[j]; p.Event == "" && !p.Fatal {
				p.Event = c.lastWarning(ctx, o.ID.Namespace, p.Pod)
			}
		}
	}
}

func healthOf(id ObjectID, s liveState) ObjectHealth {
	switch {
	case s.err != nil:
		return ObjectHealth{ID: id, Status: Unknown, Message: apiMessage(s.err)}
	case s.obj == nil:
		return ObjectHealth{ID: id, Status: NotFound, Message: "not found"}
	}
	res, err := status.Compute(s.obj)
	if err != nil {
		return ObjectHealth{ID: id, Status: Unknown, Message: err.Error()}
	}
	h := ObjectHealth{ID: id, Status: HealthStatus(res.Status), Message: res.Message}
	if id.Group == "batch" && id.Kind == "Job" && h.Status == Current && !jobFinished(s.obj) {
		// kstatus calls a running Job Current (reconciled). A push that ships a Job (a
		// migration, a smoke test) is healthy when the Job has done its work.
		h.Status = InProgress
	}
	return h
}

// jobFinished says whether a Job completed, or is suspended (it will not run until
// someone resumes it).
func jobFinished(job *unstructured.Unstructured) bool {
	if suspended, _, _ := unstructured.NestedBool(job.Object, "spec", "suspend"); suspended {
		return true
	}
	conds, _, _ := unstructured.NestedSlice(job.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Complete" && m["status"] == "True" {
			return true
		}
	}
	return false
}
