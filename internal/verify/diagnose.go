package verify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// diagnose turns one response into a finding (an error), or nil when it is a healthy answer.
func (v *Verifier) diagnose(r response, inference bool) *Finding {
	f := v.diagnoseResponse(r, inference)
	if f != nil {
		f.Severity = SeverityError
	}
	return f
}

// diagnoseResponse reads what actually came back: who answered (nginx's HTML page, envoy's empty 404, MLServer's
// JSON error) and how, or how the call failed before any answer.
func (v *Verifier) diagnoseResponse(r response, inference bool) *Finding {
	if r.err != nil {
		return v.transportFinding(r)
	}
	if r.status == http.StatusOK {
		if !inference {
			return nil
		}
		if problem := malformed(r.body); problem != "" {
			return &Finding{Layer: LayerModel, Problem: "the response is not a well-formed V2 inference response: " + problem,
				Cause: "the model answered, but not with V2 outputs (a custom runtime, or a proxy in between)",
				Fix:   "check the Server's runtime and the Model's model-settings", Evidence: evidenceOf(r)}
		}
		return nil
	}
	evidence := evidenceOf(r)
	who := answeredBy(r)
	switch {
	case r.status >= 300 && r.status < 400:
		where := r.header.Get("Location")
		f := &Finding{Layer: LayerIngress, Problem: fmt.Sprintf("the %s answered %d, redirecting to %q instead of answering", who, r.status, where),
			Cause:    "the Ingress for this host has TLS (spec.tls): ingress-nginx redirects plain http to https (ssl-redirect, 308)",
			Fix:      "call the https URL the redirect names, or set nginx.ingress.kubernetes.io/ssl-redirect: \"false\" on the Ingress",
			Evidence: evidence}
		if who != ByIngress {
			f.Layer, f.Cause, f.Fix = LayerNetwork, "something between this machine and the mesh redirects: a proxy, a captive portal, a load balancer", "call the address the redirect names, or the ingress directly"
		}
		return f
	case who == ByOther:
		return &Finding{Layer: LayerNetwork, Problem: fmt.Sprintf("HTTP %d from something that is neither the ingress nor the mesh", r.status),
			Cause:    "another server answers on this address: a router's or proxy's page, or another service holding the IP",
			Fix:      "check that the ingressIP is the ingress controller's (kubectl -n ingress-nginx get svc) and that no proxy is in the way",
			Evidence: evidence}
	case r.status == http.StatusNotFound && who == ByIngress:
		return &Finding{Layer: LayerIngress, Problem: "the ingress controller answered 404: no Ingress rule matched",
			Cause:    fmt.Sprintf("the Host header %q or the path matches no Ingress host/path (or the Ingress is in another class)", v.cfg.Host),
			Fix:      "call with the stack's hostHeader output; check `kubectl get ingress -A` for the host, class nginx and path / (Prefix)",
			Evidence: evidence}
	case r.status == http.StatusNotFound && who == ByMesh:
		return &Finding{Layer: LayerMesh, Problem: "envoy answered 404: no route for this request",
			Cause: "the seldon-model header is missing or names nothing active (use <experiment>.experiment), the Experiment is not " +
				"active yet (a candidate not Ready), or the path reaching envoy does not start with /v2 (a path prefix that was not rewritten)",
			Fix:      fmt.Sprintf("send seldon-model: %s.experiment; kubectl get experiment %s; with a path prefix, rewrite-target /$2 on its own Ingress", v.cfg.Experiment, v.cfg.Experiment),
			Evidence: evidence}
	case r.status == http.StatusNotFound && who == ByAgent:
		return &Finding{Layer: LayerModel, Problem: "the Server replica envoy chose does not hold the model version",
			Cause: "the version was unloaded or is not loaded yet on that replica (a model roll or a Server restart)",
			Fix:   "kubectl get models,servers -A; retry once the Model is Ready", Evidence: evidence}
	case who == ByIngress:
		return &Finding{Layer: LayerMesh, Problem: fmt.Sprintf("the ingress controller could not reach seldon-mesh (HTTP %d)", r.status),
			Cause:    "the seldon-mesh Service has no ready envoy endpoints (503), or envoy did not answer the controller (502, 504)",
			Fix:      "kubectl -n <model namespace> get endpoints seldon-mesh; kubectl get seldonruntime -A; check the envoy pods",
			Evidence: evidence}
	case who == ByMesh:
		return &Finding{Layer: LayerModel, Problem: fmt.Sprintf("the mesh has no healthy server for the model (HTTP %d)", r.status),
			Cause:    "the Server pods (agent + MLServer) are down or not ready, or the model is still loading",
			Fix:      "kubectl get servers,models -A; kubectl logs <server pod> -c agent and -c mlserver",
			Evidence: evidence}
	case r.status >= 400 && r.status < 500:
		return &Finding{Layer: LayerModel, Problem: fmt.Sprintf("the model rejected the request (HTTP %d)", r.status),
			Cause: "the payload does not fit the model's signature: input name, shape or datatype (FP32 for a float32 signature), " +
				"or a model without a signature needs parameters.content_type: np",
			Fix: fmt.Sprintf("check verification.input (now %s %v %s) against the model's MLmodel signature",
				v.cfg.Input.Name, v.cfg.Input.Shape, v.cfg.Input.Datatype),
			Evidence: evidence}
	default:
		return &Finding{Layer: LayerModel, Problem: fmt.Sprintf("the model failed (HTTP %d)", r.status),
			Cause: "MLServer raised while predicting: a missing requirement in the Server image, bad artifacts, or out of memory",
			Fix:   "kubectl logs <server pod> -c mlserver; check the Model's requirements and memory", Evidence: evidence}
	}
}

