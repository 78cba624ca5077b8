package sandboxnode

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Network is the cluster's network as seen from this machine, served as an HTTP proxy (plain requests and
// CONNECT): cluster DNS names (<service>.<namespace>[.svc[.cluster.local]]), ClusterIPs and the LoadBalancer IPs
// that MetalLB assigned reach a Service's ready endpoints the way kube-proxy routes them, and the endpoint's pod
// answers on its loopback port here. It only ever dials loopback: an address it cannot map is refused with the
// reason, never forwarded to the LAN.
type Network struct {
	Node *Node

	mu       sync.Mutex
	resolved map[string]resolution
}

// resolution is one Resolve answer, reused for resolveTTL: kube-proxy too programs a Service's endpoints some time
// after they change, and a load test would otherwise read the API server several times per request.
type resolution struct {
	at     time.Time
	target string
	err    error
}

const resolveTTL = time.Second

// Resolve maps host:port to the loopback address of a ready pod behind it.
func (n *Network) Resolve(ctx context.Context, hostport string) (string, error) {
	n.mu.Lock()
	r, ok := n.resolved[hostport]
	n.mu.Unlock()
	if ok && time.Since(r.at) < resolveTTL {
		return r.target, r.err
	}
	target, err := n.resolve(ctx, hostport)
	n.mu.Lock()
	if n.resolved == nil {
		n.resolved = map[string]resolution{}
	}
	n.resolved[hostport] = resolution{at: time.Now(), target: target, err: err}
	n.mu.Unlock()
	return target, err
}

func (n *Network) resolve(ctx context.Context, hostport string) (string, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", hostport, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", fmt.Errorf("address %q: port is not a number", hostport)
	}
	svc, err := n.service(ctx, host, int32(port))
	if err != nil {
		return "", err
	}
	var svcPort *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == int32(port) {
			svcPort = &svc.Spec.Ports[i]
		}
	}
	if svcPort == nil {
		return "", fmt.Errorf("dial tcp %s: connection refused (Service %s/%s has no port %d)", hostport, svc.Namespace, svc.Name, port)
	}
	slices, err := n.Node.Client.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
	if err != nil {
		return "", err
	}
	notHere := ""
	for _, slice := range slices.Items {
		var target int32
		for _, p := range slice.Ports {
			if p.Port != nil && ptrValue(p.Name) == svcPort.Name {
				target = *p.Port
			}
		}
		for _, ep := range slice.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			if local, ok := n.Node.LocalPort(ep.TargetRef.Namespace, ep.TargetRef.Name, target); ok {
				return "127.0.0.1:" + strconv.Itoa(local), nil
			}
			notHere = ep.TargetRef.Namespace + "/" + ep.TargetRef.Name
		}
	}
	if notHere != "" {
		return "", fmt.Errorf("dial tcp %s: connection refused (pod %s behind Service %s/%s runs no process in the sandbox: "+
			"kwok only sets its status)", hostport, notHere, svc.Namespace, svc.Name)
	}
	return "", fmt.Errorf("dial tcp %s: connection refused (Service %s/%s has no ready endpoint)", hostport, svc.Namespace, svc.Name)
}

// service finds the Service a host names: a cluster DNS name, a ClusterIP, or an assigned LoadBalancer IP.
func (n *Network) service(ctx context.Context, host string, port int32) (*corev1.Service, error) {
	core := n.Node.Client.CoreV1()
	if net.ParseIP(host) == nil {
		name := strings.TrimSuffix(strings.TrimSuffix(host, ".cluster.local"), ".svc")
		parts := strings.Split(name, ".")
		if len(parts) != 2 {
			return nil, fmt.Errorf("dial tcp: lookup %s: no such host (not a cluster name <service>.<namespace>)", host)
		}
		svc, err := core.Services(parts[1]).Get(ctx, parts[0], metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("dial tcp: lookup %s: no such host (no Service %s in namespace %s)", host, parts[0], parts[1])
		}
		return svc, err
	}
	services, err := core.Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range services.Items {
		svc := &services.Items[i]
		if svc.Spec.ClusterIP == host {
			return svc, nil
		}
		for _, ingress := range svc.Status.LoadBalancer.Ingress {
			if ingress.IP == host {
				return svc, nil
			}
		}
	}
	return nil, fmt.Errorf("dial tcp %s:%d: i/o timeout (no Service has this ClusterIP, and no LoadBalancer Service was "+
		"assigned it: on a LAN nothing would answer ARP for it)", host, port)
}

func ptrValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ServeHTTP is the proxy: CONNECT tunnels and absolute-URL requests, each to the address Resolve gives.
func (n *Network) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		n.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "sandbox network: this is a proxy; send absolute URLs (HTTP_PROXY)", http.StatusBadRequest)
		return
	}
	hostport := r.URL.Host
	if r.URL.Port() == "" {
		hostport = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	target, err := n.Resolve(r.Context(), hostport)
	if err != nil {
		n.Node.logf("network: %s %s: %v", r.Method, r.URL, err)
		http.Error(w, "sandbox network: "+err.Error(), http.StatusBadGateway)
		return
	}
	// The Host header stays what the client sent: S3 signatures cover it.
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host = "http", target
		pr.Out.Host = r.Host
	}}
	proxy.ServeHTTP(w, r)
}

func (n *Network) tunnel(w http.ResponseWriter, r *http.Request) {
	target, err := n.Resolve(r.Context(), r.Host)
	if err != nil {
		n.Node.logf("network: CONNECT %s: %v", r.Host, err)
		http.Error(w, "sandbox network: "+err.Error(), http.StatusBadGateway)
		return
	}
	upstream, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		http.Error(w, "sandbox network: "+err.Error(), http.StatusBadGateway)
		return
	}
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "sandbox network: cannot tunnel", http.StatusInternalServerError)
		return
	}
	client, buffered, err := hijacker.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() {
		_, _ = io.Copy(upstream, buffered)
		upstream.Close()
	}()
	_, _ = io.Copy(client, upstream)
	client.Close()
}
