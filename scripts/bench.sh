#!/usr/bin/env bash
# Runs every benchmark of the project in one go and prints one table: what gitopsd takes,
# what the baseline takes, the ratio, and the target from the issues. Benchmarks print;
# they never fail on a figure (a step that breaks shows "failed" and the run goes on).
#
#   scripts/bench.sh                 # everything, about 10 minutes on 2 cores
#   RUNS=5 scripts/bench.sh          # iterations per Go benchmark (default 3)
#   SKIP=transport scripts/bench.sh  # leave steps out: transport validate deploy drift kube render
#
# Steps, each bounded by `timeout` so that the whole run stops by itself:
#   transport  bench/transport/run.sh: clone/fetch/push of a 12,000-file repo, gitopsd vs
#              OpenSSH sshd + git-shell (needs root and sshd; skipped otherwise)
#   validate   bench/validate: dry-run push of 1,000 objects and of a 200-object Helm chart
#              to a running gitopsd vs kubectl apply --server-side --dry-run=server
#   deploy     bench/deploy: push-to-applied of 50 and 500 ConfigMaps vs git push (file://)
#              + kubectl apply --server-side
#   drift      kube: drift scan of 5,000 live objects (time, API requests, peak heap)
#   kube       kube: the apply engine alone vs kubectl (dry-run 1,000, apply 500)
#   render     render: 1,000 objects from plain YAML in git, Helm, Kustomize
# Full logs stay in $OUT (printed at the end).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3}
SKIP=${SKIP:-}
OUT=${OUT:-$(mktemp -d /tmp/gitopsd-bench-results.XXXXXX)}
mkdir -p "$OUT"
export GITOPSD_TESTBED_BIN=${GITOPSD_TESTBED_BIN:-$ROOT/.testbed/bin}
GO=${GO:-go}

say() { printf '== %s\n' "$*" >&2; }
skipped() { case " $SKIP " in *" $1 "*) return 0 ;; esac; return 1; }

# step NAME SECONDS CMD...: runs CMD with a time bound, output to $OUT/NAME.log.
step() {
	local name=$1 secs=$2
	shift 2
	if skipped "$name"; then
		say "$name: skipped (SKIP)"
		echo "skipped" >"$OUT/$name.log"
		return
	fi
	say "$name: running (at most ${secs}s; log $OUT/$name.log)"
	local t0=$SECONDS
	timeout --kill-after=30 "$secs" "$@" >"$OUT/$name.log" 2>&1
	local rc=$?
	[ $rc = 124 ] && echo "bench.sh: timed out after ${secs}s" >>"$OUT/$name.log"
	say "$name: exit $rc in $((SECONDS - t0))s"
}

# gobench STEP SECONDS PKG REGEX BENCHTIME: a Go benchmark as a step; go test's own
# timeout comes first, so that a hang ends with goroutine dumps in the log.
gobench() {
	step "$1" "$2" $GO test "$3" -run '^$' -bench "$4" -benchtime "$5" -timeout "$(($2 - 20))s"
}

say "machine: $(nproc) cores, $(uptime | sed 's/.*load/load/')"
LOAD_BEFORE=$(uptime | sed 's/.*load average: //')
START=$SECONDS

say "building: test bed (etcd, kube-apiserver, kubectl) and gitopsd"
testbed/build.sh >&2 || { echo "bench.sh: testbed/build.sh failed" >&2; exit 1; }
$GO build -o /dev/null . || exit 1
# Compile the benchmark binaries now, so that no step's bound is spent compiling.
$GO test -count=1 -run '^$' ./bench/validate ./bench/deploy ./kube ./render >/dev/null || exit 1

if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then
	step transport 420 bench/transport/run.sh
else
	say "transport: skipped (needs root and /usr/sbin/sshd: apt-get install -y openssh-server)"
	echo "skipped: needs root and sshd" >"$OUT/transport.log"
fi
gobench validate 360 ./bench/validate . "${RUNS}x"
gobench deploy 300 ./bench/deploy . "${RUNS}x"
gobench drift 300 ./kube 'BenchmarkDrift5000$' "${RUNS}x"
gobench kube 240 ./kube 'BenchmarkVsKubectl$' 1x
gobench render 180 ./render 'BenchmarkPlain1000Git$|BenchmarkHelm1000$|BenchmarkKustomize1000$' 1s

# metric LOG BENCHMARK UNIT: the value of UNIT on BENCHMARK's result line ("" if absent).
metric() {
	[ -f "$OUT/$1.log" ] || return 0
	awk -v name="$2" -v unit="$3" '
		$1 == name || index($1, name "-") == 1 && substr($1, length(name) + 2) ~ /^[0-9]+$/ {
			for (i = 2; i < NF; i++) if ($(i + 1) == unit) { print $i; exit }
		}' "$OUT/$1.log"
}
# Formatting helpers; an empty figure prints as "failed" (see the step's log).
secs() { [ -n "$1" ] && printf '%.2f s' "$1" || echo failed; }
nsms() { [ -n "$1" ] && awk -v v="$1" 'BEGIN { printf "%.0f ms", v / 1e6 }' || echo failed; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo -; }

ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5"); }

