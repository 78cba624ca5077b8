// Command sandbox-seldon-model runs the sandbox's model of Seldon Core v2's control plane (internal/seldonmodel)
// against a local cluster until it is stopped. scripts/cluster.sh starts and stops it with the sandbox cluster;
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
	interval := flag.Duration("interval", 300*time.Millisecond, "time between reconcile passes")
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "sandbox-seldon-model: --kubeconfig is required (scripts/cluster.sh passes the sandbox's)")
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
	(&seldonmodel.Model{Client: client, Log: os.Stderr}).Run(ctx, *interval)
}
