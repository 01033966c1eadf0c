#!/usr/bin/env bash
# Builds the test bed binaries (etcd, kube-apiserver, kubectl) into $TESTBED_BIN
# (default: .testbed/bin at the top of the repository, ignored by git).
#
# A stamp file records what the binaries were built from (the two go.mod/go.sum pairs and
# this script); they are rebuilt only when it changes or a binary is missing, because the
# cold build of kube-apiserver takes about ten minutes on two cores.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bin=${TESTBED_BIN:-$top/.testbed/bin}
mkdir -p "$bin"

k8s_version=v1.37.2
stamp_want=$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" "$here"/*/main.go "$0" | sha256sum | cut -d' ' -f1)
stamp_file=$bin/.stamp

up_to_date() {
	[ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_want" ] || return 1
	for b in etcd kube-apiserver kubectl; do [ -x "$bin/$b" ] || return 1; done
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
echo "testbed: building etcd (about 1 minute on a cold cache)..."
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.new" . && mv "$bin/etcd.new" "$bin/etcd")
echo "testbed: building kube-apiserver $k8s_version (about 10 minutes on a cold cache)..."
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver.new" ./kube-apiserver && mv "$bin/kube-apiserver.new" "$bin/kube-apiserver")
echo "testbed: building kubectl $k8s_version (benchmark baseline)..."
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$bin/kubectl.new" ./kubectl && mv "$bin/kubectl.new" "$bin/kubectl")
echo "$stamp_want" > "$stamp_file"
echo "testbed: done in $(( $(date +%s) - start ))s: $bin"
