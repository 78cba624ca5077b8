// Package kube holds small Kubernetes value types shared by the config model and the components.
package kube

// Resources are a container's requests and limits, as Kubernetes quantities.
type Resources struct {
	Requests ResourceList `json:"requests"`
	Limits   ResourceList `json:"limits"`
}

// ResourceList holds quantities for cpu and memory; empty ones are left out.
type ResourceList struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// Values renders the resources the way charts and pod specs spell them.
func (r Resources) Values() map[string]any {
	return map[string]any{"requests": anyMap(r.Requests.Map()), "limits": anyMap(r.Limits.Map())}
}

// Map lists the quantities that are set, keyed by resource name.
func (l ResourceList) Map() map[string]string {
	out := map[string]string{}
	if l.CPU != "" {
		out["cpu"] = l.CPU
	}
	if l.Memory != "" {
		out["memory"] = l.Memory
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// LoadBalancerIPsAnnotation requests fixed MetalLB IPs for a Service; MetalLB ignores any other spelling except the
// deprecated DeprecatedLoadBalancerIPsAnnotation.
const (
	LoadBalancerIPsAnnotation           = "metallb.io/loadBalancerIPs"
	DeprecatedLoadBalancerIPsAnnotation = "metallb.universe.tf/loadBalancerIPs"
)
