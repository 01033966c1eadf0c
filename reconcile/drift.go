package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/termtext"
)

// DriftResult is what one drift scan found.
type DriftResult struct {
	Commit string
	// Drifted lists each drifted object with its fields ("ConfigMap/web/a: .data.x"), and
	// objects missing from the cluster ("ConfigMap/web/b: missing").
	Drifted []string
	// Corrected says the environment was queued for a re-apply (mode correct).
	Corrected bool
	Duration  time.Duration
}

// Scan compares the live objects of repo/env with its branch head. Fields other managers
// own and fields the environment ignores do not count. In mode correct, drift queues a
// re-apply through the environment's worker, so a correction never overlaps a push.
func (r *Reconciler) Scan(ctx context.Context, repoName, envName string) (*DriftResult, error) {
	start := time.Now()
	cfg := r.opts.Config()
	env, ok := cfg.Repos[repoName].Environments[envName]
	if !ok {
		return nil, errNotConfigured
	}
	head, err := branchHead(r.opts.RepoDir(repoName), env.Branch)
	if err != nil || head == "" {
		return &DriftResult{}, err
	}
	cl, err := r.opts.Clusters.EnvClient(env)
	if err != nil {
		return nil, err
	}
	objs, _, scrub, err := r.render(ctx, repoName, env, head, cl)
	if err != nil {
		return nil, err
	}
	// Hooks are created at their sync's phase and left (or deleted) as their policy says:
	// never compared.
	objs = desired.PlanSync(objs).Objects()
	opts := kube.DefaultDriftOptions()
	opts.Owner = &kube.Owner{Repo: repoName, Env: envName}
	for _, p := range env.Drift.Ignore {
		opts.IgnorePaths = append(opts.IgnorePaths, "."+strings.TrimPrefix(p, "."))
	}
	cs, err := cl.Drift(ctx, objs, opts)
	if err != nil {
		return nil, fmt.Errorf("drift scan: %w", err)
	}
	res := &DriftResult{Commit: head}
	for _, ch := range cs.Changes {
		switch ch.Action {
		case kube.Created:
			res.Drifted = append(res.Drifted, ch.ID.Short()+": missing")
		case kube.Configured:
			// Each field with the live value and git's (a Secret's masked, see kube), and who
			// changed it: ".data.value: "edited" -> "git" (owned by kubectl-edit)".
			var fields []string
			for _, f := range ch.Fields {
				fields = append(fields, termtext.Cut(scrub.Scrub(f.String()), maxDriftField))
			}
			res.Drifted = append(res.Drifted, ch.ID.Short()+": "+strings.Join(first(fields, 3), ", "))
		}
	}
	res.Duration = time.Since(start)
	log := r.opts.Log.With().Str("repo", repoName).Str("env", envName).Str("commit", head).Logger()
	r.opts.Store.Update(repoName, envName, func(s *Status) {
		s.Branch, s.Cluster = env.Branch, env.Cluster
		s.DriftScanAt, s.Drifted = time.Now(), res.Drifted
		s.DriftCorrectedBy, s.DriftCorrectedAt = "", time.Time{}
	})
	if r.opts.Metrics != nil {
		r.opts.Metrics.DriftedObjects.WithLabelValues(repoName, envName).Set(float64(len(res.Drifted)))
	}
	if len(res.Drifted) == 0 {
		log.Info().Int("objects", len(objs)).Dur("duration_ms", res.Duration).Msg("drift scan: in sync")
		return res, nil
	}
	log.Warn().Strs("drifted", first(res.Drifted, 20)).Int("count", len(res.Drifted)).Str("mode", env.Drift.Mode).Dur("duration_ms", res.Duration).Msg("drift found")
	r.notify(notify.Event{Type: notify.DriftFound, Repo: repoName, Env: envName, Commit: head, Summary: fmt.Sprintf("%d drifted: %s", len(res.Drifted), strings.Join(first(res.Drifted, 5), "; "))})
	if env.Drift.Mode == config.DriftCorrect {
		// Every apply takes back the fields git declares (desired.ApplyOptions): the
		// hand edit is undone.
		r.Enqueue(repoName, envName, head, nil)
		res.Corrected = true
	}
	return res, nil
}

// maxDriftField bounds one drifted field as status, logs and webhooks show it.
const maxDriftField = 200

// ScheduleDrift adds every environment's drift scan to s.
func (r *Reconciler) ScheduleDrift(ctx context.Context, s *Scheduler) error {
	cfg := r.opts.Config()
	for _, repoName := range sortedKeys(cfg.Repos) {
		for _, envName := range sortedKeys(cfg.Repos[repoName].Environments) {
			env := cfg.Repos[repoName].Environments[envName]
			if env.Drift.Schedule == "" {
				continue
			}
			err := s.Add(ctx, Job{
				Name: repoName + "/" + envName,
				Spec: env.Drift.Schedule,
				Run: func(ctx context.Context) {
					if _, err := r.Scan(ctx, repoName, envName); err != nil {
						r.opts.Log.Error().Err(err).Str("repo", repoName).Str("env", envName).Msg("drift scan failed")
					}
				},
				Skipped: func() {
					if r.opts.Metrics != nil {
						r.opts.Metrics.DriftScansSkipped.WithLabelValues(repoName, envName).Inc()
					}
				},
			})
			if err != nil {
				return fmt.Errorf("%s/%s drift schedule: %w", repoName, envName, err)
			}
		}
	}
	return nil
}
