// Package gitserver serves Git over SSH: it authenticates users by the key they prove,
// authorizes each request against repos.yaml, spawns the stock `git upload-pack` and
// `git receive-pack` for the transfer, and bridges git's pre-receive and post-receive hooks
// back into the daemon over a unix socket so that every push decision is made here, with the
// daemon's state, and shown to the pusher as `remote:` lines.
//
// It knows nothing about Kubernetes: what happens at pre-receive and post-receive beyond the
// built-in ref rules is the Hooks it is given.
package gitserver
