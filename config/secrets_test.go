package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

func withSecrets(s string) string {
	return minimal + "        secrets:\n" + s
}

func TestSecretsParse(t *testing.T) {
	cfg, err := Parse("/etc/gitopsd/repos.yaml", []byte(withSecrets("          identities: [keys/age-staging.txt, $CREDENTIALS_DIRECTORY/age-old]\n          recipients: ["+recipient+"]\n")))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Repos["platform"].Environments["staging"].Secrets
	if s == nil || s.Identities[0] != "/etc/gitopsd/keys/age-staging.txt" || s.Identities[1] != "$CREDENTIALS_DIRECTORY/age-old" {
		t.Fatalf("secrets: %+v", s)
	}
	if !s.Required() {
		t.Error("require_encryption defaults to true once secrets: is set")
	}
	cfg, err = Parse("repos.yaml", []byte(withSecrets("          identities: [k]\n          require_encryption: false\n")))
	if err != nil || cfg.Repos["platform"].Environments["staging"].Secrets.Required() {
		t.Fatalf("require_encryption: false: %v", err)
	}
	cfg, _ = Parse("repos.yaml", []byte(minimal))
	if cfg.Repos["platform"].Environments["staging"].Secrets.Required() {
		t.Error("no secrets: requires nothing")
	}
}

func TestSecretsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"          recipients: [" + recipient + "]\n", "secrets.identities: missing"},
		{"          identities: [AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ]\n", "never holds key material"},
		{"          identities: [k]\n          recipients: [age1nope]\n", `secrets.recipients[0]: "age1nope" is not an age recipient`},
		{"          identities: [k]\n          require_encrypton: true\n", "require_encrypton"},
	} {
		_, err := Parse("repos.yaml", []byte(withSecrets(c.in)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "QQQQQQQQ") {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
}

func TestReadIdentityFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "age")
	if err := os.WriteFile(p, []byte("AGE-SECRET-KEY-1XYZ\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIdentityFile(p); err == nil || !strings.Contains(err.Error(), "readable by others") || strings.Contains(err.Error(), "XYZ") {
		t.Fatalf("err = %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	if b, err := ReadIdentityFile("$CREDENTIALS_DIRECTORY/age"); err != nil || string(b) != "AGE-SECRET-KEY-1XYZ\n" {
		t.Fatalf("%q %v", b, err)
	}
}
