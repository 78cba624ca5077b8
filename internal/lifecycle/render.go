package lifecycle

import (
	"context"
	"os"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/seldon-ab/provisioner/internal/render"
)

// Render writes every Kubernetes object the stack would apply, charts rendered and secrets masked, as YAML files
// into dir, changing nothing: the stack is previewed against an empty, throwaway state (its cluster must answer:
// charts render against it). It returns how many objects it wrote.
func Render(ctx context.Context, opts Options, dir string) (int, error) {
	state, err := os.MkdirTemp("", "seldon-ab-render")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(state)
	opts.Env = withEntry(opts.Env, "PULUMI_BACKEND_URL", "file://"+state)
	var (
		mu    sync.Mutex
		steps []render.Step
		wg    sync.WaitGroup
	)
	opts.Observe = func() chan<- events.EngineEvent {
		ch := make(chan events.EngineEvent)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range ch {
				if e.ResourcePreEvent == nil || e.ResourcePreEvent.Metadata.Op != apitype.OpCreate || e.ResourcePreEvent.Metadata.New == nil {
					continue
				}
				n := e.ResourcePreEvent.Metadata.New
				mu.Lock()
				steps = append(steps, render.Step{Type: n.Type, Custom: n.Custom, Inputs: n.Inputs})
				mu.Unlock()
			}
		}()
		return ch
	}
	s, err := Open(ctx, opts)
	if err != nil {
		return 0, err
	}
	_, err = s.Preview(ctx, PreviewOptions{})
	wg.Wait()
	if err != nil {
		return 0, err
	}
	return render.Objects(steps, dir)
}

func withEntry(m map[string]string, key, value string) map[string]string {
	out := map[string]string{key: value}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
