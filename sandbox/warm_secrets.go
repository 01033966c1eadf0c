package sandbox

import (
	"context"
	"testing/fstest"

	"filippo.io/age"

	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/secrets"
)

// warmUpSecrets decrypts a SOPS file of its own, with an age key made for it and thrown
// away, so that the first SOPS file of a push does not pay for the library's one-time
// initialisation either. No key of any environment is involved: the child has none yet.
func warmUpSecrets() {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return
	}
	enc, err := secrets.Encrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: warm}\nstringData: {k: v}\n"),
		secrets.YAML, "^(data|stringData)$", id.Recipient().String())
	if err != nil {
		return
	}
	tree := fstest.MapFS{"s/secret.yaml": {Data: enc}}
	_, _ = render.Render(context.Background(), tree, render.Options{Path: "s", DefaultNamespace: "warm",
		Secrets: &render.Secrets{Identities: render.Keys{id.String()}, Recipients: []string{id.Recipient().String()}, RequireEncryption: true}})
}
