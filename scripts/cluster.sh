#!/usr/bin/env bash
# Starts and stops the sandbox: a local Kubernetes control plane on loopback (kwokctl, binary runtime) and, with
# it, the model of Seldon's control plane (cmd/sandbox-seldon-model), which sets the conditions and runs the
# finalizers that Seldon's controller, scheduler and agents would. "down" stops every process "up" started.
# Usage: scripts/cluster.sh up|down|status|kubeconfig [name]   (name defaults to "sandbox")
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
action=${1:-up}
name=${2:-sandbox}
state=$root/.state/clusters/$name
kubeconfig=$state/kubeconfig

log() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[cluster] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

bin=$("$here/toolchain.sh" kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok | tail -n 1)
export KWOK_RUNTIME=binary KWOK_KUBE_VERSION=v1.35.4 KWOK_WORKDIR=$state/kwok
export KWOK_KUBE_APISERVER_BINARY=$bin/kube-apiserver KWOK_KUBE_CONTROLLER_MANAGER_BINARY=$bin/kube-controller-manager
export KWOK_KUBE_SCHEDULER_BINARY=$bin/kube-scheduler KWOK_KUBECTL_BINARY=$bin/kubectl
export KWOK_CONTROLLER_BINARY=$bin/kwok KWOK_ETCD_BINARY=$bin/etcd
kwokctl=$bin/kwokctl
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running() { [ -f "$kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1; }

model_pid=$state/seldon-model.pid
model_log=$state/seldon-model.log
model_running() { [ -f "$model_pid" ] && kill -0 "$(cat "$model_pid")" 2>/dev/null; }
start_model() {
  model_running && return
  log "starting the model of Seldon's control plane (log: $model_log)"
  (cd "$root" && GOFLAGS=-buildvcs=false go build -o "$state/sandbox-seldon-model" ./cmd/sandbox-seldon-model) ||
    die "could not build cmd/sandbox-seldon-model"
  # Its own session: an interrupt of the command that started it does not stop it; "down" does.
  setsid "$state/sandbox-seldon-model" --kubeconfig "$kubeconfig" </dev/null >"$model_log" 2>&1 &
  echo $! >"$model_pid"
  sleep 0.5
  model_running || { cat "$model_log" >&2; die "the model of Seldon's control plane exited at start"; }
}
stop_model() {
  if model_running; then kill "$(cat "$model_pid")" 2>/dev/null || true; fi
  rm -f "$model_pid"
}

case $action in
  up)
    if running; then start_model; log "cluster $name is already running"; echo "$kubeconfig"; exit 0; fi
    mkdir -p "$state"
    # A cluster left half-made (machine restarted, process killed) is removed before it is made again.
    stop_model
    "$kwokctl" delete cluster --name "$name" --kubeconfig "$kubeconfig" >/dev/null 2>&1 || true
    log "creating cluster $name (kube-apiserver, etcd, controller manager, scheduler, kwok on 127.0.0.1)"
    # kwokctl logs JSON lines; they go to a file and are shown only when something fails.
    quiet=$state/kwokctl.log
    "$kwokctl" create cluster --name "$name" --config "$here/sandbox/kwok.yaml" --kubeconfig "$kubeconfig" \
      --wait 2m >"$quiet" 2>&1 || { cat "$quiet" >&2; die "kwokctl could not create the cluster; logs: $state/kwok/clusters/$name/logs"; }
    kubectl config use-context "kwok-$name" >/dev/null
    log "adding two simulated nodes and static volumes"
    "$kwokctl" scale node --name "$name" --replicas 2 >>"$quiet" 2>&1 || { cat "$quiet" >&2; die "could not add nodes"; }
    kubectl apply -f "$here/sandbox/storage.yaml" >>"$quiet" 2>&1 || { cat "$quiet" >&2; die "could not add volumes"; }
    for _ in $(seq 60); do
      [ "$(kubectl get nodes --no-headers 2>/dev/null | grep -c ' Ready')" -ge 2 ] && break
      sleep 1
    done
    kubectl get nodes --no-headers | grep -q ' Ready' || die "nodes did not become Ready"
    start_model
    log "cluster $name is up; kubeconfig: $kubeconfig"
    echo "$kubeconfig"
    ;;
  down)
    stop_model
    "$kwokctl" delete cluster --name "$name" --kubeconfig "$kubeconfig" >/dev/null 2>&1 || true
    rm -rf "$state"
    log "cluster $name removed"
    ;;
  status)
    if running; then kubectl get nodes; else log "cluster $name is not running"; exit 1; fi
    if model_running; then log "model of Seldon's control plane: pid $(cat "$model_pid"), log $model_log"
    else log "the model of Seldon's control plane is not running (scripts/cluster.sh up $name starts it)"; fi
    ;;
  kubeconfig)
    echo "$kubeconfig"
    ;;
  *) die "unknown action '$action' (up, down, status, kubeconfig)" ;;
esac
