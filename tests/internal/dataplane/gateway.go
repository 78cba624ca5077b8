package dataplane

import (
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/seldon-ab/provisioner/tests/internal/dataplane/ingressnginx"
)

// gatewayNginx is one nginx pod NGINX Gateway Fabric provisioned for a Gateway (its Deployment's pods carry the
// Gateway's name label, provisioner/objects.go): it routes by the graph its control plane serves
// (ngfsim.Graph.Route), answers itself with nginx's built-in pages where NGF's configuration does (404 from the
// default server or a path no rule serves, 500 for an invalid backend, 503 when the backend Service has no ready
// endpoint: the nginx-503-server upstream, nginx/config/upstreams.go), and proxies the rest to the Service's
// ready endpoints with the client's Host (proxy_set_header Host $gw_api_compliant_host). Every answer carries
// Server: nginx: server_tokens is off (dataplane/configuration.go: buildServerTokens) and nginx never passes an
// upstream's Server header.
type gatewayNginx struct {
	plane *Plane
	pod   *corev1.Pod
}

func (n *gatewayNginx) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := n.plane.Gateways()
	if g == nil {
		n.page(w, http.StatusNotFound)
		return
	}
	d := g.Route(n.pod.Namespace+"/"+n.pod.Labels["gateway.networking.k8s.io/gateway-name"], nginxHTTPPort, r)
	if d.Status != 0 {
		n.page(w, d.Status)
		return
	}
	target, err := n.plane.Network.Resolve(r.Context(), d.Backend.Service+"."+d.Backend.Namespace+":"+strconv.Itoa(int(d.Backend.Port)))
	if err != nil {
		n.page(w, http.StatusServiceUnavailable)
		return
	}
	header := r.Header.Clone()
	for k, v := range d.Set {
		header.Set(k, v)
	}
	for _, k := range d.Remove {
		header.Del(k)
	}
	if !forward(w, r, target, d.Path, header, func(h http.Header) { h.Set("Server", "nginx") }) {
		n.page(w, http.StatusBadGateway)
	}
}

func (n *gatewayNginx) page(w http.ResponseWriter, status int) {
	header, body := ingressnginx.ErrorPage(status)
	header.Set("Server", "nginx")
	writeAnswer(w, header, status, body)
}
