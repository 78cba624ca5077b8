// Package dataplane answers, for the sandbox, the requests that a cluster's data plane would: the ingress-nginx
// controller's pods route them by the cluster's Ingresses (package ingressnginx), NGINX Gateway Fabric's nginx pods
// by the Gateways and HTTPRoutes its control plane serves (package ngfsim), Seldon's envoy pods by the routes
// the simulated scheduler programs (tests/internal/seldonsim.Routes), and each Server pod's agent and MLServer
// answer for the model versions loaded on it. Each rule cites the upstream source it follows. Requests travel
// between these pods through the sandbox's cluster network (tests/internal/sandboxnode), as they would between
// pods: Services, their ready endpoints, the pods' ports. Test harness only.
package dataplane

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/seldon-ab/provisioner/tests/internal/ngfsim"
	"github.com/seldon-ab/provisioner/tests/internal/sandboxnode"
	"github.com/seldon-ab/provisioner/tests/internal/seldonsim"
)

// Images whose pods the data plane answers for, by repository (tag and digest ignored): the pinned charts' own.
const (
	IngressNginxImage = "registry.k8s.io/ingress-nginx/controller" // ingress-nginx chart 4.15.1 values.yaml
	EnvoyImage        = "docker.io/seldonio/seldon-envoy"          // seldon-core-v2-setup 2.10.2 values.yaml
	AgentImage        = "docker.io/seldonio/seldon-agent"          // the Server pods' agent (ServerConfig mlserver)
)

// Ports they answer on: NGINX's http port, envoy's http listener (scheduler/pkg/envoy/xdscache/seldoncache.go:
// seldon_http on 9000), the agent's HTTP reverse proxy (the ServerConfig's agent container port "http", 9001).
const (
	nginxHTTPPort = 80
	envoyHTTPPort = 9000
	agentHTTPPort = 9001
)

// Plane is the data plane of one sandbox cluster.
type Plane struct {
	Client  kubernetes.Interface
	Network *sandboxnode.Network
	// Routes are what each namespace's scheduler has programmed its envoy with; Loaded says whether a version is
	// loaded on a Server pod.
	Routes func(namespace string) seldonsim.Routes
	Loaded func(namespace, versioned, pod string) bool
	// Gateways is what NGINX Gateway Fabric's control plane serves now (nil when none runs).
	Gateways func() *ngfsim.Graph

	mu      sync.Mutex
	ingress ingressSnapshot
}

// ingressSnapshot is the Ingresses and IngressClasses the controllers watch, read at most every refresh.
type ingressSnapshot struct {
	read      time.Time
	ingresses []networkingv1.Ingress
	classes   []networkingv1.IngressClass
}

// refresh is how stale the NGINX simulation's view of the Ingresses may be: the real controller syncs on watch
// events, within about a second.
const refresh = 500 * time.Millisecond

// Handler implements sandboxnode.Simulator.
func (p *Plane) Handler(pod *corev1.Pod, port int32) http.Handler {
	switch {
	case port == nginxHTTPPort && hasImage(pod, IngressNginxImage):
		return &nginx{plane: p, pod: pod}
	case port == nginxHTTPPort && hasImage(pod, ngfsim.NginxImage) && p.Gateways != nil:
		return &gatewayNginx{plane: p, pod: pod}
	case port == envoyHTTPPort && hasImage(pod, EnvoyImage):
		return &envoy{plane: p, namespace: pod.Namespace}
	case port == agentHTTPPort && hasImage(pod, AgentImage):
		return &agent{plane: p, pod: pod}
	}
	return nil
}

func hasImage(pod *corev1.Pod, repository string) bool {
	for _, c := range pod.Spec.Containers {
		if sandboxnode.Repository(c.Image) == repository {
			return true
		}
	}
	return false
}

// ingresses returns the cluster's Ingresses and IngressClasses, re-read once the snapshot is older than refresh.
func (p *Plane) ingresses(ctx context.Context) ([]networkingv1.Ingress, []networkingv1.IngressClass, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.ingress.read) < refresh {
		return p.ingress.ingresses, p.ingress.classes, nil
	}
	ingresses, err := p.Client.NetworkingV1().Ingresses("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	classes, err := p.Client.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	p.ingress = ingressSnapshot{read: time.Now(), ingresses: ingresses.Items, classes: classes.Items}
	return ingresses.Items, classes.Items, nil
}

// args is a container's args, from the pod spec.
func args(pod *corev1.Pod, repository string) []string {
	for _, c := range pod.Spec.Containers {
		if sandboxnode.Repository(c.Image) == repository {
			return c.Args
		}
	}
	return nil
}

// hostOnly strips a port from a host:port.
func hostOnly(hostport string) string {
	if i := strings.LastIndex(hostport, ":"); i > 0 && !strings.Contains(hostport[i:], "]") {
		return hostport[:i]
	}
	return hostport
}
