// Package seldonsim simulates Seldon Core v2's control plane (controller manager, scheduler, agent) for the
// sandbox, where no container runs and Seldon's own Go modules cannot be built. It is part of the test harness,
// never of the product's program: it reconciles SeldonRuntimes, Servers, Models and Experiments in a local API
// server by the rules of ../shared/docs/seldon-control-plane.md, each rule citing the upstream file (v2.10.2) it
// imitates. It reads what the setup chart rendered (the controller's env, SeldonConfig, ServerConfigs) rather than
// restating it, so a chart that behaves differently changes what the simulation does.
package seldonsim

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Resources the simulation reads and writes.
var (
	Deployments     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	StatefulSets    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	Secrets         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	Services        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	ServiceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	Pods            = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	EndpointSlices  = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	SeldonRuntimes  = seldonGVR("seldonruntimes")
	SeldonConfigs   = seldonGVR("seldonconfigs")
	ServerConfigs   = seldonGVR("serverconfigs")
	Servers         = seldonGVR("servers")
	Models          = seldonGVR("models")
	Experiments     = seldonGVR("experiments")
)

func seldonGVR(plural string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: seldonspec.Group, Version: seldonspec.Version, Resource: plural}
}

// ListKinds maps each resource to its list kind, for fake dynamic clients.
var ListKinds = map[schema.GroupVersionResource]string{
	Deployments: "DeploymentList", StatefulSets: "StatefulSetList", Secrets: "SecretList", Services: "ServiceList", Pods: "PodList",
	EndpointSlices: "EndpointSliceList", ServiceAccounts: "ServiceAccountList", SeldonRuntimes: "SeldonRuntimeList", SeldonConfigs: "SeldonConfigList",
	ServerConfigs: "ServerConfigList", Servers: "ServerList", Models: "ModelList", Experiments: "ExperimentList",
}

// ControlPlane reconciles the cluster behind Client; Log (may be nil) gets one line per change it makes.
type ControlPlane struct {
	Client dynamic.Interface
	Log    io.Writer
	// Agent downloads each placed Model's artifacts (the sandbox runs RcloneAgent); nil stops at placement,
	// for tests of the scheduling rules alone.
	Agent Agent

	mu       sync.Mutex
	loads    map[string]*load
	tracks   map[types.UID]*track
	accepted map[types.UID]*experimentRun // the spec the scheduler last accepted of each Experiment
	refused  map[types.UID]refusal
	routes   map[string]Routes
	previous map[string]Routes // the routes of the pass before: versions still loaded while envoy switches
	// startedAgents are the Server pods (namespace/name/uid) whose agent started: it loaded every rclone Secret then.
	startedAgents map[string]bool
}

// load is one agent download: pending until done, then its error (nil when the files arrived).
type load struct {
	done bool
	err  error
}

// world is one consistent read of everything the rules look at.
type world struct {
	controllerNS string
	scope        seldonspec.ControllerScope
	seldonConfig *unstructured.Unstructured
	serverConfig map[string]*unstructured.Unstructured
	secrets      map[string]*unstructured.Unstructured // namespace/name
	runtimes     []*unstructured.Unstructured
	// objects are the live workloads, Services and pods of the watched namespaces, by resource and namespace/name.
	objects map[schema.GroupVersionResource]map[string]*unstructured.Unstructured
	// readyEndpoints counts each Service's ready endpoints (namespace/name), from its EndpointSlices.
	readyEndpoints map[string]int
	servers        []*unstructured.Unstructured
	models         []*unstructured.Unstructured
	experiments    []*unstructured.Unstructured
}

