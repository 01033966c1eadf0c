package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// HookLabel names the phase of a hook object gitopsd created (Argo CD's hook resources,
// and Helm's hooks mapped to them). Hooks are created, not applied: they are in no
// inventory, and are never pruned or drift-scanned.
const HookLabel = "gitopsd.dev/hook"

// Hook is one object to run at a phase of a sync, as Argo CD runs its hook resources.
type Hook struct {
	Object *unstructured.Unstructured
	// Phase is Argo CD's name for it: PreSync, Sync, PostSync or SyncFail.
	Phase string
	// Order sorts the hooks of one phase (argocd.argoproj.io/sync-wave, helm.sh/hook-weight).
	Order int
	// The delete policy: the previous object of the same name is deleted before this one
	// is created (BeforeHookCreation), and this one once it succeeded or failed.
	DeleteBefore, DeleteOnSuccess, DeleteOnFailure bool
}

// Name is how a hook is named before it runs: its name, or its generateName prefix.
func (h Hook) Name() string {
	if n := h.Object.GetName(); n != "" {
		return n
	}
	return h.Object.GetGenerateName()
}

// NameOf names u as IDOf(u).Short() does, or by its generateName prefix when it has no
// name yet (a hook): "Job.batch/demo/migrate-".
func NameOf(u *unstructured.Unstructured) string {
	id := IDOf(u)
	if id.Name == "" {
		id.Name = u.GetGenerateName()
	}
	return id.Short()
}

// HookResult is what came of running one hook.
type HookResult struct {
	Phase string
	// ID names the object created (with the name the server generated).
	ID       ObjectID
	OK       bool
	Reason   string
	Duration time.Duration
}

// String is "hook PreSync Job/ns/migrate-x7k2p: succeeded in 3s", or for a failed hook
// "hook PreSync Job/ns/migrate-x7k2p: failed" with the reason on an indented line below.
func (r HookResult) String() string {
	if r.OK {
		return fmt.Sprintf("hook %s %s: succeeded in %v", r.Phase, r.ID.Short(), r.Duration.Round(time.Second))
	}
	return fmt.Sprintf("hook %s %s: failed\n  %s", r.Phase, r.ID.Short(), r.Reason)
}

// HookOptions configure RunHook.
type HookOptions struct {
	// Owner, if set, is stamped on the hook object (see Owner.Stamp).
	Owner *Owner
	// Timeout bounds the wait for the hook to finish; Interval is the poll interval.
	Timeout, Interval time.Duration
}

// RunHook creates h's object (by create, not server-side apply: a hook may carry only a
// generateName) and waits until it finished: a Job completed or failed, a Pod succeeded
// or failed, anything else Current by kstatus. Its delete policy is carried out. The
// error is only for ctx ending; a hook that could not be created or that failed is a
// result that is not OK, with the reason.
func (c *Client) RunHook(ctx context.Context, h Hook, opts HookOptions) (HookResult, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Interval <= 0 {
		opts.Interval = 500 * time.Millisecond
	}
	start := time.Now()
	obj := hookObject(h, opts.Owner)
	res := HookResult{Phase: h.Phase, ID: IDOf(obj)}
	fail := func(reason string) (HookResult, error) {
		res.Reason, res.Duration = reason, time.Since(start)
		return res, ctx.Err()
	}
	ri, _, err := c.resourceFor(obj)
	if err != nil {
		return fail(err.Error())
	}
	if h.DeleteBefore && obj.GetName() != "" {
		if err := c.deleteHook(ctx, ri, obj.GetName(), opts, true); err != nil {
			return fail(err.Error())
		}
	}
	created, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		return fail("create: " + apiMessage(err))
	}
	res.ID = IDOf(created)
	res.OK, res.Reason, err = c.waitHook(ctx, ri, created.GetName(), opts)
	res.Duration = time.Since(start)
	if err != nil {
		return res, err
	}
	if (res.OK && h.DeleteOnSuccess) || (!res.OK && h.DeleteOnFailure) {
		if err := c.deleteHook(ctx, ri, created.GetName(), opts, false); err != nil && ctx.Err() == nil {
			res.Reason += "; not deleted: " + err.Error()
		}
	}
	return res, ctx.Err()
}

