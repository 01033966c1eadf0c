package reconcile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/outcome"
)

// Result is what one reconcile of one environment did and how it ended. The steps fill
// it in; record writes status, metrics, the webhook event and the log from it, once.
type Result struct {
	// Commit is the commit reconciled: the pushed one, also when a rollback then applied
	// a revert of it (see Revert).
	Commit  string
	Outcome outcome.Outcome
	// Summary is what the pusher reads: the outcome's words and what they rest on on the
	// first line, the objects that explain it on the lines below.
	Summary string
	// Err is nil when the environment ends as its branch asked: applied and healthy, or
	// rolled back by hand to a commit that is. A rollback after a health failure keeps
	// the failure: the pushed commit did not become healthy.
	Err error
	// Retry asks the worker to try the same commit again after a backoff (the cluster was
	// unreachable, a prune failed, ...). A newer commit replaces the retry.
	Retry bool

	// What the steps did; nil for a step that did not run.
	Applied *kube.ChangeSet
	Pruned  *kube.ChangeSet
	Health  *kube.HealthReport
	// Objects counts the inventory after the prune.
	Objects int

	// Revert and Target, for RolledBack: the revert commit gitopsd wrote (or was asked
	// to apply) and the commit whose files it restores. Rollback is the revert's own
	// pass, when gitopsd applied it after a health failure.
	Revert, Target string
	Rollback       *Result

	// Digest is desired.Digest of what the commit renders ("" if it did not render).
	Digest string
	// Unchanged, if set, is the commit applied before whose render this commit's equals:
	// nothing was applied (see pass.changedOnly).
	Unchanged string

	Duration time.Duration
	// released says a release stopped at a failed or aborted step: it is rolled back as
	// a commit whatever on_failure says, since the stable version runs.
	released bool
	// standby says another gitopsd holds the environment's lease: this one records the
	// wait and nothing else (no event, no metric), or every standby would report every
	// apply of the active one as a failure.
	standby bool
}

// appliedDigest is desired.Digest of what appliedCommit renders.
func (res *Result) appliedDigest() string {
	if rb := res.Rollback; rb != nil && rb.Applied != nil {
		return rb.Digest
	}
	return res.Digest
}

// appliedCommit is the commit this reconcile left applied to the cluster, "" if no apply
// ran. An unchanged commit counts: the cluster holds what it renders.
func (res *Result) appliedCommit() string {
	if rb := res.Rollback; rb != nil && rb.Applied != nil {
		return res.Revert
	}
	if res.Applied != nil || res.Unchanged != "" {
		return res.Commit
	}
	return ""
}

// healthy says whether what this reconcile left applied was seen healthy.
func (res *Result) healthy() bool {
	if rb := res.Rollback; rb != nil {
		return rb.Outcome == outcome.Healthy
	}
	return res.Outcome == outcome.Healthy || res.Outcome == outcome.RolledBack
}

// stepError is a step's failure with the outcome it means and whether a retry may help.
type stepError struct {
	outcome outcome.Outcome
	retry   bool
	standby bool
	// plain: the error says it all, without the outcome's words in front.
	plain bool
	err   error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// unreachable is a cluster that did not answer: nothing was decided, gitopsd retries.
func unreachable(cluster string, err error) error {
	return &stepError{outcome: outcome.Waiting, retry: true, err: fmt.Errorf("cluster %s unreachable: %w", cluster, err)}
}

// applyFailed is a commit that could not be applied; retry says whether the same commit
// may get further (a prune that failed) or not (a commit that does not render).
func applyFailed(err error, retry bool) error {
	return &stepError{outcome: outcome.ApplyFailed, retry: retry, err: err}
}

// failed ends res with the step error err (any other error is an apply failure that is
// retried).
func (res Result) failed(err error) Result {
	se := &stepError{outcome: outcome.ApplyFailed, retry: true, err: err}
	errors.As(err, &se)
	res.Outcome, res.Retry, res.standby = se.outcome, se.retry, se.standby
	res.Err = err
	res.Summary = said(res.Outcome, err.Error())
	if se.plain {
		res.Summary = err.Error()
	}
	return res
}

// said puts the outcome's words in front of the detail: "apply failed: render: ...".
func said(o outcome.Outcome, detail string) string {
	return o.String() + ": " + detail
}

// applySummary counts what the apply and the prune did.
func applySummary(cs, pruned *kube.ChangeSet) string {
	return fmt.Sprintf("%d objects (%d created, %d configured, %d unchanged), pruned %d",
		len(cs.Changes)-cs.Count(kube.Failed), cs.Count(kube.Created), cs.Count(kube.Configured), cs.Count(kube.Unchanged), pruned.Count(kube.Deleted))
}

// maxUnhealthyShown bounds the objects a health failure lists.
const maxUnhealthyShown = 5

// unhealthyLines are the objects that are not healthy, each with its pods, indented.
func unhealthyLines(h *kube.HealthReport) []string {
	var lines []string
	if h == nil {
		// A sync that failed before any health wait (a hook).
		return nil
	}
	notReady := h.NotReady()
	for i, o := range notReady {
		if i == maxUnhealthyShown {
			lines = append(lines, fmt.Sprintf("  ... and %d more not healthy", len(notReady)-i))
			break
		}
		lines = append(lines, "  "+strings.ReplaceAll(o.String(), "\n", "\n  "))
	}
	return lines
}
