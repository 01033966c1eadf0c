// Package sopstest encrypts files as `sops --encrypt --age` does, with the SOPS library, and
// makes age keys, for tests: no sops binary is needed to test the decryption.
package sopstest

import (
	"crypto/rand"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"

	"github.com/gitopsd/gitopsd/secrets"
)

// Key is a new age identity.
type Key struct {
	// Identity is the identity file's text (AGE-SECRET-KEY-1...\n).
	Identity string
	// Recipient is its public key (age1...).
	Recipient string
}

// NewKey makes an age key, as age-keygen does.
func NewKey(t testing.TB) Key {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return Key{Identity: "# created by a test\n" + id.String() + "\n", Recipient: id.Recipient().String()}
}

// Options are sops's encryption flags.
type Options struct {
	// EncryptedRegex is --encrypted-regex; "" encrypts every value (sops's default).
	EncryptedRegex string
}

// ManifestRegex is what the README tells writers to pass for Kubernetes manifests.
const ManifestRegex = "^(data|stringData)$"

// Encrypt encrypts plain (a file of format f) to the recipients, as
// `sops --encrypt --age R1,R2 [--encrypted-regex RE]` would.
func Encrypt(t testing.TB, plain []byte, f secrets.Format, opts Options, recipients ...string) []byte {
	t.Helper()
	st := secrets.StoreForTest(f)
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("sopstest: loading the plain file: %v", err)
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		k, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, keys.MasterKey(k))
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups: []sops.KeyGroup{group}, EncryptedRegex: opts.EncryptedRegex, Version: "3.13.3",
	}}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		t.Fatal(err)
	}
	for _, k := range group {
		if err := k.Encrypt(dataKey); err != nil {
			t.Fatal(err)
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
