#!/usr/bin/env bash
# The full test tier: unit tests, mock graph tests and the sandbox integration tests (real engine, real API server).
# The toolchain is built or reused first; the sandbox tests start their own local cluster ("sandbox-test").
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false
scripts/toolchain.sh >/dev/null
# The sandbox tests stop their cluster themselves; this also covers a test binary killed by its timeout.
trap 'scripts/cluster.sh down sandbox-test >/dev/null 2>&1 || true' EXIT
start=$SECONDS
# -count=1: the sandbox tests depend on a live cluster, so a cached pass proves nothing.
go test -count=1 -timeout 45m ./...
echo "[test] all tests passed in $((SECONDS - start)) s" >&2
