#!/usr/bin/env bash
# Writes every Kubernetes object the stack would apply (charts rendered, secrets masked) as YAML into a directory,
# changing nothing: the stack is previewed with an empty, throwaway state. Needs the stack's cluster reachable
# (helm/v4 renders charts against it). Usage: scripts/render.sh [stack] [out-dir]   (default: sandbox, out/<stack>)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stack=${1:-${STACK:-sandbox}}
out=${2:-$(cd "$here/.." && pwd)/out/$stack}
. "$here/pulumi-env.sh"
# RENDER_CONFIG_FILE: another copy of the stack's config (the tests aim it at their own cluster).
config=()
if [ -n "${RENDER_CONFIG_FILE:-}" ]; then
  config=(--config-file "$RENDER_CONFIG_FILE")
elif [ "$stack" = sandbox ]; then
  "$here/cluster.sh" up sandbox >/dev/null
fi
[ "$stack" = sandbox ] && export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-sandbox}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
export PULUMI_BACKEND_URL=file://$state
cd "$project_root"
pulumi stack init "$stack" --secrets-provider passphrase >/dev/null
pulumi preview --stack "$stack" "${config[@]}" --json >"$state/preview.json" || { echo "[render] preview failed:" >&2; cat "$state/preview.json" >&2; exit 1; }
rm -rf "$out"
go run ./cmd/seldon-ab render --preview "$state/preview.json" --out "$out"
