#!/usr/bin/env bash
# Runs every benchmark of the project in one go and prints one table: what gitopsd takes,
# what the baseline takes, the ratio, and the target from the issues. Benchmarks print;
# they never fail on a figure (a step that breaks shows "failed" and the run goes on).
#
#   scripts/bench.sh                 # everything, 8 to 12 minutes on 2 cores
#   RUNS=5 scripts/bench.sh          # iterations per Go benchmark (default 3, at most 10)
#   SKIP=transport scripts/bench.sh  # leave steps out: transport validate deploy healthy drift kube render sandbox secrets
#   REPORT=/tmp/gitopsd-bench-results.X scripts/bench.sh   # only print the table of a past run
#
# Steps, each bounded by `timeout` so that the whole run stops by itself:
#   transport  bench/transport/run.sh: clone/fetch/push of a 12,000-file repo, gitopsd vs
#              OpenSSH sshd + git-shell (needs root and sshd; skipped otherwise)
#   validate   bench/validate: dry-run push of 1,000 new objects, of 1,000 running objects
#              10 of which change, and of a 200-object Helm chart to a running gitopsd vs
#              kubectl apply --server-side --dry-run=server
#   deploy     bench/deploy: push-to-applied of 50 and 500 ConfigMaps vs git push to OpenSSH
#              sshd (and over file://) + kubectl apply --server-side
#   healthy    bench/deploy: push-to-healthy on the living cluster (controllers, scheduler,
#              kwok nodes) of 500 new objects (a third Deployments of 2 replicas) and of a
#              one-Deployment rollout in them, vs git push to sshd + kubectl apply
#              --server-side + kubectl rollout status; one run each (every run of the first
#              needs 670 fresh pods), and the rollout again with apply.settle 1ms
#   drift      kube: drift scan of 5,000 live objects (time, API requests, peak heap)
#   kube       kube: the apply engine alone vs kubectl (dry-run 1,000, apply 500)
#   render     render: 1,000 objects from plain YAML in git, Helm, Kustomize
#   sandbox    render: the render sandbox (a child process per render) vs rendering in
#              process, 1,000 plain objects and a 200-object Helm chart from git
#   secrets    render: 1,000 objects from git of which 100 are SOPS/age-encrypted Secrets
#              (decrypted, MAC verified) vs the same Secrets in clear, in process and in
#              the sandbox
# Full logs stay in $OUT (printed at the end).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3}
SKIP=${SKIP:-}
OUT=${REPORT:-${OUT:-$(mktemp -d /tmp/gitopsd-bench-results.XXXXXX)}}
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

if [ -z "${REPORT:-}" ]; then
	say "machine: $(nproc) cores, $(uptime | sed 's/.*load/load/')"
	LOAD_BEFORE=$(uptime | sed 's/.*load average: //')
	START=$SECONDS

	say "building: test bed (etcd, kube-apiserver, kubectl) and gitopsd"
	testbed/build.sh >&2 || { echo "bench.sh: testbed/build.sh failed" >&2; exit 1; }
	$GO build -o /dev/null . || exit 1
	# Compile the benchmark binaries now, so that no step's bound is spent compiling.
	mkdir -p "$OUT/bin" && $GO test -c -o "$OUT/bin/" ./bench/validate ./bench/deploy ./kube ./render || exit 1

	if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then
		step transport 420 bench/transport/run.sh
	else
		say "transport: skipped (needs root and /usr/sbin/sshd: apt-get install -y openssh-server)"
		echo "skipped: needs root and sshd" >"$OUT/transport.log"
	fi
	gobench validate 360 ./bench/validate . "${RUNS}x"
	gobench deploy 300 ./bench/deploy 'BenchmarkPushApply$' "${RUNS}x"
	gobench healthy 360 ./bench/deploy 'BenchmarkPushHealthy$' 1x
	gobench drift 300 ./kube 'BenchmarkDrift5000$' "${RUNS}x"
	gobench kube 240 ./kube 'BenchmarkVsKubectl$' 1x
	gobench render 180 ./render 'BenchmarkPlain1000Git$|BenchmarkHelm1000$|BenchmarkKustomize1000$' 1s
	# The render sandbox against rendering in process, the same inputs run the same way.
	gobench sandbox 180 ./render 'BenchmarkPlain1000Git$|BenchmarkSandboxPlain1000Git$|BenchmarkHelm200Git$|BenchmarkSandboxHelm200Git$' 20x
	gobench secrets 180 ./render 'BenchmarkSecrets1000Git$|BenchmarkSecretsClear1000Git$|BenchmarkSandboxSecrets1000Git$|BenchmarkSandboxSecretsClear1000Git$' 20x
