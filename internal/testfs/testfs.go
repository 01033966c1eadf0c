// Package testfs writes file trees for tests: path -> content, where a content of
// "symlink:TARGET" makes a symlink to TARGET instead of a file;. It also reads /proc for a
// process's children.
package testfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write creates files under dir (slash-separated paths, parents created as needed).
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "symlink:"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Deployment is a Deployment of typical size (about 40 lines).
func Deployment(i int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  labels: {app: app-%[1]d, team: shop}
  annotations: {owner: "team-shop@example.com"}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%[1]d}
  template:
    metadata:
      labels: {app: app-%[1]d, team: shop}
    spec:
      containers:
      - name: app
        image: registry.example.com/shop/app:1.2.%[1]d
        args: ["--port=8080", "--log-level=info"]
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: MODE, value: production}
        - {name: INDEX, value: "%[1]d"}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
        securityContext:
          runAsNonRoot: true
          allowPrivilegeEscalation: false
`, i)
}

// Deployments1000 is 1,000 Deployments (see Deployment) in 100 files of 10 documents.
func Deployments1000() map[string]string {
	files := map[string]string{}
	for f := 0; f < 100; f++ {
		var b strings.Builder
		for d := 0; d < 10; d++ {
			b.WriteString("---\n" + Deployment(f*10+d))
		}
		files[fmt.Sprintf("deploy/group-%02d/apps.yaml", f)] = b.String()
	}
	return files
}
