package doctor

import (
	"context"
	"encoding/base64"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// Live reads a cluster through its kubeconfig.
type Live struct {
	client    dynamic.Interface
	discovery discovery.DiscoveryInterface
}

// Connect builds a reader from a kubeconfig path (empty: $KUBECONFIG or ~/.kube/config) and context.
func Connect(kubeconfig, kubeContext string) (*Live, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Live{client: client, discovery: disco}, nil
}

// Dynamic is the client Live reads with, for callers that write (dry runs included).
func (l *Live) Dynamic() dynamic.Interface { return l.client }

// ServerVersion is the API server's major and minor version.
func (l *Live) ServerVersion() (string, string, error) {
	v, err := l.discovery.ServerVersion()
	if err != nil {
		return "", "", err
	}
	return v.Major, v.Minor, nil
}

// List lists every object of a resource in every namespace.
func (l *Live) List(ctx context.Context, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	list, err := l.client.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func decodeBase64(v any) (string, error) {
	s, _ := v.(string)
	out, err := base64.StdEncoding.DecodeString(s)
	return string(out), err
}

// NamespaceUID is the uid of a namespace: kube-system's identifies a cluster, a recreated one has a new uid.
func (l *Live) NamespaceUID(ctx context.Context, name string) (string, error) {
	ns, err := l.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return string(ns.GetUID()), nil
}

// Get reads one object.
func (l *Live) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	return l.client.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}

// Delete deletes one object, its dependents in the background.
func (l *Live) Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) error {
	background := metav1.DeletePropagationBackground
	return l.client.Resource(gvr).Namespace(namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &background})
}
