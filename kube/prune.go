package kube

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PruneOptions configure Prune.
type PruneOptions struct {
	// Owner is the environment pruning: only objects carrying its label are deleted.
	Owner Owner
	// DryRun asks the server to check the deletes and perform none.
	DryRun bool
	// Concurrency bounds the requests in flight.
	Concurrency int
	// Propagation is how dependents go; Background returns at once and lets the garbage
	// collector remove them.
	Propagation metav1.DeletionPropagation
}

// DefaultPruneOptions returns options for owner.
func DefaultPruneOptions(owner Owner) PruneOptions {
	return PruneOptions{Owner: owner, Concurrency: 16, Propagation: metav1.DeletePropagationBackground}
}

// Prune deletes the objects of ids that still carry opts.Owner's label and do not opt out
// with PruneAnnotation. Namespaces and CRDs go last, since deleting them deletes what is in
// them. Each ID gets a Change: Deleted, Skipped (with the reason) or Failed.
func (c *Client) Prune(ctx context.Context, ids []ObjectID, opts PruneOptions) (*ChangeSet, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Propagation == "" {
		opts.Propagation = metav1.DeletePropagationBackground
	}
	var first, last []ObjectID
	for _, id := range ids {
		if isNamespace(id) || isCRD(id) {
			last = append(last, id)
		} else {
			first = append(first, id)
		}
	}
	cs := &ChangeSet{}
	for _, stage := range [][]ObjectID{first, last} {
		changes := make([]Change, len(stage))
		forEach(len(stage), opts.Concurrency, func(i int) {
			changes[i] = c.pruneOne(ctx, stage[i], opts)
		})
		cs.Add(changes...)
	}
	return cs, ctx.Err()
}

func (c *Client) pruneOne(ctx context.Context, id ObjectID, opts PruneOptions) Change {
	skip := func(msg string) Change { return Change{ID: id, Action: Skipped, Message: msg} }
	fail := func(err error) Change {
		return Change{ID: id, Action: Failed, Err: fmt.Errorf("prune %s: %w", id.Short(), err), Message: apiMessage(err)}
	}
	ri, _, err := c.resourceForID(id)
	if errors.Is(err, ErrUnknownKind) {
		// Its CRD is gone, and the objects with it.
		return skip("kind no longer served")
	}
	if err != nil {
		return fail(err)
	}
	live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return skip("already gone")
	}
	if err != nil {
		return fail(err)
	}
	if !opts.Owner.Owns(live) {
		if other := live.GetLabels()[OwnerLabel]; other != "" {
			return skip(fmt.Sprintf("owned by %s", other))
		}
		return skip("not owned by gitopsd")
	}
	if PruneOptedOut(live) {
		return skip(fmt.Sprintf("kept by annotation %s: %s", PruneAnnotation, PruneDisabled))
	}
	if live.GetDeletionTimestamp() != nil {
		return Change{ID: id, Action: Deleted, Message: "already being deleted"}
	}
	uid := live.GetUID()
	do := metav1.DeleteOptions{
		PropagationPolicy: &opts.Propagation,
		// The object checked above, not one recreated under the same name since.
		Preconditions: &metav1.Preconditions{UID: &uid},
	}
	if opts.DryRun {
		do.DryRun = []string{metav1.DryRunAll}
	}
	err = ri.Delete(ctx, id.Name, do)
	if apierrors.IsNotFound(err) {
		return skip("already gone")
	}
	if err != nil {
		return fail(err)
	}
	return Change{ID: id, Action: Deleted}
}
