package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/internal/sopstest"
	"github.com/gitopsd/gitopsd/secrets"
)

// The secret values pushed by TestSecretsSOPS, each unique enough that finding one
// anywhere means it leaked.
const (
	sopsPlainValue   = "sops-plain-dir-value-7731"
	sopsPlainValue2  = "sops-plain-dir-rotated-7732"
	sopsKustValue    = "sops-kustomize-env-value-7733"
	sopsHelmValue    = "sops-helm-values-value-7734"
	sopsClearValue   = "sops-clear-text-value-7735"
	sopsLiteralValue = "sops-literal-value-7736"
	sopsWrongValue   = "sops-wrong-recipient-7737"
	sopsTamperValue  = "sops-tampered-value-7738"
	// Put by a chart template into a label, which the API server refuses quoting it.
	sopsLabelValue = "sops label value 7739"
)

var sopsValues = []string{sopsPlainValue, sopsPlainValue2, sopsKustValue, sopsHelmValue, sopsClearValue,
	sopsLiteralValue, sopsWrongValue, sopsTamperValue, sopsLabelValue}

// sopsLeaks lists the values (raw or base64) that text holds.
func sopsLeaks(text string) []string {
	var found []string
	for _, v := range sopsValues {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(text, form) {
				found = append(found, form)
			}
		}
	}
	return found
}

func sopsSecretYAML(name, value string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\nstringData:\n  password: " + value + "\n"
}

func encManifest(t *testing.T, k sopstest.Key, plain string) string {
	return string(sopstest.Encrypt(t, []byte(plain), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient))
}

func secretValue(cs kubernetes.Interface, ns, name, key string) string {
	s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(s.Data[key])
}

