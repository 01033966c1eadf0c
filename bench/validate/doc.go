// Package validate holds the pre-receive benchmark (issue 4): how long a pusher waits for
// gitopsd to validate a push of 1,000 plain YAML objects and of a Helm chart of 200, through
// the real binary, git and ssh against a real API server, next to `kubectl apply
// --server-side --dry-run=server -f DIR` of the same objects run the same way (an exec per
// run, discovery cache warm) against the same API server.
//
// It has benchmarks only: `go test ./bench/validate` costs nothing, and
//
//	go test ./bench/validate -run '^$' -bench . -benchtime 3x
//
// starts the control plane and the daemon, and reports gitopsd-s/op, kubectl-s/op and
// their ratio. scripts/bench.sh runs it with every other benchmark of the project.
package validate
