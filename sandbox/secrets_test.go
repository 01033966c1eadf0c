package sandbox

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/sopstest"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/secrets"
)

// TestSecretsDecryptInChild: the age identities travel with the request on the child's
// stdin (not in its environment or arguments), the child decrypts, and the result is the
// in-process one, the decrypted values named in Sensitive.
func TestSecretsDecryptInChild(t *testing.T) {
	k := sopstest.NewKey(t)
	enc := sopstest.Encrypt(t, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: sandbox-secret-5}\n"),
		secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient)
	files := map[string]string{"deploy/db.yaml": string(enc)}
	opts := render.Options{Path: "deploy", DefaultNamespace: "app",
		Secrets: &render.Secrets{Identities: render.Keys{k.Identity}, Recipients: []string{k.Recipient}, RequireEncryption: true}}
	in, err := render.Render(context.Background(), mapFS(files), opts)
	if err != nil {
		t.Fatal(err)
	}
	out := sandboxed(t, files, opts, limits)
	if got, want := asJSON(t, out), asJSON(t, in); got != want {
		t.Fatalf("sandbox:\n%s\nin process:\n%s", got, want)
	}
	if !strings.Contains(asJSON(t, out), "sandbox-secret-5") || strings.Join(out.Sensitive, ",") != "sandbox-secret-5" {
		t.Fatalf("not decrypted: %s %q", asJSON(t, out), out.Sensitive)
	}

	// The warm child waiting for the next request: nothing of the key in its environment
	// or command line.
	ch, err := start()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.kill()
	key := strings.TrimSpace(strings.Split(k.Identity, "\n")[1])
	for _, f := range []string{"environ", "cmdline"} {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(ch.cmd.Process.Pid) + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), key) {
			t.Fatalf("the identity is in the child's %s", f)
		}
	}
}
