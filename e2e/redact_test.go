package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// The values of the Secrets TestRedactSecretsAndTerminalText pushes, each long and unique
// enough that finding it anywhere means it leaked.
const (
	leakString = "string-shaped-secret-0451"
	leakList   = "list-shaped-secret-0452"
	leakNumber = "445566778899"
)

// TestRedactSecretsAndTerminalText pushes, while the cluster is down (so only the offline
// checks run), Secrets whose data and stringData are not maps, and a ConfigMap whose name
// holds a terminal escape sequence. Once the API server is back the apply fails for each;
// the refusals must reach the pusher, `ssh status`, /status, the log, the status files and
// the webhook with no Secret value in any form, and no raw escape sequence on a terminal.
func TestRedactSecretsAndTerminalText(t *testing.T) {
	cp := kubetest.Own(t)
	ns := kubetest.NamespaceIn(t, cp.Config)

	hookURL, webhooks := webhookBodies(t)

	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  app:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {wait: 2s}}
webhooks:
  - {url: %q}
`, ns, hookURL))
	base := httpAddr(t, d)
	work := d.Clone(t, alice, "app")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	d.Commit(t, alice, work, "bad secrets", map[string]string{
		"deploy/string.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: as-string}\ndata: " + b64(leakString) + "\n",
		"deploy/list.yaml":   "apiVersion: v1\nkind: Secret\nmetadata: {name: as-list}\nstringData: [" + leakList + "]\n",
		"deploy/number.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: as-number}\ndata: " + leakNumber + "\n",
		// YAML's "\e" is ESC: the name clears the screen of whoever reads it raw.
		"deploy/esc.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"esc\\e[2Jname\\r\"}\ndata: {a: b}\n",
	})
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	pushOut, ok := push(t, d, alice, work, "main")
	if !ok || !strings.Contains(pushOut, "offline checks only") {
		t.Fatalf("the push is accepted on offline checks:\n%s", pushOut)
	}
	if err := cp.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	var status string
	waitFor(t, "the apply to fail for every object", func() bool {
		status, _, _ = d.SSH(t, alice, nil, "status", "app", "prod")
		return strings.Contains(status, "as-string") && strings.Contains(status, "as-list") &&
			strings.Contains(status, "as-number") && strings.Contains(status, "esc")
	})
	waitFor(t, "the apply.failed webhook", func() bool { return strings.Contains(webhooks(), "apply.failed") })
	_, page := get(base + "/status")
	files, _ := filepath.Glob(filepath.Join(d.DataDir, "status", "*.json"))
	var statusFiles strings.Builder
	for _, f := range files {
		b, _ := os.ReadFile(f)
		statusFiles.Write(b)
	}

	places := map[string]string{
		"push output": pushOut, "ssh status": status, "/status": page, "log": d.Logs(),
		"status files": statusFiles.String(), "webhook": webhooks(),
	}
	for where, text := range places {
		for _, v := range []string{leakString, leakList, leakNumber} {
			for _, form := range []string{v, b64(v)} {
				if strings.Contains(text, form) {
					t.Errorf("%s shows the Secret value %q:\n%s", where, form, text)
				}
			}
		}
	}
	for _, where := range []string{"push output", "ssh status", "/status"} {
		if text := places[where]; strings.ContainsAny(text, "\x1b\r") {
			t.Errorf("%s carries raw control characters: %q", where, text)
		}
	}
	if !strings.Contains(status, "Secret/"+ns+"/as-string") || !strings.Contains(status, "ConfigMap/"+ns+"/escname failed") {
		t.Errorf("status must still name the objects that failed:\n%s", status)
	}
}
