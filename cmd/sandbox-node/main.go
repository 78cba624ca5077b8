// Command sandbox-node runs, for the sandbox cluster, the pods whose images are built here (MinIO, the MetalLB
// controller, rclone) as local processes, and serves the cluster's network to this machine as an HTTP proxy
// (internal/sandboxnode). scripts/cluster.sh starts and stops it with the sandbox; it is never part of what the
// stack deploys.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seldon-ab/provisioner/internal/sandboxnode"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the sandbox cluster's kubeconfig")
	bin := flag.String("bin", "", "the toolchain's bin directory (scripts/toolchain.sh)")
	stateDir := flag.String("state", "", "where pod directories, logs and volume data go")
	proxyFile := flag.String("proxy-url-file", "", "where to write the network proxy's URL")
	interval := flag.Duration("interval", 300*time.Millisecond, "time between reconcile passes")
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
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	proxyURL := "http://" + listener.Addr().String()
	node := &sandboxnode.Node{Client: client, Bin: *bin, StateDir: *stateDir, Kubeconfig: *kubeconfig,
		ProxyURL: proxyURL, Log: os.Stderr}
	go func() { fail(http.Serve(listener, &sandboxnode.Network{Node: node})) }()
	if err := os.WriteFile(*proxyFile, []byte(proxyURL+"\n"), 0o644); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "sandbox-node: running pods of %s; network proxy %s\n", cfg.Host, proxyURL)
	node.Run(ctx, *interval)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "sandbox-node: %v\n", err)
	os.Exit(1)
}
