// Package charts turns "chart name + pinned version + upstream repository or local archive" into Helm chart args.
package charts

import (
	"strings"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Location is where one pinned chart comes from.
type Location struct {
	Name    string
	Version string
	// Repository is the upstream chart repository; used when Archive is empty.
	Repository string
	// Archive is an absolute path to a local .tgz (air-gapped clusters, tests); it wins over Repository.
	Archive string
}

// ChartArgs returns helm/v4 Chart args for this chart installed into namespace with values.
func (l Location) ChartArgs(namespace string, values map[string]any) *helmv4.ChartArgs {
	args := &helmv4.ChartArgs{
		Namespace: pulumi.String(namespace),
		Values:    pulumi.ToMap(values),
	}
	if l.Archive != "" {
		// Helm ignores --version for a local path; config validation has already checked the archive's version.
		args.Chart = pulumi.String(l.Archive)
		return args
	}
	args.Version = pulumi.String(l.Version)
	if strings.HasPrefix(l.Repository, "oci://") {
		// An OCI registry is named with the chart, not as a repository (Helm's oci:// references).
		args.Chart = pulumi.String(strings.TrimSuffix(l.Repository, "/") + "/" + l.Name)
		return args
	}
	args.Chart = pulumi.String(l.Name)
	args.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(l.Repository)}
	return args
}
