package dataplane

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// modelPath is the agent's rewrite of an inference path to the versioned model it loaded
// (scheduler/pkg/agent/rproxy.go: rewritePath; /versions/<n> is dropped, the pattern is not anchored).
var modelPath = regexp.MustCompile(`(/v2/models/)([\w\-]+)(/versions/\w+)?(.*)$`)

// agent is one Server pod, answering on its agent's HTTP port: the agent's reverse proxy in front of MLServer
// (scheduler/pkg/agent/rproxy.go). With seldon-internal-model set (envoy sets it), the path is rewritten to that
// versioned name and the version must be loaded on this replica, else Go's 404 page (EnsureLoadModel failing in
// addHandlers). MLServer then answers the V2 protocol for the versions loaded here: health, model readiness and
// inference, whose response names the versioned model and version "1", the folder the agent always loads into
// (agent_svc_manager.go: LoadModel, repository/mlserver/mlserver.go: updateNameAndVersion). The outputs stand in
// for what the stand-in artifacts would compute: one FP32 value per row of the first input.
type agent struct {
	plane *Plane
	pod   *corev1.Pod
}

func (a *agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if internal := r.Header.Get(internalModelHeader); internal != "" && modelPath.MatchString(path) {
		path = modelPath.ReplaceAllString(path, "${1}"+internal+"${4}")
		if !a.loaded(internal) {
			http.NotFound(w, r)
			return
		}
	}
	if w.Header().Get("X-Request-Id") == "" {
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			id = newID()
		}
		w.Header().Set("X-Request-Id", id)
	}
	switch {
	case path == "/v2/health/live" || path == "/v2/health/ready":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(path, modelsPathPrefix):
		a.model(w, r, strings.TrimPrefix(path, modelsPathPrefix))
	default:
		mlserverError(w, http.StatusNotFound, "Not Found")
	}
}

// model answers /v2/models/<name>[/ready|/infer] for a version loaded here.
func (a *agent) model(w http.ResponseWriter, r *http.Request, rest string) {
	name, action, _ := strings.Cut(rest, "/")
	if !a.loaded(name) {
		mlserverError(w, http.StatusNotFound, "Model "+name+" not found")
		return
	}
	switch {
	case action == "ready" && r.Method == http.MethodGet:
		w.WriteHeader(http.StatusOK)
	case action == "infer" && r.Method == http.MethodPost:
		var req struct {
			ID     string `json:"id"`
			Inputs []struct {
				Shape []int `json:"shape"`
			} `json:"inputs"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || len(req.Inputs) == 0 || len(req.Inputs[0].Shape) == 0 {
			mlserverError(w, http.StatusUnprocessableEntity, "the request is not a V2 inference request with inputs")
			return
		}
		rows := req.Inputs[0].Shape[0]
		data := make([]float32, rows)
		for i := range data {
			data[i] = 0.5
		}
		id := req.ID
		if id == "" {
			id = newID()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"model_name": name, "model_version": "1", "id": id, "parameters": map[string]any{},
			"outputs": []any{map[string]any{"name": "output-1", "shape": []int{rows, 1}, "datatype": "FP32",
				"parameters": map[string]any{}, "data": data}},
		})
	default:
		mlserverError(w, http.StatusNotFound, "Not Found")
	}
}

// loaded says whether a versioned model is loaded on this pod.
func (a *agent) loaded(versioned string) bool {
	return a.plane.Loaded(a.pod.Namespace, versioned, a.pod.Name)
}

func mlserverError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": message})
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