// TestSecretsSOPS pushes SOPS/age-encrypted secrets in the three layouts (a plain
// directory, a Kustomize secretGenerator env file, a Helm values file) and checks that the
// cluster holds the decrypted values; then pushes a Secret in clear, a literal
// secretGenerator, a file encrypted to another key and a tampered file, each refused with
// its file, object and a sops hint, the branch unmoved; and a chart that makes the API
// server quote a decrypted value. At the end no value is anywhere the daemon tells
// anything: push output, ssh status, /status, its log, webhooks, status files, /metrics.
func TestSecretsSOPS(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)

	hookURL, webhooks := webhookBodies(t)

	key, other := sopstest.NewKey(t), sopstest.NewKey(t)
	idFile := filepath.Join(t.TempDir(), "age-"+ns)
	if err := os.WriteFile(idFile, []byte(key.Identity), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := gittest.NewKey(t, "alice")
	env := func(name, path, extra string) string {
		return fmt.Sprintf("      %s: {branch: %s, cluster: local, path: %s, namespace: %s, apply: {wait: 30s}%s, secrets: {identities: [%s]%s}}\n",
			name, name, path, ns, extra, idFile, map[bool]string{true: ", recipients: [" + key.Recipient + "]"}[name == "plain"])
	}
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+
		fmt.Sprintf("repos:\n  %s:\n    write: [alice]\n    environments:\n", ns)+
		env("plain", "plain", "")+env("kust", "kust", "")+env("helm", "chart", ", render: {values: [values-secret.yaml]}")+
		fmt.Sprintf("webhooks:\n  - {url: %q}\n", hookURL))
	base := httpAddr(t, d)
	work := d.Clone(t, alice, ns)
	var outputs []string
	pushTo := func(branch string) (string, bool) {
		t.Helper()
		out, ok := push(t, d, alice, work, branch)
		outputs = append(outputs, out)
		return out, ok
	}
	accepted := func(branch string) string {
		t.Helper()
		out, ok := pushTo(branch)
		if !ok {
			t.Fatalf("push to %s refused:\n%s", branch, out)
		}
		return out
	}

	// The recipients a writer encrypts to: configured (plain), or those of the identity.
	for _, e := range []string{"plain", "kust"} {
		out, _, err := d.SSH(t, alice, nil, "recipients", ns, e)
		if err != nil || strings.TrimSpace(out) != key.Recipient {
			t.Fatalf("ssh recipients %s: %q %v", e, out, err)
		}
	}

	// A plain directory: an encrypted Secret manifest.
	d.MustGit(t, alice, work, "checkout", "-q", "-b", "plain")
	d.Commit(t, alice, work, "encrypted secret", map[string]string{"plain/db.yaml": encManifest(t, key, sopsSecretYAML("db", sopsPlainValue))})
	accepted("plain")
	waitFor(t, "the decrypted Secret", func() bool { return secretValue(cs, ns, "db", "password") == sopsPlainValue })
	// A new value: the preview names the key, never the value.
	d.Commit(t, alice, work, "rotated", map[string]string{"plain/db.yaml": encManifest(t, key, sopsSecretYAML("db", sopsPlainValue2))})
	out := accepted("plain")
	if !hasWords(out, "Secret/"+ns+"/db") || !hasWords(out, "password changed") {
		t.Errorf("the preview must name the changed key:\n%s", out)
	}
	waitFor(t, "the new value", func() bool { return secretValue(cs, ns, "db", "password") == sopsPlainValue2 })
	good := strings.TrimSpace(d.MustGit(t, alice, work, "rev-parse", "HEAD"))

	refused := func(branch, what string, files map[string]string, want ...string) {
		t.Helper()
		head := remoteHead(t, d, branch, ns)
		d.Commit(t, alice, work, what, files)
		out, ok := pushTo(branch)
		if ok {
			t.Fatalf("%s: accepted:\n%s", what, out)
		}
		for _, w := range append(want, "sops --encrypt --age "+key.Recipient) {
			if !hasWords(out, w) {
				t.Errorf("%s: the refusal lacks %q:\n%s", what, w, out)
			}
		}
		if h := remoteHead(t, d, branch, ns); h != head {
			t.Errorf("%s: the branch moved from %s to %s", what, head, h)
		}
		d.MustGit(t, alice, work, "reset", "-q", "--hard", "HEAD~1")
	}
	refused("plain", "secret in clear", map[string]string{"plain/clear.yaml": sopsSecretYAML("clear", sopsClearValue)},
		"x plain/clear.yaml:1  Secret/"+ns+"/clear", "secret-plaintext: Secret in plain text")
	refused("plain", "wrong recipient", map[string]string{"plain/wrong.yaml": encManifest(t, other, sopsSecretYAML("wrong", sopsWrongValue))},
		"x plain/wrong.yaml  Secret/"+ns+"/wrong", "secret-recipients: SOPS file not encrypted to the environment's recipients", other.Recipient)
	tampered := strings.Replace(encManifest(t, key, sopsSecretYAML("tamper", sopsTamperValue)), "name: tamper", "name: tampered", 1)
	refused("plain", "tampered", map[string]string{"plain/tamper.yaml": tampered},
		"x plain/tamper.yaml  Secret/"+ns+"/tampered", "secret-tampered: SOPS file fails its integrity check (MAC)")
	if h := remoteHead(t, d, "plain", ns); h != good {
		t.Fatalf("plain is at %s, want %s", h, good)
	}

	// Kustomize: a secretGenerator reading an encrypted env file.
	d.MustGit(t, alice, work, "checkout", "-q", "--orphan", "kust")
	d.MustGit(t, alice, work, "rm", "-rfq", ".")
	d.Commit(t, alice, work, "kustomize", map[string]string{
		"kust/kustomization.yaml": "secretGenerator:\n- name: app-env\n  envs: [app.env]\n",
		"kust/app.env":            string(sopstest.Encrypt(t, []byte("PASSWORD="+sopsKustValue+"\n"), secrets.Dotenv, sopstest.Options{}, key.Recipient)),
	})
	accepted("kust")
	var generated string
	waitFor(t, "the generated Secret", func() bool {
		l, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, s := range l.Items {
			if strings.HasPrefix(s.Name, "app-env-") && string(s.Data["PASSWORD"]) == sopsKustValue {
				generated = s.Name
			}
		}
		return generated != ""
	})
	refused("kust", "literal", map[string]string{"kust/kustomization.yaml": "secretGenerator:\n- name: app-env\n  envs: [app.env]\n- name: lit\n  literals: [password=" + sopsLiteralValue + "]\n"},
		"x kust/kustomization.yaml:4  Secret/"+ns+"/lit-", "secret-plaintext: secretGenerator lit has literals")

	// Helm: an encrypted values file; then a template that puts the value in a label,
	// which the API server refuses, quoting it.
	d.MustGit(t, alice, work, "checkout", "-q", "--orphan", "helm")
	d.MustGit(t, alice, work, "rm", "-rfq", ".")
	chart := map[string]string{
		"chart/Chart.yaml":            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"chart/values.yaml":           "password: \"\"\n",
		"chart/templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: helm-db}\nstringData: {password: {{ .Values.password | quote }}}\n",
		"values-secret.yaml":          string(sopstest.Encrypt(t, []byte("password: "+sopsHelmValue+"\n"), secrets.YAML, sopstest.Options{}, key.Recipient)),
	}
	d.Commit(t, alice, work, "helm", chart)
	accepted("helm")
	waitFor(t, "the Helm Secret", func() bool { return secretValue(cs, ns, "helm-db", "password") == sopsHelmValue })
	head := remoteHead(t, d, "helm", ns)
	d.Commit(t, alice, work, "label", map[string]string{
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labelled\n  labels: {tier: {{ .Values.label | quote }}}\n",
		"values-secret.yaml":      string(sopstest.Encrypt(t, []byte("password: "+sopsHelmValue+"\nlabel: "+sopsLabelValue+"\n"), secrets.YAML, sopstest.Options{}, key.Recipient)),
	})
	out, ok := pushTo("helm")
	refusedBy(t, out, ok, "dry-run")
	if !hasWords(out, "ConfigMap/"+ns+"/labelled") || !hasWords(out, "***") {
		t.Errorf("the API server's refusal must be told, the value masked:\n%s", out)
	}
	if h := remoteHead(t, d, "helm", ns); h != head {
		t.Errorf("the refused push moved helm")
	}

	// Every place the daemon tells anything.
	var statuses []string
	for _, e := range []string{"plain", "kust", "helm"} {
		s, _, _ := d.SSH(t, alice, nil, "status", ns, e)
		statuses = append(statuses, s)
	}
	waitFor(t, "the webhooks", func() bool { return strings.Count(webhooks(), "apply.") >= 4 })
	_, page := get(base + "/status")
	_, metrics := get(base + "/metrics")
	var statusFiles strings.Builder
	_ = filepath.WalkDir(filepath.Join(d.DataDir, "status"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			b, _ := os.ReadFile(p)
			statusFiles.Write(b)
		}
		return nil
	})
	if statusFiles.Len() == 0 {
		t.Fatal("no status file was read")
	}
	places := map[string]string{
		"push output": strings.Join(outputs, "\n"), "ssh status": strings.Join(statuses, "\n"), "/status": page,
		"log": d.Logs(), "webhooks": webhooks(), "status files": statusFiles.String(), "/metrics": metrics,
	}
	for where, text := range places {
		if text == "" {
			t.Errorf("%s is empty: the search would find nothing anyway", where)
		}
		if leaks := sopsLeaks(text); len(leaks) > 0 {
			t.Errorf("%s shows %q", where, leaks)
		}
	}
	// The search finds what is there: the cluster holds the values.
	l, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var held strings.Builder
	for _, s := range l.Items {
		for k, v := range s.Data {
			fmt.Fprintf(&held, "%s=%s\n", k, v)
		}
	}
	if found := sopsLeaks(held.String()); len(found) < 3 {
		t.Fatalf("the search finds only %q in the cluster's Secrets", found)
	}
}

