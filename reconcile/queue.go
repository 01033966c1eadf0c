package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/gitopsd/gitopsd/outcome"
)

// runFunc reconciles one commit.
type runFunc func(ctx context.Context, commit string, progress func(string)) Result

// worker runs reconciles of one environment, one at a time. A newer commit supersedes a
// queued older one: only the latest wanted commit is kept.
type worker struct {
	run     runFunc
	backoff Backoff
	onWait  func(commit string, next time.Time, err error)

	mu       sync.Mutex
	running  bool
	want     string
	waiters  []*waiter
	wake     chan struct{}
	progress []func(string)
}

type waiter struct {
	commit   string
	done     chan Result
	progress func(string)
}

// Backoff is the retry schedule: Initial doubled at each failure up to Max.
type Backoff struct {
	Initial, Max time.Duration
}

func (b Backoff) next(d time.Duration) time.Duration {
	if d == 0 {
		return b.Initial
	}
	d *= 2
	if d > b.Max {
		d = b.Max
	}
	return d
}

func newWorker(run runFunc, b Backoff, onWait func(string, time.Time, error)) *worker {
	return &worker{run: run, backoff: b, onWait: onWait, wake: make(chan struct{}, 1)}
}

// enqueue asks for commit to be applied. The returned channel receives the outcome of the
// reconcile that covers it: its own, or a newer commit's if one superseded it.
func (w *worker) enqueue(commit string, progress func(string)) <-chan Result {
	wt := &waiter{commit: commit, done: make(chan Result, 1), progress: progress}
	w.mu.Lock()
	w.want = commit
	w.waiters = append(w.waiters, wt)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return wt.done
}

// loop runs until ctx is done.
func (w *worker) loop(ctx context.Context) {
	var delay time.Duration
	var retryTimer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			w.finish(Result{Outcome: outcome.Waiting, Err: ctx.Err(), Summary: "gitopsd is shutting down; the commit is applied at the next start"})
			return
		case <-w.wake:
		case <-retryTimer:
		}
		retryTimer = nil
		w.mu.Lock()
		commit, waiters := w.want, w.waiters
		w.waiters = nil
		w.mu.Unlock()
		if commit == "" {
			continue
		}
		progress := func(line string) {
			for _, wt := range waiters {
				if wt.progress != nil {
					wt.progress(line)
				}
			}
		}
		w.setRunning(true)
		out := w.run(ctx, commit, progress)
		w.setRunning(false)
		for _, wt := range waiters {
			wt.done <- out
		}
		w.mu.Lock()
		newer := w.want != commit
		if !newer && !out.Retry {
			w.want = ""
		}
		w.mu.Unlock()
		switch {
		case newer:
			delay = 0
			select {
			case w.wake <- struct{}{}:
			default:
			}
		case out.Retry:
			delay = w.backoff.next(delay)
			next := time.Now().Add(delay)
			if w.onWait != nil {
				w.onWait(commit, next, out.Err)
			}
			retryTimer = time.After(delay)
		default:
			delay = 0
		}
	}
}

// finish answers every waiter, at shutdown.
func (w *worker) finish(out Result) {
	w.mu.Lock()
	waiters := w.waiters
	w.waiters = nil
	w.mu.Unlock()
	for _, wt := range waiters {
		wt.done <- out
	}
}

func (w *worker) setRunning(r bool) {
	w.mu.Lock()
	w.running = r
	w.mu.Unlock()
}

// busy reports whether a reconcile is running, or one was asked for and has not started.
// A retry waiting for its backoff is not busy: it is resumed at the next start.
func (w *worker) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running || len(w.waiters) > 0
}
