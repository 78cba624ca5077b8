// Package sandbox_test applies the shipped stacks with the real Pulumi engine to a real local kube-apiserver.
// It is the slow tier: skipped under -short, and it needs the toolchain (`make toolchain`, done by `make test`).
package sandbox_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/seldon-ab/provisioner/internal/sandbox"
)

// clusterName keeps the tests' cluster apart from a user's running sandbox.
const clusterName = "sandbox-test"

var env *sandbox.Env

// TestMain starts the tests' own cluster and stops it (with every process started for it) when the tests end,
// fail or are interrupted.
func TestMain(m *testing.M) {
	if isShort() {
		os.Exit(m.Run())
	}
	var err error
	if env, err = sandbox.Start(clusterName); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests need the toolchain and a local cluster (make toolchain): %v\n", err)
		stopCluster()
		os.Exit(1)
	}
	env.StopOnInterrupt()
	code := m.Run()
	stopCluster()
	os.Exit(code)
}

func stopCluster() {
	if env == nil {
		return
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the test cluster: %v\n", err)
	}
}

func isShort() bool {
	for _, arg := range os.Args[1:] {
		if arg == "-test.short" || arg == "-test.short=true" {
			return true
		}
	}
	return false
}
