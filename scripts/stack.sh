#!/usr/bin/env bash
# Stack lifecycle through the Pulumi CLI, the way homelab users run it: your installed pulumi, or the locally built
# toolchain for the sandbox and where none is installed (scripts/pulumi-env.sh says which).
# Usage: scripts/stack.sh up|preview|destroy|rebuild|refresh|recover|cancel|outputs [stack]   (default: sandbox)
# Extra pulumi flags go in PULUMI_ARGS. The sandbox stack starts its local cluster and uses the public sandbox
# passphrase; any other stack needs PULUMI_CONFIG_PASSPHRASE (or _FILE) and its own backend if not local.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
action=${1:?usage: scripts/stack.sh up|preview|destroy|rebuild|refresh|recover|cancel|outputs [stack]}
stack=${2:-${STACK:-sandbox}}

log() { printf '\033[1m[%s]\033[0m %s\n' "$stack" "$*" >&2; }
die() { printf '\033[31m[%s] FAILED:\033[0m %s\n' "$stack" "$*" >&2; exit 1; }

[ -f "$root/stacks/Pulumi.$stack.yaml" ] || die "no stack file stacks/Pulumi.$stack.yaml (stacks: $(ls "$root/stacks" | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p' | tr '\n' ' '))"

. "$here/pulumi-env.sh"

new_cluster=
if [ "$stack" = sandbox ]; then
  "$here/cluster.sh" status sandbox >/dev/null 2>&1 || new_cluster=1
  "$here/cluster.sh" up sandbox >/dev/null
  # The sandbox's credentials are throwaway and its passphrase is public (README); real stacks bring their own.
  export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-sandbox}
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  die "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for stack $stack"
fi

cd "$root"