// TestValidateSecrets: `gitopsd validate` on a workstation, where the daemon's identity
// files are not. Without a key it checks the encryption rules (clear Secret, recipients)
// and decrypts nothing; with --age-key or $SOPS_AGE_KEY_FILE it decrypts and verifies.
func TestValidateSecrets(t *testing.T) {
	key, other := sopstest.NewKey(t), sopstest.NewKey(t)
	dir := t.TempDir()
	keyFile, otherFile := filepath.Join(dir, "keys.txt"), filepath.Join(dir, "other.txt")
	for p, k := range map[string]sopstest.Key{keyFile: key, otherFile: other} {
		if err := os.WriteFile(p, []byte(k.Identity), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "repos.yaml")
	writeFile(t, cfg, "clusters: {local: {kubeconfig: none}}\nrepos:\n  app:\n    environments:\n      prod: {branch: main, cluster: local, path: deploy, namespace: app, "+
		"secrets: {identities: [/run/credentials/gitopsd.service/age-prod], recipients: ["+key.Recipient+"]}}\n")
	good := encManifest(t, key, sopsSecretYAML("db", sopsPlainValue))
	cases := []struct {
		name, file string
		key        string // --age-key
		env        string // SOPS_AGE_KEY_FILE
		ok         bool
		want       string
	}{
		{"encrypted, no key", good, "", "", true, "ok: checks passed"},
		{"encrypted, --age-key", good, keyFile, "", true, "ok: checks passed"},
		{"encrypted, SOPS_AGE_KEY_FILE", good, "", keyFile, true, "ok: checks passed"},
		{"encrypted, a key that does not open it", good, otherFile, "", false, "secret-decrypt: SOPS file cannot be decrypted"},
		{"clear, no key", sopsSecretYAML("db", sopsClearValue), "", "", false, "secret-plaintext"},
		{"other recipient, no key", encManifest(t, other, sopsSecretYAML("db", sopsWrongValue)), "", "", false, "secret-recipients"},
		// Without a key the MAC cannot be checked; with one it is.
		{"tampered, no key", strings.Replace(good, "name: db", "name: dc", 1), "", "", true, "ok: checks passed"},
		{"tampered, --age-key", strings.Replace(good, "name: db", "name: dc", 1), keyFile, "", false, "secret-tampered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			writeFile(t, filepath.Join(work, "deploy", "db.yaml"), c.file)
			args := []string{"validate", "--config", cfg, "--env", "app/prod"}
			if c.key != "" {
				args = append(args, "--age-key", c.key)
			}
			cmd := exec.Command(gittest.Binary(), append(args, work)...)
			cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+c.env)
			out, err := cmd.CombinedOutput()
			if (err == nil) != c.ok || !strings.Contains(string(out), c.want) {
				t.Fatalf("want ok=%v and %q, got %v:\n%s", c.ok, c.want, err, out)
			}
			if leaks := sopsLeaks(string(out)); len(leaks) > 0 {
				t.Errorf("validate shows %q", leaks)
			}
		})
	}
}

