package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestWorkerNewerCommitSupersedes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	var mu sync.Mutex
	var ran []string
	w := newWorker(func(ctx context.Context, commit string, _ func(string)) Result {
		mu.Lock()
		ran = append(ran, commit)
		mu.Unlock()
		if commit == "c1" {
			<-release // hold the first reconcile while c2 and c3 arrive
		}
		return Result{Commit: commit}
	}, Backoff{Initial: time.Millisecond, Max: time.Millisecond}, nil)
	go w.loop(ctx)

	first := w.enqueue("c1", nil)
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(ran) == 1 })
	second := w.enqueue("c2", nil)
	third := w.enqueue("c3", nil)
	close(release)

	if out := <-first; out.Commit != "c1" {
		t.Errorf("first waiter: %+v", out)
	}
	// c2 was superseded by c3 before it started: both waiters learn c3's outcome.
	if out := <-second; out.Commit != "c3" {
		t.Errorf("superseded waiter should get the newer commit's outcome, got %+v", out)
	}
	if out := <-third; out.Commit != "c3" {
		t.Errorf("third waiter: %+v", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 2 || ran[1] != "c3" {
		t.Errorf("ran %v, want [c1 c3]: c2 must never run", ran)
	}
}

func TestWorkerRetriesWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	attempts := 0
	var waits []time.Duration
	w := newWorker(func(ctx context.Context, commit string, _ func(string)) Result {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts < 4 {
			return Result{Commit: commit, Err: errors.New("cluster unreachable"), Retry: true}
		}
		return Result{Commit: commit}
	}, Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond}, func(_ string, next time.Time, _ error) {
		mu.Lock()
		waits = append(waits, time.Until(next))
		mu.Unlock()
	})
	go w.loop(ctx)
	if out := <-w.enqueue("c1", nil); out.Err == nil {
		t.Fatal("the waiter gets the first outcome, which failed")
	}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return attempts == 4 })
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 3 {
		t.Errorf("want 3 waits before success, got %v", waits)
	}
}

func TestBackoffCaps(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 5 * time.Second}
	var d time.Duration
	var got []time.Duration
	for range 5 {
		d = b.next(d)
		got = append(got, d)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
