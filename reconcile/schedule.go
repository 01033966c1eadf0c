package reconcile

import (
	"context"
	"hash/fnv"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// Scheduler runs the drift scans: one cron for the whole daemon. Each environment's
// schedule is shifted by a stable offset, a small fraction of its period, so that every
// "*/5" scan does not hit the API servers in the same second; the offset moves the ticks,
// it never sleeps inside a run (a sleep would make the next ticks find the run busy). A
// scan never overlaps itself: a tick that finds the previous run still going is logged and
// reported to the job's Skipped.
type Scheduler struct {
	cron *cron.Cron
	opts SchedulerOptions
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Log zerolog.Logger
	// MaxJitter bounds each environment's offset whatever its period.
	MaxJitter time.Duration
	// JitterFraction bounds the offset as a fraction of the schedule's period (0.1: a 2 s
	// schedule is shifted by less than 200 ms, an hourly one by less than MaxJitter).
	JitterFraction float64
}

// Job is one environment's scheduled scan.
type Job struct {
	// Name is repo/env: it places the offset and names the scan in the log.
	Name string
	// Spec is 5 cron fields or a descriptor such as @every 10m.
	Spec string
	Run  func(context.Context)
	// Skipped, if set, is called when a tick comes while the previous run is still going.
	Skipped func()
}

// DefaultSchedulerOptions spreads scans by up to a tenth of their period, at most 30 s.
func DefaultSchedulerOptions(log zerolog.Logger) SchedulerOptions {
	return SchedulerOptions{Log: log, MaxJitter: 30 * time.Second, JitterFraction: 0.1}
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	cl := cronLogger{opts.Log}
	return &Scheduler{
		cron: cron.New(cron.WithLogger(cl), cron.WithChain(cron.Recover(cl))),
		opts: opts,
	}
}

// Add schedules j. A tick that comes while the previous run is still going is skipped.
func (s *Scheduler) Add(ctx context.Context, j Job) error {
	sched, err := cron.ParseStandard(j.Spec)
	if err != nil {
		return err
	}
	bound := min(s.opts.MaxJitter, time.Duration(float64(period(sched, time.Now()))*s.opts.JitterFraction))
	offset := stableJitter(j.Name, bound)
	log := s.opts.Log.With().Str("scan", j.Name).Str("schedule", j.Spec).Logger()
	var running atomic.Bool
	job := cron.FuncJob(func() {
		if !running.CompareAndSwap(false, true) {
			log.Warn().Msg("drift scan skipped: the previous run is still going")
			if j.Skipped != nil {
				j.Skipped()
			}
			return
		}
		defer running.Store(false)
		if ctx.Err() == nil {
			j.Run(ctx)
		}
	})
	s.cron.Schedule(offsetSchedule{sched, offset}, job)
	log.Debug().Dur("offset_ms", offset).Msg("drift scan scheduled")
	return nil
}

// Start runs the scheduler in its own goroutine.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling and waits for running jobs, or for ctx.
func (s *Scheduler) Stop(ctx context.Context) {
	done := s.cron.Stop()
	select {
	case <-done.Done():
	case <-ctx.Done():
	}
}

// offsetSchedule is a schedule whose every tick comes offset later.
type offsetSchedule struct {
	cron.Schedule
	offset time.Duration
}

func (o offsetSchedule) Next(t time.Time) time.Time {
	return o.Schedule.Next(t.Add(-o.offset)).Add(o.offset)
}

// period is the shortest gap between the next few ticks of s after t: the period of an
// @every schedule, the smallest step of a cron expression.
func period(s cron.Schedule, t time.Time) time.Duration {
	var p time.Duration
	next := s.Next(t)
	for range 4 {
		after := s.Next(next)
		if after.IsZero() {
			break
		}
		if gap := after.Sub(next); p == 0 || gap < p {
			p = gap
		}
		next = after
	}
	return p
}

// stableJitter spreads environments over [0, max) by name, so that a restart keeps each
// environment's slot.
func stableJitter(name string, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(max))
}

// cronLogger adapts zerolog to cron.Logger: cron's key/value pairs become fields.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug().Fields(kv).Msg("cron: " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Err(err).Fields(kv).Msg("cron: " + msg)
}
