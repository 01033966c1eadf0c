// Package sopstest makes age keys and encrypts files as `sops --encrypt --age` does (with
// the SOPS library, through secrets.Encrypt), for tests: no sops binary is needed.
package sopstest

import (
	"testing"

	"filippo.io/age"

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
	out, err := secrets.Encrypt(plain, f, opts.EncryptedRegex, recipients...)
	if err != nil {
		t.Fatalf("sopstest: %v", err)
	}
	return out
}
