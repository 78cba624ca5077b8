// Command pack is the policy pack (package policies/analyzer) as an executable of its own: build it and pass the
// binary to `pulumi preview --policy-pack` (`seldon-ab policy-pack` builds it and prints its path).
package main

import (
	"fmt"
	"os"

	"github.com/seldon-ab/provisioner/policies/analyzer"
)

func main() {
	engine, _ := analyzer.EngineAddress(os.Args[1:]) // none: serve without watching an engine
	if err := analyzer.Serve(engine); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
