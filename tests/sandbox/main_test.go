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

func TestMain(m *testing.M) {
	if !isShort() {
		var err error
		if env, err = sandbox.Start(clusterName); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox tests need the toolchain and a local cluster (make toolchain): %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func isShort() bool {
	for _, arg := range os.Args[1:] {
		if arg == "-test.short" || arg == "-test.short=true" {
			return true
		}
	}
	return false
}
