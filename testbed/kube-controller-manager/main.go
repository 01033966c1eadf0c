// Command kube-controller-manager is the upstream Kubernetes controller manager, built from
// the Go module proxy so that the test bed's workloads roll out: it turns Deployments into
// ReplicaSets and Pods, counts Jobs, and garbage-collects what their owners left.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
