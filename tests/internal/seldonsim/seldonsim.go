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
	"k8s.io/client-go/dynamic"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Resources the simulation reads and writes.
var (
	Deployments    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	StatefulSets   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	Secrets        = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	SeldonRuntimes = seldonGVR("seldonruntimes")
	SeldonConfigs  = seldonGVR("seldonconfigs")
	ServerConfigs  = seldonGVR("serverconfigs")
	Servers        = seldonGVR("servers")
	Models         = seldonGVR("models")
	Experiments    = seldonGVR("experiments")
)

func seldonGVR(plural string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: seldonspec.Group, Version: seldonspec.Version, Resource: plural}
}

// ListKinds maps each resource to its list kind, for fake dynamic clients.
var ListKinds = map[schema.GroupVersionResource]string{
	Deployments: "DeploymentList", StatefulSets: "StatefulSetList", Secrets: "SecretList", SeldonRuntimes: "SeldonRuntimeList", SeldonConfigs: "SeldonConfigList",
	ServerConfigs: "ServerConfigList", Servers: "ServerList", Models: "ModelList", Experiments: "ExperimentList",
}

// ControlPlane reconciles the cluster behind Client; Log (may be nil) gets one line per change it makes.
type ControlPlane struct {
	Client dynamic.Interface
	Log    io.Writer
	// Agent downloads each placed Model's artifacts (the sandbox runs RcloneAgent); nil stops at placement,
	// for tests of the scheduling rules alone.
	Agent Agent

	mu    sync.Mutex
	loads map[string]*load
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
	schedulers   map[string]bool // namespaces with a live seldon-scheduler StatefulSet
	servers      []*unstructured.Unstructured
	models       []*unstructured.Unstructured
	experiments  []*unstructured.Unstructured
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
		r := judgeServer(w, s)
		judged = append(judged, r)
		if r.state != nil {
			servers[s.GetNamespace()+"/"+s.GetName()] = r.state
		}
	}
	ready := m.models(ctx, w, servers, keep)
	// Servers are written after placement: their status counts the models loaded on them.
	for _, r := range judged {
		status := map[string]any{"replicas": int64(0), "loadedModels": int64(0),
			"selector": "seldon-server-name=" + r.obj.GetName()}
		if r.state != nil {
			status["replicas"], status["loadedModels"] = int64(len(r.state.free)), int64(r.state.loaded)
		}
		keep(m.settle(ctx, Servers, r.obj, "", r.conds, status))
	}
	for _, e := range w.experiments {
		keep(m.experiment(ctx, w, e, ready))
	}
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
		secrets: map[string]*unstructured.Unstructured{}, schedulers: map[string]bool{}}
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
	statefulSets, err := m.watched(ctx, w, StatefulSets)
	if err != nil {
		return nil, err
	}
	for _, sts := range statefulSets {
		if sts.GetName() == seldonspec.SchedulerService && sts.GetDeletionTimestamp() == nil && ownedByRuntime(sts) {
			w.schedulers[sts.GetNamespace()] = true
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

// schedulerUp says whether the controller can reach seldon-scheduler.<ns> (operator/scheduler/client.go dials
// that name in the resource's own namespace): the scheduler StatefulSet a runtime owns is there. Its owner
// reference makes the cluster's garbage collector decide when it goes, as upstream: deleting the runtime with
// foreground propagation (Pulumi's default, pulumi-kubernetes provider/pkg/metadata/overrides.go) removes it
// first; with background propagation (kubectl's default) it stays until the runtime itself is gone.
func (w *world) schedulerUp(ns string) bool {
	return w.schedulers[ns] && w.seldonConfig != nil
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

func ownedByRuntime(o *unstructured.Unstructured) bool {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind == seldonspec.KindSeldonRuntime {
			return true
		}
	}
	return false
}

// ensureScheduler creates the runtime's scheduler StatefulSet, owned by the runtime, as the controller does
// (without its volume: no pod runs here). kwok makes its pod Ready.
func (m *ControlPlane) ensureScheduler(ctx context.Context, w *world, rt *unstructured.Unstructured) error {
	if w.schedulers[rt.GetNamespace()] {
		return nil
	}
	labels := map[string]any{"app.kubernetes.io/name": seldonspec.SchedulerService}
	sts := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": seldonspec.SchedulerService, "namespace": rt.GetNamespace()},
		"spec": map[string]any{
			"replicas": int64(1), "serviceName": seldonspec.SchedulerService,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{
				"containers": []any{map[string]any{"name": "scheduler", "image": "docker.io/seldonio/seldon-scheduler:" + seldonspec.ChartVersion}}}},
		},
	}}
	isController := true
	sts.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: seldonspec.APIVersion, Kind: seldonspec.KindSeldonRuntime,
		Name: rt.GetName(), UID: rt.GetUID(), Controller: &isController, BlockOwnerDeletion: &isController}})
	if _, err := m.Client.Resource(StatefulSets).Namespace(rt.GetNamespace()).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the scheduler of %s: %w", rt.GetNamespace(), err)
	}
	w.schedulers[rt.GetNamespace()] = true
	m.logf("StatefulSet %s/%s created for SeldonRuntime %s", rt.GetNamespace(), seldonspec.SchedulerService, rt.GetName())
	return nil
}

