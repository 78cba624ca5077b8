package seldonsim

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Model states the scheduler reports (scheduler/pkg/store: ModelState), written as the ModelReady condition's
// message by the controller (operator/scheduler/model.go: setModelStatus), the reason being the state's reason.
const (
	stateProgressing    = "ModelProgressing"
	stateAvailable      = "ModelAvailable"
	stateFailed         = "ModelFailed"
	stateScheduleFailed = "ScheduleFailed"
)

// version is one version of a Model as the scheduler keeps it: a new one each time the Model's spec changes other
// than its replicas (scheduler/pkg/store/memory.go: UpdateModel, equality.go: ModelEqualityCheck), numbered from
// max(1, generation) (addNextModelVersion).
type version struct {
	number int
	spec   string
	server string   // namespace/name of the Server it was placed on
	pods   []string // the Server's pods holding it
	memory int64
	state  string
	reason string
}

// track is a Model's versions, oldest first.
type track struct {
	versions []*version
}

func (t *track) latest() *version { return t.versions[len(t.versions)-1] }

// lastAvailable is the newest version that reached ModelAvailable (store.go: GetLastAvailableModel).
func (t *track) lastAvailable() *version {
	for i := len(t.versions) - 1; i >= 0; i-- {
		if t.versions[i].state == stateAvailable {
			return t.versions[i]
		}
	}
	return nil
}

// specKey is a Model's spec without its deployment part (replicas): what makes a new version.
func specKey(model *unstructured.Unstructured) string {
	spec, _, _ := unstructured.NestedMap(model.Object, "spec")
	for _, k := range []string{"replicas", "minReplicas", "maxReplicas"} {
		delete(spec, k)
	}
	b, _ := json.Marshal(spec)
	return string(b)
}

// models places each Model's latest version, oldest Model first, on ready replicas of Servers of its namespace
// that offer all of its requirements (exact strings, scheduler/pkg/scheduler/filters/replicarequirements.go) and
// have room for its memory (filters/replicamemory.go), each of its replicas on a different Server replica; a
// version still serving while its successor loads keeps its memory. Placed versions are loaded by the agents;
// once the latest is available the older ones are unloaded (scheduler/pkg/scheduler/cleaner/versions.go). It
// writes each Model's status from its latest version and returns every Model's track.
func (m *ControlPlane) models(ctx context.Context, w *world, servers map[string]*serverState, keep func(error)) map[string]*track {
	tracks := map[string]*track{}
	for _, model := range w.models {
		ns := model.GetNamespace()
		if model.GetDeletionTimestamp() != nil {
			// Deleting a Model asks its namespace's scheduler to unload it; with none, the finalizer stays.
			if w.schedulerUp(ns) {
				keep(m.release(ctx, Models, model, seldonspec.ModelFinalizer))
			}
			continue
		}
		if problem := w.schedulerProblem(ns); problem != "" {
			keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, modelConds(false, "", problem), nil))
			continue
		}
		t := m.track(model)
		tracks[ns+"/"+model.GetName()] = t
		replicas, found, _ := unstructured.NestedInt64(model.Object, "spec", "replicas")
		if !found || replicas < 1 {
			replicas = 1
		}
		latest := t.latest()
		if old := t.lastAvailable(); old != nil && old != latest {
			reserve(servers, old)
		}
		if !place(model, latest, servers, int(replicas)) {
			// FailedScheduling forgets the Server of a version without live replicas (scheduler/pkg/scheduler/
			// scheduler.go: scheduleToServer), which removes the Model's route (see routable).
			if latest.state != stateAvailable {
				latest.server, latest.pods = "", nil
			}
			latest.state, latest.reason = stateScheduleFailed, seldonspec.ScheduleFailedMessage
			keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, modelConds(false, latest.state, latest.reason),
				map[string]any{"replicas": int64(0), "availableReplicas": int64(0)}))
			continue
		}
		m.download(ctx, w, model, latest)
		if latest.state == stateAvailable {
			t.versions = []*version{latest}
		}
		available := int64(0)
		if latest.state == stateAvailable {
			available = replicas
		}
		keep(m.settle(ctx, Models, model, seldonspec.ModelFinalizer, modelConds(latest.state == stateAvailable, latest.state, latest.reason),
			map[string]any{"replicas": replicas, "availableReplicas": available, "selector": "server=" + nameOf(latest.server)}))
	}
	m.mu.Lock()
	for uid := range m.tracks {
		if !slices.ContainsFunc(w.models, func(o *unstructured.Unstructured) bool { return o.GetUID() == uid }) {
			delete(m.tracks, uid)
		}
	}
	m.mu.Unlock()
	return tracks
}

// modelConds are ModelReady and Ready as the controller sets them: the scheduler's state as the message, its
// reason as the reason.
func modelConds(available bool, state, reason string) []condition {
	status := "False"
	if available {
		status = "True"
	}
	return []condition{{Type: seldonspec.ModelReadyCondition, Status: status, Reason: reason, Message: state},
		{Type: seldonspec.ConditionReady, Status: status, Reason: reason, Message: state}}
}