// Reconcile runs one pass over the cluster: read everything, then bring each watched resource's finalizers and
// status to what Seldon's control plane would make of the same objects.
func (m *ControlPlane) Reconcile(ctx context.Context) error {
	w, err := m.read(ctx)
	if err != nil || w == nil {
		return err
	}
	var errs []string
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, rt := range w.runtimes {
		keep(m.runtime(ctx, w, rt))
	}
	servers := map[string]*serverState{}
	var judged []serverResult
	for _, s := range w.servers {
		if s.GetDeletionTimestamp() != nil {
			continue // Servers carry no finalizer
		}
		r, err := m.server(ctx, w, s)
		keep(err)
		judged = append(judged, r)
		if r.state != nil {
			servers[s.GetNamespace()+"/"+s.GetName()] = r.state
		}
	}
	tracks := m.models(ctx, w, servers, keep)
	// Servers are written after placement: their status counts the models loaded on them.
	for _, r := range judged {
		status := map[string]any{"replicas": int64(0), "loadedModels": int64(0),
			"selector": "seldon-server-name=" + r.obj.GetName()}
		if r.state != nil {
			status["replicas"], status["loadedModels"] = int64(len(r.state.free)), int64(r.state.loaded)
		}
		keep(m.settle(ctx, Servers, r.obj, "", r.conds, status))
	}
	runs := m.experiments(ctx, w, tracks, keep)
	m.program(w, tracks, runs)
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// read finds the controller and what it would watch. No controller Deployment means nothing reconciles, as on a
// cluster where the setup chart is not (or no longer) installed: finalizers then stay where they are.
func (m *ControlPlane) read(ctx context.Context) (*world, error) {
	deployments, err := m.Client.Resource(Deployments).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var controller *unstructured.Unstructured
	for i := range deployments.Items {
		if deployments.Items[i].GetName() == seldonspec.ControllerDeployment && deployments.Items[i].GetDeletionTimestamp() == nil {
			controller = &deployments.Items[i]
		}
	}
	if controller == nil {
		return nil, nil
	}
	w := &world{controllerNS: controller.GetNamespace(), serverConfig: map[string]*unstructured.Unstructured{},
		secrets: map[string]*unstructured.Unstructured{}, objects: map[schema.GroupVersionResource]map[string]*unstructured.Unstructured{},
		readyEndpoints: map[string]int{}}
	// operator/main.go: --clusterwide and --watch-namespaces, which the setup chart fills from these env values.
	env := containerEnv(controller.Object, []string{"spec", "template", "spec", "containers"}, seldonspec.ControllerContainer)
	w.scope = seldonspec.ScopeOf(w.controllerNS, env[seldonspec.ControllerClusterwide], env[seldonspec.ControllerWatchNSEnv])

	// SeldonConfig and ServerConfigs are looked up by name in the controller's namespace (POD_NAMESPACE).
	configs, err := m.list(ctx, SeldonConfigs, w.controllerNS)
	if err != nil {
		return nil, err
	}
	for _, c := range configs {
		if c.GetName() == seldonspec.SeldonConfigName {
			w.seldonConfig = c
		}
	}
	serverConfigs, err := m.list(ctx, ServerConfigs, w.controllerNS)
	if err != nil {
		return nil, err
	}
	for _, c := range serverConfigs {
		w.serverConfig[c.GetName()] = c
	}
	secrets, err := m.list(ctx, Secrets, "")
	if err != nil {
		return nil, err
	}
	for _, s := range secrets {
		w.secrets[s.GetNamespace()+"/"+s.GetName()] = s
	}
	if w.runtimes, err = m.watched(ctx, w, SeldonRuntimes); err != nil {
		return nil, err
	}
	for _, gvr := range []schema.GroupVersionResource{StatefulSets, Deployments, Services, ServiceAccounts, Pods} {
		objs, err := m.watched(ctx, w, gvr)
		if err != nil {
			return nil, err
		}
		w.objects[gvr] = map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			if o.GetDeletionTimestamp() == nil {
				w.objects[gvr][o.GetNamespace()+"/"+o.GetName()] = o
			}
		}
	}
	slices, err := m.watched(ctx, w, EndpointSlices)
	if err != nil {
		return nil, err
	}
	for _, slice := range slices {
		service := slice.GetLabels()["kubernetes.io/service-name"]
		endpoints, _, _ := unstructured.NestedSlice(slice.Object, "endpoints")
		for _, e := range endpoints {
			if ready, found, _ := unstructured.NestedBool(e.(map[string]any), "conditions", "ready"); !found || ready {
				w.readyEndpoints[slice.GetNamespace()+"/"+service]++
			}
		}
	}
	if w.servers, err = m.watched(ctx, w, Servers); err != nil {
		return nil, err
	}
	if w.models, err = m.watched(ctx, w, Models); err != nil {
		return nil, err
	}
	if w.experiments, err = m.watched(ctx, w, Experiments); err != nil {
		return nil, err
	}
	return w, nil
}