// runtime: one condition per enabled component and Ready over all six (operator/apis/mlops/v1alpha1/
// seldonruntime_types.go, knative apis/condition_set.go); the finalizer stays while any Server remains in the
// namespace (operator/controllers/mlops/seldonruntime_controller.go).
func (m *ControlPlane) runtime(ctx context.Context, w *world, rt *unstructured.Unstructured) error {
	if rt.GetDeletionTimestamp() != nil {
		for _, s := range w.servers {
			if s.GetNamespace() == rt.GetNamespace() {
				return nil
			}
		}
		return m.release(ctx, SeldonRuntimes, rt, seldonspec.RuntimeFinalizer)
	}
	if !disabled(rt, seldonspec.SchedulerComponent) && w.seldonConfig != nil {
		if err := m.ensureScheduler(ctx, w, rt); err != nil {
			return err
		}
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
		conds = append(conds, trueCond(c.Condition))
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

// serverState is what the scheduler knows of a Ready Server: its capabilities and each replica's free memory.
type serverState struct {
	name         string
	capabilities []string
	free         []int64
	loaded       int
}

// judgeServer: Ready once the scheduler answers (before any agent connects), except that every agent exits at
// start-up when an rclone Secret listed by its runtime or the SeldonConfig is missing
// (scheduler/pkg/agent/rclone/rclone_config.go, scheduler/cmd/agent/main.go), so its StatefulSet never gets Ready.
func judgeServer(w *world, s *unstructured.Unstructured) serverResult {
	fail := func(reason, message string) serverResult {
		return serverResult{obj: s, conds: []condition{falseCond(seldonspec.ServerStatefulSetReady, reason, message),
			falseCond(seldonspec.ConditionReady, reason, message)}}
	}
	if !w.schedulerUp(s.GetNamespace()) {
		return fail("SchedulerNotReady", seldonspec.NoSchedulerMessage)
	}
	configName, _, _ := unstructured.NestedString(s.Object, "spec", "serverConfig")
	config := w.serverConfig[configName]
	if config == nil {
		return fail("ServerConfigNotFound", fmt.Sprintf("ServerConfig %q not found in namespace %s", configName, w.controllerNS))
	}
	for _, secret := range configSecrets(w.runtimeOf(s.GetNamespace()), w.seldonConfig) {
		if w.secrets[s.GetNamespace()+"/"+secret] == nil {
			return fail("AgentExited", "agent exited at start-up: "+seldonspec.MissingSecretMessage(secret))
		}
	}
	memory, err := replicaMemory(config, s)
	if err != nil {
		return fail("InvalidMemory", err.Error())
	}
	replicas, found, _ := unstructured.NestedInt64(s.Object, "spec", "replicas")
	if !found {
		replicas = 1
	}
	// The overcommit the agents get from the rendered ServerConfig, as their capabilities.
	overcommit := seldonspec.MemoryOvercommitPercent
	if v, err := strconv.Atoi(containerEnv(config.Object, []string{"spec", "podSpec", "containers"}, seldonspec.AgentContainer)[seldonspec.OvercommitEnv]); err == nil {
		overcommit = v
	}
	state := &serverState{name: s.GetName(), capabilities: capabilities(config, s), free: make([]int64, replicas)}
	for i := range state.free {
		state.free[i] = seldonspec.ReplicaCapacityWith(memory, overcommit)
	}
	return serverResult{obj: s, state: state, conds: []condition{trueCond(seldonspec.ServerStatefulSetReady), trueCond(seldonspec.ConditionReady)}}
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

// models places each Model, oldest first, on replicas of Ready Servers of its namespace that offer all of its
// requirements (exact strings, scheduler/pkg/scheduler/filters/replicarequirements.go) and have room for its
// memory (filters/replicamemory.go), each of its replicas on a different Server replica. It returns the Ready ones.
func (m *ControlPlane) models(ctx context.Context, w *world, servers map[string]*serverState, keep func(error)) map[string]bool {
	ready := map[string]bool{}
	for _, model := range w.models {
		ns := model.GetNamespace()
		if model.GetDeletionTimestamp() != nil {
			// Deleting a Model asks its namespace's scheduler to unload it; with none, the finalizer stays.
			if w.schedulerUp(ns) {
				keep(m.release(ctx, Models, model, seldonspec.ModelFinalizer))
			}
			continue
		}
		if !w.schedulerUp(ns) {
			keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, []condition{
				falseCond(seldonspec.ModelReadyCondition, "SchedulerNotReady", seldonspec.NoSchedulerMessage),
				falseCond(seldonspec.ConditionReady, "SchedulerNotReady", seldonspec.NoSchedulerMessage)}, nil))
			continue
		}
		replicas, found, _ := unstructured.NestedInt64(model.Object, "spec", "replicas")
		if !found || replicas < 1 {
			replicas = 1
		}
		server := place(model, servers, int(replicas))
		if server == "" {
			keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, []condition{
				falseCond(seldonspec.ModelReadyCondition, "ScheduleFailed", seldonspec.ScheduleFailedMessage),
				falseCond(seldonspec.ConditionReady, "ScheduleFailed", seldonspec.ScheduleFailedMessage)},
				map[string]any{"replicas": int64(0), "availableReplicas": int64(0)}))
			continue
		}
		if failed, reason, message := m.download(ctx, w, model, server); failed {
			keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, []condition{
				falseCond(seldonspec.ModelReadyCondition, reason, message), falseCond(seldonspec.ConditionReady, reason, message)},
				map[string]any{"replicas": replicas, "availableReplicas": int64(0)}))
			continue
		}
		ready[ns+"/"+model.GetName()] = true
		keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, []condition{
			trueCond(seldonspec.ModelReadyCondition), trueCond(seldonspec.ConditionReady)},
			map[string]any{"replicas": replicas, "availableReplicas": replicas}))
	}
	return ready
}

