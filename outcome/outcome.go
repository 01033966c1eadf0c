// Package outcome names how the apply of a commit to an environment ended. It is the one
// definition of those names: the push output, `ssh status`, the /status page, the
// gitopsd_reconcile_duration_seconds{result} label and the webhook event types all take
// their words from here, so that a person reading one finds the same word in the others.
package outcome

// Outcome is how one reconcile of one environment ended. Its value is the machine name
// (status files, metric label values, the suffix of the webhook event type); String gives
// the words people read.
type Outcome string

const (
	// Healthy: every object was applied and became healthy.
	Healthy Outcome = "healthy"
	// Unhealthy: every object was applied, and some did not become healthy (the result
	// names them and why).
	Unhealthy Outcome = "unhealthy"
	// ApplyFailed: the commit could not be applied: it does not render, or the API server
	// refused objects, or a prune failed.
	ApplyFailed Outcome = "failed"
	// RolledBack: the environment was returned to an earlier commit with a revert commit
	// on its branch (on_failure: rollback after Unhealthy, or `ssh HOST rollback`).
	RolledBack Outcome = "rolled_back"
	// Waiting: nothing was decided because the cluster could not be reached (or another
	// gitopsd holds the environment's lease); gitopsd retries.
	Waiting Outcome = "waiting"
)

// All lists every outcome, in the order above.
func All() []Outcome { return []Outcome{Healthy, Unhealthy, ApplyFailed, RolledBack, Waiting} }

var words = map[Outcome]string{
	Healthy:     "applied and healthy",
	Unhealthy:   "applied, not healthy",
	ApplyFailed: "apply failed",
	RolledBack:  "rolled back",
	Waiting:     "waiting for the cluster",
}

// String is the outcome in words: "applied and healthy", "applied, not healthy", "apply
// failed", "rolled back", "waiting for the cluster". An unknown value is itself.
func (o Outcome) String() string {
	if w, ok := words[o]; ok {
		return w
	}
	return string(o)
}

// Label is the value of the result label of gitopsd_reconcile_duration_seconds.
func (o Outcome) Label() string { return string(o) }

// EventPrefix starts the type of every webhook event that reports an outcome.
const EventPrefix = "apply."

// Event is the type of the webhook event that reports o: apply.healthy, apply.unhealthy,
// apply.failed, apply.rolled_back, apply.waiting.
func (o Outcome) Event() string { return EventPrefix + string(o) }

// Decided says whether the outcome is a verdict on the commit (not Waiting, where the
// cluster has not been asked yet).
func (o Outcome) Decided() bool { return o != Waiting && o != "" }
