package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
)

// timeline records when each resource's step began and ended, from the engine's event stream (each event is
// stamped when it arrives: the stream is the engine's gRPC call to this process, so it lags by milliseconds).
type timeline struct {
	mu    sync.Mutex
	start time.Time
	spans map[string]*span
	wg    sync.WaitGroup
}

type span struct {
	urn, typ, op string
	begin, end   time.Duration
}

func newTimeline() *timeline {
	return &timeline{start: time.Now(), spans: map[string]*span{}}
}

// channel returns a new channel for one update's events (the Automation API closes it when the update ends).
func (t *timeline) channel() chan<- events.EngineEvent {
	ch := make(chan events.EngineEvent, 256)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for e := range ch {
			now := time.Since(t.start)
			t.mu.Lock()
			switch {
			case e.ResourcePreEvent != nil && !e.ResourcePreEvent.Planning:
				// Only Kubernetes objects: components, providers and the stack span their children's work.
				m := e.ResourcePreEvent.Metadata
				if m.Op != "same" && strings.HasPrefix(m.Type, "kubernetes:") {
					t.spans[m.URN] = &span{urn: m.URN, typ: m.Type, op: string(m.Op), begin: now, end: -1}
				}
			case e.ResOutputsEvent != nil:
				// A later update's unchanged step reports the same resource again: the first end stands.
				if s := t.spans[e.ResOutputsEvent.Metadata.URN]; s != nil && s.end < 0 && e.ResOutputsEvent.Metadata.Op != "same" {
					s.end = now
				}
			}
			t.mu.Unlock()
		}
	}()
	return ch
}

// wait returns once every channel's events are in.
func (t *timeline) wait() { t.wg.Wait() }

func name(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }

// awaited are the kinds whose step includes Pulumi's await logic (readiness, conditions, load balancer IPs);
// for the rest a step is the API call.
func awaited(typ string) bool {
	for _, k := range []string{"apps/v1:Deployment", "apps/v1:DaemonSet", "apps/v1:StatefulSet", "batch/v1:Job", "core/v1:Service",
		"mlops.seldon.io", "CustomResourceDefinition", "core/v1:PersistentVolumeClaim", "core/v1:Namespace"} {
		if strings.Contains(typ, k) {
			return true
		}
	}
	return false
}

// graph is the stack's dependencies (a component stands for everything under it) and parent links.
type graph struct {
	deps     map[string][]string
	children map[string][]string
}

// dependencies reads each resource's dependencies and parent from an exported deployment.
func dependencies(deployment json.RawMessage) (*graph, error) {
	var state struct {
		Resources []struct {
			URN          string   `json:"urn"`
			Parent       string   `json:"parent"`
			Dependencies []string `json:"dependencies"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(deployment, &state); err != nil {
		return nil, err
	}
	g := &graph{deps: map[string][]string{}, children: map[string][]string{}}
	for _, r := range state.Resources {
		g.deps[r.URN] = r.Dependencies
		g.children[r.Parent] = append(g.children[r.Parent], r.URN)
	}
	return g, nil
}

// expand replaces a component by the objects under it: a dependency on a chart is a dependency on all it renders.
func (g *graph) expand(urn string, spans map[string]*span) []*span {
	if s := spans[urn]; s != nil {
		return []*span{s}
	}
	var out []*span
	for _, child := range g.children[urn] {
		out = append(out, g.expand(child, spans)...)
	}
	return out
}

// write prints the slowest steps, the critical path (the chain of steps each of which waited for the one before
// it, ending at the last step to finish) and where the time went.
func (t *timeline) write(w io.Writer, title string, total time.Duration, deps *graph, reverse bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var spans []*span
	for _, s := range t.spans {
		if s.end >= 0 {
			spans = append(spans, s)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].end-spans[i].begin > spans[j].end-spans[j].begin })
	fmt.Fprintf(w, "\n### %s: %.1f s, %d steps\n\n| start (s) | took (s) | step | resource |\n|---|---|---|---|\n", title, total.Seconds(), len(spans))
	for _, s := range spans[:min(len(spans), 12)] {
		fmt.Fprintf(w, "| %.1f | %.1f | %s | %s %s |\n", s.begin.Seconds(), (s.end - s.begin).Seconds(), s.op, shortType(s.typ), name(s.urn))
	}
	path := t.criticalPath(spans, deps, reverse)
	var stepTime, awaitTime time.Duration
	fmt.Fprintf(w, "\ncritical path (%d steps):\n\n| start (s) | took (s) | waited before (s) | resource |\n|---|---|---|---|\n", len(path))
	var prevEnd time.Duration
	for _, s := range path {
		fmt.Fprintf(w, "| %.1f | %.1f | %.1f | %s %s |\n", s.begin.Seconds(), (s.end - s.begin).Seconds(), (s.begin - prevEnd).Seconds(), shortType(s.typ), name(s.urn))
		stepTime += s.end - s.begin
		if awaited(s.typ) {
			awaitTime += s.end - s.begin
		}
		prevEnd = s.end
	}
	first := total
	for _, s := range spans {
		first = min(first, s.begin)
	}
	fmt.Fprintf(w, "\nwhere the %.1f s went: %.1f s before the first step (program start, plugin load, chart rendering, "+
		"preflight), %.1f s in critical-path steps (%.1f s of them awaiting readiness, %.1f s API calls), %.1f s between "+
		"them (engine scheduling, step registration, the seeds)\n",
		total.Seconds(), first.Seconds(), stepTime.Seconds(), awaitTime.Seconds(), (stepTime - awaitTime).Seconds(),
		(total - first - stepTime).Seconds())
}

// criticalPath walks back from the last step to finish, each time to the dependency (or, for a destroy, the
// dependent) that finished last before the step began.
func (t *timeline) criticalPath(spans []*span, g *graph, reverse bool) []*span {
	byURN := map[string]*span{}
	var last *span
	for _, s := range spans {
		byURN[s.urn] = s
		if last == nil || s.end > last.end {
			last = s
		}
	}
	// What a step waits for: its dependencies (and its ancestors' dependencies, which the engine also honours);
	// in a destroy, the reverse: everything that depended on it.
	before := map[string][]*span{}
	for urn := range g.deps {
		for anc := urn; anc != ""; anc = parentOf(g, anc) {
			for _, d := range g.deps[anc] {
				for _, s := range g.expand(d, byURN) {
					if reverse {
						before[s.urn] = append(before[s.urn], g.expand(urn, byURN)...)
					} else {
						before[urn] = append(before[urn], s)
					}
				}
			}
		}
	}
	var path []*span
	for s := last; s != nil; {
		path = append([]*span{s}, path...)
		var next *span
		for _, p := range before[s.urn] {
			if p.end <= s.begin+50*time.Millisecond && (next == nil || p.end > next.end) {
				next = p
			}
		}
		s = next
	}
	return path
}

func parentOf(g *graph, urn string) string {
	for parent, children := range g.children {
		for _, c := range children {
			if c == urn {
				return parent
			}
		}
	}
	return ""
}

func shortType(typ string) string {
	typ = strings.TrimPrefix(typ, "kubernetes:")
	if i := strings.LastIndex(typ, ":"); i >= 0 && !strings.HasPrefix(typ, "seldon-ab") {
		return typ[i+1:]
	}
	return typ
}
