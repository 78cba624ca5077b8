package dataplane

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seldon-ab/provisioner/tests/internal/dataplane/ingressnginx"
)

// SyncIngressStatus is one pass of what the ingress-nginx controllers write back to the cluster: the address of
// their --publish-service in the status of each Ingress they serve (internal/ingress/status/status.go:
// runningAddresses, statusAddressFromService, updateStatus).
func (p *Plane) SyncIngressStatus(ctx context.Context) error {
	pods, err := p.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ingresses, err := p.Client.NetworkingV1().Ingresses("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	classes, err := p.Client.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !hasImage(pod, IngressNginxImage) || !running(pod) {
			continue
		}
		c := ingressnginx.ControllerFromArgs(expand(pod, args(pod, IngressNginxImage)))
		if c.PublishService == "" {
			continue
		}
		addresses, err := p.publishedAddresses(ctx, c.PublishService)
		if err != nil {
			return err
		}
		for j := range ingresses.Items {
			ing := &ingresses.Items[j]
			if !c.Serves(ing, classes.Items) || reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, addresses) {
				continue
			}
			ing.Status.LoadBalancer.Ingress = addresses
			if _, err := p.Client.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// publishedAddresses is statusAddressFromService for a LoadBalancer or ClusterIP Service, sorted as updateStatus
// sorts them.
func (p *Plane) publishedAddresses(ctx context.Context, service string) ([]networkingv1.IngressLoadBalancerIngress, error) {
	ns, name, ok := strings.Cut(service, "/")
	if !ok {
		return nil, fmt.Errorf("--publish-service %q is not namespace/name", service)
	}
	svc, err := p.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var out []networkingv1.IngressLoadBalancerIngress
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP:
		out = append(out, networkingv1.IngressLoadBalancerIngress{IP: svc.Spec.ClusterIP})
	case corev1.ServiceTypeLoadBalancer:
		for _, in := range svc.Status.LoadBalancer.Ingress {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: in.IP, Hostname: in.Hostname})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].IP < out[b].IP })
	return out, nil
}

func running(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// expand substitutes $(VAR) in args as the kubelet does, for the env a pod's containers take from its own
// metadata (the chart passes --publish-service=$(POD_NAMESPACE)/...).
func expand(pod *corev1.Pod, args []string) []string {
	vars := map[string]string{}
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				vars[e.Name] = pod.Namespace
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
				vars[e.Name] = pod.Name
			case e.ValueFrom == nil:
				vars[e.Name] = e.Value
			}
		}
	}
	out := make([]string, len(args))
	for i, a := range args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		out[i] = a
	}
	return out
}
