package dataplane

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seldon-ab/provisioner/tests/internal/seldonsim"
)

// Seldon's headers (scheduler/pkg/util/constants.go).
const (
	seldonModelHeader    = "seldon-model"
	internalModelHeader  = "seldon-internal-model"
	seldonRouteHeader    = "x-seldon-route"
	routeSeparator       = ":"
	modelsPathPrefix     = "/v2/models/"
	inferencePathPrefix  = "/v2"
	noHealthyUpstreamMsg = "no healthy upstream"
)

// envoy is one seldon-envoy pod, serving the routes its namespace's scheduler programmed
// (scheduler/pkg/envoy/xdscache/resource.go; v2.10.2). A request is matched on its seldon-model header exactly,
// on a path prefix /v2, and on x-seldon-route: absent for a route's main entry, containing :<model>_<version>:
// for a sticky entry, which exists only on a route with more than one cluster (makeRoutes, isExperiment). A Lua
// filter first takes seldon-model from a /v2/models/<name>/... path when neither header was sent
// (createHeaderFilter). No match: a 404 with no body (the router's RouteNotFound local reply). A cluster with no
// reachable host: 503 "no healthy upstream". The main entry picks a cluster by weight and retries 5xx and refused
// connections up to five times (createWeightedModelClusterAction); the answer carries x-seldon-route naming the
// version that served it, and envoy's own server header.
type envoy struct {
	plane     *Plane
	namespace string
}

func (e *envoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	model, sticky := r.Header.Get(seldonModelHeader), r.Header.Get(seldonRouteHeader)
	if model == "" && sticky == "" && strings.HasPrefix(r.URL.Path, modelsPathPrefix) {
		model, _, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, modelsPathPrefix), "/")
	}
	routes := e.plane.Routes(e.namespace)
	route, ok := routes[model]
	if !strings.HasPrefix(r.URL.Path, inferencePathPrefix) || !ok || len(route.Clusters) == 0 {
		notFound(w)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if sticky != "" {
		cluster, found := stickyCluster(route, sticky)
		if !found {
			notFound(w)
			return
		}
		header := r.Header.Clone()
		header.Set(internalModelHeader, cluster.VersionedName())
		header.Add(seldonModelHeader, cluster.Model)
		e.forward(w, r, header, body, cluster, 0)
		return
	}
	cluster := pick(route.Clusters)
	header := r.Header.Clone()
	header.Set(internalModelHeader, cluster.VersionedName())
	if route.Mirror != nil && rand.IntN(100) < route.MirrorPercent {
		mirrored := header.Clone()
		mirrored.Set(internalModelHeader, route.Mirror.VersionedName())
		go e.send(r.Method, r.URL.RequestURI(), mirrored, body, *route.Mirror)
	}
	e.forward(w, r, header, body, cluster, 5)
}

// stickyCluster is the cluster whose version x-seldon-route names, on a route with more than one cluster.
func stickyCluster(route seldonsim.Route, sticky string) (seldonsim.Cluster, bool) {
	if len(route.Clusters) < 2 {
		return seldonsim.Cluster{}, false
	}
	for _, c := range route.Clusters {
		if strings.Contains(sticky, routeSeparator+c.VersionedName()+routeSeparator) {
			return c, true
		}
	}
	return seldonsim.Cluster{}, false
}

// pick chooses a cluster by weight; envoy uses the weights' sum when no total is set.
func pick(clusters []seldonsim.Cluster) seldonsim.Cluster {
	total := 0
	for _, c := range clusters {
		total += c.Weight
	}
	if total <= 0 {
		return clusters[0]
	}
	n := rand.IntN(total)
	for _, c := range clusters {
		if n < c.Weight {
			return c
		}
		n -= c.Weight
	}
	return clusters[len(clusters)-1]
}

// forward sends the request to a host of cluster, retrying refused connections and 5xx answers, and writes the
// answer with envoy's headers.
func (e *envoy) forward(w http.ResponseWriter, r *http.Request, header http.Header, body []byte, cluster seldonsim.Cluster, retries int) {
	start := time.Now()
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		var err error
		resp, err = e.send(r.Method, r.URL.RequestURI(), header, body, cluster)
		if err == nil && resp.StatusCode < 500 {
			break
		}
		if err == nil && attempt >= retries {
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		if attempt >= retries {
			w.Header().Set("content-type", "text/plain")
			w.Header().Set("server", "envoy")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, noHealthyUpstreamMsg)
			return
		}
	}
	defer resp.Body.Close()
	out := w.Header()
	for k, v := range resp.Header {
		out[k] = v
	}
	out.Add(seldonRouteHeader, routeSeparator+cluster.VersionedName()+routeSeparator)
	out.Set("server", "envoy")
	out.Set("x-envoy-upstream-service-time", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// send delivers one request to a host of cluster: a Server pod whose agent holds the version, on the agent's
// HTTP port (the cluster's endpoints, scheduler/cmd/agent/main.go: createReplicaConfig, "Point to proxy always").
func (e *envoy) send(method, uri string, header http.Header, body []byte, cluster seldonsim.Cluster) (*http.Response, error) {
	var local int
	found := false
	for _, i := range rand.Perm(len(cluster.Pods)) {
		if local, found = e.plane.Network.Node.LocalPort(e.namespace, cluster.Pods[i], agentHTTPPort); found {
			break
		}
	}
	if !found {
		return nil, errNoHost
	}
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(local)+uri, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	return upstream.Do(req)
}

type hostError string

func (e hostError) Error() string { return string(e) }

const errNoHost = hostError("no host of the cluster is reachable")

// notFound is envoy's local reply when no route matches: 404, no body, envoy's server header.
func notFound(w http.ResponseWriter) {
	w.Header().Set("server", "envoy")
	w.Header().Set("content-length", "0")
	w.WriteHeader(http.StatusNotFound)
}
