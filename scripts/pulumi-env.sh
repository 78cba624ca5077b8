# Sourced by the lifecycle scripts (with $stack set): chooses which Pulumi CLI runs.
#   installed  your own `pulumi` (v$min_pulumi or newer) with its normal plugin handling: it downloads the
#              providers the program needs. The default for every stack but the sandbox when `pulumi` is on PATH.
#   offline    the CLI, Go language host and Kubernetes provider built from Go modules into the cache
#              (scripts/toolchain.sh), local state, no plugin downloads. Always used by the sandbox, and wherever no
#              `pulumi` is installed. Force either with SELDON_AB_TOOLCHAIN=installed|offline.
min_pulumi=3.274.1 # the version this project pins and tests (scripts/toolchain.sh)
project_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
toolchain_mode=${SELDON_AB_TOOLCHAIN:-auto}
if [ "$toolchain_mode" = auto ]; then
  toolchain_mode=offline
  if [ "${stack:-sandbox}" != sandbox ] && command -v pulumi >/dev/null 2>&1; then toolchain_mode=installed; fi
fi
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$project_root/.state/pulumi}
export PULUMI_SKIP_UPDATE_CHECK=1
# The Go language host links the program into a new file on every preview and up: without the symbol table and
# DWARF (-s) the link takes 3.3 s instead of 4.4 s here (100 MB of binary); stack traces keep their names and lines.
case " ${GOFLAGS:-} " in *" -ldflags="*) ;; *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-ldflags=-s" ;; esac
case $toolchain_mode in
  installed)
    installed_version=$(pulumi version 2>/dev/null | sed 's/^v//')
    if [ "$(printf '%s\n%s\n' "$min_pulumi" "$installed_version" | sort -V | head -n 1)" != "$min_pulumi" ]; then
      printf '\033[31m[pulumi]\033[0m the installed pulumi is v%s; this project needs v%s or newer: upgrade it, or run with SELDON_AB_TOOLCHAIN=offline to build and use the local toolchain\n' \
        "${installed_version:-unknown}" "$min_pulumi" >&2
      return 1
    fi
    toolchain_bin=$(dirname "$(command -v pulumi)")
    printf '\033[1m[pulumi]\033[0m using the installed Pulumi CLI v%s and its plugin handling (SELDON_AB_TOOLCHAIN=offline for the local toolchain)\n' "$installed_version" >&2
    ;;
  offline)
    toolchain_bin=$("$(dirname "${BASH_SOURCE[0]}")/toolchain.sh" pulumi language-host kubernetes-provider | tail -n 1)
    export PATH=$toolchain_bin:$PATH
    export PULUMI_HOME=${PULUMI_HOME:-${SELDON_AB_CACHE:-$HOME/.cache/seldon-ab}/pulumi-home}
    # Without this a missing plugin makes Pulumi try a download: network traffic the offline mode never sends.
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
    export PULUMI_IGNORE_AMBIENT_PLUGINS=true
    if [ ! -d "$PULUMI_HOME/plugins/resource-kubernetes-v4.25.0" ]; then
      pulumi plugin install resource kubernetes 4.25.0 --file "$toolchain_bin/pulumi-resource-kubernetes" >&2
    fi
    ;;
  *)
    printf '\033[31m[pulumi]\033[0m SELDON_AB_TOOLCHAIN=%s: use installed or offline\n' "$toolchain_mode" >&2
    return 1
    ;;
esac
case $PULUMI_BACKEND_URL in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" 2>/dev/null || true ;; esac
