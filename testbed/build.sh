#!/usr/bin/env bash
# Builds the test bed binaries into $TESTBED_BIN
# (default: .testbed/bin at the top of the repository, ignored by git):
#   etcd, kube-apiserver                      the API server and its store (every test)
#   kube-controller-manager, kube-scheduler   controllers and scheduling (the living cluster)
#   kwok                                      the kubelet of simulated nodes (the living cluster)
#   kubectl                                   the benchmarks' hand-made baseline
#
# A stamp file records what the binaries were built from (the go.mod/go.sum files and
# this script); they are rebuilt only when it changes or a binary is missing, because the
# cold build of kube-apiserver takes about ten minutes on two cores.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bin=${TESTBED_BIN:-$top/.testbed/bin}
mkdir -p "$bin"

k8s_version=v1.37.2
stamp_want=$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" \
	"$here/kwok/go.mod" "$here/kwok/go.sum" "$here"/*/main.go "$0" | sha256sum | cut -d' ' -f1)
stamp_file=$bin/.stamp

up_to_date() {
	[ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_want" ] || return 1
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl; do [ -x "$bin/$b" ] || return 1; done
}

if up_to_date; then
	echo "testbed: binaries in $bin are up to date"
	exit 0
fi

# -X flags so that discovery reports the real version (Helm's kubeVersion checks need it).
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"

start=$(date +%s)
# build DIR NAME PACKAGE LDFLAGS: one binary, written whole or not at all.
build() {
	echo "testbed: building $2 ($(( $(date +%s) - start ))s so far)..."
	(cd "$1" && go build -trimpath -ldflags "$4" -o "$bin/$2.new" "$3" && mv "$bin/$2.new" "$bin/$2")
}
# kube-apiserver first: it is the long one (about 10 minutes cold); the controller manager,
# the scheduler and kubectl share most of its packages and take 2-4 minutes more together.
build "$here/etcd" etcd . "-s -w"
build "$here" kube-apiserver ./kube-apiserver "$ldflags"
build "$here" kube-controller-manager ./kube-controller-manager "$ldflags"
build "$here" kube-scheduler ./kube-scheduler "$ldflags"
build "$here/kwok" kwok sigs.k8s.io/kwok/cmd/kwok "-s -w"
build "$here" kubectl ./kubectl "$ldflags"
echo "$stamp_want" > "$stamp_file"
echo "testbed: done in $(( $(date +%s) - start ))s: $bin"
