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

// FixedIPServiceAnnotations ask MetalLB for ip and make Pulumi await exactly that: the IP assigned. The provider's
// own Service await (pulumi-kubernetes provider/pkg/await/service.go, v4.25) also waits for ready endpoints and then
// sleeps 10 s after every Endpoints event "to settle", which put 10 s per LoadBalancer Service on a cold up's
// critical path. Nothing needs more than the IP: the pods behind these Services are awaited by their chart's
// Deployment await, and every dependent waits for the whole chart.
func FixedIPServiceAnnotations(ip string) map[string]any {
	return map[string]any{
		LoadBalancerIPsAnnotation: ip,
		"pulumi.com/waitFor":      "jsonpath={.status.loadBalancer.ingress[0].ip}=" + ip,
	}
}
