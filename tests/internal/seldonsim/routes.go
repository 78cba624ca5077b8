package seldonsim

import (
	"fmt"
	"maps"
	"slices"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Routes are the routes the scheduler of one namespace programs its envoy with, by route name: a Model's name, or
// <experiment>.experiment (scheduler/pkg/envoy/processor/incremental.go, xdscache/resource.go).
type Routes map[string]Route

// Route is a weighted set of clusters, and the cluster it mirrors a share of its requests to.
type Route struct {
	Clusters      []Cluster
	Mirror        *Cluster
	MirrorPercent int
}

// Cluster is one model version, its weight in the route, and the Server pods whose agents hold it.
type Cluster struct {
	Model   string
	Version int
	Weight  int
	Pods    []string
}

// VersionedName is the name the agents load a version under, and the one envoy reports in x-seldon-route
// (scheduler/pkg/util/model.go: GetVersionedModelName).
func (c Cluster) VersionedName() string { return fmt.Sprintf("%s_%d", c.Model, c.Version) }

// Routes is what the scheduler of namespace has programmed envoy with, nil when it never has. A pass replaces the
// map whole, so the caller may read it while the next pass runs.
func (m *ControlPlane) Routes(namespace string) Routes {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.routes[namespace]
}

// Loaded says whether a version is loaded on a pod: it is routed there, or was until the last pass. The scheduler
// unloads an old version only after envoy got the routes without it (incremental.go: modelSync, then
// callVersionCleanupIfNeeded), so a request envoy sent it just before still finds it.
func (m *ControlPlane) Loaded(namespace, versioned, pod string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, routes := range []Routes{m.routes[namespace], m.previous[namespace]} {
		for _, route := range routes {
			for _, c := range route.Clusters {
				if c.VersionedName() == versioned && slices.Contains(c.Pods, pod) {
					return true
				}
			}
		}
	}
	return false
}

// routable is why envoy gets no route for a Model ("" when it does), in incremental.go's words: no version can take
// traffic (store.go: CanReceiveTraffic; the sandbox's agents report a version live once it is available), or the
// latest version has no Server (a new version that failed to schedule: modelUpdate and addModelTraffic look its
// Server up, memory.go: GetServer), which takes the route away from the old version too.
func routable(t *track, model, route string) string {
	switch {
	case t == nil || t.lastAvailable() == nil:
		return fmt.Sprintf("no live replica for model %s for model route %s", model, route)
	case t.latest().server == "":
		return "Server [] not found"
	}
	return ""
}

// program computes each namespace's routes from its Models' versions and started Experiments. A Model has a route
// once a version can take traffic, the newest available one (store.go: CanReceiveTraffic, GetLastAvailableModel):
// while a new version loads, the old one keeps the whole weight (incremental.go: updateEnvoyForModelVersion, a
// version with no loaded replica adds no cluster; the sandbox's agents load a version at once, so a route never
// holds two). An active Experiment gets the route <name>.experiment over its candidates by weight, and its
// default model's own route is split the same way (incremental.go: addExperiment,
// addExperimentModelBaselineTraffic). A namespace whose scheduler is unreachable keeps what envoy last got.
func (m *ControlPlane) program(w *world, tracks map[string]*track, runs []*experimentRun) {
	next := map[string]Routes{}
	for _, rt := range w.runtimes {
		ns := rt.GetNamespace()
		if !w.schedulerUp(ns) {
			m.mu.Lock()
			next[ns] = m.routes[ns]
			m.mu.Unlock()
			continue
		}
		routes := Routes{}
		for key, t := range tracks {
			model := nameOf(key)
			if key[:len(key)-len(model)-1] != ns {
				continue
			}
			if v := t.lastAvailable(); v != nil && routable(t, model, model) == "" {
				routes[model] = Route{Clusters: []Cluster{{Model: model, Version: v.number, Weight: 100, Pods: slices.Clone(v.pods)}}}
			}
		}
		// An experiment's split is made of its candidates' own versions, whatever other experiments did to their
		// routes (scheduler/pkg/envoy/processor/incremental.go: addTrafficForExperiment reads each candidate from
		// the model store), so a candidate that is another experiment's default model adds its own clusters.
		models := maps.Clone(routes)
		for _, run := range runs {
			if run.namespace != ns || !run.active {
				continue
			}
			var split Route
			for _, c := range run.candidates {
				own := models[c.name]
				for _, cl := range own.Clusters {
					cl.Weight = c.weight * cl.Weight / 100
					split.Clusters = append(split.Clusters, cl)
				}
			}
			if run.mirror != "" {
				if own, ok := models[run.mirror]; ok && len(own.Clusters) > 0 {
					mirror := own.Clusters[0]
					split.Mirror, split.MirrorPercent = &mirror, run.mirrorPercent
				}
			}
			routes[run.name+seldonspec.ExperimentHeaderSuffix] = split
			if run.def != "" {
				routes[run.def] = split
			}
		}
		next[ns] = routes
	}
	m.mu.Lock()
	m.previous, m.routes = m.routes, next
	m.mu.Unlock()
}
