package reconcile

import (
	"time"

	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/outcome"
)

// record writes what one reconcile did, once, from its result: the status, the metrics,
// the webhook event and the log line. The steps write none of them, so that the five say
// the same thing in the same words.
func (r *Reconciler) record(p *pass, res Result) {
	log := r.opts.Log.With().Str("repo", p.repo).Str("env", p.envName).Str("commit", p.commit).Logger()
	if res.standby {
		log.Warn().Msg("lease held elsewhere: not applying")
		if _, err := r.opts.Store.Update(p.repo, p.envName, func(s *Status) { s.Waiting = res.Err.Error() }); err != nil {
			log.Warn().Err(err).Msg("status not recorded")
		}
		return
	}
	now := time.Now()
	applied := res.appliedCommit()
	_, err := r.opts.Store.Update(p.repo, p.envName, func(s *Status) {
		s.Branch, s.Cluster = p.env.Branch, p.env.Cluster
		s.Outcome, s.OutcomeAt = res.Outcome, now
		if applied != "" {
			s.LastApplied, s.LastAppliedAt = applied, now
			s.Digest = res.appliedDigest()
			s.Objects = res.Objects
			if rb := res.Rollback; rb != nil && rb.Applied != nil {
				s.Objects = rb.Objects
			}
			s.Deleted = ""
			if len(s.Drifted) > 0 && res.Applied != nil && !res.Applied.HasFailed() {
				s.Drifted = nil
				s.DriftCorrectedBy, s.DriftCorrectedAt = applied, now
			}
		}
		if res.Outcome != outcome.Waiting {
			s.Waiting = ""
		}
		s.Release = ""
		if res.healthy() {
			s.LastHealthy, s.LastHealthyAt = applied, now
			s.LastError, s.LastErrorAt = "", time.Time{}
		} else {
			s.LastError, s.LastErrorAt = res.Summary, now
		}
		switch {
		case res.Outcome == outcome.RolledBack || res.Rollback != nil:
			s.RolledBack = res.Summary
		case res.Outcome == outcome.Healthy && res.Unchanged == "":
			// A commit applied and healthy since: the rollback is history.
			s.RolledBack = ""
		}
	})
	if err != nil {
		// The store logged it and /readyz shows it; the outcome still goes out below.
		log.Warn().Err(err).Msg("status not recorded")
	}
	if res.Unchanged != "" {
		// Nothing was applied: no event, no metric, one line.
		log.Info().Str("outcome", res.Outcome.Label()).Str("unchanged_since", res.Unchanged).Dur("duration_ms", res.Duration).Msg("unchanged: nothing to apply")
		return
	}
	r.observe(p, res)
	r.notify(event(p, res))
	// One line per reconcile, under the commit reconciled: "reconciled" when the
	// environment ended as its branch says, "reconcile failed" otherwise (a rollback after
	// a health failure included), the outcome in its own field.
	ev, msg := log.Info(), "reconciled"
	if res.Err != nil {
		ev, msg = log.Error().Err(res.Err).Bool("retry", res.Retry), "reconcile failed"
	}
	if res.Applied != nil {
		ev = ev.Int("created", res.Applied.Count(kube.Created)).Int("configured", res.Applied.Count(kube.Configured)).
			Int("unchanged", res.Applied.Count(kube.Unchanged))
	}
	if res.Pruned != nil {
		ev = ev.Int("pruned", res.Pruned.Count(kube.Deleted))
	}
	if res.Revert != "" {
		ev = ev.Str("revert", res.Revert).Str("target", res.Target)
	}
	ev.Str("outcome", res.Outcome.Label()).Dur("duration_ms", res.Duration).Msg(msg)
}

// event is the webhook event of res: its type names the outcome.
func event(p *pass, res Result) notify.Event {
	e := notify.Event{Type: res.Outcome.Event(), Repo: p.repo, Env: p.envName, Commit: res.Commit, Outcome: res.Outcome, Summary: res.Summary}
	if res.Revert != "" {
		e.Commit, e.Target = res.Revert, res.Target
		if res.Rollback != nil {
			e.Failed = res.Commit
		}
	}
	return e
}

// observe records res in the metrics: the duration by outcome, the objects applied and
// pruned by both passes of a rollback, the time of the last healthy apply.
func (r *Reconciler) observe(p *pass, res Result) {
	m := r.opts.Metrics
	if m == nil {
		return
	}
	m.ReconcileSeconds.WithLabelValues(p.repo, p.envName, res.Outcome.Label()).Observe(res.Duration.Seconds())
	for _, pass := range []*Result{&res, res.Rollback} {
		if pass == nil {
			continue
		}
		if cs := pass.Applied; cs != nil {
			for _, a := range []kube.Action{kube.Created, kube.Configured, kube.Unchanged, kube.Failed} {
				m.ObjectsApplied.WithLabelValues(p.repo, p.envName, string(a)).Add(float64(cs.Count(a)))
			}
		}
		if pass.Pruned != nil {
			m.ObjectsPruned.WithLabelValues(p.repo, p.envName).Add(float64(pass.Pruned.Count(kube.Deleted)))
		}
	}
	if res.healthy() {
		m.LastSyncTime.WithLabelValues(p.repo, p.envName).SetToCurrentTime()
	}
}

func (r *Reconciler) notify(e notify.Event) {
	if r.opts.Notify != nil {
		e.Time = time.Now()
		r.opts.Notify(e)
	}
}