func (m *ControlPlane) list(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]*unstructured.Unstructured, error) {
	list, err := m.Client.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", gvr.Resource, err)
	}
	out := make([]*unstructured.Unstructured, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	// The scheduler handles resources in arrival order; creation time (then name) is the closest the API keeps.
	sort.SliceStable(out, func(a, b int) bool {
		ta, tb := out[a].GetCreationTimestamp(), out[b].GetCreationTimestamp()
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		return out[a].GetName() < out[b].GetName()
	})
	return out, nil
}

// watched lists a kind in the namespaces the controller reconciles; the rest get no finalizer and no status.
func (m *ControlPlane) watched(ctx context.Context, w *world, gvr schema.GroupVersionResource) ([]*unstructured.Unstructured, error) {
	all, err := m.list(ctx, gvr, "")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range all {
		if w.scope.Watches(o.GetNamespace()) {
			out = append(out, o)
		}
	}
	return out, nil
}

// object is a live object of the watched namespaces, nil when there is none.
func (w *world) object(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	return w.objects[gvr][ns+"/"+name]
}

// schedulerUp says whether the controller reaches seldon-scheduler.<ns>:9004 (operator/scheduler/client.go dials
// that name in the resource's own namespace): the Service is there and a scheduler pod is ready behind it, as
// kube-proxy routes only to ready endpoints. The scheduler StatefulSet's owner reference makes the cluster's
// garbage collector decide when it goes, as upstream: deleting the runtime with foreground propagation (Pulumi's
// default, pulumi-kubernetes provider/pkg/metadata/overrides.go) removes it first; with background propagation
// (kubectl's default) it stays until the runtime itself is gone.
func (w *world) schedulerUp(ns string) bool {
	return w.schedulerProblem(ns) == ""
}

// schedulerProblem is what the controller's call to the scheduler of ns fails with: the name does not resolve
// without the Service; a ClusterIP with no ready endpoint refuses the connection (gRPC's dial error).
func (w *world) schedulerProblem(ns string) string {
	svc := w.object(Services, ns, seldonspec.SchedulerService)
	switch {
	case w.seldonConfig == nil || svc == nil:
		return seldonspec.NoSchedulerMessage
	case w.readyEndpoints[ns+"/"+seldonspec.SchedulerService] == 0:
		ip, _, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP")
		return fmt.Sprintf(`connection error: desc = "transport: Error while dialing: dial tcp %s:%d: connect: connection refused"`,
			ip, seldonspec.SchedulerControlPort)
	}
	return ""
}

// runtimeOf is the oldest runtime of ns that is not being deleted, else the oldest one. (A second runtime in a
// namespace is the field story's "two schedulers" fault; doctor and the policies report it.)
func (w *world) runtimeOf(ns string) *unstructured.Unstructured {
	var deleting *unstructured.Unstructured
	for _, rt := range w.runtimes {
		if rt.GetNamespace() != ns {
			continue
		}
		if rt.GetDeletionTimestamp() == nil {
			return rt
		}
		if deleting == nil {
			deleting = rt
		}
	}
	return deleting
}

