package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// normalizeSeldon fills defaults that depend on other settings: namespaces default to the first model namespace.
func normalizeSeldon(s *Stack) {
	if len(s.Seldon.ModelNamespaces) == 0 {
		s.Seldon.ModelNamespaces = []string{s.Seldon.Namespace}
	}
	first := s.Seldon.ModelNamespaces[0]
	for i := range s.Seldon.Servers {
		server := &s.Seldon.Servers[i]
		server.Namespace = or(server.Namespace, first)
		server.ServerConfig = or(server.ServerConfig, "mlserver")
		if server.Replicas == 0 {
			server.Replicas = 1
		}
	}
	for i := range s.Models {
		s.Models[i].Namespace = or(s.Models[i].Namespace, first)
	}
	for i := range s.Experiments {
		e := &s.Experiments[i]
		e.Name = or(e.Name, DefaultExperimentName)
		e.Namespace = or(e.Namespace, first)
	}
}

// normalizeIngress puts the controller in its usual namespace unless the stack names one.
func normalizeIngress(in *Ingress) {
	if in.Controller == ControllerGatewayFabric {
		in.Namespace = or(in.Namespace, "nginx-gateway")
	}
	in.Namespace = or(in.Namespace, "ingress-nginx")
}

func or(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}

func (v *validator) seldon(s *Stack) {
	sd := s.Seldon
	v.label("seldon.namespace", sd.Namespace)
	v.resources("seldon.controllerResources", sd.ControllerResources)
	if r := sd.ControllerResources; r.Requests.Memory != r.Limits.Memory {
		v.add("seldon.controllerResources.requests.memory", r.Requests.Memory,
			"differs from limits.memory ("+r.Limits.Memory+"), but the setup chart takes one value (controller.resources.memory) as both request and limit",
			"set requests.memory and limits.memory to the same value")
	}
	seen := map[string]bool{}
	for i, ns := range sd.ModelNamespaces {
		key := fmt.Sprintf("seldon.modelNamespaces[%d]", i)
		v.label(key, ns)
		if seen[ns] {
			v.add(key, ns, "is listed twice, which would give the namespace two SeldonRuntimes: two schedulers "+
				"fighting over the same models (routes removed and re-added in a loop)",
				"list each model namespace once; exactly one scheduler must own a namespace")
		}
		seen[ns] = true
	}
	for _, name := range sortedKeys(sd.ControllerEnv) {
		key := "seldon.controllerEnv." + name
		if !envName.MatchString(name) {
			v.add(key, name, "is not an environment variable name", "use letters, digits and '_', not starting with a digit")
		}
		if name == "SELDON_SCHEDULER_HOST" || name == "SELDON_SCHEDULER_PORT" {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s:%s has no effect: since Seldon Core 2.6 the controller reads "+
				"no %s; it dials seldon-scheduler.<namespace of the Model or Experiment>:9004. Put a SeldonRuntime in "+
				"each model namespace (seldon.modelNamespaces) instead of pointing the controller elsewhere.", Namespace, key, name))
		}
	}
	if sd.Envoy.Replicas < 1 {
		v.add("seldon.envoy.replicas", fmt.Sprint(sd.Envoy.Replicas), "must be at least 1", "envoy is the data plane entry point; set 1 or more")
	}
	if sd.Envoy.ServiceType != "ClusterIP" && sd.Envoy.ServiceType != "LoadBalancer" {
		v.add("seldon.envoy.serviceType", sd.Envoy.ServiceType, "is not ClusterIP or LoadBalancer",
			"use ClusterIP (clients come through the ingress) or LoadBalancer")
	}
	if sd.PathPrefix != "" && (!strings.HasPrefix(sd.PathPrefix, "/") || strings.HasSuffix(sd.PathPrefix, "/") ||
		strings.HasPrefix(sd.PathPrefix, "/v2") || strings.ContainsAny(sd.PathPrefix, "()$^*?+ ")) {
		v.add("seldon.pathPrefix", sd.PathPrefix, "is not a plain path prefix",
			"write it like /seldon: a leading slash, no trailing slash, no regex, not /v2 (envoy only routes /v2)")
	}
	servers := map[string]Server{}
	for i, server := range sd.Servers {
		key := fmt.Sprintf("seldon.servers[%d]", i)
		v.label(key+".name", server.Name)
		v.inModelNamespace(key+".namespace", server.Namespace, sd.ModelNamespaces)
		if _, dup := servers[server.Namespace+"/"+server.Name]; dup {
			v.add(key+".name", server.Name, "is declared twice in namespace "+server.Namespace, "give each Server its own name")
		}
		servers[server.Namespace+"/"+server.Name] = server
		if server.ServerConfig != "mlserver" && server.ServerConfig != "triton" {
			v.add(key+".serverConfig", server.ServerConfig, "is not a ServerConfig of the setup chart", "use mlserver or triton")
		}
		if server.Replicas < 1 {
			v.add(key+".replicas", fmt.Sprint(server.Replicas), "must be at least 1", "set 1 or more")
		}
		if server.Memory != "" && !quantity.MatchString(server.Memory) {
			v.add(key+".memory", server.Memory, "is not a memory quantity", "write e.g. 2Gi")
		}
	}
	models := v.models(s, servers)
	v.placement(s)
	v.experiments(s, models)
	v.verification(s)
}

