#!/usr/bin/env bash
# Starts and stops the sandbox: a local Kubernetes control plane on loopback (kwokctl, binary runtime) and, with
# it, its helpers: cmd/sandbox-node (runs MinIO, the MetalLB controller and rclone pods as real local processes,
# and serves the cluster network as an HTTP proxy) and cmd/sandbox-seldon-model (sets the conditions and runs the
# finalizers that Seldon's controller, scheduler and agents would, downloading Models with a real rclone).
# "down" stops every process "up" started.
# Usage: scripts/cluster.sh up|down|status|kubeconfig|proxy [name]   (name defaults to "sandbox")
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
action=${1:-up}
name=${2:-sandbox}
state=$root/.state/clusters/$name
kubeconfig=$state/kubeconfig

log() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[cluster] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

bin=$("$here/toolchain.sh" kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok minio rclone metallb-controller | tail -n 1)
export KWOK_RUNTIME=binary KWOK_KUBE_VERSION=v1.35.4 KWOK_WORKDIR=$state/kwok
export KWOK_KUBE_APISERVER_BINARY=$bin/kube-apiserver KWOK_KUBE_CONTROLLER_MANAGER_BINARY=$bin/kube-controller-manager
export KWOK_KUBE_SCHEDULER_BINARY=$bin/kube-scheduler KWOK_KUBECTL_BINARY=$bin/kubectl
export KWOK_CONTROLLER_BINARY=$bin/kwok KWOK_ETCD_BINARY=$bin/etcd
kwokctl=$bin/kwokctl
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running() { [ -f "$kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1; }

# The sandbox's helpers, each in its own session so that an interrupt of the command that started it does not
# stop it ("down" does): sandbox-node runs the pods built here (MinIO, the MetalLB controller, rclone) as local
# processes and serves the cluster network as a proxy; sandbox-seldon-model stands in for Seldon's control plane.
helpers=(sandbox-node sandbox-seldon-model)
proxy_file=$state/proxy-url
helper_running() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }
start_helper() { # start_helper NAME ARG...
  local name=$1; shift
  helper_running "$name" && return
  log "starting $name (log: $state/$name.log)"
  setsid "$state/$name" "$@" </dev/null >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
  sleep 0.5
  helper_running "$name" || { cat "$state/$name.log" >&2; die "$name exited at start"; }
}
start_helpers() {
  (cd "$root" && GOFLAGS=-buildvcs=false go build -o "$state/" ./cmd/sandbox-node ./cmd/sandbox-seldon-model) ||
    die "could not build the sandbox's helpers (cmd/sandbox-node, cmd/sandbox-seldon-model)"
  if ! helper_running sandbox-node; then
    rm -f "$proxy_file"
    start_helper sandbox-node --kubeconfig "$kubeconfig" --bin "$bin" --state "$state/node" --proxy-url-file "$proxy_file"
  fi
  for _ in $(seq 50); do [ -s "$proxy_file" ] && break; sleep 0.1; done
  [ -s "$proxy_file" ] || die "sandbox-node wrote no proxy address; see $state/sandbox-node.log"
  start_helper sandbox-seldon-model --kubeconfig "$kubeconfig" --proxy "$(cat "$proxy_file")" --bin "$bin" --state "$state/agent"
}
stop_helpers() {
  local name
  for name in "${helpers[@]}"; do
    if helper_running "$name"; then kill "$(cat "$state/$name.pid")" 2>/dev/null || true; fi
    rm -f "$state/$name.pid"
  done
}

case $action in
  up)
    if running; then start_helpers; log "cluster $name is already running"; echo "$kubeconfig"; exit 0; fi
    mkdir -p "$state"
    # A cluster left half-made (machine restarted, process killed) is removed before it is made again.
    stop_helpers
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
    start_helpers
    log "cluster $name is up; kubeconfig: $kubeconfig"
    echo "$kubeconfig"
    ;;
  down)
    stop_helpers
    "$kwokctl" delete cluster --name "$name" --kubeconfig "$kubeconfig" >/dev/null 2>&1 || true
    rm -rf "$state"
    log "cluster $name removed"
    ;;
  status)
    if running; then kubectl get nodes; else log "cluster $name is not running"; exit 1; fi
    for h in "${helpers[@]}"; do
      if helper_running "$h"; then log "$h: pid $(cat "$state/$h.pid"), log $state/$h.log"
      else log "$h is not running (scripts/cluster.sh up $name starts it)"; fi
    done
    [ -s "$proxy_file" ] && log "cluster network (HTTP proxy): $(cat "$proxy_file")"
    ;;
  kubeconfig)
    echo "$kubeconfig"
    ;;
  proxy)
    # The cluster network for this machine's tools: HTTP_PROXY=$(scripts/cluster.sh proxy) reaches minio.minio:9000
    # or a MetalLB IP through the pods that run here, and nothing else.
    [ -s "$proxy_file" ] || die "cluster $name has no network proxy running (scripts/cluster.sh up $name)"
    cat "$proxy_file"
    ;;
  *) die "unknown action '$action' (up, down, status, kubeconfig, proxy)" ;;
esac
