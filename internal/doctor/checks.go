package doctor

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/policies"
)

// checkCRDs reports the Seldon CRDs; it returns false when Seldon is not installed at all.
func checkCRDs(s snapshot, add func(Finding)) bool {
	found := map[string]string{}
	for _, crd := range s.byKind["CustomResourceDefinition"] {
		if crd.String("spec", "group") != seldonspec.Group {
			continue
		}
		var versions []string
		for _, v := range crd.List("spec", "versions") {
			if m, _ := v.(map[string]any); m["served"] == true {
				versions = append(versions, fmt.Sprint(m["name"]))
			}
		}
		found[crd.String("spec", "names", "plural")] = strings.Join(versions, ",")
	}
	if len(found) == 0 {
		add(Finding{Severity: Error, Check: "crds", What: "no Seldon Core v2 CRDs (mlops.seldon.io) are installed",
			Fix: "install the seldon-core-v2-crds chart (this project's seldon component does) before the setup chart"})
		return false
	}
	var missing []string
	for plural := range seldonKinds {
		if _, ok := found[plural]; !ok {
			missing = append(missing, plural)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		add(Finding{Severity: Error, Check: "crds", What: "Seldon CRDs missing: " + strings.Join(missing, ", "),
			Fix: "reinstall the seldon-core-v2-crds chart of the controller's version"})
	}
	add(Finding{Severity: Info, Check: "crds", What: fmt.Sprintf("Seldon CRDs installed, served versions: models %s, experiments %s",
		found["models"], found["experiments"])})
	return true
}

// modelNamespaces are the namespaces that hold Models, Servers or Experiments.
func modelNamespaces(s snapshot) []string {
	var out []string
	for _, r := range s.all("Model", "Server", "Experiment") {
		if !slices.Contains(out, r.Namespace()) {
			out = append(out, r.Namespace())
		}
	}
	slices.Sort(out)
	return out
}

func env(container map[string]any, name string) (string, bool) {
	list, _ := container["env"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m["name"] == name {
			v, _ := m["value"].(string)
			return v, true
		}
	}
	return "", false
}

func checkController(s snapshot, add func(Finding)) {
	var controllers []policies.Resource
	for _, d := range s.byKind["Deployment"] {
		if d.ObjectName() == seldonspec.ControllerDeployment {
			controllers = append(controllers, d)
		}
	}
	if len(controllers) == 0 {
		add(Finding{Severity: Error, Check: "controller", What: "no seldon-v2-controller-manager Deployment: nothing reconciles Models, Servers or Experiments",
			Fix: "install the seldon-core-v2-setup chart"})
		return
	}
	for _, c := range controllers {
		available := false
		for _, cond := range c.List("status", "conditions") {
			m, _ := cond.(map[string]any)
			available = available || (m["type"] == "Available" && m["status"] == "True")
		}
		if !available {
			add(Finding{Severity: Error, Check: "controller", Object: where(c), What: "the controller is not Available",
				Fix: "kubectl -n " + c.Namespace() + " describe deployment seldon-v2-controller-manager; check its pod's logs"})
		}
		containers := c.List("spec", "template", "spec", "containers")
		manager := map[string]any{}
		for _, ct := range containers {
			if m, _ := ct.(map[string]any); m["name"] == "manager" {
				manager = m
			}
		}
		clusterwide, _ := env(manager, seldonspec.ControllerClusterwide)
		watch, _ := env(manager, seldonspec.ControllerWatchNSEnv)
		scope := seldonspec.ScopeOf(c.Namespace(), clusterwide, watch)
		add(Finding{Severity: Info, Check: "controller", Object: where(c), What: "the controller watches " + scope.String()})
		for _, host := range []string{"SELDON_SCHEDULER_HOST", "SELDON_SCHEDULER_PORT"} {
			if _, set := env(manager, host); set {
				add(Finding{Severity: Warning, Check: "controller", Object: where(c), What: host + " is set but has no effect: since Seldon 2.6 the controller dials seldon-scheduler.<namespace of the Model>:9004",
					Fix: "remove it; put one SeldonRuntime in each model namespace"})
			}
		}
		for _, ns := range modelNamespaces(s) {
			if scope.Watches(ns) {
				continue
			}
			fix := "add it to controller.watchNamespaces of the setup chart (seldon.modelNamespaces here)"
			if slices.Contains(scope.Ignored, ns) {
				fix = "set controller.clusterwide: true in the setup chart: the controller reads --watch-namespaces only then"
			}
			add(Finding{Severity: Error, Check: "controller", Object: "namespace " + ns,
				What: "holds Seldon resources but the controller does not watch it", Fix: fix})
		}
	}
}

// checkSchedulers: exactly one scheduler per model namespace, and the name the controller dials has endpoints.
func checkSchedulers(s snapshot, add func(Finding)) {
	fromRules(add, Error, "schedulers", policies.OneSchedulerPerNamespace(s.all("SeldonRuntime", "Service")))
	runtimes := map[string]bool{}
	for _, rt := range s.byKind["SeldonRuntime"] {
		runtimes[rt.Namespace()] = true
	}
	for _, ns := range modelNamespaces(s) {
		dial := fmt.Sprintf("%s.%s:%d", seldonspec.SchedulerService, ns, seldonspec.SchedulerControlPort)
		if !runtimes[ns] {
			add(Finding{Severity: Error, Check: "schedulers", Object: "namespace " + ns,
				What: "holds Seldon resources but no SeldonRuntime, so no scheduler owns it; the controller dials " + dial,
				Fix:  "create one SeldonRuntime in " + ns + " (seldon.modelNamespaces here)"})
			continue
		}
		if !serviceHasEndpoints(s, ns, seldonspec.SchedulerService) {
			add(Finding{Severity: Error, Check: "schedulers", Object: "namespace " + ns,
				What: "the controller dials " + dial + ", but no seldon-scheduler Service with ready endpoints exists",
				Fix:  "kubectl -n " + ns + " get svc,endpointslices seldon-scheduler; check the seldon-scheduler pod"})
		}
	}
}

func serviceHasEndpoints(s snapshot, ns, name string) bool {
	for _, slice := range s.byKind["EndpointSlice"] {
		if slice.Namespace() != ns || slice.String("metadata", "labels", "kubernetes.io/service-name") != name {
			continue
		}
		for _, e := range slice.List("endpoints") {
			m, _ := e.(map[string]any)
			cond, _ := m["conditions"].(map[string]any)
			if cond["ready"] == true {
				return true
			}
		}
	}
	return false
}

// checkReadiness reports Seldon resources that are not ready, with the controller's reason and message. An object
// whose Ready is True is ready: a condition that failed once can stay beside it (the controller keeps each
// condition's last value) and is not a fault. An object with no Ready at all is judged by its failed conditions:
// an Experiment the scheduler refused carries only a ModelReady condition with the refusal as its reason
// (operator/controllers/mlops/experiment_controller.go: updateStatusFromError).
func checkReadiness(s snapshot, add func(Finding), simulated bool) {
	for _, r := range s.all("SeldonRuntime", "Server", "Model", "Experiment") {
		conditions := r.List("status", "conditions")
		if len(conditions) == 0 {
			sev := Warning
			if simulated {
				sev = Info
			}
			add(Finding{Severity: sev, Check: "readiness", Object: where(r), What: "has no status yet: the controller has not reconciled it",
				Fix: "check that the controller runs and watches " + r.Namespace()})
			continue
		}
		byType := map[string]map[string]any{}
		for _, c := range conditions {
			m, _ := c.(map[string]any)
			byType[fmt.Sprint(m["type"])] = m
		}
		judged := []string{seldonspec.ConditionReady}
		switch {
		case r.Kind() == seldonspec.KindSeldonRuntime:
			// A runtime's Ready needs all six components and disabled ones never report, so it is judged by the
			// conditions of the components it runs.
			judged = enabledComponentConditions(r)
		case byType[seldonspec.ConditionReady]["status"] == "True":
			continue
		case byType[seldonspec.ConditionReady] == nil:
			judged = nil
			for t, m := range byType {
				if m["status"] == "False" {
					judged = append(judged, t)
				}
			}
			slices.Sort(judged)
		}
		fix := "kubectl -n " + r.Namespace() + " describe " + strings.ToLower(r.Kind()) + " " + r.ObjectName()
		for _, t := range judged {
			m := byType[t]
			if m == nil || m["status"] == "True" {
				continue
			}
			reason, message := fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
			what := strings.TrimSpace(fmt.Sprintf("is not %v: %s %s", t, strings.TrimSuffix(reason, "<nil>"), strings.TrimSuffix(message, "<nil>")))
			f := fix
			if strings.Contains(reason, "as a baseline") {
				f = "an Experiment's default model can be the baseline of one Experiment only, and the controller does not retry a refused one: " +
					"delete the other Experiment, then change this one (any spec change retries it), or delete and create it again"
			}
			add(Finding{Severity: Error, Check: "readiness", Object: where(r), What: what, Fix: f})
		}
	}
}

// checkSchedulerReplicas: SchedulerReady is what the controller reads off the scheduler StatefulSet's status,
// readyReplicas >= status.replicas (operator/controllers/reconcilers/seldon/statefulset_reconciler.go:
// GetConditions), which holds for a StatefulSet whose status is still empty: a runtime can say SchedulerReady with
// no scheduler pod ready, and Models then wait for a scheduler that is not there.
func checkSchedulerReplicas(s snapshot, add func(Finding)) {
	for _, rt := range s.byKind["SeldonRuntime"] {
		if !conditionTrue(rt, "SchedulerReady") {
			continue
		}
		for _, sts := range s.byKind["StatefulSet"] {
			if sts.Namespace() != rt.Namespace() || sts.ObjectName() != seldonspec.SchedulerService {
				continue
			}
			ready, want := number(sts.Get("status", "readyReplicas")), replicasOf(sts)
			if ready < want {
				add(Finding{Severity: Warning, Check: "schedulers", Object: where(rt),
					What: fmt.Sprintf("says SchedulerReady, but its seldon-scheduler StatefulSet has %d of %d replicas ready: the controller "+
						"reads readyReplicas against status.replicas, which holds before the pod starts", ready, want),
					Fix: "kubectl -n " + rt.Namespace() + " describe pod seldon-scheduler-0 (its volume claim, image pull, scheduling)"})
			}
		}
	}
}

// checkServerPods: an agent that exits at start-up shows only on its pod (the controller writes no Server
// condition for it): restarts in CrashLoopBackOff, the reason in its log.
func checkServerPods(s snapshot, add func(Finding)) {
	for _, pod := range s.byKind["Pod"] {
		server := pod.String("metadata", "labels", "seldon-server-name")
		if server == "" {
			continue
		}
		for _, c := range pod.List("status", "containerStatuses") {
			m, _ := c.(map[string]any)
			waiting, _ := m["state"].(map[string]any)["waiting"].(map[string]any)
			if waiting["reason"] != "CrashLoopBackOff" {
				continue
			}
			fix := fmt.Sprintf("kubectl -n %s logs %s -c %v --previous", pod.Namespace(), pod.ObjectName(), m["name"])
			if m["name"] == seldonspec.AgentContainer {
				fix += "; an agent exits when an rclone Secret its runtime or the SeldonConfig lists is missing (see the model-storage findings)"
			}
			add(Finding{Severity: Error, Check: "servers", Object: where(pod),
				What: fmt.Sprintf("container %v of Server %s restarts in CrashLoopBackOff (%v restarts)", m["name"], server, m["restartCount"]),
				Fix:  fix})
		}
	}
}

func conditionTrue(r policies.Resource, condType string) bool {
	for _, c := range r.List("status", "conditions") {
		m, _ := c.(map[string]any)
		if m["type"] == condType {
			return m["status"] == "True"
		}
	}
	return false
}

func enabledComponentConditions(runtime policies.Resource) []string {
	disabled := map[string]bool{}
	for _, o := range runtime.List("spec", "overrides") {
		m, _ := o.(map[string]any)
		if m["disable"] == true {
			disabled[fmt.Sprint(m["name"])] = true
		}
	}
	var out []string
	for _, c := range seldonspec.Components {
		if !disabled[c.Name] {
			out = append(out, c.Condition)
		}
	}
	return out
}

// serverNeeds reads each Server's replicas and mlserver memory request from the cluster, for checkNodeMemory.
func serverNeeds(s snapshot) []ServerNeed {
	configs := map[string]map[string]any{}
	for _, c := range s.byKind[seldonspec.KindServerConfig] {
		configs[c.ObjectName()] = c.Props
	}
	var out []ServerNeed
	for _, srv := range s.byKind[seldonspec.KindServer] {
		memory, err := resource.ParseQuantity(seldonspec.MLServerMemoryRequest(configs[srv.String("spec", "serverConfig")], srv.Props))
		if err != nil {
			continue
		}
		out = append(out, ServerNeed{Name: srv.Namespace() + "/" + srv.ObjectName(), Replicas: int(replicasOf(srv)), Memory: memory})
	}
	return out
}

// replicasOf is a workload's or Server's spec.replicas, 1 when unset.
func replicasOf(r policies.Resource) int64 {
	if r.Get("spec", "replicas") == nil {
		return 1
	}
	return number(r.Get("spec", "replicas"))
}

// number reads a JSON number; 0 when absent.
func number(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

// checkCapacity: the Models that name a Server must fit its replicas' memory (the mlserver request plus 10%), or
// the scheduler leaves one ScheduleFailed.
func checkCapacity(s snapshot, add func(Finding)) {
	configs := map[string]map[string]any{}
	for _, c := range s.byKind[seldonspec.KindServerConfig] {
		configs[c.ObjectName()] = c.Props
	}
	for _, srv := range s.byKind[seldonspec.KindServer] {
		request := seldonspec.MLServerMemoryRequest(configs[srv.String("spec", "serverConfig")], srv.Props)
		memory, err := resource.ParseQuantity(request)
		if err != nil {
			continue
		}
		replicas := replicasOf(srv)
		capacity := seldonspec.ReplicaCapacity(memory)
		var total int64
		var names []string
		for _, m := range s.byKind[seldonspec.KindModel] {
			if m.Namespace() != srv.Namespace() || m.String("spec", "server") != srv.ObjectName() {
				continue
			}
			q, err := resource.ParseQuantity(m.String("spec", "memory"))
			if err != nil {
				continue
			}
			total += q.Value()
			names = append(names, m.ObjectName()+" "+q.String())
		}
		if total <= capacity*replicas {
			continue
		}
		add(Finding{Severity: Error, Check: "capacity", Object: where(srv),
			What: fmt.Sprintf("its %d replica(s) of %s (mlserver memory request) hold %.2fGi of models with the 10%% overcommit, but %s need %.2fGi: the scheduler leaves one ScheduleFailed",
				replicas, memory.String(), float64(capacity*replicas)/(1<<30), strings.Join(names, ", "), float64(total)/(1<<30)),
			Fix: "raise the Server's mlserver memory (seldon.servers[].memory here, the Server's spec.podSpec override) or its replicas, or lower the Models' memory"})
	}
}

// checkTerminating finds Seldon objects stuck on their finalizers and says what holds each.
func checkTerminating(s snapshot, add func(Finding)) {
	liveRuntime, servers := map[string]bool{}, map[string]int{}
	for _, rt := range s.byKind[seldonspec.KindSeldonRuntime] {
		liveRuntime[rt.Namespace()] = liveRuntime[rt.Namespace()] || rt.Get("metadata", "deletionTimestamp") == nil
	}
	for _, srv := range s.byKind[seldonspec.KindServer] {
		servers[srv.Namespace()]++
	}
	const safeOrder = "the safe order is Experiments -> Models -> Servers -> SeldonRuntime -> controller -> CRDs. "
	const patching = "Patching the finalizer away (kubectl patch --type merge -p '{\"metadata\":{\"finalizers\":null}}') " +
		"loses the scheduler's clean-up: its routes and loaded model stay until the scheduler restarts"
	for _, r := range s.all("Experiment", "Model", "Server", "SeldonRuntime") {
		if r.Get("metadata", "deletionTimestamp") == nil || len(r.List("metadata", "finalizers")) == 0 {
			continue
		}
		ns := r.Namespace()
		problem := fmt.Sprintf("is stuck Terminating on finalizers %v", r.List("metadata", "finalizers"))
		fix := "bring the controller and the namespace's SeldonRuntime back and it completes; " + safeOrder + patching
		switch {
		case r.Kind() == seldonspec.KindSeldonRuntime && servers[ns] > 0:
			problem += fmt.Sprintf(": a SeldonRuntime keeps its finalizer while Servers remain in %s (%d left)", ns, servers[ns])
			fix = "delete the Servers of " + ns + " (kubectl -n " + ns + " delete servers --all; they have no finalizer) once its " +
				"Experiments and Models are gone; " + safeOrder
		case r.Kind() != seldonspec.KindSeldonRuntime && !liveRuntime[ns]:
			problem += ": deleting it asks the scheduler of " + ns + " to unload it, and no SeldonRuntime there runs one"
			fix = "bring the scheduler back and the deletion completes: `pulumi up --refresh` re-creates the stack's SeldonRuntime " +
				"(or kubectl apply one in " + ns + "); " + safeOrder + patching
		default:
			problem += ": they clear only when the controller and the scheduler of " + ns + " answer"
		}
		add(Finding{Severity: Error, Check: "terminating", Object: where(r), What: problem, Fix: fix})
	}
}

// checkModelStorage parses the rclone Secrets runtimes and Models use, and matches storageUri schemes to remotes.
func checkModelStorage(s snapshot, add func(Finding)) {
	secrets := map[string]policies.Resource{}
	for _, sec := range s.byKind["Secret"] {
		secrets[sec.Namespace()+"/"+sec.ObjectName()] = sec
	}
	remotes := map[string][]string{} // namespace -> remote names available to its agents
	use := func(ns, name, by string) {
		sec, ok := secrets[ns+"/"+name]
		if !ok {
			add(Finding{Severity: Error, Check: "model-storage", Object: by, What: "uses rclone Secret " + ns + "/" + name + ", which does not exist",
				Fix: "create it (this project's seldon component does) or fix the name"})
			return
		}
		for key, v := range sec.Map("data") {
			text, err := decodeBase64(v)
			var remote struct {
				Name string `yaml:"name"`
				Type string `yaml:"type"`
			}
			if err != nil || yaml.Unmarshal([]byte(text), &remote) != nil || remote.Name == "" || remote.Type == "" {
				add(Finding{Severity: Error, Check: "model-storage", Object: where(sec), What: "key " + key + " is not an rclone remote (YAML with name and type)",
					Fix: "write one remote as YAML: {type: s3, name: s3, parameters: {provider: minio, endpoint: ..., access_key_id: ..., secret_access_key: ...}}"})
				continue
			}
			remotes[ns] = append(remotes[ns], remote.Name)
		}
	}
	// The controller appends the SeldonConfig's list to each runtime's; an agent exits if any is missing.
	var fromSeldonConfig []any
	for _, c := range s.byKind[seldonspec.KindSeldonConfig] {
		if c.ObjectName() == seldonspec.SeldonConfigName {
			fromSeldonConfig = c.List("spec", "config", "agentConfig", "rclone", "config_secrets")
		}
	}
	for _, rt := range s.byKind["SeldonRuntime"] {
		for _, name := range rt.List("spec", "config", "agentConfig", "rclone", "config_secrets") {
			use(rt.Namespace(), fmt.Sprint(name), where(rt))
		}
		for _, name := range fromSeldonConfig {
			use(rt.Namespace(), fmt.Sprint(name), where(rt)+" (from SeldonConfig "+seldonspec.SeldonConfigName+"; every agent exits at start-up without it)")
		}
	}
	for _, m := range s.byKind["Model"] {
		if name := m.String("spec", "secretName"); name != "" {
			use(m.Namespace(), name, where(m))
		}
	}
	for _, m := range s.byKind["Model"] {
		scheme, _, ok := strings.Cut(m.String("spec", "storageUri"), "://")
		if !ok || scheme == "gs" || scheme == "https" || scheme == "http" || len(remotes[m.Namespace()]) == 0 {
			continue
		}
		if !slices.Contains(remotes[m.Namespace()], scheme) {
			add(Finding{Severity: Error, Check: "model-storage", Object: where(m),
				What: fmt.Sprintf("storageUri scheme %q matches no rclone remote in %s (remotes: %s)", scheme, m.Namespace(), strings.Join(remotes[m.Namespace()], ", ")),
				Fix:  "the storageUri scheme must equal the remote's name: rename one of them"})
		}
	}
}

// checkNetworking: Ingresses to seldon-mesh, MetalLB IPs and annotations, LoadBalancer Services still pending.
func checkNetworking(s snapshot, add func(Finding)) {
	fromRules(add, Error, "ingress", policies.MeshIngressKeepsV2(s.byKind["Ingress"]))
	runtimes := map[string]bool{}
	for _, rt := range s.byKind["SeldonRuntime"] {
		runtimes[rt.Namespace()] = true
	}
	for _, in := range s.byKind["Ingress"] {
		if strings.Contains(fmt.Sprint(in.Get("spec", "rules")), seldonspec.MeshService) && !runtimes[in.Namespace()] {
			add(Finding{Severity: Error, Check: "ingress", Object: where(in), What: "routes to seldon-mesh, but " + in.Namespace() + " has no SeldonRuntime (an Ingress reaches only its own namespace's Services)",
				Fix: "create the Ingress in the SeldonRuntime's namespace"})
		}
	}
	metallb := s.all("IPAddressPool", "Service")
	fromRules(add, Error, "metallb", policies.MetalLBAnnotation(metallb))
	fromRules(add, Error, "metallb", policies.MetalLBIPs(metallb))
	for _, svc := range s.byKind["Service"] {
		if svc.String("spec", "type") == "LoadBalancer" && len(svc.List("status", "loadBalancer", "ingress")) == 0 {
			what := "LoadBalancer Service is still pending an IP"
			// MetalLB's controller says why in an AllocationFailed event (controller/service.go, v0.16.1).
			if reason := s.latestEvent(svc, "AllocationFailed"); reason != "" {
				what += "; MetalLB: " + reason
			}
			add(Finding{Severity: Warning, Check: "metallb", Object: where(svc), What: what,
				Fix: "its requested IP must lie in an IPAddressPool and be free; kubectl -n metallb-system logs deploy/metallb-controller"})
		}
	}
}

// latestEvent is the message of the newest event with reason about r ("" when there is none).
func (s snapshot) latestEvent(r policies.Resource, reason string) string {
	message, newest := "", ""
	for _, e := range s.byKind["Event"] {
		if e.String("reason") != reason || e.String("involvedObject", "kind") != r.Kind() ||
			e.String("involvedObject", "name") != r.ObjectName() || e.String("involvedObject", "namespace") != r.Namespace() {
			continue
		}
		if at := e.String("lastTimestamp"); at >= newest {
			message, newest = e.String("message"), at
		}
	}
	return message
}
