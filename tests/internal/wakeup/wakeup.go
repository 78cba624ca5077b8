// Package wakeup paces the sandbox's reconcile loops as the controllers they stand for are paced: a pass soon after
// the cluster changes (their informers' events) and, while nothing changes, a pass now and then for what moves with
// time alone (a process turning ready, a download ending). Passes at a fixed 300 ms kept half a core of the
// machine's two busy on an idle sandbox (the loops' lists and the API server answering them), taken from the
// previews and updates the benchmarks time.
package wakeup

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// Feed watches some of the cluster's resources and tells its loops when one changed.
type Feed struct {
	// Busy is the time between passes while the cluster changes: what every pass waited before the feed.
	Busy time.Duration
	// Settle is how long after the last change the loops stay at Busy.
	Settle time.Duration
	// Idle is the longest wait between two passes once the cluster has settled.
	Idle time.Duration

	mu      sync.Mutex
	changed time.Time
	loops   []chan struct{}
}

// Watch starts watching resources, until ctx ends. A resource the API server does not serve yet (its CRD not
// installed) is watched from when it is; until then a change to it reaches the loops at their next idle pass.
func (f *Feed) Watch(ctx context.Context, client dynamic.Interface, resources []schema.GroupVersionResource) {
	f.noteChange()
	for _, gvr := range resources {
		go f.watch(ctx, client, gvr)
	}
}

func (f *Feed) watch(ctx context.Context, client dynamic.Interface, gvr schema.GroupVersionResource) {
	for ctx.Err() == nil {
		// No resource version: the watch starts with every existing object, so a change made while it was being
		// re-established is not missed.
		w, err := client.Resource(gvr).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			sleep(ctx, f.Idle)
			continue
		}
		for event := range w.ResultChan() {
			if event.Type != watch.Bookmark {
				f.noteChange()
			}
		}
		w.Stop()
		sleep(ctx, f.Busy)
	}
}

func (f *Feed) noteChange() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed = time.Now()
	for _, wake := range f.loops {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Run makes pass one of the feed's loops until ctx ends: a pass, then the loop's wait. A failed pass (an update
// conflict, an object not there yet) is retried by the next; its error is logged when it differs from the last.
func (f *Feed) Run(ctx context.Context, name string, pass func(context.Context) error, log io.Writer) {
	wait := f.Loop()
	var last string
	for {
		err := pass(ctx)
		if err != nil && ctx.Err() == nil && err.Error() != last {
			fmt.Fprintf(log, "%s: pass failed (retried): %v\n", name, err)
		}
		last = fmt.Sprint(err)
		if !wait(ctx) {
			return
		}
	}
}

// Loop returns the wait between two passes of one loop: Busy while the cluster changed within Settle; after that,
// until the next change or Idle, whichever comes first. Wait returns false once ctx ends.
func (f *Feed) Loop() func(ctx context.Context) bool {
	wake := make(chan struct{}, 1)
	f.mu.Lock()
	f.loops = append(f.loops, wake)
	f.mu.Unlock()
	return func(ctx context.Context) bool {
		f.mu.Lock()
		settled := time.Since(f.changed) >= f.Settle
		f.mu.Unlock()
		if !settled {
			// The changes of a burst (a chart's objects) are taken together, as before the feed.
			return sleep(ctx, f.Busy)
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
			return true
		case <-time.After(f.Idle):
			return true
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
