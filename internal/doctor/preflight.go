package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
	"github.com/seldon-ab/provisioner/policies"
)

// k3s's own LoadBalancer implementation (ServiceLB) and ingress controller (Traefik), as k3s names them.
const (
	serviceLBPrefix      = "svclb-"
	serviceLBLabel       = "svccontroller.k3s.cattle.io/svcname"
	k3sNodeArgs          = "k3s.io/node-args"
	traefikController    = "traefik.io/ingress-controller"
	nginxController      = "k8s.io/ingress-nginx"
	k3sConfigFile        = "/etc/rancher/k3s/config.yaml"
	k3sKubeconfig        = "/etc/rancher/k3s/k3s.yaml"
	serviceLBFix         = "disable k3s's ServiceLB on every server: add --disable servicelb to the k3s server flags (or `disable: [servicelb]` in " + k3sConfigFile + ") and restart k3s; its svclb DaemonSets then go away"
	traefikFix           = "disable k3s's bundled Traefik: add --disable traefik to the k3s server flags (or `disable: [traefik]` in " + k3sConfigFile + ") and restart k3s"
	conflictsCheck       = "cluster"
	otherIngressClassFix = "set ingress.className to a name no other controller serves"
)

// checkClusterConflicts finds what a cluster (k3s by default) runs that cannot share it with this stack's MetalLB
// and ingress-nginx: another LoadBalancer implementation, and another ingress controller or one holding the
// IngressClass the stack serves.
func checkClusterConflicts(s snapshot, add func(Finding), ingressClass string) {
	for _, ds := range s.byKind["DaemonSet"] {
		if strings.HasPrefix(ds.ObjectName(), serviceLBPrefix) || ds.String("metadata", "labels", serviceLBLabel) != "" {
			add(Finding{Severity: Error, Check: conflictsCheck, Object: where(ds),
				What: "k3s ServiceLB is answering LoadBalancer Services: it competes with MetalLB for every one of them (both write the Service's IP, and its pods bind the Service ports on every node)",
				Fix:  serviceLBFix})
		}
	}
	for _, node := range s.byKind["Node"] {
		args := node.String("metadata", "annotations", k3sNodeArgs)
		if args == "" {
			continue
		}
		for _, component := range []string{"servicelb", "traefik"} {
			if !k3sDisables(args, component) {
				fix := serviceLBFix
				if component == "traefik" {
					fix = traefikFix
				}
				add(Finding{Severity: Warning, Check: conflictsCheck, Object: where(node),
					What: "this k3s node was started without --disable " + component + " (" + k3sNodeArgs + ")", Fix: fix})
			}
		}
	}
	for _, class := range s.byKind["IngressClass"] {
		controller := class.String("spec", "controller")
		switch {
		case class.ObjectName() == ingressClass && controller != nginxController:
			add(Finding{Severity: Error, Check: conflictsCheck, Object: where(class),
				What: fmt.Sprintf("IngressClass %s is already served by %s, not ingress-nginx", ingressClass, controller), Fix: otherIngressClassFix})
		case controller == traefikController:
			add(Finding{Severity: Warning, Check: conflictsCheck, Object: where(class),
				What: "Traefik (k3s's bundled ingress controller) runs beside ingress-nginx: it takes a LoadBalancer IP of its own and may be the default IngressClass", Fix: traefikFix})
		}
	}
}

// k3sDisables reports whether k3s node args (a JSON array, as k3s records them) disable a packaged component.
func k3sDisables(nodeArgs, component string) bool {
	var args []string
	if json.Unmarshal([]byte(nodeArgs), &args) != nil {
		return strings.Contains(nodeArgs, component)
	}
	for i, a := range args {
		value, isFlag := strings.CutPrefix(a, "--disable=")
		if !isFlag && a == "--disable" && i+1 < len(args) {
			value, isFlag = args[i+1], true
		}
		if isFlag && slices.Contains(strings.Split(value, ","), component) {
			return true
		}
	}
	return false
}

// MinKubernetes is the oldest Kubernetes the pinned charts accept: ingress-nginx 4.15.1's Chart.yaml says
// kubeVersion >=1.21.0-0, the strictest of them (MetalLB 0.16.1 says >=1.19.0-0; the Seldon charts say nothing);
// NGINX Gateway Fabric 2.6.7's says >=1.31.0-0 (MinKubernetesGatewayFabric).
const (
	MinKubernetes              = "1.21"
	MinKubernetesGatewayFabric = "1.31"
)

// Needs is what the stack asks of the cluster, for the preflight.
type Needs struct {
	// IngressClass is the class the stack's ingress-nginx serves ("" with NGINX Gateway Fabric).
	IngressClass string
	// GatewayClass is the class the stack's NGINX Gateway Fabric serves ("" with ingress-nginx).
	GatewayClass string
	// Servers are the Seldon Servers: each replica needs its mlserver memory on one node.
	Servers []ServerNeed
}

// ServerNeed is one Server's replicas and the memory request of each replica's mlserver container.
type ServerNeed struct {
	Name     string
	Replicas int
	Memory   resource.Quantity
}

// Versioner tells the API server's version (a live cluster's discovery endpoint).
type Versioner interface {
	ServerVersion() (major, minor string, err error)
}

