#!/usr/bin/env bash
# Every test tier: the unit and mock tiers, and the sandbox tier (build tag `sandbox`: a real API server, the real
# Pulumi engine, the real MinIO, rclone and MetalLB controller). The toolchain is built or reused first; the
# sandbox tests start their own local cluster ("sandbox-test") and stop it when they end.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false
scripts/toolchain.sh >/dev/null
# A test binary killed by its timeout cannot stop its cluster: this does.
trap 'scripts/cluster.sh down sandbox-test >/dev/null 2>&1 || true' EXIT
start=$SECONDS
# -count=1: the sandbox tier depends on a live cluster, so a cached pass proves nothing.
go test -count=1 -tags sandbox -timeout 60m ./...
echo "[test] all tiers passed in $((SECONDS - start)) s" >&2