// TestSecretsReadNothingOutsideTree: pushes that try to make the daemon read its own age
// identity file (a symlink to it, a secretGenerator naming it by absolute path or by
// climbing out of the repository) are refused, and nothing of the key is shown.
func TestSecretsReadNothingOutsideTree(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	key := sopstest.NewKey(t)
	idFile := filepath.Join(t.TempDir(), "age-"+ns)
	if err := os.WriteFile(idFile, []byte(key.Identity), 0o600); err != nil {
		t.Fatal(err)
	}
	secretKey := strings.TrimSpace(strings.Split(key.Identity, "\n")[1])
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("prod: {branch: main, cluster: local, path: deploy, namespace: %s, secrets: {identities: [%s]}}", ns, idFile))
	d.Commit(t, alice, work, "one", map[string]string{"deploy/a.yaml": cmYAML("a", "one")})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("first push:\n%s", out)
	}
	climb := strings.Repeat("../", strings.Count(work, "/")+2) + strings.TrimPrefix(idFile, "/")
	for name, c := range map[string]struct {
		files map[string]string
		rule  string
	}{
		"symlink":  {map[string]string{"deploy/key.yaml": "symlink:" + idFile}, "read"},
		"absolute": {map[string]string{"deploy/kustomization.yaml": "resources: [a.yaml]\nsecretGenerator:\n- name: k\n  files: [key=" + idFile + "]\n"}, "outside-repo"},
		"climbing": {map[string]string{"deploy/kustomization.yaml": "resources: [a.yaml]\nsecretGenerator:\n- name: k\n  files: [key=" + climb + "]\n"}, "outside-repo"},
	} {
		files := c.files
		t.Run(name, func(t *testing.T) {
			head := remoteHead(t, d, "main", ns)
			for p, c := range files {
				full := filepath.Join(work, p)
				if target, ok := strings.CutPrefix(c, "symlink:"); ok {
					if err := os.Symlink(target, full); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, full, c)
			}
			d.MustGit(t, alice, work, "add", "-A")
			d.MustGit(t, alice, work, "commit", "-q", "-m", name)
			out, ok := push(t, d, alice, work, "main")
			refusedBy(t, out, ok, c.rule)
			if remoteHead(t, d, "main", ns) != head {
				t.Fatalf("the branch moved:\n%s", out)
			}
			if hasWords(out, secretKey) || strings.Contains(d.Logs(), secretKey) {
				t.Fatalf("the identity is shown:\n%s", out)
			}
			d.MustGit(t, alice, work, "reset", "-q", "--hard", "HEAD~1")
		})
	}
}