// Preflight reads the cluster a stack is about to be applied to, before anything is created, and returns what
// would break the stack there (errors) or deserves a look (warnings). It never writes.
func Preflight(ctx context.Context, c Reader, needs Needs) ([]Finding, error) {
	snap := snapshot{byKind: map[string][]policies.Resource{}}
	for _, r := range []readSpec{{daemonSetsGVR, "DaemonSet", false}, {nodesGVR, "Node", false}, {ingressClassesGVR, "IngressClass", false},
		{gatewayClassesGVR, "GatewayClass", true}} {
		if err := snap.read(ctx, c, r); err != nil {
			return nil, err
		}
	}
	var findings []Finding
	add := func(f Finding) { findings = append(findings, f) }
	checkClusterConflicts(snap, add, needs.IngressClass)
	checkNodeMemory(snap, add, needs.Servers)
	minimum, why := MinKubernetes, "ingress-nginx 4.15.1 needs "+MinKubernetes+" or newer"
	if needs.GatewayClass != "" {
		minimum, why = MinKubernetesGatewayFabric, "NGINX Gateway Fabric 2.6.7 needs "+MinKubernetesGatewayFabric+" or newer"
		for _, class := range snap.byKind["GatewayClass"] {
			if controller := class.String("spec", "controllerName"); class.ObjectName() == needs.GatewayClass && controller != gatewayapi.ControllerName {
				add(Finding{Severity: Error, Check: conflictsCheck, Object: where(class),
					What: fmt.Sprintf("GatewayClass %s is already served by %s, not NGINX Gateway Fabric", needs.GatewayClass, controller), Fix: "set ingress.className to a name no other controller serves"})
			}
		}
	} else {
		add(Finding{Severity: Warning, Check: retiredCheck, Object: "ingress.controller ingress-nginx", What: RetiredWhat, Fix: RetiredFix})
	}
	if err := checkServerVersion(c, add, minimum, why); err != nil {
		return nil, err
	}
	return findings, nil
}

// checkServerVersion runs checkVersion when the reader can tell the API server's version (a live cluster can).
func checkServerVersion(c Reader, add func(Finding), minimum, why string) error {
	v, ok := c.(Versioner)
	if !ok {
		return nil
	}
	major, minor, err := v.ServerVersion()
	if err != nil {
		return err
	}
	checkVersion(major, minor, add, minimum, why)
	return nil
}

// checkVersion refuses an API server older than minimum (why says which chart needs it).
func checkVersion(major, minor string, add func(Finding), minimum, why string) {
	var have, want [2]int
	fmt.Sscanf(major+"."+strings.TrimRight(minor, "+"), "%d.%d", &have[0], &have[1])
	fmt.Sscanf(minimum, "%d.%d", &want[0], &want[1])
	if have[0] < want[0] || (have[0] == want[0] && have[1] < want[1]) {
		add(Finding{Severity: Error, Check: conflictsCheck, Object: "Kubernetes " + major + "." + minor,
			What: "is older than the pinned charts accept (" + why + ")",
			Fix:  "upgrade the cluster (for k3s, install a current release: curl -sfL https://get.k3s.io | sh -)"})
	}
}

// checkNodeMemory: every Server replica needs its mlserver memory request on one node, and all of them together
// fit the nodes' allocatable memory (other pods and the Server's other containers need room too).
func checkNodeMemory(s snapshot, add func(Finding), servers []ServerNeed) {
	var largest, total int64
	for _, node := range s.byKind["Node"] {
		q, err := resource.ParseQuantity(node.String("status", "allocatable", "memory"))
		if err != nil {
			continue
		}
		largest, total = max(largest, q.Value()), total+q.Value()
	}
	if total == 0 {
		return // nodes that report no memory (or none at all): nothing to judge
	}
	var needed int64
	for _, srv := range servers {
		needed += srv.Memory.Value() * int64(srv.Replicas)
		if srv.Memory.Value() > largest {
			add(Finding{Severity: Error, Check: conflictsCheck, Object: "Server " + srv.Name,
				What: fmt.Sprintf("each replica asks for %s of memory, more than any node can give (largest allocatable %.2fGi): its pods would stay Pending",
					srv.Memory.String(), float64(largest)/(1<<30)),
				Fix: "lower seldon.servers[].memory (and the Models' memory with it) or add a node with more memory"})
		}
	}
	if needed > total {
		add(Finding{Severity: Warning, Check: conflictsCheck, Object: "nodes",
			What: fmt.Sprintf("the Servers ask for %.2fGi of memory in all, more than the nodes' %.2fGi allocatable", float64(needed)/(1<<30), float64(total)/(1<<30)),
			Fix:  "lower seldon.servers[].memory or replicas, or add nodes"})
	}
}

// ConnectForPreflight is Connect with an error that says where it looked for a kubeconfig, and, for k3s, where
// the cluster keeps its own.
func ConnectForPreflight(kubeconfig, kubeContext string) (*Live, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	_, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		looked := rules.GetLoadingPrecedence()
		if kubeconfig != "" {
			looked = []string{kubeconfig}
		}
		hint := ""
		if _, statErr := os.Stat(k3sKubeconfig); statErr == nil || errors.Is(statErr, os.ErrPermission) {
			hint = "; this machine runs k3s, whose kubeconfig is " + k3sKubeconfig
		} else {
			hint = "; on a k3s server the kubeconfig is " + k3sKubeconfig + " (copy it here and replace 127.0.0.1 with the server's address)"
		}
		return nil, fmt.Errorf("no usable kubeconfig (looked at %s): %v; set cluster.kubeconfig (and cluster.context) in the stack file or KUBECONFIG%s",
			strings.Join(looked, ", "), err, hint)
	}
	return Connect(kubeconfig, kubeContext)
}
