package reconcile

import (
	"context"
	"errors"
	"sync"
	"time"
)

// scans holds the running drift scans. They follow repos.yaml: a reload builds a new
// Scheduler from the configuration in force and swaps it for the old one.
type scans struct {
	mu      sync.Mutex
	sched   *Scheduler
	stopped bool
}

// scanStopTimeout bounds how long a swap or shutdown waits for running scans.
const scanStopTimeout = 10 * time.Second

// ScheduleScans (re)starts the drift scans of the configuration in force, replacing those
// running; they stop when Start's context ends. A schedule that does not parse keeps the
// old scans (config.Load validated every one, so that is a bug, not a typo).
func (r *Reconciler) ScheduleScans() error {
	if r.ctx == nil {
		return errors.New("reconcile: ScheduleScans before Start")
	}
	sched := NewScheduler(DefaultSchedulerOptions(r.opts.Log))
	if err := r.ScheduleDrift(r.ctx, sched); err != nil {
		return err
	}
	r.scans.mu.Lock()
	defer r.scans.mu.Unlock()
	if r.scans.stopped {
		return nil
	}
	if r.scans.sched == nil {
		go func() {
			<-r.ctx.Done()
			r.stopScans()
		}()
	}
	stopScheduler(r.scans.sched)
	r.scans.sched = sched
	sched.Start()
	return nil
}

// stopScans stops the drift scans for good, letting running ones finish within a bound.
func (r *Reconciler) stopScans() {
	r.scans.mu.Lock()
	defer r.scans.mu.Unlock()
	r.scans.stopped = true
	stopScheduler(r.scans.sched)
	r.scans.sched = nil
}

func stopScheduler(s *Scheduler) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scanStopTimeout)
	defer cancel()
	s.Stop(ctx)
}
