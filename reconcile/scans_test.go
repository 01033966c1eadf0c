package reconcile

import (
	"testing"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// The drift scans follow the configuration: a reload swaps the scheduler for one with the
// new schedules, and the end of Start's context stops them for good.
func TestScansFollowReload(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), func(e *config.Environment) { e.Drift.Schedule = "@every 1h" })
	entries := func() int {
		b.rec.scans.mu.Lock()
		defer b.rec.scans.mu.Unlock()
		if b.rec.scans.sched == nil {
			return -1
		}
		return len(b.rec.scans.sched.cron.Entries())
	}
	if err := b.rec.ScheduleScans(); err != nil {
		t.Fatal(err)
	}
	if n := entries(); n != 1 {
		t.Fatalf("one scheduled scan expected, have %d", n)
	}
	old := b.cfg
	next := *old
	next.Repos = map[string]config.Repo{}
	for name, repo := range old.Repos {
		envs := map[string]config.Environment{}
		for en, e := range repo.Environments {
			e.Drift.Schedule = ""
			envs[en] = e
		}
		repo.Environments = envs
		next.Repos[name] = repo
	}
	b.cfg = &next
	b.rec.Reload(old)
	if n := entries(); n != 0 {
		t.Errorf("the reload drops the schedule, %d scans left", n)
	}
	b.cancel()
	waitFor(t, func() bool { return entries() == -1 })
	if err := b.rec.ScheduleScans(); err != nil || entries() != -1 {
		t.Errorf("no scans start after the end: %v, %d", err, entries())
	}
}
