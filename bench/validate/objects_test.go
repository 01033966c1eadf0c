package validate

import (
	"fmt"
	"strings"
)

// configMap and deployment are the two kinds of the benchmark: a small object and one of
// typical size whose schema the API server checks in depth. They carry no namespace: the
// environment's namespace (gitopsd) or -n (kubectl) gives it.
func configMap(i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-%04[1]d
  labels: {app: shop, part: cm-%04[1]d}
data:
  index: "%[1]d"
  mode: production
`, i)
}

func deployment(i int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%04[1]d
  labels: {app: app-%04[1]d, team: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%04[1]d}
  template:
    metadata:
      labels: {app: app-%04[1]d, team: shop}
    spec:
      containers:
      - name: app
        image: registry.example.com/shop/app:1.2.%[1]d
        args: ["--port=8080"]
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: INDEX, value: "%[1]d"}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
`, i)
}

// plainFiles is n objects, half ConfigMaps and half Deployments, in files of 20 documents
// under dir (one directory, so that `kubectl -f DIR` reads them without -R).
func plainFiles(dir string, n int) map[string]string {
	files := map[string]string{}
	for f := 0; f*20 < n; f++ {
		var b strings.Builder
		for i := f * 20; i < (f+1)*20 && i < n; i++ {
			b.WriteString("---\n")
			if i%2 == 0 {
				b.WriteString(configMap(i))
			} else {
				b.WriteString(deployment(i))
			}
		}
		files[fmt.Sprintf("%s/objects-%03d.yaml", dir, f)] = b.String()
	}
	return files
}

// helmFiles is a chart under dir whose two templates loop to make n objects, half
// ConfigMaps and half Deployments.
func helmFiles(dir string, n int) map[string]string {
	loop := func(doc string) string {
		doc = strings.ReplaceAll(doc, "0000", "{{ printf \"%04d\" $i }}")
		doc = strings.ReplaceAll(doc, `"0"`, `"{{ $i }}"`)
		doc = strings.ReplaceAll(doc, "1.2.0", "1.2.{{ $i }}")
		return "{{- range $i := until (int .Values.count) }}\n---\n" + doc + "{{- end }}\n"
	}
	return map[string]string{
		dir + "/Chart.yaml":                 "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
		dir + "/values.yaml":                fmt.Sprintf("count: %d\n", n/2),
		dir + "/templates/configmaps.yaml":  loop(configMap(0)),
		dir + "/templates/deployments.yaml": loop(deployment(0)),
	}
}

// changed returns files with the first n ConfigMaps edited (their mode), as a push that
// changes a running environment would.
func changed(files map[string]string, n int) map[string]string {
	out := make(map[string]string, len(files))
	for p, content := range files {
		out[p] = content
	}
	for i := 0; n > 0; i += 2 {
		p := fmt.Sprintf("deploy/objects-%03d.yaml", i/20)
		old := configMap(i)
		if !strings.Contains(out[p], old) {
			panic("changed: no " + old)
		}
		out[p] = strings.Replace(out[p], old, strings.Replace(old, "mode: production", "mode: canary", 1), 1)
		n--
	}
	return out
}
