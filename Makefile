# Every target works on a fresh machine of this kind: what a target needs (the Pulumi CLI and Kubernetes
# provider, the sandbox's control plane and real components) is built from Go modules into ~/.cache/seldon-ab on
# first use. Versions come from internal/pins/pins.env, the one source the scripts and the Go code share.
include internal/pins/pins.env

STACK ?= sandbox
export GOFLAGS := -buildvcs=false
SELDON_AB := bin/seldon-ab

# A stack command: yes for an unattended run (YES=1). The sandbox stack runs on its local cluster, started on
# demand, with its public passphrase and its cluster network as the proxy for seeds and verification.
ifeq ($(STACK),sandbox)
STACK_ENV = scripts/cluster.sh up sandbox >/dev/null && \
	PULUMI_CONFIG_PASSPHRASE=$${PULUMI_CONFIG_PASSPHRASE:-$(SANDBOX_PASSPHRASE)} SELDON_AB_PROXY=$$(scripts/cluster.sh proxy sandbox)
endif
YES_FLAG = $(if $(filter 1,$(YES)),--yes)

.PHONY: sandbox sandbox-down test test-unit lint build toolchain preview up destroy rebuild refresh recover outputs \
	render verify demo doctor bench bench-changes bench-scale timeline bench-verify $(SELDON_AB)

## The main job on the local default: the sandbox stack, up and verified, on a local cluster.
sandbox: $(SELDON_AB)
	$(MAKE) --no-print-directory up STACK=sandbox YES=1

## Destroy the sandbox stack and stop its cluster.
sandbox-down: $(SELDON_AB)
	-$(MAKE) --no-print-directory destroy STACK=sandbox YES=1
	scripts/cluster.sh down sandbox

## Every test tier: unit, mock graph, and the sandbox tier (real API server, real Pulumi engine, real MinIO,
## rclone and MetalLB controller). A plain `go test ./...` runs the unit and mock tiers only.
test: lint toolchain
	scripts/test.sh

## The unit and mock tiers (no toolchain, no cluster).
test-unit:
	go test ./...

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags sandbox ./...

build: $(SELDON_AB)

$(SELDON_AB):
	go build -o $@ ./cmd/seldon-ab

toolchain:
	scripts/toolchain.sh

## The stack lifecycle of $(STACK): seldon-ab <target> --stack $(STACK) (`seldon-ab <target> --help` says more).
up destroy rebuild recover: $(SELDON_AB)
	$(STACK_ENV) $(SELDON_AB) $@ --stack $(STACK) $(YES_FLAG)

preview: $(SELDON_AB)
	$(STACK_ENV) $(SELDON_AB) preview --stack $(STACK) --diff

refresh outputs render verify demo: $(SELDON_AB)
	$(STACK_ENV) $(SELDON_AB) $@ --stack $(STACK)

## Diagnose the cluster of $(STACK) against the known failure modes.
doctor: $(SELDON_AB)
	$(SELDON_AB) doctor --stack $(STACK)

## Lifecycle wall times of the sandbox stack against a helm chain and kubectl of the same objects, three rounds;
## writes docs/benchmarks.md's generated table.
bench:
	scripts/toolchain.sh helm >/dev/null
	go run ./tests/cmd/sandbox-bench --report docs/benchmarks.md

## What each change to a running stack costs in failed calls; writes docs/benchmarks.md's second generated table.
bench-changes:
	go run ./tests/cmd/sandbox-bench --changes --report docs/benchmarks.md

## How up, preview and destroy grow with the stack (1x, 4x, 16x its Models, Experiments and model namespaces), beside
## the helm chain and kubectl at each size; writes docs/benchmarks.md's third generated table.
bench-scale:
	scripts/toolchain.sh helm >/dev/null
	go run ./tests/cmd/sandbox-bench --scale --report docs/benchmarks.md

## Where a cold up's and a destroy's time goes: slowest steps, critical path, awaits vs API calls vs gaps.
timeline:
	go run ./tests/cmd/sandbox-bench --timeline

## Verifier throughput against a plain Go HTTP loop at the same concurrency.
bench-verify:
	go test -run '^$$' -bench VerifierAgainstPlainLoop -benchtime 1x ./internal/verify/
