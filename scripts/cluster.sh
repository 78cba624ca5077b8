#!/usr/bin/env bash
# Starts and stops the sandbox: a local Kubernetes control plane on loopback (kwokctl, binary runtime) and, with
# it, tests/cmd/sandboxd, which runs MinIO, the MetalLB controller and rclone pods as real local processes, serves
# the cluster network as an HTTP proxy, and simulates Seldon's controller, scheduler and agents (their agents
# download Models with a real rclone). "down" stops every process "up" started. Test harness only.
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

. "$root/internal/pins/pins.env"
bin=$("$here/toolchain.sh" kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok minio rclone metallb-controller | tail -n 1)
export KWOK_RUNTIME=binary KWOK_KUBE_VERSION=$KUBE_VERSION KWOK_WORKDIR=$state/kwok
export KWOK_KUBE_APISERVER_BINARY=$bin/kube-apiserver KWOK_KUBE_CONTROLLER_MANAGER_BINARY=$bin/kube-controller-manager
export KWOK_KUBE_SCHEDULER_BINARY=$bin/kube-scheduler KWOK_KUBECTL_BINARY=$bin/kubectl
export KWOK_CONTROLLER_BINARY=$bin/kwok KWOK_ETCD_BINARY=$bin/etcd
kwokctl=$bin/kwokctl
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running() { [ -f "$kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1; }

# sandboxd runs in its own session, so that an interrupt of the command that started it does not stop it ("down"
# does).
proxy_file=$state/proxy-url
pid_file=$state/sandboxd.pid
sandboxd_running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }
start_sandboxd() {
  sandboxd_running && return
  (cd "$root" && GOFLAGS=-buildvcs=false go build -o "$state/sandboxd" ./tests/cmd/sandboxd) ||
    die "could not build the sandbox's node (tests/cmd/sandboxd)"
  rm -f "$proxy_file"
  log "starting sandboxd (log: $state/sandboxd.log)"
  setsid "$state/sandboxd" --kubeconfig "$kubeconfig" --bin "$bin" --state "$state" --proxy-url-file "$proxy_file" \
    </dev/null >"$state/sandboxd.log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 50); do [ -s "$proxy_file" ] && break; sleep 0.1; done
  sandboxd_running || { cat "$state/sandboxd.log" >&2; die "sandboxd exited at start"; }
  [ -s "$proxy_file" ] || die "sandboxd wrote no proxy address; see $state/sandboxd.log"
}
stop_sandboxd() {
  if sandboxd_running; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  rm -f "$pid_file"
}

case $action in
  up)
    if running; then start_sandboxd; log "cluster $name is already running"; echo "$kubeconfig"; exit 0; fi
    mkdir -p "$state"
    # A cluster left half-made (machine restarted, process killed) is removed before it is made again.
    stop_sandboxd
    "$kwokctl" delete cluster --name "$name" --kubeconfig "$kubeconfig" >/dev/null 2>&1 || true
    log "creating cluster $name (kube-apiserver, etcd, controller manager, scheduler, kwok on 127.0.0.1)"
    # kwokctl logs JSON lines; they go to a file and are shown only when something fails.
    quiet=$state/kwokctl.log
    "$kwokctl" create cluster --name "$name" --config "$here/sandbox/kwok.yaml" --kubeconfig "$kubeconfig" \
      --wait 2m >"$quiet" 2>&1 || { cat "$quiet" >&2; die "kwokctl could not create the cluster; logs: $state/kwok/clusters/$name/logs"; }
    kubectl config use-context "kwok-$name" >/dev/null
    log "adding two simulated nodes and the storage class"
    "$kwokctl" scale node --name "$name" --replicas 2 >>"$quiet" 2>&1 || { cat "$quiet" >&2; die "could not add nodes"; }
    kubectl apply -f "$here/sandbox/storage.yaml" >>"$quiet" 2>&1 || { cat "$quiet" >&2; die "could not add the storage class"; }
    ready=0 deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
      ready=$(kubectl get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l || true)
      [ "$ready" -ge 2 ] && break
      sleep 1
    done
    [ "$ready" -ge 2 ] || die "$ready of 2 nodes Ready after 120 s: $(kubectl get nodes --no-headers 2>&1 | tr '\n' ';'); logs: $state/kwok/clusters/$name/logs"
    start_sandboxd
    log "cluster $name is up; kubeconfig: $kubeconfig"
    echo "$kubeconfig"
    ;;
  down)
    stop_sandboxd
    "$kwokctl" delete cluster --name "$name" --kubeconfig "$kubeconfig" >/dev/null 2>&1 || true
    rm -rf "$state"
    log "cluster $name removed"
    ;;
  status)
    if running; then kubectl get nodes; else log "cluster $name is not running"; exit 1; fi
    if sandboxd_running; then log "sandboxd: pid $(cat "$pid_file"), log $state/sandboxd.log"
    else log "sandboxd is not running (scripts/cluster.sh up $name starts it)"; fi
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