// place returns the key of the Server it placed the Model on, "" when none has room.
func place(model *unstructured.Unstructured, servers map[string]*serverState, replicas int) string {
	ns := model.GetNamespace()
	wanted, _, _ := unstructured.NestedString(model.Object, "spec", "server")
	requirements, _, _ := unstructured.NestedStringSlice(model.Object, "spec", "requirements")
	var need int64
	if memory, found, _ := unstructured.NestedString(model.Object, "spec", "memory"); found {
		q, err := resource.ParseQuantity(memory)
		if err != nil {
			return ""
		}
		need = q.Value()
	}
	names := make([]string, 0, len(servers))
	for key := range servers {
		names = append(names, key)
	}
	sort.Strings(names)
	for _, key := range names {
		srv := servers[key]
		if !strings.HasPrefix(key, ns+"/") || (wanted != "" && srv.name != wanted) || !offersAll(srv.capabilities, requirements) {
			continue
		}
		var fits []int
		for i, free := range srv.free {
			if free >= need {
				fits = append(fits, i)
			}
		}
		if len(fits) < replicas {
			continue
		}
		for _, i := range fits[:replicas] {
			srv.free[i] -= need
		}
		srv.loaded++
		return key
	}
	return ""
}

func offersAll(capabilities, requirements []string) bool {
	for _, r := range requirements {
		if !slices.Contains(capabilities, r) {
			return false
		}
	}
	return true
}

