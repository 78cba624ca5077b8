# Sourced by the lifecycle scripts: puts the locally built Pulumi CLI, Go language host and Kubernetes provider on
# the path, with local state and no network plugin downloads.
toolchain_bin=$("$(dirname "${BASH_SOURCE[0]}")/toolchain.sh" pulumi language-host kubernetes-provider | tail -n 1)
project_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$toolchain_bin:$PATH
export PULUMI_HOME=${PULUMI_HOME:-${SELDON_AB_CACHE:-$HOME/.cache/seldon-ab}/pulumi-home}
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$project_root/.state/pulumi}
export PULUMI_SKIP_UPDATE_CHECK=1
# Without this a missing plugin makes Pulumi try a download: network traffic this machine must never send.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
mkdir -p "${PULUMI_BACKEND_URL#file://}" 2>/dev/null || true
if [ ! -d "$PULUMI_HOME/plugins/resource-kubernetes-v4.25.0" ]; then
  pulumi plugin install resource kubernetes 4.25.0 --file "$toolchain_bin/pulumi-resource-kubernetes" >&2
fi
