package reconcile

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestSchedulerRunsAndNeverOverlaps(t *testing.T) {
	s := NewScheduler(zerolog.Nop(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running, maxRunning, runs atomic.Int32
	release := make(chan struct{})
	err := s.Add(ctx, "platform/staging", "@every 1s", func(context.Context) {
		n := running.Add(1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		<-release
		running.Add(-1)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitUntil(t, func() bool { return runs.Load() >= 1 })
	// The first run holds on; at least two more ticks pass (polling for them would need a
	// hook into cron, so wait on cron's own clock) and must be skipped.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if runs.Load() > 1 {
			t.Fatal("a scan started while the previous one was still running")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	waitUntil(t, func() bool { return runs.Load() >= 2 })
	s.Stop(context.Background())
	if maxRunning.Load() != 1 {
		t.Errorf("at most one run at a time, saw %d", maxRunning.Load())
	}
}

func TestSchedulerRefusesBadSpec(t *testing.T) {
	s := NewScheduler(zerolog.Nop(), 0)
	if err := s.Add(context.Background(), "x", "every five minutes", func(context.Context) {}); err == nil {
		t.Fatal("a bad spec must be refused")
	}
}

func TestStableJitter(t *testing.T) {
	a := stableJitter("platform/staging", time.Minute)
	if a != stableJitter("platform/staging", time.Minute) || a < 0 || a >= time.Minute {
		t.Errorf("jitter must be stable and within bounds: %v", a)
	}
	if stableJitter("x", 0) != 0 {
		t.Error("no jitter when max is 0")
	}
}
