// Command infra is the Pulumi program of this project (Pulumi.yaml `main: infra/`).
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/infra/program"
)

func main() {
	pulumi.Run(program.New(program.Options{AwaitWebhooks: true}))
}