else
	LOAD_BEFORE="(not measured: REPORT)"
	START=$SECONDS
fi

# metric LOG BENCHMARK UNIT: the value of UNIT on BENCHMARK's result line ("" if absent).
metric() {
	[ -f "$OUT/$1.log" ] || return 0
	awk -v name="$2" -v unit="$3" '
		$1 == name || index($1, name "-") == 1 && substr($1, length(name) + 2) ~ /^[0-9]+$/ {
			for (i = 2; i < NF; i++) if ($(i + 1) == unit) { print $i; exit }
		}' "$OUT/$1.log"
}
# Formatting helpers; an empty figure prints as $MISSING: "failed" (see the step's log),
# or "skipped" for a step left out (set by missing STEP before each step's rows).
MISSING=failed
missing() { grep -q '^skipped' "$OUT/$1.log" 2>/dev/null && MISSING=skipped || MISSING=failed; }
secs() { [ -n "$1" ] && printf '%.2f s' "$1" || echo "$MISSING"; }
nsms() { [ -n "$1" ] && awk -v v="$1" 'BEGIN { printf "%.0f ms", v / 1e6 }' || echo "$MISSING"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo -; }

ROWS=()
# row NAME GITOPSD BASELINE RATIO TARGET [MET]
row() { ROWS+=("$1|$2|$3|$4|$5|${6:-}"); }
# met SECONDS MAX_SECONDS RATIO MAX_RATIO: "yes" or "no" against whichever bounds are given
# ("" for a bound that does not apply), "?" when a figure is missing.
met() {
	awk -v s="$1" -v ms="$2" -v r="$3" -v mr="$4" 'BEGIN {
		if ((ms != "" && s == "") || (mr != "" && r == "")) { print "?"; exit }
		ok = (ms == "" || s + 0 < ms + 0) && (mr == "" || r + 0 <= mr + 0)
		print ok ? "yes" : "no" }'
}
num() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

# Transport: its own table's median lines.
if grep -q '^gitopsd ' "$OUT/transport.log" 2>/dev/null; then
	read -r _ gpush gfetch gclone < <(grep '^gitopsd ' "$OUT/transport.log")
	read -r _ _ _ _ opush ofetch oclone < <(grep '^OpenSSH sshd + git-shell' "$OUT/transport.log")
	for op in push fetch clone; do
		g=g$op o=o$op
		label="transport: $op"
		[ $op = fetch ] && label="transport: fetch (bare clone)"
		[ $op = clone ] && label="transport: clone + checkout"
		row "$label" "$(secs "${!g}")" "$(secs "${!o}") sshd" "$(ratio "${!g}" "${!o}")" "<= 1.20x" "$(met "" "" "$(num "${!g}" "${!o}")" 1.2)"
	done
else
	row "transport (bench/transport/run.sh)" "$(grep -q '^skipped' "$OUT/transport.log" 2>/dev/null && echo skipped || echo failed)" - - "<= 1.20x"
fi

