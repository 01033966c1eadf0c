// Package deploy holds the push-to-applied benchmark (issue 5): from `git push` start to
// the push returning after gitopsd checked, applied and found healthy 50 and 500
// ConfigMaps (no controllers run in the test API server, so only kinds that are healthy
// once stored make sense), through the real binary, git and ssh against a real API server.
// The baseline is what a team without gitopsd does by hand: `git push` to a plain bare
// repository served by OpenSSH's sshd on loopback, then `kubectl apply --server-side -f
// DIR` of the same files. The same push over file:// is reported too (no transport at all:
// the floor), and is the baseline when sshd is not installed.
//
// It has benchmarks only: `go test ./bench/deploy` costs nothing, and
//
//	go test ./bench/deploy -run '^$' -bench . -benchtime 3x
//
// starts the control plane and the daemon. scripts/bench.sh runs it with the others.
package deploy
