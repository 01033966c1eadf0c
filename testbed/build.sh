#!/usr/bin/env bash
# Builds the test bed binaries into $TESTBED_BIN
# (default: .testbed/bin at the top of the repository, ignored by git):
#   etcd, kube-apiserver                      the API server and its store (every test)
#   kube-controller-manager, kube-scheduler   controllers and scheduling (the living cluster)
#   kwok                                      the kubelet of simulated nodes (the living cluster)
#   kubectl                                   the benchmarks' hand-made baseline
#   prometheus                                metrics for progressive delivery's analysis
#
# Each binary has a stamp ($TESTBED_BIN/.stamp.NAME) that records what it was built from:
# its module's go.mod/go.sum, its main.go if it has one, the package and the build flags.
# A binary is rebuilt only when its stamp changes or it is missing, so that a new pin of
# one (Prometheus) does not relink the others: the cold build of kube-apiserver takes
# about ten minutes on two cores.
#
# Prometheus (github.com/prometheus/prometheus v0.316.0, cmd/prometheus) is built without
# its web UI: with the `builtinassets` tag web/ui does not compile from the module (its
# embed file and the UI's JavaScript come from an npm build the module does not carry), and
# without it the UI answers 500 while the HTTP API, all the tests use, works. It is built
# without the service discoveries of clouds and orchestrators too (`remove_all_sd`: static
# and file targets remain, which is how the tests name what to scrape). Measured here on
# two cores busy with other builds: 5 min 7 s from an empty Go build cache (4 min 15 s of
# CPU), 4 min 8 s from this machine's cache, which already held the packages it shares with
# the others; 52 MB (a `go install` with every discovery was 11.6 min and 147 MB). With
# every package in the cache, as in CI on this machine, the seven link in 40 s to 1.5 min.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bin=${TESTBED_BIN:-$top/.testbed/bin}
mkdir -p "$bin"

k8s_version=v1.37.2
prometheus_version=v0.316.0 # Prometheus 3.16.0; the pin is in prometheus/go.mod

# -X flags so that discovery reports the real version (Helm's kubeVersion checks need it).
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
prometheus_ldflags="-s -w -X github.com/prometheus/common/version.Version=3.16.0 \
 -X github.com/prometheus/common/version.Revision=$prometheus_version \
 -X github.com/prometheus/common/version.Branch=$prometheus_version"

# NAME MODULE-DIR PACKAGE TAGS LDFLAGS, one binary a line. kube-apiserver comes early: it
# is the long one (about 10 minutes cold); the controller manager, the scheduler and kubectl
# share most of its packages and take 2-4 minutes more together.
binaries=(
	"etcd|$here/etcd|.||-s -w"
	"kube-apiserver|$here|./kube-apiserver||$k8s_ldflags"
	"kube-controller-manager|$here|./kube-controller-manager||$k8s_ldflags"
	"kube-scheduler|$here|./kube-scheduler||$k8s_ldflags"
	"kwok|$here/kwok|sigs.k8s.io/kwok/cmd/kwok||-s -w"
	"kubectl|$here|./kubectl||$k8s_ldflags"
	"prometheus|$here/prometheus|github.com/prometheus/prometheus/cmd/prometheus|remove_all_sd|$prometheus_ldflags"
)

# stamp NAME MODULE-DIR PACKAGE TAGS LDFLAGS: what the binary is built from.
stamp() {
	local main=
	case $3 in ./*) main=$2/${3#./}/main.go ;; .) main=$2/main.go ;; esac
	{
		printf '%s\n' "$1" "$3" "$4" "$5"
		cat "$2/go.mod" "$2/go.sum"
		[ -z "$main" ] || cat "$main"
	} | sha256sum | cut -d' ' -f1
}

up_to_date() { # NAME WANT
	[ -x "$bin/$1" ] && [ -f "$bin/.stamp.$1" ] && [ "$(cat "$bin/.stamp.$1")" = "$2" ]
}

start=$(date +%s)
built=()
for line in "${binaries[@]}"; do
	IFS='|' read -r name dir pkg tags ldflags <<<"$line"
	want=$(stamp "$name" "$dir" "$pkg" "$tags" "$ldflags")
	up_to_date "$name" "$want" && continue
	echo "testbed: building $name ($(( $(date +%s) - start ))s so far)..."
	# Written whole or not at all, and stamped only once it is in place.
	(cd "$dir" && go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$bin/$name.new" "$pkg")
	mv "$bin/$name.new" "$bin/$name"
	echo "$want" >"$bin/.stamp.$name.new" && mv "$bin/.stamp.$name.new" "$bin/.stamp.$name"
	built+=("$name")
done
if [ ${#built[@]} = 0 ]; then
	echo "testbed: binaries in $bin are up to date"
else
	echo "testbed: built ${built[*]} in $(( $(date +%s) - start ))s: $bin"
fi