missing validate
# Validation: the checks as the daemon times them in the push output (render, policies,
# server-side dry run, preview), the whole push as the pusher waits for it (SSH, the pack,
# the hook, the checks), and the same pipeline in-process without git or SSH.
for c in plain-1000:"1,000 new" plain-1000-update:"1,000, 10 changed" helm-200:"Helm 200"; do
	id=${c%%:*} label=${c#*:}
	maxs=""
	case $id in plain-1000*) maxs=2 ;; esac
	target="<= 0.50x"
	[ -n "$maxs" ] && target="< 2 s, <= 0.50x"
	k=$(metric validate "BenchmarkPush/$id" kubectl-s/op)
	g=$(metric validate "BenchmarkPush/$id" checks-s/op)
	row "validate $label: checks in daemon" "$(secs "$g")" "$(secs "$k") kubectl" "$(ratio "$g" "$k")" "$target" "$(met "$g" "$maxs" "$(num "$g" "$k")" 0.5)"
	g=$(metric validate "BenchmarkPush/$id" gitopsd-s/op)
	row "  whole push -o dry-run (SSH, pack, hook)" "$(secs "$g")" "$(secs "$k") kubectl" "$(ratio "$g" "$k")" "<= 0.50x" "$(met "$g" "" "$(num "$g" "$k")" 0.5)"
	g=$(metric validate "BenchmarkChecker/$id" gitopsd-s/op)
	row "  Checker alone, in-process" "$(secs "$g")" "$(secs "$k") kubectl" "$(ratio "$g" "$k")" "$target" "$(met "$g" "$maxs" "$(num "$g" "$k")" 0.5)"
	a=$(metric validate "BenchmarkPush/$id" kube-apiserver-cpu-s/op) e=$(metric validate "BenchmarkPush/$id" etcd-cpu-s/op)
	d=$(metric validate "BenchmarkPush/$id" gitopsd-cpu-s/op)
	if [ -n "$a" ] && [ -n "$e" ] && [ -n "$d" ]; then
		row "  CPU per push: API server+etcd, gitopsd" "$(printf '%.2f s' "$d")" "$(printf '%.2f s server (%.2f s on 2 cores)' "$(awk -v a="$a" -v e="$e" 'BEGIN{print a+e}')" "$(awk -v a="$a" -v e="$e" 'BEGIN{print (a+e)/2}')")" - "(the server's share is a floor)"
	fi
done

missing deploy
for n in 50 500; do
	m() { metric deploy "BenchmarkPushApply/configmaps-$n" "$1"; }
	g=$(m gitopsd-s/op) base=$(m baseline-s/op) gssh=$(m git-ssh-s/op) gfile=$(m git-file-s/op) kb=$(m kubectl-s/op)
	via=sshd gb=$gssh
	[ -z "$gssh" ] && via=file gb=$gfile
	detail=""
	[ -n "$gb" ] && [ -n "$kb" ] && detail=$(printf ' (%s git %.2f + kubectl %.2f)' "$via" "$gb" "$kb")
	row "push-to-applied, $n ConfigMaps" "$(secs "$g")" "$(secs "$base")$detail" "$(ratio "$g" "$base")" "<= 1.00x" "$(met "" "" "$(num "$g" "$base")" 1)"
	if [ -n "$gssh" ] && [ -n "$gfile" ] && [ -n "$kb" ]; then
		floor=$(awk -v a="$gfile" -v b="$kb" 'BEGIN { print a + b }')
		row "  same, baseline git over file://" "" "$(secs "$floor") (file git $(printf %.2f "$gfile") + kubectl)" "$(ratio "$g" "$floor")" "(no transport: a floor)"
	fi
done

missing healthy
# Push-to-healthy: the baseline's parts are git push, then kubectl apply + rollout status.
for c in new-500:"push-to-healthy, 500 new (167 Deployments)":"<= 0.80x":0.8 \
	change-1-in-500:"push-to-healthy, 1 Deployment changed in 500":"<= 0.30x":0.3 \
	change-1-in-500-settle-1ms:"  same, apply.settle 1ms (default 5 s)":"(what the settle costs)":; do
	IFS=: read -r id label target max <<<"$c"
	m() { metric healthy "BenchmarkPushHealthy/$id" "$1"; }
	g=$(m gitopsd-s/op) base=$(m baseline-s/op) ka=$(m kubectl-apply-s/op) kw=$(m kubectl-wait-s/op)
	via=git gb=$(m git-ssh-s/op)
	[ -z "$gb" ] && via="file git" gb=$(m git-file-s/op)
	detail=""
	[ -n "$gb" ] && [ -n "$ka" ] && [ -n "$kw" ] && detail=$(printf ' (%s %.2f, kubectl %.2f+%.2f)' "$via" "$gb" "$ka" "$kw")
	row "$label" "$(secs "$g")" "$(secs "$base")$detail" "$(ratio "$g" "$base")" "$target" "$([ -n "$max" ] && met "" "" "$(num "$g" "$base")" "$max")"
done

missing drift
d=$(metric drift BenchmarkDrift5000 ns/op)
[ -n "$d" ] && d=$(num "$d" 1e9)
row "drift scan, 5,000 live objects" "$(secs "$d")" - - "< 5 s" "$(met "$d" 5 "" "")"
req=$(metric drift BenchmarkDrift5000 requests/op)
row "drift scan: API requests (2 kinds)" "$(printf '%.0f' "${req:-0}" | sed "s/^0$/$MISSING/")" - - "grows with kinds, not objects"
heap=$(metric drift BenchmarkDrift5000 peak-heap-MB)
row "drift scan: peak heap (whole process)" "${heap:+$heap MB}" - - -

