// Package reconcile keeps each environment's cluster equal to its branch: after a push is
// accepted (post-receive), at start-up, on retry after a failure, and on the environment's
// drift-scan schedule.
//
// A reconcile is a straight pipeline: render the commit, apply it with server-side apply,
// prune what the inventory says is gone, wait for health, record the status. One reconcile
// runs at a time per environment, and a newer commit supersedes a queued older one.
package reconcile
