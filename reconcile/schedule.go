package reconcile

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// Scheduler runs the drift scans: one cron for the whole daemon, each environment's scan
// delayed by a stable jitter (so that every "*/5" scan does not hit the API servers in the
// same second) and never overlapping itself.
type Scheduler struct {
	cron *cron.Cron
	log  zerolog.Logger
	// MaxJitter bounds the delay added before each run.
	maxJitter time.Duration
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(log zerolog.Logger, maxJitter time.Duration) *Scheduler {
	cl := cronLogger{log}
	return &Scheduler{
		cron:      cron.New(cron.WithLogger(cl), cron.WithChain(cron.Recover(cl))),
		log:       log,
		maxJitter: maxJitter,
	}
}

// Add schedules fn under spec (5 fields or a descriptor such as @every 10m) for the named
// environment. A run that is still going when the next is due makes the next one skip.
func (s *Scheduler) Add(ctx context.Context, name, spec string, fn func(context.Context)) error {
	jitter := stableJitter(name, s.maxJitter)
	job := cron.FuncJob(func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter):
		}
		fn(ctx)
	})
	_, err := s.cron.AddJob(spec, cron.NewChain(cron.SkipIfStillRunning(cronLogger{s.log.With().Str("scan", name).Logger()})).Then(job))
	return err
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
