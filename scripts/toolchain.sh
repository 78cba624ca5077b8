#!/usr/bin/env bash
# Builds, once, every binary the sandbox needs (Pulumi CLI, Kubernetes provider plugin, a Kubernetes control plane,
# etcd, kwok, the real MinIO, rclone and MetalLB controller, and the Go language host a plain `pulumi up` needs)
# from Go modules, into a cache outside the repository keyed by version.
# Nothing is downloaded from a release page: this machine reaches only the Go module proxy.
# Usage: scripts/toolchain.sh [component ...]   (default: all). Prints the bin directory last.
set -euo pipefail

# Every version comes from the one source the Go code embeds too.
. "$(cd "$(dirname "$0")/.." && pwd)/internal/pins/pins.env"
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4

CACHE=${SELDON_AB_CACHE:-$HOME/.cache/seldon-ab}
BIN=$CACHE/bin
SRC=$CACHE/src
mkdir -p "$BIN" "$SRC"
export GOFLAGS=-buildvcs=false
export GOTOOLCHAIN=local

log() { printf '\033[1m[toolchain]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[toolchain] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

# have NAME VERSION: true when BIN/NAME was built for VERSION (a stamp beside it records which).
have() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$BIN/.$1.version"; }

# step NAME VERSION FUNCTION: runs FUNCTION unless NAME is cached at VERSION, timing it.
step() {
  local name=$1 version=$2 fn=$3
  if have "$name" "$version"; then return; fi
  log "$name $version: building (this runs once per version)"
  local start=$SECONDS
  "$fn" || die "$name $version did not build; see the go output above"
  [ -x "$BIN/$name" ] || die "$name $version: build finished but $BIN/$name is missing"
  stamp "$name" "$version"
  log "$name $version: built in $((SECONDS - start)) s"
}

wrapper() { # wrapper DIR: a fresh scratch module to build a tool from its published module
  rm -rf "$1"; mkdir -p "$1"; printf 'module toolchain/wrapper\n\ngo 1.24\n' >"$1/go.mod"
}

build_pulumi() {
  local dir=$SRC/pulumi-cli-$PULUMI_VERSION
  wrapper "$dir"
  cat >>"$dir/go.mod" <<MOD
require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  # Without the version ldflag the Automation API refuses the CLI.
  (cd "$dir" && GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_language_host() {
  local dir=$SRC/pulumi-language-go-$LANGUAGE_HOST_SDK_VERSION
  wrapper "$dir"
  printf 'require github.com/pulumi/pulumi/sdk/v3 %s\n' "$LANGUAGE_HOST_SDK_VERSION" >>"$dir/go.mod"
  (cd "$dir" && GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGUAGE_HOST_SDK_VERSION" \
    -o "$BIN/pulumi-language-go" github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go)
}

module_dir() { # module_dir MODULE VERSION: the module's directory in the module cache
  (cd "$SRC" && go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

build_kubernetes_provider() {
  local provider_src sdk_src dir=$SRC/pulumi-kubernetes-provider-$K8S_PROVIDER_VERSION
  provider_src=$(module_dir "$K8S_PROVIDER_MODULE" "$K8S_PROVIDER_PSEUDO")
  sdk_src=$(module_dir github.com/pulumi/pulumi-kubernetes/sdk/v4 "v$K8S_PROVIDER_VERSION")
  [ -d "$provider_src" ] && [ -d "$sdk_src" ] || die "the module proxy did not serve the provider or its sdk"
  rm -rf "$dir"; cp -r "$provider_src" "$dir"; chmod -R u+w "$dir"
  # The provider's go.mod points its sdk at ../sdk (a monorepo path); point it at the served sdk module.
  sed -i "s#^\(replace \)\{0,1\}\([[:space:]]*github.com/pulumi/pulumi-kubernetes/sdk/v4 => \)\.\./sdk#\1\2$sdk_src#" "$dir/go.mod"
  grep -q "=> $sdk_src" "$dir/go.mod" || die "could not repoint the sdk replace in $dir/go.mod"
  (cd "$dir/cmd/pulumi-resource-kubernetes" && VERSION=$K8S_PROVIDER_VERSION GOFLAGS=-mod=mod go run ./generate.go)
  (cd "$dir" && GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
    -o "$BIN/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
}

kube_wrapper() { # the k8s.io/kubernetes module replaces its staging repos with ./staging paths; use the published ones
  local dir=$SRC/kubernetes-$KUBE_VERSION kube_src
  [ -f "$dir/.ready" ] && { echo "$dir"; return; }
  kube_src=$(module_dir k8s.io/kubernetes "$KUBE_VERSION")
  wrapper "$dir"
  {
    printf 'godebug default=go1.25\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBE_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#replace \1 => \1 '"$KUBE_STAGING_VERSION"'#p' "$kube_src/go.mod"
  } >>"$dir/go.mod"
  grep -q '^replace k8s.io/api ' "$dir/go.mod" || die "found no staging replaces in k8s.io/kubernetes go.mod"
  touch "$dir/.ready"; echo "$dir"
}

kube_build() { # kube_build NAME
  local dir pkg=version v=$KUBE_VERSION minor
  dir=$(kube_wrapper); minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ld" -o "$BIN/$1" "k8s.io/kubernetes/cmd/$1")
}
build_kube_apiserver() { kube_build kube-apiserver; }
build_kube_controller_manager() { kube_build kube-controller-manager; }
build_kube_scheduler() { kube_build kube-scheduler; }
build_kubectl() { kube_build kubectl; }

build_etcd() {
  local dir=$SRC/etcd-$ETCD_VERSION
  wrapper "$dir"
  printf 'require go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >>"$dir/go.mod"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  GOBIN=$BIN go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

# The sandbox's real components: the object store, the agent's downloader and MetalLB's IP allocator.
build_minio() { GOBIN=$BIN CGO_ENABLED=0 go install -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION"; }
build_rclone() { GOBIN=$BIN CGO_ENABLED=0 go install -ldflags "-s -w" "github.com/rclone/rclone@$RCLONE_VERSION"; }
build_metallb_controller() {
  local dir=$SRC/metallb-$METALLB_VERSION
  wrapper "$dir"
  printf 'require go.universe.tf/metallb %s\n' "$METALLB_VERSION" >>"$dir/go.mod"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$BIN/metallb-controller" go.universe.tf/metallb/controller)
}

# The Gateway API's standard-channel CRDs as its release's standard-install.yaml holds them (config/crd/standard),
# from the Go module: a manifest, not a binary, for stacks on machines that cannot reach the release page.
gateway_api_manifest() {
  local out=$CACHE/gateway-api/$GATEWAY_API_VERSION/standard-install.yaml src
  [ -s "$out" ] && return
  src=$(module_dir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")
  [ -d "$src/config/crd/standard" ] || die "the module proxy did not serve sigs.k8s.io/gateway-api $GATEWAY_API_VERSION"
  mkdir -p "$(dirname "$out")"
  for f in "$src"/config/crd/standard/*.yaml; do printf -- '---\n'; cat "$f"; done >"$out.tmp" && mv "$out.tmp" "$out"
  log "gateway-api $GATEWAY_API_VERSION: wrote $out"
}

build_helm() { GOBIN=$BIN CGO_ENABLED=0 go install -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; }

all=(pulumi language-host kubernetes-provider kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok minio rclone metallb-controller gateway-api)
# Built only when asked for: the benchmark's helm peer needs it, the sandbox and the tests do not.
optional=(helm)
want=("$@"); [ ${#want[@]} -gt 0 ] || want=("${all[@]}")
for c in "${want[@]}"; do
  case $c in
    pulumi) step pulumi "$PULUMI_VERSION" build_pulumi ;;
    language-host) step pulumi-language-go "$LANGUAGE_HOST_SDK_VERSION" build_language_host ;;
    kubernetes-provider) step pulumi-resource-kubernetes "$K8S_PROVIDER_VERSION" build_kubernetes_provider ;;
    kube-apiserver) step kube-apiserver "$KUBE_VERSION" build_kube_apiserver ;;
    kube-controller-manager) step kube-controller-manager "$KUBE_VERSION" build_kube_controller_manager ;;
    kube-scheduler) step kube-scheduler "$KUBE_VERSION" build_kube_scheduler ;;
    kubectl) step kubectl "$KUBE_VERSION" build_kubectl ;;
    etcd) step etcd "$ETCD_VERSION" build_etcd ;;
    kwok) have kwok "$KWOK_VERSION" && have kwokctl "$KWOK_VERSION" || { step kwok "$KWOK_VERSION" build_kwok; stamp kwokctl "$KWOK_VERSION"; } ;;
    minio) step minio "$MINIO_VERSION" build_minio ;;
    rclone) step rclone "$RCLONE_VERSION" build_rclone ;;
    metallb-controller) step metallb-controller "$METALLB_VERSION" build_metallb_controller ;;
    helm) step helm "$HELM_VERSION" build_helm ;;
    gateway-api) gateway_api_manifest ;;
    *) die "unknown component '$c' (known: ${all[*]} ${optional[*]})" ;;
  esac
done
echo "$BIN"
