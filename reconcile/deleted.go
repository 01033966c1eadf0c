package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/notify"
)

// BranchDeleted does what the environment's on_delete says once its branch was deleted,
// and returns the line to show the pusher: keep leaves the objects in the cluster (no
// longer managed: no apply or scan has a branch to read), prune deletes every object the
// environment owns, as the inventory lists them. Either way the status says so.
func (r *Reconciler) BranchDeleted(ctx context.Context, repo, env, user string) string {
	e, ok := r.opts.Config().Repos[repo].Environments[env]
	if !ok {
		return errNotConfigured.Error()
	}
	log := r.opts.Log.With().Str("repo", repo).Str("env", env).Str("user", user).Logger()
	record := func(msg string) string {
		r.opts.Store.Update(repo, env, func(s *Status) {
			s.Branch, s.Cluster = e.Branch, e.Cluster
			s.Deleted = fmt.Sprintf("branch %s deleted by %s at %s: %s", e.Branch, user, time.Now().UTC().Format(time.DateTime), msg)
			s.Waiting = ""
		})
		log.Info().Str("on_delete", e.OnDelete).Msg("branch deleted: " + msg)
		r.notify(notify.Event{Type: notify.BranchDeleted, Repo: repo, Env: env, Summary: msg})
		return fmt.Sprintf("branch %s deleted: %s", e.Branch, msg)
	}
	if e.OnDelete != config.OnDeletePrune {
		return record(fmt.Sprintf("its %d objects stay in cluster %s, unmanaged (on_delete: keep)", r.opts.Store.Get(repo, env).Objects, e.Cluster))
	}
	cl, err := r.opts.Clusters.EnvClient(e)
	if err != nil {
		return record(fmt.Sprintf("cluster %s unreachable: nothing pruned (%v)", e.Cluster, err))
	}
	owner := kube.Owner{Repo: repo, Env: env}
	inv, _, err := cl.ReadInventory(ctx, owner)
	if err != nil {
		return record(fmt.Sprintf("cluster %s unreachable: nothing pruned (%v)", e.Cluster, err))
	}
	ids, _ := desired.BoundaryOf(e).Prunable(inv.IDs) // the others are let go, as at a push
	pruned, err := cl.Prune(ctx, ids, kube.DefaultPruneOptions(owner))
	if err != nil {
		return record(fmt.Sprintf("prune failed: %v", err))
	}
	var keep []kube.ObjectID
	for _, ch := range pruned.Changes {
		if ch.Action == kube.Failed {
			keep = append(keep, ch.ID)
		}
	}
	if err := cl.WriteInventory(ctx, owner, kube.NewInventory(keep...)); err != nil {
		log.Error().Err(err).Msg("write inventory after the delete's prune")
	}
	r.opts.Store.Update(repo, env, func(s *Status) { s.Objects = len(keep) })
	msg := fmt.Sprintf("pruned %d objects of environment %s (on_delete: prune)", pruned.Count(kube.Deleted), env)
	if len(keep) > 0 {
		msg += fmt.Sprintf("; %d could not be deleted and stay listed", len(keep))
	}
	return record(msg)
}
