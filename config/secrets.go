package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
)

// Secrets is an environment's SOPS/age settings: which SOPS-encrypted files it can
// decrypt, to whom writers must encrypt, and whether a Secret in clear is refused.
type Secrets struct {
	// Identities are age identity files (age-keygen's output), read by the daemon at each
	// render: several, to rotate (old and new both decrypt). Deliver them with systemd's
	// LoadCredential= and write $CREDENTIALS_DIRECTORY/NAME; a file readable by group or
	// others is refused. The keys never sit in repos.yaml.
	Identities []string `yaml:"identities"`
	// Recipients are the age public keys (age1...) writers encrypt to; a pushed SOPS file
	// must be encrypted to at least one. Default: the public keys of the identities.
	Recipients []string `yaml:"recipients"`
	// RequireEncryption refuses Secrets in clear in git (default true once secrets: is
	// set; an environment without secrets: applies Secrets as they are, and refuses SOPS
	// files it cannot decrypt).
	RequireEncryption *bool `yaml:"require_encryption"`
	// CheckOnly is set by `gitopsd validate` when it has no key: the encryption rules are
	// checked, nothing is decrypted.
	CheckOnly bool `yaml:"-"`
}

// Required reports whether Secrets in clear are refused.
func (s *Secrets) Required() bool {
	return s != nil && (s.RequireEncryption == nil || *s.RequireEncryption)
}

// credentialsDir is how an identity path names systemd's credentials directory.
const credentialsDir = "$CREDENTIALS_DIRECTORY"

// IdentityPath is the file an identity entry names, with $CREDENTIALS_DIRECTORY (or
// ${CREDENTIALS_DIRECTORY}) replaced by the daemon's environment variable.
func IdentityPath(p string) string {
	for _, v := range []string{credentialsDir, "${CREDENTIALS_DIRECTORY}"} {
		if rest, ok := strings.CutPrefix(p, v); ok {
			return filepath.Join(os.Getenv("CREDENTIALS_DIRECTORY"), rest)
		}
	}
	return p
}

// ReadIdentityFile reads an identity file for the daemon: it must be a regular file that
// only its owner can read (as ssh requires of a private key). Its errors hold neither the
// file's content nor its path (they may reach a pusher).
func ReadIdentityFile(p string) ([]byte, error) {
	p = IdentityPath(p)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("age identity file: %w", errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("age identity file: not a regular file")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("age identity file: readable by others (mode %04o): chmod 600 it, or deliver it with LoadCredential=", fi.Mode().Perm())
	}
	if fi.Size() > 1<<20 {
		return nil, errors.New("age identity file: larger than 1 MiB")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("age identity file: %w", errors.Unwrap(err))
	}
	return b, nil
}

func (p *parser) resolveSecrets(e *Environment) {
	if e.Secrets == nil {
		return
	}
	for i, id := range e.Secrets.Identities {
		if !strings.HasPrefix(id, "$") {
			e.Secrets.Identities[i] = p.resolve(id)
		}
	}
}

func (p *parser) validateSecrets(ekey string, e Environment) {
	s := e.Secrets
	if s == nil {
		return
	}
	key := ekey + ".secrets"
	if len(s.Identities) == 0 {
		p.errorf(key+".identities", "missing: expected the age identity files the daemon decrypts with, such as [$CREDENTIALS_DIRECTORY/age-%s]", e.Name)
	}
	for i, id := range s.Identities {
		k := fmt.Sprintf("%s.identities[%d]", key, i)
		switch {
		case strings.Contains(strings.ToUpper(id), "AGE-SECRET-KEY-"):
			p.errorf(k, "this is an age key, not a file: repos.yaml names identity files and never holds key material (deliver the key with LoadCredential=)")
		case strings.TrimSpace(id) == "":
			p.errorf(k, "empty: expected the path of an age identity file")
		}
	}
	for i, r := range s.Recipients {
		if _, err := age.ParseX25519Recipient(strings.TrimSpace(r)); err != nil {
			p.errorf(fmt.Sprintf("%s.recipients[%d]", key, i), "%q is not an age recipient (age1..., as age-keygen -y prints it)", r)
		}
	}
}
