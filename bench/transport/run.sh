#!/bin/bash
# Transport benchmark: clone and push of one large repo through gitopsd and through OpenSSH
# sshd + git-shell, both on loopback, with the same OpenSSH client. Prints medians and ratios.
#
#   bench/transport/run.sh            # 12,000 files, 300 commits, ~2.5 KB each, 3 runs
#   FILES=20000 RUNS=5 bench/transport/run.sh
#   SRC_CACHE=/tmp/bench-src bench/transport/run.sh   # keep the generated repo between runs
#
# Needs root (it creates the system user gitbench whose login shell is git-shell), git,
# python3, ssh and sshd (apt-get install -y openssh-server). Everything else lives in a
# temporary directory, removed at the end, with both servers stopped.
set -euo pipefail

FILES=${FILES:-12000}
COMMITS=${COMMITS:-300}
SIZE=${SIZE:-2500}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SSHD=${SSHD:-/usr/sbin/sshd}
[ -x "$SSHD" ] || { echo "sshd missing: apt-get install -y openssh-server" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (creates the gitbench user)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/gitopsd-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
	status=$?
	if [ "$status" != 0 ]; then
		echo "== failed; server logs:" >&2
		tail -20 "$WORK/sshd.log" "$WORK/gitopsd.log" >&2 2>/dev/null || true
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
	case "${CLONE:-}" in /dev/shm/*) rm -rf "$(dirname "$CLONE")" ;; esac
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== building gitopsd"
(cd "$ROOT" && go build -o "$WORK/gitopsd" .)

echo "== generating the repo ($FILES files, $COMMITS commits, $SIZE bytes each)"
SRC=$WORK/src
if [ -n "${SRC_CACHE:-}" ] && [ -d "$SRC_CACHE/.git" ]; then
	echo "(reusing $SRC_CACHE)"
	cp -a "$SRC_CACHE" "$SRC"
else
	git init -q -b main "$SRC"
	python3 "$HERE/gen.py" "$FILES" "$COMMITS" "$SIZE" | git -C "$SRC" fast-import --quiet
	git -C "$SRC" repack -adq
	git -C "$SRC" checkout -q main
	if [ -n "${SRC_CACHE:-}" ]; then cp -a "$SRC" "$SRC_CACHE"; fi
fi
PACK_BYTES=$(du -cb "$SRC"/.git/objects/pack/*.pack | tail -1 | cut -f1)
NFILES=$(git -C "$SRC" ls-files | wc -l)
NCOMMITS=$(git -C "$SRC" rev-list --count main)
printf 'repo: %d files at HEAD, %d commits, pack %.1f MB, work tree %.1f MB\n' "$NFILES" "$NCOMMITS" \
	"$(echo "$PACK_BYTES/1048576" | bc -l)" "$(echo "$(du -sb --exclude=.git "$SRC" | cut -f1)/1048576" | bc -l)"

ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_bench"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
SSH_OPTS="-i $WORK/id_bench -o IdentitiesOnly=yes -o UserKnownHostsFile=$WORK/known_hosts -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o LogLevel=ERROR -F /dev/null"

echo "== starting OpenSSH sshd + git-shell"
# The user is shared by concurrent runs, so nothing of a run lives in it: repos are reached
# by absolute path under this run's directory (git-shell allows that).
id gitbench >/dev/null 2>&1 || useradd --system --shell /usr/bin/git-shell --home-dir / gitbench
# A password of '*' is "no password" rather than "locked": sshd refuses locked accounts.
[ "$(getent shadow gitbench | cut -d: -f2)" = '*' ] || usermod --password '*' gitbench
[ "$(getent passwd gitbench | cut -d: -f6)" = / ] || usermod --home / gitbench
HOMEB=$WORK/gitbench
mkdir -p "$HOMEB"
chown gitbench "$HOMEB"
cp "$WORK/id_bench.pub" "$WORK/authorized_keys"
SSHD_PORT=$(freeport)
cat >"$WORK/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $WORK/ssh_host_ed25519_key
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/sshd.pid
AllowUsers gitbench
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
CFG
mkdir -p /run/sshd
"$SSHD" -f "$WORK/sshd_config" -D -e 2>"$WORK/sshd.log" &
PIDS+=($!)

echo "== starting gitopsd"
GPORT=$(freeport)
{
	echo "server: {listen: 127.0.0.1:$GPORT, data_dir: $WORK/gitopsd-data, http_listen: 127.0.0.1:0}"
	echo "users:"
	echo "  bench: [\"$(cat "$WORK/id_bench.pub")\"]"
	echo "repos:"
	for i in $(seq 1 "$RUNS"); do echo "  run$i: {write: [bench]}"; done
} >"$WORK/repos.yaml"
"$WORK/gitopsd" serve --config "$WORK/repos.yaml" --log-level warn >"$WORK/gitopsd.log" 2>&1 &
PIDS+=($!)

for i in $(seq 1 "$RUNS"); do
	runuser -u gitbench -- git init -q --bare --initial-branch=main "$HOMEB/run$i.git"
done
for port in "$SSHD_PORT" "$GPORT"; do
	for _ in $(seq 1 100); do
		user=git; [ "$port" = "$SSHD_PORT" ] && user=gitbench
		repo=run1.git; [ "$port" = "$SSHD_PORT" ] && repo=$HOMEB/run1.git
		if ssh $SSH_OPTS -p "$port" "$user@127.0.0.1" git-upload-pack "$repo" </dev/null >/dev/null 2>&1; then break; fi
		sleep 0.1
	done
done

export GIT_SSH_COMMAND="ssh $SSH_OPTS"
# Clones go to memory when /dev/shm exists: checking out 12,000 files on a shared disk
# measures the disk's mood, not the transport.
CLONE=$WORK/clone
if [ -d /dev/shm ] && [ -w /dev/shm ]; then CLONE=$(mktemp -d /dev/shm/gitopsd-bench.XXXXXX)/clone; fi
SSHD_URL="ssh://gitbench@127.0.0.1:$SSHD_PORT$HOMEB"
G_URL="ssh://git@127.0.0.1:$GPORT"
secs() { local t0; t0=$(now); "$@"; echo "$(now) - $t0" | bc -l; }
push() { git -C "$SRC" push -q "$1/run$2.git" main; }
clone() { git clone -q "$1/run$2.git" "$CLONE"; }
fetch() { git clone -q --bare "$1/run$2.git" "$CLONE"; }

# The two servers take turns within each run, so that load from elsewhere on the machine
# (other builds share it) falls on both alike. A push goes to an empty repo (the whole history); clone is a full
# clone with checkout; fetch is a bare clone (the transport alone, no checkout).
echo "== measuring: $RUNS runs, servers alternating"
declare -A T
for i in $(seq 1 "$RUNS"); do
	for op in push fetch clone; do
		# Alternate who goes first, and flush the disk before each measure: writing 12,000
		# files leaves dirty pages whose writeback would otherwise slow down whoever is next.
		order="openssh gitopsd"; [ $((i % 2)) = 0 ] && order="gitopsd openssh"
		for srv in $order; do
			url=$SSHD_URL; [ "$srv" = gitopsd ] && url=$G_URL
			[ "$op" = push ] || rm -rf "$CLONE"
			sync
			T[$srv.$op]+="$(secs $op "$url" "$i") "
		done
	done
	[ "$(git -C "$CLONE" rev-parse HEAD)" = "$(git -C "$SRC" rev-parse main)" ] || { echo "clone mismatch" >&2; exit 1; }
done
for k in openssh.push gitopsd.push openssh.fetch gitopsd.fetch openssh.clone gitopsd.clone; do
	printf '  %-14s %s\n' "$k" "${T[$k]}"
done
m() { printf '%s\n' ${T[$1]} | median; }

echo
printf '%-28s %10s %10s %10s\n' "median seconds" push "fetch" clone
printf '%-28s %10.2f %10.2f %10.2f\n' "OpenSSH sshd + git-shell" "$(m openssh.push)" "$(m openssh.fetch)" "$(m openssh.clone)"
printf '%-28s %10.2f %10.2f %10.2f\n' "gitopsd" "$(m gitopsd.push)" "$(m gitopsd.fetch)" "$(m gitopsd.clone)"
printf '%-28s %9.2fx %9.2fx %9.2fx   (target <= 1.20x)\n' "ratio gitopsd / OpenSSH" \
	"$(echo "$(m gitopsd.push) / $(m openssh.push)" | bc -l)" "$(echo "$(m gitopsd.fetch) / $(m openssh.fetch)" | bc -l)" "$(echo "$(m gitopsd.clone) / $(m openssh.clone)" | bc -l)"
echo "(fetch = bare clone, the transport alone; gitopsd's push includes fsck of incoming objects"
echo " and the pre/post-receive round trips to the daemon, git-shell's has neither)"
