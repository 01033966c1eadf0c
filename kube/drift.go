package kube

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// DriftOptions configure Drift.
type DriftOptions struct {
	// FieldManager is the manager the objects were applied with.
	FieldManager string
	// Owner, if set, is stamped on the desired objects as Apply would, so that the
	// ownership labels are not reported as drift.
	Owner *Owner
	// IgnorePaths are field paths (in the diff's notation, ".spec.replicas") whose
	// changes, and those of everything under them, do not count.
	IgnorePaths []string
	// IgnoreManagers: a drifted field now owned by one of these managers does not count,
	// for fields another controller is expected to set (an autoscaler's
	// "kube-controller-manager").
	IgnoreManagers []string
	// Concurrency bounds the requests in flight.
	Concurrency int
	// ListThreshold: at least this many objects of a kind and namespace are read with one
	// LIST (see ApplyOptions.PrefetchThreshold).
	ListThreshold int
}

// DefaultDriftOptions returns Drift's defaults.
func DefaultDriftOptions() DriftOptions {
	return DriftOptions{FieldManager: FieldManager, Concurrency: 16, ListThreshold: 20}
}

// Drift compares the live objects with the desired objs and returns, per object:
// Unchanged (in sync), Configured (drifted: Fields say which, and FieldChange.Manager who
// owns a field now), Created (missing from the cluster), or Failed.
//
// Live objects are read with a LIST per kind and namespace, and each is first compared
// locally: when every field of the desired object has its value in the live one, the
// object is in sync without a request. Only the others get a server-side dry-run apply,
// the authority, which also settles differences that are only spelling (a quantity
// "0.5" against "500m", defaults). Fields that other managers set and objs do not
// mention never count: server-side apply leaves them alone.
func (c *Client) Drift(ctx context.Context, objs []*unstructured.Unstructured, opts DriftOptions) (*ChangeSet, error) {
	def := DefaultDriftOptions()
	if opts.FieldManager == "" {
		opts.FieldManager = def.FieldManager
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = def.Concurrency
	}
	aopts := ApplyOptions{FieldManager: opts.FieldManager, Owner: opts.Owner, PrefetchThreshold: opts.ListThreshold}
	items := make([]*item, len(objs))
	for i, o := range objs {
		items[i] = c.prepare(o, aopts)
		if !items[i].done && items[i].mapping == nil {
			gvk := items[i].obj.GroupVersionKind()
			items[i].fail(fmt.Errorf("%w: %s", ErrUnknownKind, gvk), unknownKindMessage(gvk))
		}
	}
	c.prefetch(ctx, items, aopts)
	forEach(len(items), opts.Concurrency, func(i int) {
		if it := items[i]; !it.done {
			c.driftOne(ctx, it, opts)
		}
	})
	cs := &ChangeSet{Changes: make([]Change, len(items))}
	for i, it := range items {
		cs.Changes[i] = it.change
	}
	return cs, ctx.Err()
}

func (c *Client) driftOne(ctx context.Context, it *item, opts DriftOptions) {
	if !it.liveKnown {
		live, err := it.ri.Get(ctx, it.obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			it.fail(err, apiMessage(err))
			return
		default:
			it.live = live
		}
	}
	if it.live == nil {
		it.change = Change{ID: it.id, Action: Created, Message: "missing from the cluster"}
		return
	}
	if opts.Owner != nil {
		if other, ok := opts.Owner.OwnedByOther(it.live); ok {
			// Not this environment's to correct: its apply refuses it (or, for a shared
			// Namespace, leaves it to its owner).
			it.change = Change{ID: it.id, Action: Skipped, Message: "owned by environment " + other}
			return
		}
	}
	if subset(normalized(it.obj), it.live.Object) {
		it.change = Change{ID: it.id, Action: Unchanged}
		return
	}
	res, err := c.dryRunApply(ctx, it, opts.FieldManager, false)
	owners := map[string]string{}
	if apierrors.IsConflict(err) {
		// Someone else now owns fields we set (kubectl edit takes them over): that is the
		// drift. A forced dry run shows their values.
		owners = conflictOwners(err)
		res, err = c.dryRunApply(ctx, it, opts.FieldManager, true)
	}
	if err != nil {
		it.fail(fmt.Errorf("drift %s: %w", it.id.Short(), err), apiMessage(err))
		return
	}
	var fields []FieldChange
	for _, f := range changedFields(it.live, res) {
		f.Manager = ownerOf(f.Path, owners)
		if ignoredField(f, opts) {
			continue
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		it.change = Change{ID: it.id, Action: Unchanged}
		return
	}
	it.change = Change{ID: it.id, Action: Configured, Fields: fields}
}

func (c *Client) dryRunApply(ctx context.Context, it *item, manager string, force bool) (*unstructured.Unstructured, error) {
	data, err := it.obj.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return it.ri.Patch(ctx, it.obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: manager, Force: &force, DryRun: []string{metav1.DryRunAll},
	})
}

func ignoredField(f FieldChange, opts DriftOptions) bool {
	for _, p := range opts.IgnorePaths {
		if matchPath(f.Path, p) {
			return true
		}
	}
	for _, m := range opts.IgnoreManagers {
		if f.Manager == m {
			return true
		}
	}
	return false
}

var conflictManager = regexp.MustCompile(`conflict with "([^"]+)"`)

// quotedKey turns server-side apply's `[name="web"]` into the diff's `[name=web]`.
var quotedKey = regexp.MustCompile(`\[([A-Za-z0-9_-]+)="([^"]*)"\]`)

// conflictOwners maps each conflicting field path of an apply conflict to the manager
// that owns it.
func conflictOwners(err error) map[string]string {
	out := map[string]string{}
	st, ok := err.(apierrors.APIStatus)
	if !ok || st.Status().Details == nil {
		return out
	}
	for _, cause := range st.Status().Details.Causes {
		m := conflictManager.FindStringSubmatch(cause.Message)
		if m == nil || cause.Field == "" {
			continue
		}
		out[quotedKey.ReplaceAllString(cause.Field, "[$1=$2]")] = m[1]
	}
	return out
}

// ownerOf returns the manager of the conflicting path that is path or contains it.
func ownerOf(path string, owners map[string]string) string {
	best, who := -1, ""
	for p, m := range owners {
		if (matchPath(path, p) || samePath(path, p)) && len(p) > best {
			best, who = len(p), m
		}
	}
	return who
}

// samePath compares paths that spell map keys differently: the diff writes
// `.metadata.labels["a.b/c"]`, server-side apply `.metadata.labels.a.b/c`.
func samePath(a, b string) bool {
	norm := func(s string) string {
		s = strings.ReplaceAll(s, `["`, ".")
		return strings.ReplaceAll(s, `"]`, "")
	}
	return norm(a) == norm(b)
}

// subset says whether every field of desired has the same value in live. Lists must
// have the same length, item by item: the server keeps the order an applier gave.
func subset(desired, live any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range d {
			lv, ok := l[k]
			if !ok {
				if v == nil {
					continue
				}
				return false
			}
			if !subset(v, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !subset(d[i], l[i]) {
				return false
			}
		}
		return true
	}
	return valuesEqual(desired, live)
}
