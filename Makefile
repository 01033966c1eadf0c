# gitopsd: the two commands a newcomer needs are `make dev` and `make test`.
GO       ?= go
BIN      := bin/gitopsd
TESTBED  := .testbed/bin
# Test timeout: the suite starts several real API servers and runs real git/ssh.
TEST_TIMEOUT ?= 40m

.PHONY: all build dev test testbed vet fuzz bench clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) .

# The real etcd + kube-apiserver (+ the living cluster's parts, kubectl for benchmark
# baselines and Prometheus for metric analysis), built from the Go module proxy. The first
# build takes about fifteen minutes; later runs reuse the binaries, and rebuild only one whose
# pin changed.
testbed:
	testbed/build.sh

# Start a local control plane and serve a demo repo on it.
dev: testbed build
	$(BIN) dev --bin-dir $(TESTBED)

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# Everything: vet, then every package under the race detector, integration tests included
# (they drive the real gitopsd binary with real git and ssh against real API servers).
test: testbed vet
	scripts/testdeps.sh
	@# The control plane's own tests first and verbose: the log shows the real kube-apiserver
	@# answering (create, get, server-side apply of a ConfigMap).
	GITOPSD_TESTBED_BIN=$(CURDIR)/$(TESTBED) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -v ./controlplane
	GITOPSD_TESTBED_BIN=$(CURDIR)/$(TESTBED) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/controlplane$$')

# Every benchmark (transport, validation, push-to-applied, drift, render), one table with
# baselines and ratios. Bounded: it stops by itself (about 15 minutes on two cores).
bench: testbed build
	scripts/bench.sh

fuzz:
	$(GO) test ./config -run '^$$' -fuzz FuzzParse -fuzztime 60s

clean:
	rm -rf bin
