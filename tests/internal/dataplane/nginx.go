package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seldon-ab/provisioner/tests/internal/dataplane/ingressnginx"
)

// nginx is one ingress-nginx controller pod: it routes each request by the Ingresses its class serves
// (ingressnginx.Controller.Route), answers itself where NGINX would (its 404 page, a 308 redirect), and otherwise
// proxies to the backend Service's ready endpoints: 503 when there is none (rootfs/etc/nginx/lua/balancer.lua),
// 502 when the endpoint does not answer (nginx's proxy_next_upstream error), the backend's answer otherwise,
// without its Server header (nginx.tmpl: more_clear_headers Server).
type nginx struct {
	plane *Plane
	pod   *corev1.Pod
}

func (n *nginx) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ingresses, classes, err := n.plane.ingresses(r.Context())
	if err != nil {
		http.Error(w, "sandbox: reading Ingresses: "+err.Error(), http.StatusInternalServerError)
		return
	}
	d := ingressnginx.ControllerFromArgs(args(n.pod, IngressNginxImage)).Route(r, "http", r.RemoteAddr, ingresses, classes)
	if d.Status != 0 {
		writeAnswer(w, d.Header, d.Status, d.Body)
		return
	}
	target, err := n.endpoint(r.Context(), d.Backend)
	if err != nil {
		n.errorPage(w, d, http.StatusServiceUnavailable)
		return
	}
	header := d.UpstreamHeader.Clone()
	if !forward(w, r, target, d.Path, header, func(h http.Header) {
		h.Del("Server")
		for k, v := range d.ResponseHeader {
			h[k] = v
		}
	}) {
		n.errorPage(w, d, http.StatusBadGateway)
	}
}

// forward proxies r to target (host:port) with path and header, keeping the client's Host, and copies the answer
// back after fix changed its headers; false, with nothing written, when the target did not answer.
func forward(w http.ResponseWriter, r *http.Request, target, path string, header http.Header, fix func(http.Header)) bool {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+target+path, r.Body)
	if err != nil {
		return false
	}
	out.Header = header
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	resp, err := upstream.Do(out)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	fix(w.Header())
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}

func (n *nginx) errorPage(w http.ResponseWriter, d ingressnginx.Decision, status int) {
	header, body := ingressnginx.ErrorPage(status)
	for k, v := range d.ResponseHeader {
		header[k] = v
	}
	writeAnswer(w, header, status, body)
}

// endpoint is the loopback address of a ready endpoint of the backend Service's port (by number or by name;
// controller.go: serviceEndpoints), through the cluster network.
func (n *nginx) endpoint(ctx context.Context, b ingressnginx.Backend) (string, error) {
	port := b.Port.Number
	if b.Port.Name != "" {
		svc, err := n.plane.Client.CoreV1().Services(b.Namespace).Get(ctx, b.Service, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == b.Port.Name {
				port = p.Port
			}
		}
		if port == 0 {
			return "", fmt.Errorf("service %s/%s has no port %q", b.Namespace, b.Service, b.Port.Name)
		}
	}
	if port == 0 {
		return "", errors.New("no backend port")
	}
	return n.plane.Network.Resolve(ctx, b.Service+"."+b.Namespace+":"+strconv.Itoa(int(port)))
}

// upstream carries requests between the sandbox's pods: no proxy, no redirects followed, connections reused.
var upstream = &http.Client{
	Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func writeAnswer(w http.ResponseWriter, header http.Header, status int, body []byte) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
