package wakeup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

var pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func newClient() *fake.FakeDynamicClient {
	return fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{pods: "PodList"})
}

func createPod(t *testing.T, client *fake.FakeDynamicClient, name string) {
	t.Helper()
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name, "namespace": "default"},
	}}
	if _, err := client.Resource(pods).Namespace("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// watches counts the watch calls the client has seen.
func watches(client *fake.FakeDynamicClient) int {
	n := 0
	for _, action := range client.Actions() {
		if action.GetVerb() == "watch" {
			n++
		}
	}
	return n
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// returns runs wait in the background and reports its result.
func returns(ctx context.Context, wait func(context.Context) bool) <-chan bool {
	done := make(chan bool, 1)
	go func() { done <- wait(ctx) }()
	return done
}

func TestASettledLoopWaitsForTheNextChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newClient()
	feed := &Feed{Busy: time.Millisecond, Settle: 500 * time.Millisecond, Idle: time.Hour}
	feed.Watch(ctx, client, []schema.GroupVersionResource{pods})
	wait := feed.Loop()
	eventually(t, "the pods are watched", func() bool { return watches(client) == 1 })

	// Within Settle of the feed's start, a wait is Busy long.
	select {
	case ok := <-returns(ctx, wait):
		if !ok {
			t.Fatal("wait ended as if ctx had")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a loop whose cluster just changed waited longer than Busy")
	}

	time.Sleep(2 * feed.Settle)
	done := returns(ctx, wait)
	select {
	case <-done:
		t.Fatal("a settled loop ran a pass with nothing changed and Idle an hour away")
	case <-time.After(100 * time.Millisecond):
	}
	createPod(t, client, "changed")
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("wait ended as if ctx had")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a settled loop did not wake when a watched resource changed")
	}

	time.Sleep(2 * feed.Settle)
	done = returns(ctx, wait)
	cancel()
	if <-done {
		t.Fatal("wait went on after ctx ended")
	}
}

func TestAResourceNotServedYetIsWatchedOnceItIs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newClient()
	refused := 0
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if refused < 2 {
			refused++
			return true, nil, errors.New(`the server could not find the requested resource`)
		}
		return false, nil, nil
	})
	feed := &Feed{Busy: time.Millisecond, Settle: time.Millisecond, Idle: 5 * time.Millisecond}
	feed.Watch(ctx, client, []schema.GroupVersionResource{pods})
	eventually(t, "the pods are watched after two refusals", func() bool { return watches(client) == 3 })

	// Watch counted its start as a change; what follows must come from the watch itself.
	feed.mu.Lock()
	before := feed.changed
	feed.mu.Unlock()
	for i := 0; ; i++ {
		createPod(t, client, fmt.Sprint("pod-", i))
		feed.mu.Lock()
		after := feed.changed
		feed.mu.Unlock()
		if after.After(before) {
			return
		}
		if i == 1000 {
			t.Fatal("a change after the watch was established never reached the feed")
		}
		time.Sleep(time.Millisecond)
	}
}

// A loop's failed pass is retried by the next; an error is logged once however often it repeats, and again when
// it changes; the loop ends with its context.
func TestALoopLogsEachNewErrorOnceAndEndsWithItsContext(t *testing.T) {
	feed := &Feed{Busy: time.Millisecond, Settle: time.Hour, Idle: time.Hour}
	feed.noteChange()
	ctx, cancel := context.WithCancel(context.Background())
	errs := []error{errors.New("conflict"), errors.New("conflict"), nil, errors.New("conflict"), errors.New("not found")}
	passes := 0
	pass := func(context.Context) error {
		passes++
		if passes == len(errs) {
			cancel()
		}
		return errs[passes-1]
	}
	var log strings.Builder
	done := make(chan struct{})
	go func() {
		feed.Run(ctx, "sim", pass, &log)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not end with its context")
	}
	want := "sim: pass failed (retried): conflict\nsim: pass failed (retried): conflict\n"
	if passes != len(errs) || log.String() != want {
		t.Errorf("%d passes, log %q; want %d passes, log %q (the error once per run of it; none once the context ended)", passes, log.String(), len(errs), want)
	}
}
