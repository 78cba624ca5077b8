#!/usr/bin/env bash
# Builds the policy pack (policies/pack) and prints its path, for `pulumi preview --policy-pack <path>`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.state/bin/policy-pack
mkdir -p "$(dirname "$out")"
(cd "$root" && GOFLAGS=-buildvcs=false go build -o "$out" ./policies/pack) || { echo "[policy-pack] FAILED to build" >&2; exit 1; }
echo "$out"
