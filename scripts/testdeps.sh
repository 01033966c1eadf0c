#!/usr/bin/env bash
# Makes sure the programs the tests drive are present: git and the OpenSSH client (the users'
# side of every integration test) and systemd-analyze (checks the unit). On Debian, as root,
# missing ones are installed; elsewhere the script says what is missing.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
command -v ssh >/dev/null || need+=(openssh-client)
command -v systemd-analyze >/dev/null || need+=(systemd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "testdeps: installing ${need[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
	echo "testdeps: please install: ${need[*]}" >&2
	exit 1
fi
