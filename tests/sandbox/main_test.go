//go:build sandbox

// Package sandbox_test applies the shipped stacks with the real Pulumi engine to a real local kube-apiserver,
// through the lifecycle users run. It is the sandbox tier, opted into with the build tag `sandbox` (`make test`
// does): it needs the toolchain and starts its own local cluster.
package sandbox_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/tests/internal/sandbox"
)

// clusterName keeps the tests' cluster apart from a user's running sandbox.
const clusterName = "sandbox-test"

var env *sandbox.Env

// TestMain starts the tests' own cluster and stops it (with every process started for it) when the tests end,
// fail or are interrupted. As seldon-ab does, this binary serves the policy pack of the stacks it runs.
func TestMain(m *testing.M) {
	lifecycle.ServePolicyPack()
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