// track returns the Model's versions, adding a version when its spec changed.
func (m *ControlPlane) track(model *unstructured.Unstructured) *track {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tracks == nil {
		m.tracks = map[types.UID]*track{}
	}
	key := specKey(model)
	t := m.tracks[model.GetUID()]
	switch {
	case t == nil:
		t = &track{versions: []*version{{number: max(1, int(model.GetGeneration())), spec: key, state: stateProgressing}}}
		m.tracks[model.GetUID()] = t
	case t.latest().spec != key:
		t.versions = append(t.versions, &version{number: t.latest().number + 1, spec: key, state: stateProgressing})
	}
	return t
}

func modelMemory(model *unstructured.Unstructured) (int64, bool) {
	memory, found, _ := unstructured.NestedString(model.Object, "spec", "memory")
	if !found {
		return 0, true
	}
	q, err := resource.ParseQuantity(memory)
	return q.Value(), err == nil
}

// reserve counts a serving version's memory on the replicas that hold it.
func reserve(servers map[string]*serverState, v *version) {
	srv := servers[v.server]
	if srv == nil {
		return
	}
	for i, pod := range srv.pods {
		if slices.Contains(v.pods, pod) {
			srv.free[i] -= v.memory
		}
	}
}

// place puts a version on a Server's replicas; it keeps the Server it had while that Server can still hold it.
func place(model *unstructured.Unstructured, v *version, servers map[string]*serverState, replicas int) bool {
	ns := model.GetNamespace()
	wanted, _, _ := unstructured.NestedString(model.Object, "spec", "server")
	requirements, _, _ := unstructured.NestedStringSlice(model.Object, "spec", "requirements")
	need, ok := modelMemory(model)
	if !ok {
		return false
	}
	names := make([]string, 0, len(servers))
	for key := range servers {
		names = append(names, key)
	}
	sort.Strings(names)
	if v.server != "" {
		names = append([]string{v.server}, slices.DeleteFunc(names, func(n string) bool { return n == v.server })...)
	}
	for _, key := range names {
		srv := servers[key]
		if srv == nil || !strings.HasPrefix(key, ns+"/") || (wanted != "" && srv.name != wanted) || !offersAll(srv.capabilities, requirements) {
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
		var pods []string
		for _, i := range fits[:replicas] {
			srv.free[i] -= need
			pods = append(pods, srv.pods[i])
		}
		srv.loaded++
		if v.server != key || !slices.Equal(v.pods, pods) {
			v.server, v.pods, v.state, v.reason = key, pods, stateProgressing, ""
		}
		v.memory = need
		return true
	}
	return false
}

func offersAll(capabilities, requirements []string) bool {
	for _, r := range requirements {
		if !slices.Contains(capabilities, r) {
			return false
		}
	}
	return true
}

func nameOf(key string) string { return key[strings.Index(key, "/")+1:] }

// download has the agents load a placed version once per version and Server: a version that failed stays failed
// until the Model changes or its Server is replaced (Seldon retries ModelFailed models only when a new agent
// joins, SeldonIO/seldon-core#4557). The version's state follows the load.
func (m *ControlPlane) download(ctx context.Context, w *world, model *unstructured.Unstructured, v *version) {
	if m.Agent == nil {
		v.state = stateAvailable
		return
	}
	ns := model.GetNamespace()
	uri, _, _ := unstructured.NestedString(model.Object, "spec", "storageUri")
	serverUID := ""
	for _, s := range w.servers {
		if s.GetNamespace()+"/"+s.GetName() == v.server {
			serverUID = string(s.GetUID())
		}
	}
	key := fmt.Sprintf("%s/%d/%s", model.GetUID(), v.number, serverUID)
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
		// A Model's own Secret is read at each load (scheduler/pkg/agent/agent_svc_manager.go getArtifactConfig);
		// a missing one fails the load with the API server's answer.
		var storage *RcloneSecret
		var storageErr error
		if secretName, _, _ := unstructured.NestedString(model.Object, "spec", "secretName"); secretName != "" {
			if secret := w.secrets[ns+"/"+secretName]; secret != nil {
				storage = &RcloneSecret{Name: secretName, Data: secretData(secret)}
			} else {
				storageErr = fmt.Errorf("secrets %q not found", secretName)
			}
		}
		name := model.GetName()
		go func() {
			err := storageErr
			if err == nil {
				err = m.Agent.Load(context.WithoutCancel(ctx), ns, name, uri, configs, storage)
			}
			if err != nil {
				m.logf("agent: model %s/%s version %d failed to load: %v", ns, name, v.number, err)
			} else {
				m.logf("agent: model %s/%s version %d loaded from %s", ns, name, v.number, uri)
			}
			m.mu.Lock()
			l.done, l.err = true, err
			m.mu.Unlock()
		}()
	}
	switch {
	case !l.done:
		// rclone retries a refused or timed-out connection silently for many minutes; Seldon shows the Model as
		// progressing meanwhile, and so does the sandbox (the bucket Job names such an endpoint at once).
		v.state, v.reason = stateProgressing, ""
	case l.err != nil:
		v.state, v.reason = stateFailed, l.err.Error()
	default:
		v.state, v.reason = stateAvailable, ""
	}
}
