// Package kube is gitopsd's Kubernetes engine: it applies unstructured objects to a
// cluster with server-side apply (for real or as a server dry-run), previews and detects
// drift from the same dry-run, stamps ownership, keeps each environment's inventory in the
// cluster, prunes what an environment no longer owns and waits for health with kstatus.
//
// It knows nothing about git, repositories or who calls it: every operation takes objects
// or object IDs and returns a ChangeSet (or a health/drift report) that the caller turns
// into push output, logs or status. It never logs, and no value of a Secret's data leaves
// it: diffs and messages mask them as "***".
//
// The shape follows fluxcd/pkg/ssa: dependency order (CRDs and Namespaces first), one
// result per object, every object attempted even when some fail.
package kube
