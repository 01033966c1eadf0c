// Package deploy holds the push-to-applied benchmark (issue 5): from `git push` start to
// the push returning after gitopsd checked, applied and found healthy 50 and 500
// ConfigMaps (no controllers run in the test API server, so only kinds that are healthy
// once stored make sense), through the real binary, git and ssh against a real API server.
// The baseline is what a team without gitopsd does by hand: `git push` to a plain bare
// repository served by OpenSSH's sshd on loopback, then `kubectl apply --server-side -f
// DIR` of the same files. The same push over file:// is reported too (no transport at all:
// the floor), and is the baseline when sshd is not installed.
//
// BenchmarkPushHealthy is push-to-healthy on the living cluster (issue 10): a shop of 500
// new objects, a third of them Deployments, and a one-Deployment rollout among them, against
// the same baseline followed by `kubectl rollout status` of the Deployments.
//
// It has benchmarks only: `go test ./bench/deploy` costs nothing, and
//
//	go test ./bench/deploy -run '^$' -bench 'PushApply$' -benchtime 3x
//	go test ./bench/deploy -run '^$' -bench 'PushHealthy$' -benchtime 1x
//
// start the control plane (the living cluster for the second) and the daemon; push-to-healthy
// runs once, as every run of its first case needs fresh room for 670 pods. scripts/bench.sh
// runs both with the others.
package deploy