// Who answered a call, read from what came back. Both NGINX controllers' own pages end with <center>nginx</center>;
// ingress-nginx removes the Server header of every answer (nginx.tmpl: more_clear_headers Server), while NGINX
// Gateway Fabric puts its own "nginx" on every answer, proxied ones included (server_tokens off, and nginx never
// passes an upstream's Server header), so the header alone names no one. Envoy's local replies are an empty 404
// and "no healthy upstream"; what the model answers passed envoy (x-seldon-route, or
// x-envoy-upstream-service-time) and is MLServer's JSON, or the agent's Go 404 page when the version is not on the
// replica (scheduler/pkg/agent/rproxy.go).
const (
	ByIngress = "ingress controller"
	ByMesh    = "mesh (envoy)"
	ByModel   = "model"
	ByAgent   = "model's agent"
	ByOther   = "unknown server"
)

func answeredBy(r response) string {
	body := strings.TrimSpace(string(r.body))
	passedEnvoy := r.header.Get("x-seldon-route") != "" || r.header.Get("x-envoy-upstream-service-time") != ""
	server := strings.ToLower(r.header.Get("Server"))
	switch {
	case strings.Contains(body, "<center>nginx</center>"):
		return ByIngress
	case passedEnvoy && body == "404 page not found":
		return ByAgent
	case passedEnvoy && looksJSON(r.body):
		return ByModel
	case server == "envoy" || body == "" && r.status == http.StatusNotFound || body == "no healthy upstream" ||
		strings.HasPrefix(body, "upstream connect error"):
		return ByMesh
	case looksJSON(r.body):
		return ByModel
	}
	return ByOther
}

func evidenceOf(r response) string {
	return fmt.Sprintf("HTTP %d, server %q, body %q", r.status, r.header.Get("Server"), truncate(string(r.body), 120))
}