func (v *validator) verification(s *Stack) {
	vf := s.Verification
	v.tensor("verification.input", vf.Input)
	// The judgement's settings shape the verifyArgs output too, so they are checked whether or not up runs it.
	if vf.Tolerance <= 0 || vf.Tolerance >= 1 {
		v.add("verification.tolerance", fmt.Sprint(vf.Tolerance), "is not a share between 0 and 1", "use e.g. 0.10 for ±10 points")
	}
	if vf.Power <= 0 || vf.Power >= 1 {
		v.add("verification.power", fmt.Sprint(vf.Power), "is not a probability between 0 and 1", "use e.g. 0.99")
	}
	if vf.LatencyRatio < 1 {
		v.add("verification.latencyRatio", fmt.Sprint(vf.LatencyRatio), "must be at least 1", "use e.g. 3")
	}
	for _, kv := range [][2]string{{"verification.latencyP95", vf.LatencyP95}, {"verification.timeout", vf.Timeout},
		{"verification.deadline", vf.Deadline}, {"verification.rolloutTimeout", vf.RolloutTimeout}} {
		if d, err := time.ParseDuration(kv[1]); err != nil || d <= 0 {
			v.add(kv[0], kv[1], "is not a positive duration", "use Go duration syntax, e.g. 1s, 500ms, 45s")
		}
	}
	if !vf.Enabled {
		return
	}
	if !s.Seldon.WaitsForReady() {
		v.add("verification.enabled", "true", "needs seldon.waitForReady: true, or it would call the experiment before it is active",
			"remove seldon.waitForReady: false")
	}
	if vf.Requests < 0 || vf.Concurrency < 1 {
		v.add("verification.concurrency", fmt.Sprint(vf.Concurrency), "must be at least 1 (and requests not negative)", "use e.g. 4")
	}
	if vf.Significance <= 0 || vf.Significance >= 0.5 {
		v.add("verification.significance", fmt.Sprint(vf.Significance), "is not a significance level", "use e.g. 0.01")
	}
}

// v2Datatypes are the Open Inference Protocol's tensor datatypes.
var v2Datatypes = []string{"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"}

func (v *validator) tensor(key string, t TensorSpec) {
	if t.Name == "" {
		v.add(key+".name", "", "is empty", "name the model's input tensor, e.g. input_data")
	}
	size := 1
	for i, d := range t.Shape {
		if d < 1 {
			v.add(fmt.Sprintf("%s.shape[%d]", key, i), fmt.Sprint(d), "is not a positive dimension", "give every dimension a size, e.g. [1, 10, 35]")
		}
		size *= max(d, 1)
	}
	if len(t.Shape) == 0 || size > 1<<20 {
		v.add(key+".shape", fmt.Sprint(t.Shape), "is empty or larger than a million elements", "give the model's input shape, e.g. [1, 10, 35]")
	}
	if !slices.Contains(v2Datatypes, t.Datatype) {
		v.add(key+".datatype", t.Datatype, "is not a V2 datatype", "use one of "+strings.Join(v2Datatypes, ", ")+" (FP32 for a float32 signature)")
	}
}

func (v *validator) inModelNamespace(key, ns string, modelNamespaces []string) {
	if !slices.Contains(modelNamespaces, ns) {
		v.add(key, ns, "is not a model namespace, so no scheduler would own it",
			"use one of seldon.modelNamespaces ("+strings.Join(modelNamespaces, ", ")+") or add it there")
	}
}