# Transport: its own table's median lines.
if grep -q '^gitopsd ' "$OUT/transport.log" 2>/dev/null; then
	read -r _ gpush gfetch gclone < <(grep '^gitopsd ' "$OUT/transport.log")
	read -r _ _ _ _ opush ofetch oclone < <(grep '^OpenSSH sshd + git-shell' "$OUT/transport.log")
	repo=$(sed -n 's/^repo: //p' "$OUT/transport.log")
	row "transport: push, whole repo" "$(secs "$gpush")" "$(secs "$opush") sshd" "$(ratio "$gpush" "$opush")" "<= 1.20x"
	row "transport: fetch (bare clone)" "$(secs "$gfetch")" "$(secs "$ofetch") sshd" "$(ratio "$gfetch" "$ofetch")" "<= 1.20x"
	row "transport: clone + checkout" "$(secs "$gclone")" "$(secs "$oclone") sshd" "$(ratio "$gclone" "$oclone")" "<= 1.20x"
else
	row "transport (bench/transport/run.sh)" "$(head -1 "$OUT/transport.log" 2>/dev/null | grep -q skipped && echo skipped || echo failed)" - - "<= 1.20x"
fi

for c in plain-1000:"1,000 objects" helm-200:"Helm chart, 200 objects"; do
	id=${c%%:*} label=${c#*:}
	g=$(metric validate "BenchmarkPush/$id" gitopsd-s/op)
	k=$(metric validate "BenchmarkPush/$id" kubectl-s/op)
	target="<= 0.50x"
	[ "$id" = plain-1000 ] && target="< 2 s, <= 0.50x"
	row "validate: git push -o dry-run, $label" "$(secs "$g")" "$(secs "$k") kubectl" "$(ratio "$g" "$k")" "$target"
	c2=$(metric validate "BenchmarkChecker/$id" gitopsd-s/op)
	row "validate: Checker alone, $label" "$(secs "$c2")" "$(secs "$k") kubectl" "$(ratio "$c2" "$k")" "$target"
done

for n in 50 500; do
	g=$(metric deploy "BenchmarkPushApply/configmaps-$n" gitopsd-s/op)
	base=$(metric deploy "BenchmarkPushApply/configmaps-$n" baseline-s/op)
	gitb=$(metric deploy "BenchmarkPushApply/configmaps-$n" git-s/op)
	kb=$(metric deploy "BenchmarkPushApply/configmaps-$n" kubectl-s/op)
	detail=""
	[ -n "$gitb" ] && [ -n "$kb" ] && detail=$(printf ' (git %.2f + kubectl %.2f)' "$gitb" "$kb")
	row "push-to-applied, $n ConfigMaps" "$(secs "$g")" "$(secs "$base")$detail" "$(ratio "$g" "$base")" "<= 1.00x"
done

d=$(metric drift BenchmarkDrift5000 ns/op)
[ -n "$d" ] && d=$(awk -v v="$d" 'BEGIN { print v / 1e9 }')
row "drift scan, 5,000 live objects" "$(secs "$d")" - - "< 5 s"
req=$(metric drift BenchmarkDrift5000 requests/op)
row "drift scan: API requests" "${req:-failed}" - - "grows with kinds, not objects"
heap=$(metric drift BenchmarkDrift5000 peak-heap-MB)
row "drift scan: peak heap (test process)" "${heap:+$heap MB}" - - -

for c in dry-run-1000:"kube engine: dry-run 1,000 objects" apply-500:"kube engine: apply 500 objects"; do
	id=${c%%:*} label=${c#*:}
	g=$(metric kube "BenchmarkVsKubectl/$id" gitopsd-s/op)
	k=$(metric kube "BenchmarkVsKubectl/$id" kubectl-s/op)
	row "$label" "$(secs "$g")" "$(secs "$k") kubectl" "$(ratio "$g" "$k")" -
done

for c in Plain1000Git:"render: 1,000 objects, plain YAML from git" Helm1000:"render: Helm, 1,000 objects" Kustomize1000:"render: Kustomize overlay, 1,000 objects"; do
	id=${c%%:*} label=${c#*:}
	row "$label" "$(nsms "$(metric render "Benchmark$id" ns/op)")" - - -
done

LOAD_AFTER=$(uptime | sed 's/.*load average: //')
echo
printf '%-46s %10s  %-32s %7s  %s\n' benchmark gitopsd baseline ratio target
printf '%s\n' "$(printf '%.0s-' $(seq 1 118))"
for r in "${ROWS[@]}"; do
	IFS='|' read -r name g base rat target <<<"$r"
	printf '%-46s %10s  %-32s %7s  %s\n' "$name" "$g" "$base" "$rat" "$target"
done
echo
echo "ratio = gitopsd / baseline (lower is better). Go benchmarks: $RUNS runs each, mean; transport: median."
echo "baselines: sshd = OpenSSH sshd + git-shell on loopback; kubectl = the test bed's kubectl v1.37.2"
echo "  (an exec per run, discovery cache warm) against the same API server; push-to-applied's"
echo "  git push goes to a bare repo over file:// (no ssh: favours the baseline)."
echo "machine: $(nproc) cores; load average before $LOAD_BEFORE, after $LOAD_AFTER; $(( (SECONDS - START) / 60 )) min $(( (SECONDS - START) % 60 )) s"
echo "logs: $OUT"