missing kube
for c in dry-run-1000:"kube engine: dry-run 1,000 objects" apply-500:"kube engine: apply 500 objects"; do
	id=${c%%:*} label=${c#*:}
	g=$(metric kube "BenchmarkVsKubectl/$id" gitopsd-s/op)
	k=$(metric kube "BenchmarkVsKubectl/$id" kubectl-s/op)
	row "$label" "$(secs "$g")" "$(secs "$k") kubectl" "$(ratio "$g" "$k")" -
done

missing render
for c in Plain1000Git:"render 1,000: plain YAML from git" Helm1000:"render 1,000: Helm chart" Kustomize1000:"render 1,000: Kustomize overlay"; do
	id=${c%%:*} label=${c#*:}
	row "$label" "$(nsms "$(metric render "Benchmark$id" ns/op)")" - - -
done

missing sandbox
for c in Plain1000Git:"render sandbox: 1,000 plain objects" Helm200Git:"render sandbox: 200-object Helm chart"; do
	id=${c%%:*} label=${c#*:}
	in=$(metric sandbox "Benchmark$id" ns/op)
	sb=$(metric sandbox "BenchmarkSandbox$id" ns/op)
	r=$(num "$sb" "$in")
	row "$label" "$(nsms "$sb")" "$(nsms "$in") in process" "$(ratio "$sb" "$in")" "<= 1.10x in process" "$(met "" "" "$r" 1.10)"
done

missing secrets
# SOPS: the same 1,000 objects with their 100 Secrets encrypted, against them in clear.
for c in Secrets1000Git:"render 1,000 with 100 SOPS Secrets" SandboxSecrets1000Git:"  same, in the render sandbox"; do
	id=${c%%:*} label=${c#*:}
	enc=$(metric secrets "Benchmark$id" ns/op)
	clear=$(metric secrets "Benchmark${id/Secrets/SecretsClear}" ns/op)
	row "$label" "$(nsms "$enc")" "$(nsms "$clear") in clear" "$(ratio "$enc" "$clear")" -
done

LOAD_AFTER=$(uptime | sed 's/.*load average: //')
echo
printf '%-44s %9s  %-40s %6s  %-30s %s\n' benchmark gitopsd baseline ratio target met
printf '%s\n' "$(printf '%.0s-' $(seq 1 136))"
for r in "${ROWS[@]}"; do
	IFS='|' read -r name g base rat target ok <<<"$r"
	printf '%-44s %9s  %-40s %6s  %-30s %s\n' "$name" "$g" "$base" "$rat" "$target" "$ok"
done
echo
# Where gitopsd's time goes, as the daemon reports it in the push output (last push of
# each benchmark).
awk '/^--- BENCH: / { name = $3; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name) }
	/own (timing|report) of the last push: / {
		if (!(name in last)) { order[++n] = name; if (length(name) > w) w = length(name) }
		t = $0; sub(/.*of the last push: /, "", t); last[name] = t }
	END { for (i = 1; i <= n; i++) printf "  %-" (w + 1) "s %s\n", order[i] ":", last[order[i]] }' \
	"$OUT"/validate.log "$OUT"/deploy.log "$OUT"/healthy.log 2>/dev/null
echo
echo "ratio = gitopsd / baseline (lower is better). Go benchmarks: $RUNS runs each, mean (push-to-healthy:"
echo "  1 run each); transport: median."
echo "baselines: sshd = OpenSSH sshd + git-shell on loopback; kubectl = the test bed's kubectl v1.37.2"
echo "  (an exec per run, discovery cache warm) against the same API server; push-to-applied's"
echo "  git push goes to a bare repo served by sshd (as the current user), and over file://."
echo "  push-to-healthy runs on the living cluster (kwok nodes); its baseline is git push to sshd,"
echo "  kubectl apply --server-side, then kubectl rollout status of the Deployments (apply+rollout);"
echo "  gitopsd holds each new or changed workload healthy for apply.settle (default 5 s) first."
echo "machine: $(nproc) cores; load average before $LOAD_BEFORE, after $LOAD_AFTER; $(( (SECONDS - START) / 60 )) min $(( (SECONDS - START) % 60 )) s"
echo "logs: $OUT"
