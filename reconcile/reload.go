package reconcile

import "github.com/gitopsd/gitopsd/config"

// Reload follows a configuration reload (Options.Config already returns the new one;
// old is the one before): drift scans as the new schedules say, and the branch heads of
// the environments it adds.
func (r *Reconciler) Reload(old *config.Config) {
	if err := r.ScheduleScans(); err != nil {
		r.opts.Log.Error().Err(err).Msg("drift schedules not reloaded")
	}
	r.ApplyAdded(old)
}

// ApplyAdded is what a configuration reload queues: the environments that old did not have
// and whose branch head was never applied to them (a branch pushed before the environment
// was configured). Nothing else: a reload changes configuration, not clusters, and an
// environment that failed is retried by its own backoff or fixed by the next push, not
// re-applied by every SIGHUP.
func (r *Reconciler) ApplyAdded(old *config.Config) {
	cfg := r.opts.Config()
	for _, repoName := range sortedKeys(cfg.Repos) {
		repo := cfg.Repos[repoName]
		for _, envName := range sortedKeys(repo.Environments) {
			if _, had := old.Repos[repoName].Environments[envName]; had {
				continue
			}
			head, err := branchHead(r.opts.RepoDir(repoName), repo.Environments[envName].Branch)
			if err != nil || head == "" || r.opts.Store.Get(repoName, envName).LastApplied == head {
				continue
			}
			r.opts.Log.Info().Str("repo", repoName).Str("env", envName).Str("commit", head).Msg("environment added by reload: applying its branch head")
			r.EnqueueChanged(repoName, envName, head, nil)
		}
	}
}
