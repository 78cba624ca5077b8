// Command sandboxd runs, beside the sandbox's control plane, everything a real cluster's nodes and Seldon would:
// the pods whose images are built here (MinIO, the MetalLB controller, rclone) as local processes, the cluster
// network served to this machine as an HTTP proxy (tests/internal/sandboxnode), the simulation of Seldon's
// control plane whose agents download Models through that network (tests/internal/seldonsim), and the data plane
// that answers requests as NGINX, envoy and MLServer would (tests/internal/dataplane). scripts/cluster.sh
// starts and stops it with the sandbox; it is never part of what the stack deploys.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seldon-ab/provisioner/tests/internal/dataplane"
	"github.com/seldon-ab/provisioner/tests/internal/ngfsim"
	"github.com/seldon-ab/provisioner/tests/internal/sandboxnode"
	"github.com/seldon-ab/provisioner/tests/internal/seldonsim"
	"github.com/seldon-ab/provisioner/tests/internal/wakeup"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the sandbox cluster's kubeconfig")
	bin := flag.String("bin", "", "the toolchain's bin directory (scripts/toolchain.sh)")
	stateDir := flag.String("state", "", "where pod directories, logs, volume data and the agents' model caches go")
	proxyFile := flag.String("proxy-url-file", "", "where to write the network proxy's URL")
	interval := flag.Duration("interval", 300*time.Millisecond, "time between reconcile passes while the cluster changes")
	idle := flag.Duration("idle", 2*time.Second, "longest time between reconcile passes once the cluster has not changed for --settle")
	settle := flag.Duration("settle", 10*time.Second, "how long after a change the passes stay --interval apart")
	flag.Parse()
	if *kubeconfig == "" || *bin == "" || *stateDir == "" || *proxyFile == "" {
		fail(fmt.Errorf("--kubeconfig, --bin, --state and --proxy-url-file are required (scripts/cluster.sh passes them)"))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fail(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fail(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	proxyURL := "http://" + listener.Addr().String()
	node := &sandboxnode.Node{Client: client, Bin: *bin, StateDir: filepath.Join(*stateDir, "node"), Kubeconfig: *kubeconfig,
		ProxyURL: proxyURL, Log: os.Stderr}
	network := &sandboxnode.Network{Node: node}
	agent := &seldonsim.RcloneAgent{Bin: *bin, StateDir: filepath.Join(*stateDir, "agent"), ProxyURL: proxyURL, Log: os.Stderr}
	defer agent.Stop()
	seldon := &seldonsim.ControlPlane{Client: dyn, Log: os.Stderr, Agent: agent}
	gateways := &ngfsim.Controller{Client: client, Dynamic: dyn, Log: os.Stderr}
	plane := &dataplane.Plane{Client: client, Network: network, Routes: seldon.Routes, Loaded: seldon.Loaded, Gateways: gateways.Graph}
	node.Simulators = []sandboxnode.Simulator{plane}
	go func() { fail(http.Serve(listener, network)) }()
	if err := os.WriteFile(*proxyFile, []byte(proxyURL+"\n"), 0o644); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "sandboxd: running pods of %s; network proxy %s; simulating Seldon's control plane and the data plane\n", cfg.Host, proxyURL)
	feed := &wakeup.Feed{Busy: *interval, Settle: *settle, Idle: *idle}
	feed.Watch(ctx, dyn, watched)
	defer node.StopAll()
	go feed.Run(ctx, "seldonsim", seldon.Reconcile, os.Stderr)
	go feed.Run(ctx, "dataplane", plane.SyncIngressStatus, os.Stderr)
	go feed.Run(ctx, "ngfsim", gateways.Reconcile, os.Stderr)
	feed.Run(ctx, "sandboxd", node.Reconcile, os.Stderr)
}

// watched are the resources the loops read: a change to any of them starts a pass. Nodes and Leases, which the
// sandbox's kwok and control plane renew every few seconds, are left out: no loop acts on a renewal (the node reads
// a Node only for its address).
var watched = []schema.GroupVersionResource{
	seldonsim.Pods, seldonsim.Services, seldonsim.EndpointSlices, seldonsim.Secrets, seldonsim.ServiceAccounts,
	seldonsim.Deployments, seldonsim.StatefulSets,
	{Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "namespaces"},
	{Version: "v1", Resource: "persistentvolumeclaims"}, {Version: "v1", Resource: "persistentvolumes"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"},
	seldonsim.SeldonRuntimes, seldonsim.SeldonConfigs, seldonsim.ServerConfigs, seldonsim.Servers, seldonsim.Models,
	seldonsim.Experiments,
	ngfsim.GatewayClasses, ngfsim.Gateways, ngfsim.HTTPRoutes, ngfsim.ReferenceGrants, ngfsim.NginxProxies,
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "sandboxd: %v\n", err)
	os.Exit(1)
}
