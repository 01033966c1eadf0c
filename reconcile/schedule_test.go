package reconcile

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

func TestSchedulerRunsAndNeverOverlaps(t *testing.T) {
	s := NewScheduler(SchedulerOptions{Log: zerolog.Nop()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running, maxRunning, runs, skipped atomic.Int32
	release := make(chan struct{})
	err := s.Add(ctx, Job{Name: "platform/staging", Spec: "@every 1s", Run: func(context.Context) {
		n := running.Add(1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		<-release
		running.Add(-1)
	}, Skipped: func() { skipped.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitUntil(t, func() bool { return runs.Load() >= 1 })
	// The first run holds on: the ticks that come meanwhile are skipped, and said so.
	waitUntil(t, func() bool { return skipped.Load() >= 2 })
	if runs.Load() > 1 {
		t.Fatal("a scan started while the previous one was still running")
	}
	close(release)
	waitUntil(t, func() bool { return runs.Load() >= 2 })
	s.Stop(context.Background())
	if maxRunning.Load() != 1 {
		t.Errorf("at most one run at a time, saw %d", maxRunning.Load())
	}
}

func TestSchedulerRefusesBadSpec(t *testing.T) {
	s := NewScheduler(DefaultSchedulerOptions(zerolog.Nop()))
	if err := s.Add(context.Background(), Job{Name: "x", Spec: "every five minutes", Run: func(context.Context) {}}); err == nil {
		t.Fatal("a bad spec must be refused")
	}
}

// TestOffsetScheduleKeepsThePeriod: the offset shifts every tick by the same amount, so
// the period stays what the spec says, and the offset stays within the fraction of it.
func TestOffsetScheduleKeepsThePeriod(t *testing.T) {
	opts := DefaultSchedulerOptions(zerolog.Nop())
	for _, tc := range []struct {
		spec   string
		period time.Duration
	}{{"@every 2s", 2 * time.Second}, {"@every 10s", 10 * time.Second}, {"*/5 * * * *", 5 * time.Minute}, {"@hourly", time.Hour}} {
		sched, err := cron.ParseStandard(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		if p := period(sched, now); p != tc.period {
			t.Errorf("%s: period %v, want %v", tc.spec, p, tc.period)
		}
		bound := min(opts.MaxJitter, time.Duration(float64(tc.period)*opts.JitterFraction))
		for _, name := range []string{"platform/staging", "platform/prod", "shop/eu"} {
			off := stableJitter(name, bound)
			if off < 0 || off >= bound {
				t.Fatalf("%s %s: offset %v outside [0, %v)", tc.spec, name, off, bound)
			}
			o := offsetSchedule{sched, off}
			// Ticks as cron takes them: each from the moment the previous ran, a little late.
			tick := o.Next(now)
			for i := range 5 {
				next := o.Next(tick.Add(3 * time.Millisecond))
				if gap := next.Sub(tick); gap != tc.period {
					t.Fatalf("%s %s: tick %d after %v, want %v", tc.spec, name, i, gap, tc.period)
				}
				tick = next
			}
		}
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
