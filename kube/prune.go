package kube

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
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

// pruneAttempts bounds the re-reads of an object that changed between its check and its
// delete.
const pruneAttempts = 3

func (c *Client) pruneOne(ctx context.Context, id ObjectID, opts PruneOptions) Change {
	fail := func(err error) Change {
		return Change{ID: id, Action: Failed, Err: fmt.Errorf("prune %s: %w", id.Short(), err), Message: apiMessage(err)}
	}
	ri, _, err := c.resourceForID(id)
	if errors.Is(err, ErrUnknownKind) {
		// Its CRD is gone, and the objects with it.
		return Change{ID: id, Action: Skipped, Message: "kind no longer served"}
	}
	if err != nil {
		return fail(err)
	}
	for attempt := 1; ; attempt++ {
		ch, err := c.pruneChecked(ctx, ri, id, opts)
		if apierrors.IsConflict(err) && attempt < pruneAttempts {
			continue
		}
		if err != nil {
			return fail(err)
		}
		return ch
	}
}

// pruneChecked reads the object, checks that opts.Owner owns it, and deletes exactly the
// version it checked: the delete's preconditions (UID and resourceVersion) make the server
// refuse it, with a conflict, if the object was recreated or changed since (relabelled by
// another environment's apply, say), so that only objects carrying the owner's label are
// ever deleted.
func (c *Client) pruneChecked(ctx context.Context, ri dynamic.ResourceInterface, id ObjectID, opts PruneOptions) (Change, error) {
	skip := func(msg string) (Change, error) { return Change{ID: id, Action: Skipped, Message: msg}, nil }
	live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return skip("already gone")
	}
	if err != nil {
		return Change{}, err
	}
	if other, ok := opts.Owner.OwnedByOther(live); ok {
		return skip(fmt.Sprintf("owned by environment %s", other))
	}
	if !opts.Owner.Owns(live) {
		return skip("not owned by gitopsd")
	}
	if PruneOptedOut(live) {
		return skip(fmt.Sprintf("kept by annotation %s: %s", PruneAnnotation, PruneDisabled))
	}
	if live.GetDeletionTimestamp() != nil {
		return Change{ID: id, Action: Deleted, Message: "already being deleted"}, nil
	}
	uid, rv := live.GetUID(), live.GetResourceVersion()
	do := metav1.DeleteOptions{
		PropagationPolicy: &opts.Propagation,
		Preconditions:     &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
	}
	if opts.DryRun {
		do.DryRun = []string{metav1.DryRunAll}
	}
	err = ri.Delete(ctx, id.Name, do)
	if apierrors.IsNotFound(err) {
		return skip("already gone")
	}
	if err != nil {
		return Change{}, err
	}
	return Change{ID: id, Action: Deleted}, nil
}