func (v *validator) models(s *Stack, servers map[string]Server) map[string]Model {
	models := map[string]Model{}
	if len(s.Models) == 0 {
		v.add("models", "", "is empty", "declare the Models the experiment splits traffic between")
	}
	for i, m := range s.Models {
		key := fmt.Sprintf("models[%d]", i)
		v.label(key+".name", m.Name)
		v.inModelNamespace(key+".namespace", m.Namespace, s.Seldon.ModelNamespaces)
		if _, dup := models[m.Namespace+"/"+m.Name]; dup {
			v.add(key+".name", m.Name, "is declared twice in namespace "+m.Namespace, "give each Model its own name")
		}
		models[m.Namespace+"/"+m.Name] = m
		v.storageURI(key+".storageUri", m.StorageURI, s.ModelStore)
		if m.Memory != "" && !quantity.MatchString(m.Memory) {
			v.add(key+".memory", m.Memory, "is not a memory quantity", "write e.g. 1Gi")
		}
		if m.Replicas < 0 {
			v.add(key+".replicas", fmt.Sprint(m.Replicas), "is negative", "leave it out (1) or set a positive count")
		}
		server, found := servers[m.Namespace+"/"+m.Server]
		if m.Server != "" && !found {
			v.add(key+".server", m.Server, "is not a Server in namespace "+m.Namespace, "name one of seldon.servers in that namespace")
			continue
		}
		candidates := []Server{server}
		if m.Server == "" {
			candidates = nil
			for _, srv := range servers {
				if srv.Namespace == m.Namespace {
					candidates = append(candidates, srv)
				}
			}
		}
		v.requirements(key, m, candidates)
	}
	return models
}

// requirements refuses a Model no Server can load: Seldon matches requirements to capabilities by exact string.
func (v *validator) requirements(key string, m Model, servers []Server) {
	if len(servers) == 0 {
		v.add(key+".server", m.Server, "has no Server in namespace "+m.Namespace+" to run on", "declare one in seldon.servers")
		return
	}
	for j, req := range m.Requirements {
		satisfied := false
		for _, srv := range servers {
			satisfied = satisfied || slices.Contains(srv.Capabilities(), req)
		}
		if satisfied {
			continue
		}
		fix := fmt.Sprintf("add %q to the Server's extraCapabilities", req)
		for _, srv := range servers {
			for _, capability := range srv.Capabilities() {
				if sameLibrary(req, capability) {
					fix = fmt.Sprintf("Seldon compares exact strings: the Server offers %q; use that, or add %q to its extraCapabilities", capability, req)
				}
			}
		}
		v.add(fmt.Sprintf("%s.requirements[%d]", key, j), req, "matches no capability of a Server in "+m.Namespace+
			", so the Model would never be scheduled", fix)
	}
}

func (v *validator) storageURI(key, uri string, store ModelStore) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || rest == "" {
		v.add(key, uri, "is not a storage URI", fmt.Sprintf("write %s://<bucket>/<path>", store.RcloneRemote))
		return
	}
	if scheme != store.RcloneRemote {
		v.add(key, uri, fmt.Sprintf("uses scheme %q but the model store's rclone remote is named %q", scheme, store.RcloneRemote),
			fmt.Sprintf("write %s://%s (the scheme must equal the rclone remote name)", store.RcloneRemote, rest))
		return
	}
	bucket, _, _ := strings.Cut(rest, "/")
	if !slices.Contains(store.Buckets, bucket) {
		v.add(key, uri, "names bucket "+bucket+", which is not in modelStore.buckets", "add the bucket there, or fix the URI")
	}
}

// experiments refuses what Seldon's scheduler would refuse at run time, where the refusal shows only as an
// Experiment that never turns Ready.
func (v *validator) experiments(s *Stack, models map[string]Model) {
	defaults, names := map[string]string{}, map[string]string{}
	for i, e := range s.Experiments {
		key := s.ExperimentKey(i)
		v.label(key+".name", e.Name)
		v.inModelNamespace(key+".namespace", e.Namespace, s.Seldon.ModelNamespaces)
		if mesh := s.MeshNamespace(); e.Namespace != mesh {
			v.add(key+".namespace", e.Namespace, "is not "+mesh+", the namespace of "+s.ExperimentKey(0)+
				": the ingress routes to one seldon-mesh, so an Experiment in another namespace could not be called through it",
				"put every experiment, and its candidates, in "+mesh+"; Models in other namespaces are served by their own namespace's mesh")
		}
		if first, dup := names[e.Namespace+"/"+e.Name]; dup {
			v.add(key+".name", e.Name, "is also the name of "+first+" in namespace "+e.Namespace, "give each experiment its own name")
		} else {
			names[e.Namespace+"/"+e.Name] = key
		}
		v.experiment(key, e, models)
		if e.Default == "" {
			continue
		}
		// scheduler/pkg/store/experiment/validate.go (validateNoExistingDefault): a default model is the baseline of
		// one Experiment only; the refusal is a FailedPrecondition the controller does not retry.
		if first, taken := defaults[e.Namespace+"/"+e.Default]; taken {
			v.add(key+".default", e.Default, "is already the default model of "+first+"; Seldon's scheduler refuses a second "+
				"Experiment on the same default model (ExperimentBaselineExists) and the controller never retries it",
				"give each experiment its own default model, or leave this one's default empty (it is then called only as "+
					e.Name+".experiment)")
		} else {
			defaults[e.Namespace+"/"+e.Default] = key
		}
	}
}

