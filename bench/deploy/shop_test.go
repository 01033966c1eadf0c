package deploy

import (
	"fmt"
	"path"
)

// The push-to-healthy environment is a shop of applications, three objects each: a
// Deployment of two replicas, the ConfigMap its pods read and the Service in front of it.
// Every object is a file of its own (deploy/app-007-deployment.yaml, ...), as in
// BenchmarkPushApply: the one-object change is then a one-file diff, and both benchmarks
// push trees of the same shape.

// partOf labels every object of the shop: the baseline waits for the Deployments by it.
const partOf = "app.kubernetes.io/part-of=shop"

// shopKinds are the kinds of an application's objects, in the order they are numbered.
var shopKinds = []string{"deployment", "config", "service"}

// shopDeployments is how many of n objects are Deployments.
func shopDeployments(n int) int { return (n + len(shopKinds) - 1) / len(shopKinds) }

// shopFiles is the tree of an environment of n objects (paths under deploy/), every
// Deployment's pods at release 1.
func shopFiles(n int) map[string]string {
	files := make(map[string]string, n)
	for i := 0; i < n; i++ {
		p, body := shopObject(i, 1)
		files[p] = body
	}
	return files
}

// shopObject is object i of the shop, as its path and manifest. release is the value of
// the pods' RELEASE variable: changing it changes the pod template, so the Deployment
// really rolls out.
func shopObject(i, release int) (string, string) {
	app := fmt.Sprintf("app-%03d", i/len(shopKinds))
	kind := shopKinds[i%len(shopKinds)]
	labels := fmt.Sprintf("{app.kubernetes.io/name: %s, app.kubernetes.io/part-of: shop}", app)
	var body string
	switch kind {
	case "deployment":
		body = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: %[2]s
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: %[1]s}
  template:
    metadata:
      labels: %[2]s
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        ports: [{name: http, containerPort: 8080}]
        env: [{name: RELEASE, value: "%[3]d"}]
        envFrom: [{configMapRef: {name: %[1]s}}]
        resources: {requests: {cpu: 10m, memory: 32Mi}}
`, app, labels, release)
	case "config":
		body = fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s
  labels: %[2]s
data:
  LISTEN: ":8080"
  UPSTREAM: http://%[1]s-backend:9090
  LOG_LEVEL: info
`, app, labels)
	case "service":
		body = fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  labels: %[2]s
spec:
  selector: {app.kubernetes.io/name: %[1]s}
  ports: [{name: http, port: 80, targetPort: http}]
`, app, labels)
	}
	return path.Join("deploy", app+"-"+kind+".yaml"), body
}
