# Every target works on a fresh machine of this kind: the toolchain (Pulumi CLI, Go language host, Kubernetes
# provider, a local control plane) is built from Go modules into ~/.cache/seldon-ab on first use.
STACK ?= sandbox
export GOFLAGS := -buildvcs=false

.PHONY: sandbox sandbox-down test test-short lint build toolchain preview up destroy rebuild refresh recover cancel bench \
	timeline bench-verify policy-pack verify demo doctor

## The main job on the local default: a provisioned sandbox stack on a local cluster.
sandbox:
	scripts/stack.sh up sandbox

## Destroy the sandbox stack and stop its cluster.
sandbox-down:
	-scripts/stack.sh destroy sandbox
	scripts/cluster.sh down sandbox

## All tests: unit tiers plus the sandbox integration tests against a real API server and the real engine.
test: lint toolchain
	scripts/test.sh

## The fast unit tier (no toolchain, no cluster).
test-short:
	go test -short ./...

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...

build:
	go build ./...

toolchain:
	scripts/toolchain.sh

preview up destroy rebuild refresh recover cancel:
	scripts/stack.sh $@ $(STACK)

## Lifecycle wall times of the sandbox stack against a helm chain and kubectl of the same objects, three rounds;
## rewrites the README's generated Benchmarks table.
bench:
	scripts/toolchain.sh helm >/dev/null
	go run ./cmd/sandbox-bench --readme README.md

## Where a cold up's and a destroy's time goes: slowest steps, critical path, awaits vs API calls vs gaps.
timeline:
	go run ./cmd/sandbox-bench --timeline

## Verifier throughput against a plain Go HTTP loop at the same concurrency.
bench-verify:
	go test -run '^$$' -bench VerifierAgainstPlainLoop -benchtime 1x ./internal/verify/

policy-pack:
	scripts/policy-pack.sh

## Call the deployed experiment through the ingress (STACK=homelab); demo: many requests and a progress bar.
verify:
	scripts/verify.sh $(STACK)

demo:
	DEMO=1 scripts/verify.sh $(STACK)

## Diagnose the cluster of $KUBECONFIG (current context) against the known failure modes.
doctor:
	go run ./cmd/seldon-ab doctor