// DryRunHook asks the API server whether it would create h's object (schema, admission,
// RBAC), without creating it. A named hook is sent with that name as its generateName
// prefix: the object of the last run may still be there, and BeforeHookCreation deletes
// it only at the run.
func (c *Client) DryRunHook(ctx context.Context, h Hook, owner *Owner) error {
	obj := hookObject(h, owner)
	if n := obj.GetName(); n != "" {
		obj.SetName("")
		obj.SetGenerateName(n + "-")
	}
	ri, _, err := c.resourceFor(obj)
	if err != nil {
		return err
	}
	_, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager, DryRun: []string{metav1.DryRunAll}})
	return err
}

// hookObject is a copy of h's object, stamped with its owner and phase.
func hookObject(h Hook, owner *Owner) *unstructured.Unstructured {
	obj := h.Object.DeepCopy()
	if owner != nil {
		owner.Stamp(obj)
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[HookLabel] = h.Phase
	obj.SetLabels(labels)
	return obj
}

// errHookOwned is a hook whose name is taken by an object gitopsd did not create as a hook.
var errHookOwned = errors.New("an object of this name exists and is not a hook of this environment: rename the hook, or delete the object")

// deleteHook deletes the hook object name and, if wait, waits until it is gone (a Job's
// name is free only then). Only a hook object of the same owner is deleted.
func (c *Client) deleteHook(ctx context.Context, ri dynamic.ResourceInterface, name string, opts HookOptions, wait bool) error {
	live, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %s", name, apiMessage(err))
	}
	if live.GetLabels()[HookLabel] == "" || (opts.Owner != nil && !opts.Owner.Owns(live)) {
		return errHookOwned
	}
	bg := metav1.DeletePropagationBackground
	if err := ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s: %s", name, apiMessage(err))
	}
	if !wait {
		return nil
	}
	return poll(ctx, opts, func() (bool, error) {
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil
	}, "the previous "+name+" was not gone")
}

// waitHook waits until the hook object name finished, and says whether it succeeded and,
// if not, why.
func (c *Client) waitHook(ctx context.Context, ri dynamic.ResourceInterface, name string, opts HookOptions) (bool, string, error) {
	var ok bool
	var reason string
	err := poll(ctx, opts, func() (bool, error) {
		live, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			reason = apiMessage(err)
			return apierrors.IsNotFound(err), nil
		}
		var done bool
		done, ok, reason = hookFinished(live)
		return done, nil
	}, "")
	if errors.Is(err, errPollTimeout) {
		return false, fmt.Sprintf("not finished after %v: %s", opts.Timeout, reason), nil
	}
	return ok, reason, err
}

// hookFinished reads a hook object: whether it is done, whether it succeeded, and why not.
func hookFinished(obj *unstructured.Unstructured) (done, ok bool, reason string) {
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "batch" && gvk.Kind == "Job":
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["status"] != "True" {
				continue
			}
			switch m["type"] {
			case "Complete":
				return true, true, ""
			case "Failed":
				return true, false, fmt.Sprintf("%v: %v", m["reason"], m["message"])
			}
		}
		return false, false, "running"
	case gvk.Group == "" && gvk.Kind == "Pod":
		phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
		msg, _, _ := unstructured.NestedString(obj.Object, "status", "message")
		return phase == "Succeeded" || phase == "Failed", phase == "Succeeded", "pod " + phase + " " + msg
	}
	res, err := status.Compute(obj)
	if err != nil {
		return false, false, err.Error()
	}
	return res.Status == status.CurrentStatus || res.Status == status.FailedStatus, res.Status == status.CurrentStatus, res.Message
}

var errPollTimeout = errors.New("timeout")

// poll calls cond every opts.Interval until it is true, it errs, ctx ends or opts.Timeout
// passes (errPollTimeout, or an error saying what if what is set).
func poll(ctx context.Context, opts HookOptions, cond func() (bool, error), what string) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		done, err := cond()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			if context.Cause(ctx) == context.DeadlineExceeded && what != "" {
				return errors.New(what)
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errPollTimeout
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}
