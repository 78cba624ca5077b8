// Package pins is the one source of the versions and constants that scripts and Go both need: it embeds
// pins.env, which the scripts source and the Makefile includes. It imports nothing of this project.
package pins

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed pins.env
var file string

// Values holds every KEY=value line of pins.env.
var Values = parse(file)

// The pins the Go code reads.
var (
	PulumiVersion      = get("PULUMI_VERSION")
	KubernetesProvider = get("K8S_PROVIDER_VERSION")
	KubeVersion        = get("KUBE_VERSION")
	SandboxPassphrase  = get("SANDBOX_PASSPHRASE")
	GatewayAPIVersion  = get("GATEWAY_API_VERSION")
)

func parse(text string) map[string]string {
	values := map[string]string{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" || value == "" || strings.ContainsAny(value, " \"'$") {
			panic(fmt.Sprintf("pins.env line %d: %q is not a plain KEY=value line", n+1, line))
		}
		values[key] = value
	}
	return values
}

func get(key string) string {
	v, ok := Values[key]
	if !ok {
		panic("pins.env has no " + key)
	}
	return v
}
