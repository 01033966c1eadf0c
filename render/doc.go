// Package render turns the tree of a pushed commit into the Kubernetes objects it
// describes, without a cluster and without leaving the tree: a directory of plain YAML or
// JSON, a Kustomize directory (krusty on an in-memory copy), or a Helm chart (the Helm v3
// SDK's engine, never the install action). Every object carries the file and line it came
// from, and everything wrong with the input is reported as a Problem the pusher can act on
// (file, line, object, rule, message, hint) rather than as an error.
//
// Render reads only through the fs.FS it is given and copies what Kustomize and Helm need
// into memory, so neither can reach the host's files; remote Kustomize bases, exec and
// function plugins, chart downloads, cluster lookups and schema references outside the
// chart are refused. Input size, YAML alias expansion, nesting depth and time are bounded
// (see Options).
//
// SOPS-encrypted files are decrypted as they are read, in memory, with the age identities
// of Options.Secrets (package secrets); the renderers only ever see clear text, and the
// rules on Secrets in clear run on what they produce (see Secrets).
package render