// TestSecretsDriftOfCopiedValue: a chart copies a decrypted value into a ConfigMap, and
// someone edits the ConfigMap by hand. The drift scan names the field and who changed it;
// git's value (the decrypted one) is masked in the status, the log and the webhook.
func TestSecretsDriftOfCopiedValue(t *testing.T) {
	const copied = "sops-copied-into-configmap-7740"
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	hookURL, webhooks := webhookBodies(t)
	key := sopstest.NewKey(t)
	idFile := filepath.Join(t.TempDir(), "age")
	if err := os.WriteFile(idFile, []byte(key.Identity), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := gittest.NewKey(t, "alice")
	d := gittest.Start(t, gittest.Users(alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  %[1]s:
    write: [alice]
    environments:
      prod: {branch: main, cluster: local, path: chart, namespace: %[1]s, render: {values: [values-secret.yaml]},
             drift: {schedule: "@every 1s", mode: report}, secrets: {identities: [%[2]s]}}
webhooks:
  - {url: %[3]q}
`, ns, idFile, hookURL))
	work := d.Clone(t, alice, ns)
	d.Commit(t, alice, work, "chart", map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {token: {{ .Values.token | quote }}}\n",
		"values-secret.yaml":      string(sopstest.Encrypt(t, []byte("token: "+copied+"\n"), secrets.YAML, sopstest.Options{}, key.Recipient)),
	})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("push:\n%s", out)
	}
	waitFor(t, "the ConfigMap", func() bool { return configMapValue(cs, ns, "app", "token") == copied })
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["token"] = "edited-by-hand"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	var status string
	waitFor(t, "the drift in status", func() bool {
		status, _, _ = d.SSH(t, alice, nil, "status", ns, "prod")
		return strings.Contains(status, "ConfigMap/"+ns+"/app") && strings.Contains(status, "kubectl-edit")
	})
	waitFor(t, "the drift webhook", func() bool { return strings.Contains(webhooks(), "drift.found") })
	if !strings.Contains(status, `"edited-by-hand" -> "***"`) {
		t.Errorf("the drift must show the field, git's value masked:\n%s", status)
	}
	for where, text := range map[string]string{"ssh status": status, "log": d.Logs(), "webhooks": webhooks()} {
		if strings.Contains(text, copied) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(copied))) {
			t.Errorf("%s shows the decrypted value:\n%s", where, text)
		}
	}
}
