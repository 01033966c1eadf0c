// Package e2e holds gitopsd's end-to-end tests: the real gitopsd binary, driven by the real
// git and OpenSSH clients, deploying to real kube-apiservers. It has no code of its own.
package e2e
