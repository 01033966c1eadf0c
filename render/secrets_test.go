package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/sopstest"
	"github.com/gitopsd/gitopsd/secrets"
)

func encYAML(t *testing.T, k sopstest.Key, plain string) string {
	return string(sopstest.Encrypt(t, []byte(plain), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient))
}

func secretsFor(k sopstest.Key) *Secrets {
	return &Secrets{Identities: Keys{k.Identity}, Recipients: []string{k.Recipient}, RequireEncryption: true}
}

const dbSecret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: render-secret-1}\n"

func TestSecretsPlain(t *testing.T) {
	k, other := sopstest.NewKey(t), sopstest.NewKey(t)
	fs := tree(map[string]string{
		"deploy/db.yaml": encYAML(t, k, dbSecret),
		"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n",
		// A Secret with nothing in it hides nothing.
		"deploy/empty.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: empty}\n",
	})
	res := render(t, fs, Options{Path: "deploy", DefaultNamespace: "app", Secrets: secretsFor(k)})
	wantOK(t, res)
	if len(res.Objects) != 3 {
		t.Fatalf("objects: %s", dump(res))
	}
	for _, o := range res.Objects {
		if o.GetName() == "db" {
			if got := o.Object["stringData"].(map[string]any)["password"]; got != "render-secret-1" {
				t.Fatalf("password = %v", got)
			}
			if _, ok := o.Object["sops"]; ok {
				t.Fatal("sops metadata left in the object")
			}
		}
	}
	if strings.Join(res.Sensitive, ",") != "render-secret-1" {
		t.Errorf("Sensitive = %q", res.Sensitive)
	}

	t.Run("plain text", func(t *testing.T) {
		fs := tree(map[string]string{"deploy/db.yaml": dbSecret})
		res := render(t, fs, Options{Path: "deploy", DefaultNamespace: "app", Secrets: secretsFor(k)})
		p := wantProblem(t, res, RuleSecretPlain, "deploy/db.yaml:1", "Secret/app/db", "plain text")
		if !strings.Contains(p.Hint, "sops --encrypt --age "+k.Recipient) {
			t.Errorf("hint: %s", p.Hint)
		}
		off := secretsFor(k)
		off.RequireEncryption = false
		wantOK(t, render(t, fs, Options{Path: "deploy", DefaultNamespace: "app", Secrets: off}))
		wantOK(t, render(t, fs, Options{Path: "deploy", DefaultNamespace: "app"}))
	})
	t.Run("wrong recipient", func(t *testing.T) {
		fs := tree(map[string]string{"deploy/db.yaml": encYAML(t, other, dbSecret)})
		res := render(t, fs, Options{Path: "deploy", DefaultNamespace: "app", Secrets: secretsFor(k)})
		p := wantProblem(t, res, RuleSecretRecipients, "deploy/db.yaml", "Secret/app/db", other.Recipient)
		if !strings.Contains(p.Hint, k.Recipient) {
			t.Errorf("hint: %s", p.Hint)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		enc := strings.Replace(encYAML(t, k, dbSecret), "name: db", "name: dc", 1)
		res := render(t, tree(map[string]string{"deploy/db.yaml": enc}), Options{Path: "deploy", DefaultNamespace: "app", Secrets: secretsFor(k)})
		wantProblem(t, res, RuleSecretTampered, "deploy/db.yaml", "Secret/app/dc", "MAC")
	})
	t.Run("no identity", func(t *testing.T) {
		res := render(t, tree(map[string]string{"deploy/db.yaml": encYAML(t, k, dbSecret)}), Options{Path: "deploy", DefaultNamespace: "app"})
		wantProblem(t, res, RuleSecretDecrypt, "deploy/db.yaml", "Secret/app/db")
	})
	t.Run("check only", func(t *testing.T) {
		fs := tree(map[string]string{"deploy/db.yaml": encYAML(t, k, dbSecret)})
		res := render(t, fs, Options{Path: "deploy", DefaultNamespace: "app", Secrets: &Secrets{Recipients: []string{k.Recipient}, RequireEncryption: true, CheckOnly: true}})
		wantOK(t, res)
		if strings.Contains(dump(res), "render-secret-1") || len(res.Sensitive) != 0 {
			t.Fatal("check-only decrypted")
		}
	})
}

func TestSecretsKustomize(t *testing.T) {
	k := sopstest.NewKey(t)
	env := string(sopstest.Encrypt(t, []byte("PASSWORD=kust-secret-2\n"), secrets.Dotenv, sopstest.Options{}, k.Recipient))
	files := map[string]string{
		"base/kustomization.yaml": "resources: [secret.yaml]\nsecretGenerator:\n- name: app-env\n  envs: [app.env]\n",
		"base/app.env":            env,
		"base/secret.yaml":        encYAML(t, k, dbSecret),
	}
	res := render(t, tree(files), Options{Path: "base", DefaultNamespace: "app", Secrets: secretsFor(k)})
	wantOK(t, res)
	var got []string
	for _, o := range res.Objects {
		if o.GetKind() == "Secret" {
			got = append(got, o.GetName())
			if strings.HasPrefix(o.GetName(), "app-env") && o.Object["data"].(map[string]any)["PASSWORD"] != "a3VzdC1zZWNyZXQtMg==" {
				t.Errorf("generated data: %v", o.Object["data"])
			}
		}
	}
	if len(got) != 2 {
		t.Fatalf("secrets %v: %s", got, dump(res))
	}

	t.Run("binary files and a configMapGenerator", func(t *testing.T) {
		bin := string(sopstest.Encrypt(t, []byte("-----BEGIN KEY-----\nkust-binary-6\n"), secrets.Binary, sopstest.Options{}, k.Recipient))
		ini := string(sopstest.Encrypt(t, []byte("[db]\nhost = kust-ini-7\n"), secrets.INI, sopstest.Options{}, k.Recipient))
		files := map[string]string{
			"base/kustomization.yaml": "secretGenerator:\n- name: tls\n  files: [tls.key=key.bin]\nconfigMapGenerator:\n- name: conf\n  files: [db.ini]\n",
			"base/key.bin":            bin,
			"base/db.ini":             ini,
		}
		res := render(t, tree(files), Options{Path: "base", DefaultNamespace: "app", Secrets: secretsFor(k)})
		wantOK(t, res)
		for _, o := range res.Objects {
			data, _ := o.Object["data"].(map[string]any)
			switch {
			case o.GetKind() == "Secret" && data["tls.key"] != "LS0tLS1CRUdJTiBLRVktLS0tLQprdXN0LWJpbmFyeS02Cg==":
				t.Errorf("tls.key: %v", data)
			case o.GetKind() == "ConfigMap" && !strings.Contains(fmt.Sprint(data["db.ini"]), "kust-ini-7"):
				t.Errorf("db.ini: %v", data)
			}
		}
	})
	t.Run("literal", func(t *testing.T) {
		files := map[string]string{"base/kustomization.yaml": "secretGenerator:\n- name: lit\n  literals: [password=kust-literal-3]\n"}
		res := render(t, tree(files), Options{Path: "base", DefaultNamespace: "app", Secrets: secretsFor(k)})
		wantProblem(t, res, RuleSecretPlain, "base/kustomization.yaml:2", "Secret/app/lit-", "literals")
	})
	t.Run("plain env file", func(t *testing.T) {
		files := map[string]string{"base/kustomization.yaml": "secretGenerator:\n- name: lit\n  envs: [plain.env]\n", "base/plain.env": "A=b\n"}
		res := render(t, tree(files), Options{Path: "base", DefaultNamespace: "app", Secrets: secretsFor(k)})
		wantProblem(t, res, RuleSecretPlain, "base/plain.env", "Secret/app/lit-", "not SOPS-encrypted")
	})
	t.Run("tampered env file", func(t *testing.T) {
		bad := strings.Replace(env, "PASSWORD=", "PASSWORT=", 1)
		files := map[string]string{"base/kustomization.yaml": "secretGenerator:\n- name: gen\n  envs: [app.env]\n", "base/app.env": bad}
		res := render(t, tree(files), Options{Path: "base", DefaultNamespace: "app", Secrets: secretsFor(k)})
		wantProblem(t, res, RuleSecretTampered, "base/app.env", "MAC")
	})
}

func TestSecretsHelm(t *testing.T) {
	k := sopstest.NewKey(t)
	files := map[string]string{
		"chart/Chart.yaml":            "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":           "password: changeme\n",
		"chart/templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: {{ .Values.password | quote }}}\n",
		"values-prod.yaml":            string(sopstest.Encrypt(t, []byte("password: helm-secret-4\n"), secrets.YAML, sopstest.Options{}, k.Recipient)),
	}
	res := render(t, tree(files), Options{Path: "chart", DefaultNamespace: "app", ValuesFiles: []string{"values-prod.yaml"}, Secrets: secretsFor(k)})
	wantOK(t, res)
	if got := res.Objects[0].Object["stringData"].(map[string]any)["password"]; got != "helm-secret-4" {
		t.Fatalf("password = %v", got)
	}
	res = render(t, tree(files), Options{Path: "chart", DefaultNamespace: "app", Secrets: secretsFor(k)})
	wantProblem(t, res, RuleSecretPlain, "Secret/app/db", "no values file")
}

// TestSecretsClearInSOPSFile: a SOPS file whose encrypted_regex leaves the Secret's
// values out has them in clear in git; wrapping them in sops metadata does not pass.
func TestSecretsClearInSOPSFile(t *testing.T) {
	k := sopstest.NewKey(t)
	enc := string(sopstest.Encrypt(t, []byte(dbSecret), secrets.YAML, sopstest.Options{EncryptedRegex: "^nothing$"}, k.Recipient))
	if !strings.Contains(enc, "render-secret-1") {
		t.Fatalf("the value should be in clear:\n%s", enc)
	}
	res := render(t, tree(map[string]string{"deploy/db.yaml": enc}), Options{Path: "deploy", DefaultNamespace: "app", Secrets: secretsFor(k)})
	wantProblem(t, res, RuleSecretPlain, "deploy/db.yaml", "Secret/app/db", "values left in clear: stringData.password")
	// Every value encrypted (sops's default, no regex): fine.
	all := string(sopstest.Encrypt(t, []byte(dbSecret), secrets.YAML, sopstest.Options{}, k.Recipient))
	wantOK(t, render(t, tree(map[string]string{"deploy/db.yaml": all}), Options{Path: "deploy", DefaultNamespace: "app", Secrets: secretsFor(k)}))
}