# stale_lock prints "<pid> <file>" for a lock of this stack, in a local file backend, whose process no longer runs
# on this machine: what a killed `up` (closed terminal, Ctrl-C twice) leaves.
stale_lock() {
  local dir=${PULUMI_BACKEND_URL#file://}/.pulumi/locks f pid host
  case $PULUMI_BACKEND_URL in file://*) ;; *) return 0 ;; esac
  for f in "$dir"/*/*/"$stack"/*.json; do
    [ -f "$f" ] || continue
    pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$f")
    host=$(sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' "$f")
    if [ "$host" = "${HOSTNAME:-$(uname -n)}" ] && [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "$pid $f"
      return 0
    fi
  done
}
stale=$(stale_lock)
if [ -n "$stale" ] && [ "$action" != recover ]; then
  die "stack $stack is locked by process ${stale%% *}, which no longer runs on this machine (an interrupted update). Recover with: make recover STACK=$stack   (releases the lock and settles the interrupted creates), then run $action again"
fi

# A sandbox cluster that was just created (after a reboot, or `scripts/cluster.sh down`) holds nothing the stack's
# state lists: every update would fail on objects that are gone. The state is dropped, the stack file kept.
if [ -n "$new_cluster" ] && pulumi stack ls --json 2>/dev/null | grep -q '"name": *"sandbox"'; then
  log "a new sandbox cluster: dropping the stack state of the previous one (stacks/Pulumi.sandbox.yaml is kept)"
  pulumi stack rm sandbox --force --yes --preserve-config >/dev/null
fi
pulumi stack select --create "$stack" --secrets-provider passphrase >/dev/null
# The policies stop a broken stack at preview, so every preview and up runs them.
policy=()
case $action in up|preview|rebuild) policy=(--policy-pack "$("$here/policy-pack.sh")") ;; esac

yes=()
[ "$stack" = sandbox ] || [ "${YES:-}" = 1 ] && yes=(--yes)

timed() { # timed LABEL CMD...: runs CMD and reports its wall time
  local label=$1 start=$SECONDS; shift
  "$@"
  log "$label took $((SECONDS - start)) s"
}

# offline_seeds: the stack seeds artifacts (modelStore.seed) but no command resource runs the seeds
# (commands.enabled false). An agent that finds no files fails its Model for good, so `up` goes in three steps:
# everything but the experiment, the seeds (the stack's seedArgs output, exactly the command lines a command
# resource would run), then the rest. internal/sandbox.Env.Up does the same for the tests.
offline_seeds() {
  pulumi config get modelStore --stack "$stack" 2>/dev/null | grep -q '"seed"' || return 1
  ! pulumi config get commands --stack "$stack" 2>/dev/null | grep -q '"enabled": *true'
}
run_seeds() {
  local args_file
  args_file=$(mktemp)
  pulumi stack output seedArgs --json --stack "$stack" >"$args_file" || die "the stack has no seedArgs output"
  # The sandbox's MetalLB IPs are reached through its cluster network, never the LAN.
  [ "$stack" = sandbox ] && export HTTP_PROXY=$("$here/cluster.sh" proxy sandbox) NO_PROXY=127.0.0.1,localhost
  S3_ACCESS_KEY=$(pulumi config get modelStoreAccessKey --stack "$stack") \
    S3_SECRET_KEY=$(pulumi config get modelStoreSecretKey --stack "$stack") \
    go run ./cmd/seldon-ab seed --args-json "$args_file" || { rm -f "$args_file"; die "seeding failed (above)"; }
  rm -f "$args_file"
}
up() {
  local skip=()
  if [ ${#yes[@]} -gt 0 ]; then
    # Unattended: one preview of the whole program runs the policies before anything is touched, and the updates
    # skip their own (each `pulumi up` previews first, about 9 s of a cold sandbox up apiece). Asked for
    # confirmation instead, each update keeps its preview: it is what the user confirms.
    pulumi preview --stack "$stack" "${policy[@]}" ${PULUMI_ARGS:-}
    skip=(--skip-preview)
  fi
  if offline_seeds; then
    log "seeding without command resources: up to the model store, then the seeds, then the Models"
    pulumi up --stack "$stack" "${yes[@]}" "${skip[@]}" "${policy[@]}" ${PULUMI_ARGS:-} \
      --exclude "urn:pulumi:$stack::seldon-ab::seldon-ab:abtest:ABTest::ab-test" --exclude-dependents
    run_seeds
  fi
  pulumi up --stack "$stack" "${yes[@]}" "${skip[@]}" "${policy[@]}" ${PULUMI_ARGS:-}
}

case $action in
  up) timed up up ;;
  preview) pulumi preview --stack "$stack" --diff "${policy[@]}" ${PULUMI_ARGS:-} ;;
  destroy) timed destroy pulumi destroy --stack "$stack" "${yes[@]}" ${PULUMI_ARGS:-} ;;
  refresh) pulumi refresh --stack "$stack" "${yes[@]}" ${PULUMI_ARGS:-} ;;
  cancel) pulumi cancel --stack "$stack" --yes ;;
  recover)
    # Only a lock whose process is gone is released: a running update is never cancelled from here.
    if [ -n "$stale" ]; then
      log "releasing the lock of process ${stale%% *}, which no longer runs on this machine"
      pulumi cancel --stack "$stack" --yes
    fi
    # Resources the interrupted update was creating may or may not exist: refresh reads the cluster and settles them.
    pulumi refresh --stack "$stack" --yes --clear-pending-creates ${PULUMI_ARGS:-}
    log "recovered; run the update again (make up STACK=$stack)"
    ;;
  outputs) pulumi stack output --stack "$stack" ;;
  rebuild)
    start=$SECONDS
    timed destroy pulumi destroy --stack "$stack" --yes ${PULUMI_ARGS:-}
    yes=(--yes)
    timed up up
    log "rebuild (destroy + up) took $((SECONDS - start)) s"
    ;;
  *) die "unknown action '$action' (up, preview, destroy, rebuild, refresh, recover, cancel, outputs)" ;;
esac

if [ "$stack" = sandbox ] && { [ "$action" = up ] || [ "$action" = rebuild ]; }; then
  kubeconfig=$("$here/cluster.sh" kubeconfig sandbox)
  cat >&2 <<MSG
The outputs above say how to call the experiment (curl); on the sandbox nothing answers it: MinIO, the MetalLB
controller and rclone run for real there, but no inference server does. Seldon's conditions come from the model of
its control plane, whose agents downloaded the Models with rclone (scripts/cluster.sh status $stack shows it all).
Reach the cluster network (e.g. MinIO at minio.minio:9000) with HTTP_PROXY=\$(scripts/cluster.sh proxy $stack).
Look at it with kubectl (built with the toolchain):
  export KUBECONFIG=$kubeconfig PATH=$toolchain_bin:\$PATH
  kubectl get ns
  kubectl -n metallb-system get ipaddresspools,l2advertisements
  kubectl -n ingress-nginx get svc,ingressclass
  kubectl -n minio get deploy,svc,pvc,jobs
  kubectl -n seldon-system get seldonruntimes,servers,models,experiments,ingress
  go run ./cmd/seldon-ab doctor --kubeconfig $kubeconfig
Remove it: make sandbox-down
MSG
fi
