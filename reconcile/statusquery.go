package reconcile

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/config"
)

// Status answers `ssh HOST status [REPO [ENV]]` for user: the environments of the repos
// user may read, narrowed to a repo or one environment, as WriteStatus prints them.
func (r *Reconciler) Status(_ context.Context, user string, args []string, out io.Writer) error {
	sts, err := Readable(r.opts.Config(), r.opts.Store.All(), user, args)
	if err != nil {
		return err
	}
	WriteStatus(out, sts, time.Now())
	return nil
}

// Readable picks from all the statuses of the environments cfg configures in repos user
// may read, narrowed by args (REPO, or REPO ENV), sorted; an environment never reconciled
// gets an empty status of its branch and cluster. Naming a repo user may not read and one
// that does not exist get the same refusal, so that status says nothing of what one
// cannot read.
func Readable(cfg *config.Config, all []Status, user string, args []string) ([]Status, error) {
	if len(args) > 0 {
		repo, ok := cfg.Repos[args[0]]
		if !ok || !repo.CanRead(user) {
			return nil, fmt.Errorf("repository %q does not exist, or %s may not read it", args[0], user)
		}
		if len(args) > 1 {
			if _, ok := repo.Environments[args[1]]; !ok {
				return nil, fmt.Errorf("repository %s has no environment %q", args[0], args[1])
			}
		}
	}
	return configured(cfg, all, func(r config.Repo) bool { return r.CanRead(user) }, args), nil
}

// Configured is every environment cfg configures, with its status (an empty one if never
// reconciled), sorted: what /status shows, on the daemon's own HTTP listener.
func Configured(cfg *config.Config, all []Status) []Status {
	return configured(cfg, all, func(config.Repo) bool { return true }, nil)
}

// configured is the environments of the repos may allows, narrowed by args (REPO, or REPO
// ENV), sorted.
func configured(cfg *config.Config, all []Status, may func(config.Repo) bool, args []string) []Status {
	wanted := func(repo, env string) bool {
		return (len(args) == 0 || args[0] == repo) && (len(args) < 2 || args[1] == env)
	}
	var sts []Status
	for _, st := range all {
		repo, ok := cfg.Repos[st.Repo]
		if !ok || !may(repo) {
			continue
		}
		if env, ok := repo.Environments[st.Env]; ok && wanted(st.Repo, st.Env) {
			st.DriftSchedule = env.Drift.Schedule
			sts = append(sts, st)
		}
	}
	// Environments never pushed to have no status yet; list them too.
	for _, rn := range sortedKeys(cfg.Repos) {
		repo := cfg.Repos[rn]
		if !may(repo) {
			continue
		}
		for en, env := range repo.Environments {
			if wanted(rn, en) && !slices.ContainsFunc(sts, func(s Status) bool { return s.Repo == rn && s.Env == en }) {
				sts = append(sts, Status{Repo: rn, Env: en, Branch: env.Branch, Cluster: env.Cluster, DriftSchedule: env.Drift.Schedule})
			}
		}
	}
	slices.SortFunc(sts, func(x, y Status) int { return strings.Compare(x.Key(), y.Key()) })
	return sts
}
