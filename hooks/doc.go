// Package hooks is what runs inside a push: pre-receive renders every environment the push
// touches, checks it (syntax, structure, policies, a server-side dry run against the target
// cluster, tests), computes a preview of what would change, and tells the pusher precisely
// what is wrong, with file, line, object, rule and hint. `gitopsd validate` runs the same
// pipeline on a working tree.
package hooks