// transportFinding names how a call failed without an answer, from what the client saw: refused, reset, a
// connection that never came (the address answers nobody), a connection that was made but no answer within the
// timeout (the server, not the network), a TLS handshake, or a name that does not resolve.
func (v *Verifier) transportFinding(r response) *Finding {
	err, baseURL := r.err, v.cfg.BaseURL
	f := &Finding{Layer: LayerNetwork, Evidence: err.Error()}
	var netErr net.Error
	var dnsErr *net.DNSError
	var tlsErr *tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		f.Problem = "connection refused at " + baseURL
		f.Cause = "nothing listens on the ingress IP: the ingress controller is down, or the IP is not the controller's"
		f.Fix = "kubectl -n ingress-nginx get svc (EXTERNAL-IP must be the stack's ingressIP) and the controller pods"
	case errors.Is(err, syscall.ECONNRESET):
		f.Problem = "connection reset"
		f.Cause = "the ingress or envoy dropped the connection (restarting, or overloaded)"
		f.Fix = "check the ingress controller and envoy pods' restarts and logs"
	case errors.As(err, &dnsErr):
		f.Problem = "the host in " + baseURL + " does not resolve"
		f.Cause = "a name instead of the ingress IP, and this machine's DNS does not know it"
		f.Fix = "call the stack's ingressIP output and pass the host name with --host"
	case errors.As(err, &tlsErr) || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		f.Problem = "the TLS handshake failed"
		f.Cause = "https to a port that speaks plain HTTP, or a certificate this machine does not trust"
		f.Fix = "use http:// with the ingress IP (the stack's ingress has no TLS), or add the CA"
	case r.timedOut():
		f.Layer = LayerModel
		f.Problem = fmt.Sprintf("no answer within %s after the connection was made", v.cfg.Timeout)
		f.Cause = "the ingress accepted the call but nothing answered in time: a model too slow for the timeout, or stuck"
		f.Fix = "kubectl logs the Server pods (-c mlserver, -c agent); raise verification.timeout if the model is only slow"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		f.Problem = "no connection within " + v.cfg.Timeout.String() + " to " + baseURL
		f.Cause = "nothing answers for the IP on the LAN: MetalLB does not announce it (L2Advertisement, wrong pool) or another host has it"
		f.Fix = "arping the ingress IP; kubectl -n metallb-system get ipaddresspools,l2advertisements; kubectl -n ingress-nginx get svc"
	default:
		f.Problem = "the request failed before any answer"
		f.Cause = "the ingress IP is unreachable from this machine"
		f.Fix = "check the route to the ingress IP and MetalLB's announcement"
	}
	return f
}

func looksJSON(b []byte) bool {
	s := strings.TrimSpace(string(b))
	return strings.HasPrefix(s, "{")
}

// malformed checks a V2 response: outputs present, each with a shape that matches its data length. The data is
// counted by scanning its JSON rather than decoding it, since this runs on every answer of a load test.
func malformed(body []byte) string {
	var resp struct {
		ModelName string `json:"model_name"`
		Outputs   []struct {
			Name  string          `json:"name"`
			Shape []int           `json:"shape"`
			Data  json.RawMessage `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return "not JSON"
	}
	if len(resp.Outputs) == 0 {
		return "no outputs"
	}
	for _, o := range resp.Outputs {
		if len(o.Data) == 0 || string(o.Data) == "null" {
			return fmt.Sprintf("output %q has no data", o.Name)
		}
		want := 1
		for _, d := range o.Shape {
			want *= d
		}
		if got := countLeaves(o.Data); got != want {
			return fmt.Sprintf("output %q has shape %v but %d values", o.Name, o.Shape, got)
		}
	}
	return ""
}

// countLeaves counts the scalar values in valid JSON (an array of arrays of numbers, say).
func countLeaves(raw []byte) int {
	n := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			n++
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case c == '-' || c == 't' || c == 'f' || c == 'n' || (c >= '0' && c <= '9'):
			n++
			for i+1 < len(raw) && !strings.ContainsRune(",]} \t\r\n", rune(raw[i+1])) {
				i++
			}
		}
	}
	return n
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