func (v *validator) experiment(key string, e Experiment, models map[string]Model) {
	if len(e.Candidates) < 2 {
		v.add(key+".candidates", fmt.Sprint(len(e.Candidates)), "must list at least two Models for an A/B split",
			"list candidates with weights, e.g. [{name: baseline-predictor, weight: 70}, {name: enhanced-predictor, weight: 30}]")
	}
	names, total := map[string]bool{}, 0
	for i, c := range e.Candidates {
		total += c.Weight
		ckey := fmt.Sprintf("%s.candidates[%d]", key, i)
		v.candidate(ckey+".name", c.Name, e.Namespace, models)
		if names[c.Name] {
			v.add(ckey+".name", c.Name, "is a candidate twice", "list each Model once")
		}
		names[c.Name] = true
		if c.Weight <= 0 {
			v.add(ckey+".weight", fmt.Sprint(c.Weight), "must be positive", "shares are weight / sum of weights; use e.g. 70 and 30")
		}
	}
	// The scheduler hands the weights to envoy unchecked (scheduler/pkg/envoy/xdscache/resource.go,
	// createWeightedModelClusterAction): with no weight at all, no candidate has a share of the calls.
	if len(e.Candidates) > 0 && total <= 0 {
		v.add(key+".candidates", fmt.Sprint(total), "have weights that sum to "+fmt.Sprint(total)+", so no candidate has a share of the calls",
			"give the candidates positive weights, e.g. 70 and 30")
	}
	if e.Default != "" && !names[e.Default] {
		v.add(key+".default", e.Default, "is not one of the candidates",
			"name a candidate (calls to its own name are then split too), or leave it empty")
	}
	if m := e.Mirror; m != nil {
		v.candidate(key+".mirror.name", m.Name, e.Namespace, models)
		if names[m.Name] {
			v.add(key+".mirror.name", m.Name, "is also a candidate", "mirror a Model that is not a candidate")
		}
		if m.Percent < 1 || m.Percent > 100 {
			v.add(key+".mirror.percent", fmt.Sprint(m.Percent), "is not between 1 and 100", "set the share of traffic copied")
		}
	}
}

// candidate refuses a name that is not a Model of the experiment's namespace: its scheduler knows no other, so the
// Experiment would never become active.
func (v *validator) candidate(key, name, namespace string, models map[string]Model) {
	if _, ok := models[namespace+"/"+name]; ok {
		return
	}
	for _, k := range sortedKeys(models) {
		if m := models[k]; m.Name == name {
			v.add(key, name, "is a Model of namespace "+m.Namespace+", not of "+namespace+
				", where the Experiment lives: that namespace's scheduler does not know it, so the Experiment would never become active",
				"declare the Model in "+namespace+" (models[*].namespace), or name a Model of "+namespace)
			return
		}
	}
	v.add(key, name, "is not a Model declared in namespace "+namespace,
		"name one of models[*].name; the Experiment is only active when every candidate is Ready")
}

// librarySpellings are other names people write for a capability Seldon spells one way.
var librarySpellings = map[string]string{
	"scikit-learn": "sklearn", "scikitlearn": "sklearn", "sk-learn": "sklearn",
	"spark-mllib": "spark-mlib", "light-gbm": "lightgbm", "xg-boost": "xgboost", "hugging-face": "huggingface",
}

// sameLibrary reports whether a requirement is probably a misspelling of a capability.
func sameLibrary(requirement, capability string) bool {
	requirement = strings.ToLower(requirement)
	return librarySpellings[requirement] == capability || (requirement != capability && editDistance(requirement, capability) <= 2)
}