// runtime: the components' workloads and Services (ensureComponents), one condition per enabled component read
// off its workload's status, and Ready over all six (operator/apis/mlops/v1alpha1/seldonruntime_types.go,
// knative apis/condition_set.go); the finalizer stays while any Server remains in the namespace
// (operator/controllers/mlops/seldonruntime_controller.go).
func (m *ControlPlane) runtime(ctx context.Context, w *world, rt *unstructured.Unstructured) error {
	if rt.GetDeletionTimestamp() != nil {
		for _, s := range w.servers {
			if s.GetNamespace() == rt.GetNamespace() {
				return nil
			}
		}
		return m.release(ctx, SeldonRuntimes, rt, seldonspec.RuntimeFinalizer)
	}
	if err := m.ensureComponents(ctx, w, rt); err != nil {
		return err
	}
	components := map[string]component{}
	for _, c := range runtimeComponents(w, rt) {
		components[c.name] = c
	}
	var conds []condition
	for _, c := range seldonspec.Components {
		if disabled(rt, c.Name) {
			continue
		}
		if w.seldonConfig == nil {
			conds = append(conds, falseCond(c.Condition, "SeldonConfigNotFound",
				fmt.Sprintf("SeldonConfig %q not found in namespace %s", seldonspec.SeldonConfigName, w.controllerNS)))
			continue
		}
		if comp, ok := components[c.Name]; ok {
			conds = append(conds, componentReady(w, rt.GetNamespace(), comp, c.Condition))
		}
	}
	all := make([]string, len(seldonspec.Components))
	for i, c := range seldonspec.Components {
		all[i] = c.Condition
	}
	conds = append(conds, readyOver(conds, all))
	return m.settle(ctx, SeldonRuntimes, rt, seldonspec.RuntimeFinalizer, conds, nil)
}

func disabled(rt *unstructured.Unstructured, component string) bool {
	overrides, _, _ := unstructured.NestedSlice(rt.Object, "spec", "overrides")
	for _, o := range overrides {
		om, _ := o.(map[string]any)
		if om["name"] == component {
			d, _ := om["disable"].(bool)
			return d
		}
	}
	return false
}

// serverResult is a Server's judged conditions and, when Ready, what the scheduler knows of it.
type serverResult struct {
	obj   *unstructured.Unstructured
	state *serverState
	conds []condition
}

// serverState is what the scheduler knows of a Server: its capabilities and, for each replica whose agent
// connected, its pod and free memory.
type serverState struct {
	name         string
	capabilities []string
	pods         []string
	free         []int64
	loaded       int
}

// server makes the Server's StatefulSet, plays its agents' start-up (they exit while an rclone Secret listed by
// the runtime or the SeldonConfig is missing or malformed when they start), and judges it as the controller does:
// its condition is read off the StatefulSet's ready replicas, or carries the error of the controller's call to the
// scheduler as its reason
// (operator/controllers/mlops/server_controller.go: updateStatusFromError). The scheduler places Models only on
// replicas whose agent is up and connected: the Server's ready pods.
func (m *ControlPlane) server(ctx context.Context, w *world, s *unstructured.Unstructured) (serverResult, error) {
	fail := func(reason string) serverResult {
		return serverResult{obj: s, conds: []condition{falseCond(seldonspec.ServerStatefulSetReady, reason, ""),
			falseCond(seldonspec.ConditionReady, reason, "")}}
	}
	configName, _, _ := unstructured.NestedString(s.Object, "spec", "serverConfig")
	config := w.serverConfig[configName]
	if config == nil {
		return fail(fmt.Sprintf("ServerConfig.mlops.seldon.io %q not found", configName)), nil
	}
	if err := m.ensureServerWorkload(ctx, w, s, config); err != nil {
		return fail(err.Error()), err
	}
	// The agent loads every listed Secret at start and exits on the first it cannot load: a missing one, or one
	// that is not an rclone remote (rclone_config.go loadRcloneSecretsConfiguration, rclone.go Config).
	cannotStart := false
	for _, secret := range configSecrets(w.runtimeOf(s.GetNamespace()), w.seldonConfig) {
		found := w.secrets[s.GetNamespace()+"/"+secret]
		if found == nil {
			cannotStart = true
		} else if _, err := parseSecret(RcloneSecret{Name: secret, Data: secretData(found)}); err != nil {
			cannotStart = true
		}
	}
	running, err := m.agentExits(ctx, w, s, cannotStart)
	if err != nil {
		return fail(err.Error()), err
	}
	if problem := w.schedulerProblem(s.GetNamespace()); problem != "" {
		return fail(problem), nil
	}
	cond := serverCondition(w, s)
	r := serverResult{obj: s, conds: []condition{cond, readyOver([]condition{cond}, []string{seldonspec.ServerStatefulSetReady})}}
	memory, err := replicaMemory(config, s)
	if err != nil {
		return fail(err.Error()), nil
	}
	// The overcommit the agents get from the rendered ServerConfig, as their capabilities.
	overcommit := seldonspec.MemoryOvercommitPercent
	if v, err := strconv.Atoi(containerEnv(config.Object, []string{"spec", "podSpec", "containers"}, seldonspec.AgentContainer)[seldonspec.OvercommitEnv]); err == nil {
		overcommit = v
	}
	state := &serverState{name: s.GetName(), capabilities: capabilities(config, s)}
	for _, pod := range serverPods(w, s) {
		if running[pod.GetName()] && podReady(pod) {
			state.pods = append(state.pods, pod.GetName())
			state.free = append(state.free, seldonspec.ReplicaCapacityWith(memory, overcommit))
		}
	}
	r.state = state
	return r, nil
}

