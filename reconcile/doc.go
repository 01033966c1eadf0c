// Package reconcile keeps each environment's cluster equal to its branch: after a push is
// accepted (post-receive), at start-up, on retry after a failure, and on the environment's
// drift-scan schedule.
//
// A reconcile is a straight pipeline of steps, each returning what it did (pipeline.go):
// render the commit, read the inventory, apply with server-side apply, record the
// inventory, prune what it says is gone, wait for health. The Result names the outcome
// (package outcome); a commit not healthy in an environment that says on_failure: rollback
// gets a revert commit and its own run (rollback.go). record then writes the status, the
// metrics, the webhook event and the log line from the Result, once (record.go). One
// reconcile runs at a time per environment, and a newer commit supersedes a queued older
// one (queue.go).
package reconcile
