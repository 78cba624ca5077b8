//go:build sandbox

package sandbox_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/seldon-ab/provisioner/internal/admission"
	"github.com/seldon-ab/provisioner/internal/doctor"
)

var (
	namespaceResource     = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	configMapResource     = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	webhookConfigResource = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
)

const admissionNamespace = "admission-wait"

// The wait for a webhook, against the real API server calling a webhook on loopback: it waits while nothing
// listens (as MetalLB's controller before its certificate is mounted), returns once the webhook answers, and
// reports a denial at once.
func TestAdmissionWaitsForAWebhookThatDoesNotListenYet(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	live, err := doctor.Connect(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	client := live.Dynamic()

	// The address the webhook will listen on, free for now, and the certificate httptest serves on it.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	probe := httptest.NewTLSServer(http.NotFoundHandler())
	caBundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: probe.Certificate().Raw})
	probe.Close()

	createForTheTest(t, ctx, client, namespaceResource, map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": admissionNamespace, "labels": map[string]any{"seldon-ab.test/admission": "wait"}}})
	createForTheTest(t, ctx, client, webhookConfigResource, webhookConfig(addr, caBundle))

	configMap := admission.Object{Resource: configMapResource, Manifest: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "probe", "namespace": admissionNamespace}, "data": map[string]any{"k": "v"}}}
	waitUntilTheWebhookIsCalled(t, ctx, client, configMap)

	t.Run("nothing listens: not admitted within its patience", func(t *testing.T) {
		err := admission.Await(ctx, client, []admission.Object{configMap}, 2*time.Second)
		if err == nil || !strings.Contains(err.Error(), "ConfigMap admission-wait/probe was not admitted within 2s") ||
			!strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("err = %v, want not admitted within 2s, with the API server's answer", err)
		}
	})

	t.Run("nothing listens and the caller stops: says it stopped, not that patience ran out", func(t *testing.T) {
		stopped, stop := context.WithCancel(ctx)
		time.AfterFunc(2*time.Second, stop)
		err := admission.Await(stopped, client, []admission.Object{configMap}, time.Minute)
		if err == nil || !strings.Contains(err.Error(), "waiting for ConfigMap admission-wait/probe to be admitted stopped (context canceled)") ||
			!strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("err = %v, want a stopped wait, with the API server's answer", err)
		}
	})

	var calls atomic.Int32
	deny := atomic.Bool{}
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var review struct {
			Request struct {
				UID string `json:"uid"`
			} `json:"request"`
		}
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		response := map[string]any{"uid": review.Request.UID, "allowed": !deny.Load()}
		if deny.Load() {
			response["status"] = map[string]any{"code": 403, "message": "the addresses overlap another pool"}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
	}))
	t.Cleanup(server.Close)

	t.Run("the webhook starts listening: admitted", func(t *testing.T) {
		var listening atomic.Bool
		started := make(chan error, 1)
		go func() {
			time.Sleep(2 * time.Second)
			server.Listener.Close()
			listening.Store(true) // before Listen: nothing can be admitted before this
			ln, err := net.Listen("tcp", addr)
			if err == nil {
				server.Listener = ln
				server.StartTLS()
			}
			started <- err
		}()
		err := admission.Await(ctx, client, []admission.Object{configMap}, time.Minute)
		wasListening := listening.Load()
		if listenErr := <-started; listenErr != nil {
			t.Fatalf("listening on %s: %v", addr, listenErr)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !wasListening {
			t.Fatal("admitted before the webhook listened")
		}
		if calls.Load() == 0 {
			t.Error("admitted without the webhook being called")
		}
		if _, err := client.Resource(configMapResource).Namespace(admissionNamespace).Get(ctx, "probe", metav1.GetOptions{}); err == nil {
			t.Error("the dry run created the ConfigMap")
		}
	})

	t.Run("the webhook denies: refused at once", func(t *testing.T) {
		deny.Store(true)
		begun := time.Now()
		err := admission.Await(ctx, client, []admission.Object{configMap}, time.Minute)
		if err == nil || !strings.Contains(err.Error(), "ConfigMap admission-wait/probe is refused") ||
			!strings.Contains(err.Error(), "denied the request: the addresses overlap another pool") {
			t.Fatalf("err = %v, want the webhook's denial", err)
		}
		if waited := time.Since(begun); waited > 10*time.Second {
			t.Errorf("a denial took %v to report", waited)
		}
	})

	t.Run("the object exists and the webhook is gone: nothing to wait for", func(t *testing.T) {
		deny.Store(false)
		createForTheTest(t, ctx, client, configMapResource, configMap.Manifest)
		server.Close()
		begun := time.Now()
		if err := admission.Await(ctx, client, []admission.Object{configMap}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(begun); waited > 10*time.Second {
			t.Errorf("an existing object waited %v for a webhook that is gone", waited)
		}
	})
}

func createForTheTest(t *testing.T, ctx context.Context, client dynamic.Interface, resource schema.GroupVersionResource, manifest map[string]any) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: manifest}
	objects := client.Resource(resource).Namespace(obj.GetNamespace())
	if _, err := objects.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = objects.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
}

// webhookConfig makes the API server call https://addr for every ConfigMap created in the test's namespace.
func webhookConfig(addr string, caBundle []byte) map[string]any {
	return map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "seldon-ab-admission-wait"},
		"webhooks": []any{map[string]any{
			"name":                    "admission-wait.seldon-ab.test",
			"clientConfig":            map[string]any{"url": "https://" + addr + "/validate", "caBundle": caBundle},
			"rules":                   []any{map[string]any{"operations": []any{"CREATE"}, "apiGroups": []any{""}, "apiVersions": []any{"v1"}, "resources": []any{"configmaps"}}},
			"namespaceSelector":       map[string]any{"matchLabels": map[string]any{"seldon-ab.test/admission": "wait"}},
			"failurePolicy":           "Fail",
			"sideEffects":             "None",
			"admissionReviewVersions": []any{"v1"},
			"timeoutSeconds":          int64(5),
		}},
	}
}

// waitUntilTheWebhookIsCalled waits until the API server has loaded the webhook configuration, which it does
// asynchronously: until then a dry run passes without calling anything.
func waitUntilTheWebhookIsCalled(t *testing.T, ctx context.Context, client dynamic.Interface, o admission.Object) {
	t.Helper()
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, err := client.Resource(o.Resource).Namespace(admissionNamespace).Create(ctx, &unstructured.Unstructured{Object: o.Manifest}, dryRun)
		if err != nil && strings.Contains(err.Error(), "failed calling webhook") {
			return
		}
	}
	t.Fatal("the API server never called the webhook")
}
