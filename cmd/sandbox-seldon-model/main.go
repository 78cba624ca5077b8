// Command sandbox-seldon-model runs the sandbox's model of Seldon Core v2's control plane (internal/seldonmodel)
// against a local cluster until it is stopped, its agents downloading Models with a real rclone. scripts/cluster.sh starts and stops it with the sandbox cluster;
// it is never part of what the stack deploys.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seldon-ab/provisioner/internal/seldonmodel"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the sandbox cluster's kubeconfig")
	proxy := flag.String("proxy", "", "the cluster network's proxy URL (cmd/sandbox-node), for the agents' rclone")
	bin := flag.String("bin", "", "the toolchain's bin directory, where rclone is")
	state := flag.String("state", "", "where the agents' rclone configs, logs and model caches go")
	interval := flag.Duration("interval", 300*time.Millisecond, "time between reconcile passes")
	flag.Parse()
	if *kubeconfig == "" || *proxy == "" || *bin == "" || *state == "" {
		fmt.Fprintln(os.Stderr, "sandbox-seldon-model: --kubeconfig, --proxy, --bin and --state are required (scripts/cluster.sh passes them)")
		os.Exit(2)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-seldon-model: %v\n", err)
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = 100, 200
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-seldon-model: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "sandbox-seldon-model: reconciling %s every %s\n", cfg.Host, *interval)
	agent := &seldonmodel.RcloneAgent{Bin: *bin, StateDir: *state, ProxyURL: *proxy, Log: os.Stderr}
	defer agent.Stop()
	(&seldonmodel.Model{Client: client, Log: os.Stderr, Agent: agent}).Run(ctx, *interval)
}
