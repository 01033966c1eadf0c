// Package kube is gitopsd's Kubernetes engine: it applies unstructured objects to a
// cluster with server-side apply (for real or as a server dry-run), previews and detects
// drift from the same dry-run, stamps ownership, keeps each environment's inventory in the
// cluster, prunes what an environment no longer owns and waits for health with kstatus.
//
// It knows nothing about git, repositories or who calls it: every operation takes objects
// or object IDs and returns a ChangeSet (or a HealthReport) that the caller turns into
// push output, logs or status. It never logs, and no value of a Secret's data leaves it:
// diffs show Secret keys with values "***", and messages are scrubbed of them.
//
// A reconcile is a straight pipeline over it:
//
//	c, _ := kube.New(cfg, kube.DefaultClientOptions())
//	owner := kube.Owner{Repo: repo, Env: env, Commit: commit}
//	opts := kube.DefaultApplyOptions()
//	opts.Owner = &owner
//	cs, _ := c.Apply(ctx, objs, opts)              // CRDs and Namespaces first, then the rest
//	old, _, _ := c.ReadInventory(ctx, owner)
//	cur := kube.InventoryOf(cs)
//	pruned, _ := c.Prune(ctx, kube.Stale(old, cur), kube.DefaultPruneOptions(owner))
//	_ = c.WriteInventory(ctx, owner, cur)           // plus the IDs whose prune failed
//	health, _ := c.WaitHealthy(ctx, cur.IDs, kube.DefaultHealthOptions())
//
// Pre-receive runs the same Apply with DryRun (or Diff); the drift scan runs Drift.
// Hooks (Argo CD's hook resources, Helm's hooks) are not applied: RunHook creates one and
// waits until it finished, and DryRunHook is its check; they are in no inventory.
//
// Ownership is a boundary between environments: an object that carries another owner's
// label is never taken. Apply (and its dry run) fails it naming the owner, except a
// Namespace, which environments configured with one namespace share: it stays its first
// owner's, Skipped. Drift skips it, and Prune deletes only objects that carry its owner's
// label, in the very version it checked. A Client from Impersonate acts as another
// identity, so the cluster's RBAC bounds an environment too; the inventory is always read
// and written as the Client New made, gitopsd's own.
//
// The shape follows fluxcd/pkg/ssa: dependency order, one result per object, every
// object attempted even when some fail. Two things differ. Live state is read with one
// LIST per kind and namespace when many objects share them, so requests grow with kinds
// rather than objects; and an object stamped with ConfigHashAnnotation whose live state
// provably equals what an apply would make is reported unchanged without a request.
package kube
