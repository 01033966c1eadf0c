package reconcile

import "context"

// Locker decides which gitopsd instance applies an environment, so that two instances
// pointed at one cluster do not fight over it.
type Locker interface {
	// Acquire takes or renews the environment's lock. held is false when another
	// instance (holder) has it.
	Acquire(ctx context.Context, repo, env, cluster string) (held bool, holder string, err error)
}
