// Package secrets opens SOPS-encrypted files with age identities held in memory: it tells a
// SOPS file from a plain one, checks whom it is encrypted to, decrypts it and verifies its
// MAC, and names the values it decrypted so that callers can keep them out of what they
// print. It never reads a file, an environment variable or the network for a key: the age
// identities are given to it, and only age key groups are tried (a SOPS file's KMS, PGP or
// Vault entries are listed, never contacted).
//
// The SOPS library does the parsing (its stores), the decryption of the values and the
// MAC (sops.Tree.Decrypt, package aes); filippo.io/age opens the data key. The library's
// own entry point, package decrypt, is not used: it loads keys from the environment and the
// home directory and runs key services (KMS, GPG), none of which a render process may do.
// Its narrower packages still link the cloud KMS SDKs (the root package imports its key
// service), so importing them instead saves no build time; it saves the behaviour.
package secrets
