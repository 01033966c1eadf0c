package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
}

// DefaultHealthOptions polls every half second for up to five minutes.
func DefaultHealthOptions() HealthOptions {
	return HealthOptions{Timeout: 5 * time.Minute, Interval: 500 * time.Millisecond, Concurrency: 16, ListThreshold: 20}
}

// ObjectHealth is one object's last computed status.
type ObjectHealth struct {
	ID      ObjectID
	Status  HealthStatus
	Message string
}

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

// settled says whether polling more cannot change the verdict soon: every object is Current
// or has Failed (kstatus Failed means the object itself reports it cannot progress).
func settled(s HealthStatus) bool { return s == Current || s == HealthFail }

// WaitHealthy polls ids with kstatus until each is Current or Failed, or the timeout. It
// returns the last status of every object; the error is only for the caller's context.
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

	last := make(map[ObjectID]ObjectHealth, len(ids))
	for _, id := range ids {
		last[id] = ObjectHealth{ID: id, Status: Unknown, Message: "not checked yet"}
	}
	pending := append([]ObjectID(nil), ids...)
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for len(pending) > 0 {
		// The poll runs under the caller's context, not the timeout's: a poll cut short
		// by the deadline would turn statuses into errors. It may overrun the timeout by
		// one poll.
		live := c.readLive(ctx, pending, opts.ListThreshold, opts.Concurrency)
		if ctx.Err() != nil {
			break
		}
		var next []ObjectID
		for _, id := range pending {
			h := healthOf(id, live[id])
			last[id] = h
			if !settled(h.Status) {
				next = append(next, id)
			}
		}
		pending = next
		if len(pending) == 0 {
			break
		}
		select {
		case <-wctx.Done():
		case <-tick.C:
		}
		if wctx.Err() != nil {
			break
		}
	}
	r := &HealthReport{Duration: time.Since(start)}
	for _, id := range ids {
		r.Objects = append(r.Objects, last[id])
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	r.TimedOut = errors.Is(wctx.Err(), context.DeadlineExceeded) && len(pending) > 0
	return r, nil
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
	return ObjectHealth{ID: id, Status: HealthStatus(res.Status), Message: res.Message}
}