// configSecrets: the runtime's own list with the SeldonConfig's appended (operator, SeldonRuntime reconciler).
func configSecrets(rt, seldonConfig *unstructured.Unstructured) []string {
	var out []string
	for _, o := range []*unstructured.Unstructured{rt, seldonConfig} {
		if o == nil {
			continue
		}
		list, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "config", "agentConfig", "rclone", "config_secrets")
		for _, s := range list {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func replicaMemory(config, s *unstructured.Unstructured) (resource.Quantity, error) {
	request := seldonspec.MLServerMemoryRequest(config.Object, s.Object)
	if request == "" {
		return resource.Quantity{}, fmt.Errorf("the %s container has no memory request", seldonspec.MLServerContainer)
	}
	return resource.ParseQuantity(request)
}

// capabilities: spec.capabilities replaces the ServerConfig's SELDON_SERVER_CAPABILITIES; extraCapabilities add.
func capabilities(config, s *unstructured.Unstructured) []string {
	base, found, _ := unstructured.NestedStringSlice(s.Object, "spec", "capabilities")
	if !found || len(base) == 0 {
		base = nil
		env := containerEnv(config.Object, []string{"spec", "podSpec", "containers"}, seldonspec.AgentContainer)
		for _, c := range strings.Split(env[seldonspec.ServerCapabilitiesEnv], ",") {
			if c = strings.TrimSpace(c); c != "" {
				base = append(base, c)
			}
		}
	}
	extra, _, _ := unstructured.NestedStringSlice(s.Object, "spec", "extraCapabilities")
	return append(base, extra...)
}

func containers(obj map[string]any, path []string) []map[string]any {
	list, _, _ := unstructured.NestedSlice(obj, path...)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// containerEnv is the literal env of the named container (valueFrom entries are skipped).
func containerEnv(obj map[string]any, path []string, name string) map[string]string {
	env := map[string]string{}
	for _, c := range containers(obj, path) {
		if c["name"] != name {
			continue
		}
		list, _ := c["env"].([]any)
		for _, e := range list {
			em, _ := e.(map[string]any)
			if n, ok := em["name"].(string); ok {
				if v, ok := em["value"].(string); ok {
					env[n] = v
				}
			}
		}
	}
	return env
}

func secretData(s *unstructured.Unstructured) map[string][]byte {
	data := map[string][]byte{}
	if s == nil {
		return data
	}
	encoded, _, _ := unstructured.NestedStringMap(s.Object, "data")
	for k, v := range encoded {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			data[k] = b
		}
	}
	return data
}