// experiment: CandidatesReady when every candidate Model is Ready, MirrorReady when the mirror (if any) is, and
// Ready over those and ExperimentReady (operator/apis/mlops/v1alpha1/experiment_types.go; the scheduler reports
// "no live replica" for a candidate that is not loaded, scheduler/pkg/envoy/processor).
func (m *ControlPlane) experiment(ctx context.Context, w *world, e *unstructured.Unstructured, readyModels map[string]bool) error {
	ns := e.GetNamespace()
	if e.GetDeletionTimestamp() != nil {
		if w.schedulerUp(ns) {
			return m.release(ctx, Experiments, e, seldonspec.ExperimentFinalizer)
		}
		return nil
	}
	if !w.schedulerUp(ns) {
		return m.settle(ctx, Experiments, e, seldonspec.ExperimentFinalizer, []condition{
			falseCond(seldonspec.ConditionReady, "SchedulerNotReady", seldonspec.NoSchedulerMessage)}, nil)
	}
	route := e.GetName() + seldonspec.ExperimentHeaderSuffix
	notReady := func(model string) string {
		return fmt.Sprintf("no live replica for model %s for model route %s", model, route)
	}
	candidates := trueCond(seldonspec.ExperimentCandidatesReady)
	list, _, _ := unstructured.NestedSlice(e.Object, "spec", "candidates")
	for _, c := range list {
		name, _ := c.(map[string]any)["name"].(string)
		if !readyModels[ns+"/"+name] {
			candidates = falseCond(seldonspec.ExperimentCandidatesReady, "CandidatesNotReady", notReady(name))
			break
		}
	}
	mirror := trueCond(seldonspec.ExperimentMirrorReady)
	if name, found, _ := unstructured.NestedString(e.Object, "spec", "mirror", "name"); found && !readyModels[ns+"/"+name] {
		mirror = falseCond(seldonspec.ExperimentMirrorReady, "MirrorNotReady", notReady(name))
	}
	active := trueCond(seldonspec.ExperimentReadyCondition)
	if candidates.Status != "True" || mirror.Status != "True" {
		active = falseCond(seldonspec.ExperimentReadyCondition, "ExperimentNotActive", "the experiment is not active")
	}
	conds := []condition{candidates, active, mirror}
	conds = append(conds, readyOver(conds, []string{seldonspec.ExperimentCandidatesReady, seldonspec.ExperimentReadyCondition, seldonspec.ExperimentMirrorReady}))
	return m.settle(ctx, Experiments, e, seldonspec.ExperimentFinalizer, conds, nil)
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

// download runs the agent's download of a placed Model once per Model generation and Server: a Model that failed
// stays failed until it changes or its Server is replaced (Seldon retries ModelFailed models only when a new
// agent joins, SeldonIO/seldon-core#4557). It says whether the Model is not (yet) loaded, and why.
func (m *ControlPlane) download(ctx context.Context, w *world, model *unstructured.Unstructured, server string) (bool, string, string) {
	if m.Agent == nil {
		return false, "", ""
	}
	ns := model.GetNamespace()
	uri, _, _ := unstructured.NestedString(model.Object, "spec", "storageUri")
	serverUID := ""
	for _, s := range w.servers {
		if s.GetNamespace()+"/"+s.GetName() == server {
			serverUID = string(s.GetUID())
		}
	}
	key := fmt.Sprintf("%s/%d/%s", model.GetUID(), model.GetGeneration(), serverUID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loads == nil {
		m.loads = map[string]*load{}
	}
	l, started := m.loads[key]
	if !started {
		l = &load{}
		m.loads[key] = l
		var configs []RcloneSecret
		for _, name := range configSecrets(w.runtimeOf(ns), w.seldonConfig) {
			configs = append(configs, RcloneSecret{Name: name, Data: secretData(w.secrets[ns+"/"+name])})
		}
		name := model.GetName()
		go func() {
			err := m.Agent.Load(context.WithoutCancel(ctx), ns, name, uri, configs)
			if err != nil {
				m.logf("agent: model %s/%s failed to load: %v", ns, name, err)
			} else {
				m.logf("agent: model %s/%s loaded from %s", ns, name, uri)
			}
			m.mu.Lock()
			l.done, l.err = true, err
			m.mu.Unlock()
		}()
	}
	switch {
	case !l.done:
		// rclone retries a refused or timed-out connection silently for many minutes; Seldon shows the Model
		// as progressing meanwhile, and so does the sandbox (the bucket Job names such an endpoint at once).
		return true, "ModelProgressing", "downloading " + uri
	case l.err != nil:
		return true, "ModelFailed", l.err.Error()
	}
	return false, "", ""
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
