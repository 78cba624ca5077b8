#!/usr/bin/env bash
# Runs the post-deploy verifier against a deployed stack, using its verifyCommand output.
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
command=$(pulumi stack output verifyCommand --stack "$stack") || { echo "[verify] no verifyCommand output: run 'make up STACK=$stack' first" >&2; exit 1; }
[ "${DEMO:-}" = 1 ] && command=${command/ verify / demo }
eval "$command $(printf '%q ' "$@")"
