package desired

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/internal/sopstest"
)

func TestSecretsOptions(t *testing.T) {
	k := sopstest.NewKey(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "age")
	if err := os.WriteFile(p, []byte(k.Identity), 0o600); err != nil {
		t.Fatal(err)
	}
	env := config.Environment{Secrets: &config.Secrets{Identities: []string{p}}}
	s, err := Secrets(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Identities) != 1 || !s.RequireEncryption || len(s.Recipients) != 1 || s.Recipients[0] != k.Recipient {
		t.Fatalf("options: %+v", s)
	}
	if strings.Contains(s.Identities.String(), "AGE-SECRET-KEY") {
		t.Fatal("the keys print")
	}
	if rs, err := Recipients(env); err != nil || rs[0] != k.Recipient {
		t.Fatalf("recipients: %v %v", rs, err)
	}
	if s, err := Secrets(config.Environment{}); s != nil || err != nil {
		t.Fatalf("no secrets: %v %v", s, err)
	}

	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Repos: map[string]config.Repo{"r": {Environments: map[string]config.Environment{"e": env}}}}
	errs := CheckIdentities(cfg)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "r/e: secrets.identities[0]: age identity file: readable by others") || strings.Contains(errs[0].Error(), dir) {
		t.Fatalf("errors: %v", errs)
	}
}
