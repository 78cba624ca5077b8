#!/usr/bin/env bash
# Runs the post-deploy verifier against a deployed stack, with the arguments of its verifyArgs output (no shell
# re-parsing: seldon-ab reads them from the JSON itself).
# Usage: scripts/verify.sh [stack] [extra seldon-ab verify flags...]   e.g. scripts/verify.sh homelab --svg out.svg
#        DEMO=1 scripts/verify.sh homelab     many requests, several workers and a progress bar
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stack=${1:-${STACK:-homelab}}; shift || true
if [ "$stack" = sandbox ]; then
  # Its LoadBalancer IPs are simulated (homelab addresses nothing here owns) and no container serves: never call them.
  echo "[verify] the sandbox has no data plane to call; verify a real cluster's stack (e.g. homelab)" >&2
  exit 2
fi
. "$here/pulumi-env.sh"
cd "$project_root"
args_file=$(mktemp)
trap 'rm -f "$args_file"' EXIT
pulumi stack output verifyArgs --json --stack "$stack" >"$args_file" ||
  { echo "[verify] no verifyArgs output: run 'make up STACK=$stack' first" >&2; exit 1; }
mode=verify
[ "${DEMO:-}" = 1 ] && mode=demo
go run ./cmd/seldon-ab "$mode" --args-json "$args_file" "$@"
