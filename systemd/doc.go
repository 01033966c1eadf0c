// Package systemd holds gitopsd's systemd unit, sysusers and tmpfiles snippets. It has no
// code; its tests check the unit with systemd-analyze the way a distribution would.
package systemd
