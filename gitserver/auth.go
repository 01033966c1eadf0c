package gitserver

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/gitopsd/gitopsd/config"
)

// Permission extensions carrying the identity. They are set in the Permissions returned for
// one key, and x/crypto hands the connection the Permissions of the key whose signature it
// verified, so the identity is the proved one (CVE-2024-45337: a client may offer keys it
// does not hold before the one it signs with).
const (
	extUser        = "gitopsd-user"
	extFingerprint = "gitopsd-key-fp"
)

// identity is who is on the other end of a connection.
type identity struct {
	User, Fingerprint string
}

// publicKeyCallback authenticates key against the users of the current configuration.
// A fresh Permissions per key is essential: a shared one would carry the last key offered.
func (s *Server) publicKeyCallback(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
	user, ok := lookupUser(s.Config(), key)
	if !ok {
		return nil, fmt.Errorf("unknown key %s", gossh.FingerprintSHA256(key))
	}
	return &gossh.Permissions{Extensions: map[string]string{
		extUser:        user,
		extFingerprint: gossh.FingerprintSHA256(key),
	}}, nil
}

func lookupUser(cfg *config.Config, key gossh.PublicKey) (string, bool) {
	want := key.Marshal()
	for name, u := range cfg.Users {
		for _, k := range u.PublicKeys {
			if bytes.Equal(k.Marshal(), want) {
				return name, true
			}
		}
	}
	return "", false
}

// serverConfig replaces gliderlabs' authentication with ours: only public keys, identity in
// the per-key Permissions. gliderlabs turns NoClientAuth on when none of its own handlers is
// set; NoClientAuthCallback then refuses the "none" method.
// AuthLogCallback is told of every attempt; a nil error there is the one whose signature
// was verified (a key merely offered, "would this key do?", is not logged as a success),
// which is when the connection stops counting as unauthenticated.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		PublicKeyCallback: s.publicKeyCallback,
		NoClientAuthCallback: func(gossh.ConnMetadata) (*gossh.Permissions, error) {
			return nil, errors.New("public key authentication required")
		},
		AuthLogCallback: func(_ gossh.ConnMetadata, _ string, err error) {
			if err == nil {
				s.authenticated(ctx)
			}
		},
		MaxAuthTries: 6,
	}
}

// identityOf returns the identity bound to the session's verified key.
func identityOf(ctx ssh.Context) (identity, bool) {
	conn, ok := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	if !ok || conn.Permissions == nil {
		return identity{}, false
	}
	id := identity{User: conn.Permissions.Extensions[extUser], Fingerprint: conn.Permissions.Extensions[extFingerprint]}
	return id, id.User != ""
}
