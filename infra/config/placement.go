package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// placement refuses Models the scheduler could never place for memory. Each Server replica accepts Models up to
// its mlserver memory request plus 10% (seldonspec.ReplicaCapacity); each replica of a Model needs its own Server
// replica. A Model that fits nowhere stays ScheduleFailed and the Experiment that names it never turns Ready, which
// a `pulumi up` waiting on Ready conditions would only show as a time-out.
func (v *validator) placement(s *Stack) {
	for i, srv := range s.Seldon.Servers {
		request, err := resource.ParseQuantity(srv.MemoryRequest())
		if err != nil {
			continue // reported by the quantity check
		}
		var placed []modelLoad
		for j, m := range s.Models {
			if m.Namespace != srv.Namespace || !runsOn(m, srv, s.Seldon.Servers) {
				continue
			}
			load := modelLoad{key: fmt.Sprintf("models[%d]", j), name: m.Name, replicas: max(m.Replicas, 1)}
			if m.Memory != "" {
				q, err := resource.ParseQuantity(m.Memory)
				if err != nil {
					continue
				}
				load.bytes, load.memory = q.Value(), m.Memory
			}
			placed = append(placed, load)
		}
		if packs(placed, srv.Replicas, seldonspec.ReplicaCapacity(request)) {
			s.Warnings = append(s.Warnings, rollWarnings(i, srv, request, placed)...)
			continue
		}
		v.add(fmt.Sprintf("seldon.servers[%d].memory", i), srv.Memory, memoryProblem(srv, request, placed),
			memoryFix(i, srv, placed))
	}
}

// rollWarnings: a Model's new version loads beside the old one, which stays loaded and keeps serving until the new
// one is available (scheduler/pkg/store/memory_status.go; the memory filter counts every loaded version,
// scheduler/pkg/scheduler/filters/replicamemory.go). On a Server with no room for that, the new version fails to
// schedule and loses its Server (scheduler/pkg/scheduler/scheduler.go: scheduleToServer), and envoy then drops
// the Model's route, old version included, and every experiment's naming it (scheduler/pkg/envoy/processor/
// incremental.go: modelUpdate, addModelTraffic): the first up works, the first roll takes the Model off the air.
func rollWarnings(i int, srv Server, request resource.Quantity, placed []modelLoad) []string {
	var out []string
	for _, m := range placed {
		if m.bytes == 0 || packs(append(slices.Clone(placed), m), srv.Replicas, seldonspec.ReplicaCapacity(request)) {
			continue
		}
		out = append(out, fmt.Sprintf("seldon.servers[%d].memory: Server %s/%s (%s) has no room to roll Model %s (%s): a new "+
			"version loads beside the old one, so it would stay ScheduleFailed and Seldon's envoy would drop the Model's route, "+
			"old version included, and its experiment's; %s",
			i, srv.Namespace, srv.Name, srv.MemoryRequest(), m.name, m.key, memoryFix(i, srv, append(slices.Clone(placed), m))))
	}
	return out
}

type modelLoad struct {
	key, name, memory string
	bytes             int64
	replicas          int
}

// runsOn says whether the scheduler may put m on srv: its server if it names one, else any Server of its
// namespace that offers every requirement. A Model without a server is charged to the first such Server, the
// worst case for that Server.
func runsOn(m Model, srv Server, servers []Server) bool {
	if m.Server != "" {
		return m.Server == srv.Name
	}
	for _, candidate := range servers {
		if candidate.Namespace == m.Namespace && offersAll(candidate, m.Requirements) {
			return candidate.Name == srv.Name
		}
	}
	return false
}

func offersAll(srv Server, requirements []string) bool {
	for _, req := range requirements {
		if !slices.Contains(srv.Capabilities(), req) {
			return false
		}
	}
	return true
}

// packs reports whether every Model replica finds a Server replica with room, largest Models first, each replica
// of a Model on a different Server replica.
func packs(models []modelLoad, replicas int, capacity int64) bool {
	sorted := slices.Clone(models)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].bytes > sorted[b].bytes })
	free := make([]int64, replicas)
	for i := range free {
		free[i] = capacity
	}
	for _, m := range sorted {
		if m.replicas > replicas {
			return false
		}
		// The replicas with the most room first, so one Model's replicas spread the way the scheduler's do.
		order := make([]int, replicas)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return free[order[a]] > free[order[b]] })
		for _, r := range order[:m.replicas] {
			if free[r] < m.bytes {
				return false
			}
			free[r] -= m.bytes
		}
	}
	return true
}

func memoryProblem(srv Server, request resource.Quantity, models []modelLoad) string {
	var names []string
	var total int64
	for _, m := range models {
		size := m.memory
		if size == "" {
			size = "no memory set"
		}
		if m.replicas > 1 {
			size = fmt.Sprintf("%s × %d replicas", size, m.replicas)
		}
		names = append(names, fmt.Sprintf("%s (%s: %s)", m.name, m.key, size))
		total += m.bytes * int64(m.replicas)
	}
	source := "set here"
	if srv.Memory == "" {
		source = "the ServerConfig " + srv.ServerConfig + " default"
	}
	return fmt.Sprintf("leaves Server %s/%s too small for its Models: %d replica(s) × %s (%s) × 1.1 overcommit = %s for "+
		"models, but %s need %s, each replica of a Model on its own Server replica; the scheduler would leave one "+
		"unscheduled (ScheduleFailed: %q) and the Experiment would never turn Ready",
		srv.Namespace, srv.Name, srv.Replicas, request.String(), source,
		humanBytes(seldonspec.ReplicaCapacity(request)*int64(srv.Replicas)),
		strings.Join(names, " and "), humanBytes(total), seldonspec.ScheduleFailedMessage)
}

// memoryFix names the smallest per-replica memory that places every Model (a whole number of Mi).
func memoryFix(i int, srv Server, models []modelLoad) string {
	var widest int
	for _, m := range models {
		widest = max(widest, m.replicas)
	}
	fix := ""
	if widest <= srv.Replicas {
		mi := int64(1)
		for !packs(models, srv.Replicas, seldonspec.ReplicaCapacity(*resource.NewQuantity(mi<<20, resource.BinarySI))) {
			mi *= 2
		}
		low := mi / 2
		for low+1 < mi { // the smallest Mi that packs, between low (does not) and mi (does)
			mid := (low + mi) / 2
			if packs(models, srv.Replicas, seldonspec.ReplicaCapacity(*resource.NewQuantity(mid<<20, resource.BinarySI))) {
				mi = mid
			} else {
				low = mid
			}
		}
		fix = fmt.Sprintf("set seldon.servers[%d].memory to at least %dMi (e.g. %dGi), ", i, mi, (mi+1023)/1024)
	}
	return fix + fmt.Sprintf("raise seldon.servers[%d].replicas (now %d), or lower the Models' memory", i, srv.Replicas)
}

// humanBytes writes a byte count in Gi with two decimals, the unit people size these Servers in.
func humanBytes(b int64) string {
	return fmt.Sprintf("%.2fGi", float64(b)/(1<<30))
}
