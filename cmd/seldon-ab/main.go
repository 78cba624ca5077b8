// Command seldon-ab is the operator's command line: the stack lifecycle (up, preview, destroy, rebuild,
// refresh, recover), seeding, verification, rendering and diagnosis (package internal/cli).
package main

import (
	"os"

	"github.com/seldon-ab/provisioner/internal/cli"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

func main() {
	lifecycle.ServePolicyPack()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
