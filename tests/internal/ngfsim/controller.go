// Package ngfsim simulates NGINX Gateway Fabric's control plane (v2.6.7) for the sandbox, where no container runs
// and NGF's Go module is not served: for the GatewayClass its running controller pod serves, it provisions each
// Gateway's data plane (Service, Deployment, ServiceAccount, the agent's Secret), writes the statuses NGF writes
// (GatewayClass, Gateway, HTTPRoute), and keeps the graph the data plane routes by (Graph.Route). Each rule cites
// the NGF file it follows. It is test harness only.
//
// Not simulated: the two ConfigMaps NGF renders for nginx's bootstrap and its agent (nothing in the sandbox reads
// them), policies, GRPCRoutes, TLS listeners, ListenerSets and the leader election.
package ngfsim

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
	"github.com/seldon-ab/provisioner/tests/internal/sandboxnode"
)

// Images: the control plane's, and the data plane's default (chart values.yaml; provisioner/objects.go:
// DetermineNginxImageName).
const (
	ControllerImage = "ghcr.io/nginx/nginx-gateway-fabric"
	NginxImage      = "ghcr.io/nginx/nginx-gateway-fabric/nginx"
)

// managedAnnotationKeys tracks which annotations NGF put on what it provisioned (provisioner/setter.go).
const managedAnnotationKeys = "gateway.nginx.org/internal-managed-annotation-keys"

// Controller simulates the NGF control planes running in the cluster behind its clients.
type Controller struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Log     io.Writer

	mu    sync.Mutex
	graph *Graph
}

// Graph is what the running controller serves now (nil when none runs).
func (c *Controller) Graph() *Graph {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.graph
}

// controllerPod is a running NGF control plane.
type controllerPod struct {
	namespace, class, release, tag string
}

// Reconcile runs one pass.
func (c *Controller) Reconcile(ctx context.Context) error {
	ctrl, err := c.runningController(ctx)
	if err != nil || ctrl == nil {
		c.setGraph(nil)
		return err
	}
	classObj, err := c.Dynamic.Resource(GatewayClasses).Get(ctx, ctrl.class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.setGraph(nil)
		return nil
	}
	if err != nil {
		return err
	}
	var class gatewayClass
	if err := decode(classObj, &class); err != nil {
		return err
	}
	// A class of the configured name with another controller: NGF builds an empty graph and writes nothing
	// (graph/graph.go: BuildGraph).
	if class.Spec.ControllerName != gatewayapi.ControllerName {
		c.setGraph(nil)
		return nil
	}
	proxy, proxyErr := c.nginxProxy(ctx, class)
	if err := c.writeClassStatus(ctx, classObj, proxyErr); err != nil {
		return err
	}
	w, objs, err := c.read(ctx)
	if err != nil {
		return err
	}
	g := buildGraph(class.Name, w)
	c.setGraph(g)
	for key, gs := range g.Gateways {
		if gs.Invalid == "" && len(gs.gw.Spec.Listeners) > 0 {
			if err := c.provision(ctx, gs, ctrl, proxy); err != nil {
				return fmt.Errorf("provisioning Gateway %s: %w", key, err)
			}
		}
		if err := c.writeGatewayStatus(ctx, objs.gateways[key], gs, ctrl.class); err != nil {
			return err
		}
	}
	for _, rs := range g.Routes {
		if err := c.writeRouteStatus(ctx, objs.routes[rs.route.Namespace+"/"+rs.route.Name], rs); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) setGraph(g *Graph) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.graph = g
}

// runningController finds a running, ready NGF control-plane pod whose Secret volumes exist: its Deployment mounts
// the server-tls Secret without `optional` (chart templates/deployment.yaml), so a kubelet cannot start it before
// that Secret exists.
func (c *Controller) runningController(ctx context.Context) (*controllerPod, error) {
	pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		var ctr *corev1.Container
		for j := range pod.Spec.Containers {
			if sandboxnode.Repository(pod.Spec.Containers[j].Image) == ControllerImage {
				ctr = &pod.Spec.Containers[j]
			}
		}
		if ctr == nil || !ready(pod) || !c.secretVolumesExist(ctx, pod) {
			continue
		}
		p := &controllerPod{namespace: pod.Namespace, release: pod.Labels["app.kubernetes.io/instance"]}
		_, p.tag, _ = strings.Cut(ctr.Image[strings.LastIndex(ctr.Image, "/")+1:], ":")
		for _, a := range ctr.Args {
			if v, ok := strings.CutPrefix(a, "--gatewayclass="); ok {
				p.class = v
			}
		}
		if p.class != "" {
			return p, nil
		}
	}
	return nil, nil
}

func (c *Controller) secretVolumesExist(ctx context.Context, pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Secret == nil || (v.Secret.Optional != nil && *v.Secret.Optional) {
			continue
		}
		if _, err := c.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{}); err != nil {
			return false
		}
	}
	return true
}

func ready(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return false
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// proxySettings are the NginxProxy fields the provisioner reads (apis/v1alpha2/nginxproxy_types.go), defaulted
// as provisioner/objects.go defaults them.
type proxySettings struct {
	replicas              int32
	image                 string
	serviceType           corev1.ServiceType
	externalTrafficPolicy corev1.ServiceExternalTrafficPolicy
}

// nginxProxy reads the class's parametersRef NginxProxy (graph/gatewayclass.go: validateGatewayClass); its error
// is what the class's ResolvedRefs says.
func (c *Controller) nginxProxy(ctx context.Context, class gatewayClass) (proxySettings, error) {
	p := proxySettings{replicas: 1, serviceType: corev1.ServiceTypeLoadBalancer, externalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal}
	ref := class.Spec.ParametersRef
	if ref == nil {
		return p, nil
	}
	obj, err := c.Dynamic.Resource(NginxProxies).Namespace(deref(ref.Namespace, "")).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return p, err
	}
	if n, found, _ := unstructured.NestedInt64(obj.Object, "spec", "kubernetes", "deployment", "replicas"); found {
		p.replicas = int32(n)
	}
	repo, _, _ := unstructured.NestedString(obj.Object, "spec", "kubernetes", "deployment", "container", "image", "repository")
	tag, _, _ := unstructured.NestedString(obj.Object, "spec", "kubernetes", "deployment", "container", "image", "tag")
	if repo != "" && tag != "" {
		p.image = repo + ":" + tag
	}
	if t, _, _ := unstructured.NestedString(obj.Object, "spec", "kubernetes", "service", "type"); t != "" {
		p.serviceType = corev1.ServiceType(t)
	}
	if t, _, _ := unstructured.NestedString(obj.Object, "spec", "kubernetes", "service", "externalTrafficPolicy"); t != "" {
		p.externalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(t)
	}
	return p, nil
}

// objects are the raw objects the world was decoded from, for status writes.
type objects struct {
	gateways, routes map[string]*unstructured.Unstructured
}

func (c *Controller) read(ctx context.Context) (world, objects, error) {
	w := world{services: map[string]*corev1.Service{}, namespaces: map[string]map[string]string{}}
	objs := objects{gateways: map[string]*unstructured.Unstructured{}, routes: map[string]*unstructured.Unstructured{}}
	gws, err := c.Dynamic.Resource(Gateways).List(ctx, metav1.ListOptions{})
	if err != nil {
		return w, objs, err
	}
	for i := range gws.Items {
		var gw gateway
		if err := decode(&gws.Items[i], &gw); err != nil {
			return w, objs, err
		}
		if gw.DeletionTimestamp == nil {
			w.gateways = append(w.gateways, gw)
			objs.gateways[gw.Namespace+"/"+gw.Name] = &gws.Items[i]
		}
	}
	routes, err := c.Dynamic.Resource(HTTPRoutes).List(ctx, metav1.ListOptions{})
	if err != nil {
		return w, objs, err
	}
	for i := range routes.Items {
		var r httpRoute
		if err := decode(&routes.Items[i], &r); err != nil {
			return w, objs, err
		}
		w.routes = append(w.routes, r)
		objs.routes[r.Namespace+"/"+r.Name] = &routes.Items[i]
	}
	sort.SliceStable(w.routes, func(a, b int) bool { // graph/route_common.go: older routes win conflicts
		return w.routes[a].CreationTimestamp.Before(&w.routes[b].CreationTimestamp)
	})
	services, err := c.Client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return w, objs, err
	}
	for i := range services.Items {
		w.services[services.Items[i].Namespace+"/"+services.Items[i].Name] = &services.Items[i]
	}
	namespaces, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return w, objs, err
	}
	for _, ns := range namespaces.Items {
		w.namespaces[ns.Name] = ns.Labels
	}
	if grants, err := c.Dynamic.Resource(ReferenceGrants).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range grants.Items {
			var g referenceGrant
			if err := decode(&grants.Items[i], &g); err == nil {
				w.grants = append(w.grants, g)
			}
		}
	}
	return w, objs, nil
}

// provision creates or updates what NGF makes for a Gateway, in its namespace, each object owned by the Gateway
// (provisioner/objects.go: buildNginxResourceObjects, buildNginxService, buildNginxDeployment;
// provisioner/setter.go: CreateOrUpdate with the Service's and Deployment's specs replaced).
func (c *Controller) provision(ctx context.Context, gs *GatewayState, ctrl *controllerPod, proxy proxySettings) error {
	gw := gs.gw
	name := gatewayapi.ProvisionedName(gw.Name, gw.Spec.GatewayClassName)
	selector := map[string]string{
		"app.kubernetes.io/instance":             ctrl.release,
		"app.kubernetes.io/managed-by":           ctrl.release + "-" + gw.Spec.GatewayClassName,
		"app.kubernetes.io/name":                 name,
		"gateway.networking.k8s.io/gateway-name": gw.Name,
	}
	labels, annotations := map[string]string{}, map[string]string{}
	for k, v := range selector {
		labels[k] = v
	}
	if infra := gw.Spec.Infrastructure; infra != nil {
		for k, v := range infra.Labels {
			labels[k] = v
		}
		var keys []string
		for k, v := range infra.Annotations {
			annotations[k] = v
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			sort.Strings(keys)
			annotations[managedAnnotationKeys] = strings.Join(keys, ",")
		}
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: gw.Namespace, Labels: labels, Annotations: annotations,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: gatewayapi.APIVersion, Kind: gatewayapi.KindGateway, Name: gw.Name,
			UID: gw.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}}

	agentSecret := name + "-agent-tls"
	if src, err := c.Client.CoreV1().Secrets(ctrl.namespace).Get(ctx, "agent-tls", metav1.GetOptions{}); err == nil {
		copyMeta := meta
		copyMeta.Name = agentSecret
		if err := c.apply(ctx, &corev1.Secret{ObjectMeta: copyMeta, Type: corev1.SecretTypeTLS, Data: src.Data}); err != nil {
			return err
		}
	}
	if err := c.apply(ctx, &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptr(false)}); err != nil {
		return err
	}
	var ports []corev1.ServicePort
	var containerPorts []corev1.ContainerPort
	seen := map[int32]bool{}
	for _, l := range gw.Spec.Listeners {
		if seen[l.Port] {
			continue
		}
		seen[l.Port] = true
		ports = append(ports, corev1.ServicePort{Name: fmt.Sprintf("port-%d", l.Port), Port: l.Port, Protocol: corev1.ProtocolTCP,
			TargetPort: intstr.FromInt32(l.Port)})
		containerPorts = append(containerPorts, corev1.ContainerPort{ContainerPort: l.Port})
	}
	sort.Slice(ports, func(a, b int) bool { return ports[a].Port < ports[b].Port })
	svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Type: proxy.serviceType, Selector: selector, Ports: ports,
		IPFamilyPolicy: ptr(corev1.IPFamilyPolicyPreferDualStack)}}
	if proxy.serviceType != corev1.ServiceTypeClusterIP {
		svc.Spec.ExternalTrafficPolicy = proxy.externalTrafficPolicy
	}
	for _, a := range gw.Spec.Addresses {
		svc.Spec.ExternalIPs = append(svc.Spec.ExternalIPs, a.Value)
	}
	if err := c.apply(ctx, svc); err != nil {
		return err
	}
	image := proxy.image
	if image == "" {
		image = NginxImage + ":" + ctrl.tag
	}
	podAnnotations := map[string]string{}
	for k, v := range annotations {
		if k != managedAnnotationKeys {
			podAnnotations[k] = v
		}
	}
	deploy := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
		Replicas: ptr(proxy.replicas),
		Selector: &metav1.LabelSelector{MatchLabels: selector},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: podAnnotations},
			Spec: corev1.PodSpec{ServiceAccountName: name, AutomountServiceAccountToken: ptr(false),
				Containers: []corev1.Container{{Name: "nginx", Image: image, Ports: containerPorts}},
				Volumes: []corev1.Volume{{Name: "nginx-agent-tls", VolumeSource: corev1.VolumeSource{
					Secret: &corev1.SecretVolumeSource{SecretName: agentSecret}}}}},
		},
	}}
	return c.apply(ctx, deploy)
}

// apply creates obj or replaces the spec, labels and annotations of the one there, keeping what the API server
// and other controllers set (a Service's cluster IPs, MetalLB's annotations).
func (c *Controller) apply(ctx context.Context, obj any) error {
	switch o := obj.(type) {
	case *corev1.Secret:
		api := c.Client.CoreV1().Secrets(o.Namespace)
		live, err := api.Get(ctx, o.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = api.Create(ctx, o, metav1.CreateOptions{})
			return c.logged(err, "created Secret %s/%s", o.Namespace, o.Name)
		}
		if err != nil || reflect.DeepEqual(live.Data, o.Data) {
			return err
		}
		live.Data = o.Data
		_, err = api.Update(ctx, live, metav1.UpdateOptions{})
		return err
	case *corev1.ServiceAccount:
		api := c.Client.CoreV1().ServiceAccounts(o.Namespace)
		if _, err := api.Get(ctx, o.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return err
		}
		_, err := api.Create(ctx, o, metav1.CreateOptions{})
		return c.logged(err, "created ServiceAccount %s/%s", o.Namespace, o.Name)
	case *corev1.Service:
		api := c.Client.CoreV1().Services(o.Namespace)
		live, err := api.Get(ctx, o.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = api.Create(ctx, o, metav1.CreateOptions{})
			return c.logged(err, "created Service %s/%s", o.Namespace, o.Name)
		}
		if err != nil {
			return err
		}
		want := o.Spec
		want.ClusterIP, want.ClusterIPs, want.IPFamilies = live.Spec.ClusterIP, live.Spec.ClusterIPs, live.Spec.IPFamilies
		want.HealthCheckNodePort, want.SessionAffinity, want.InternalTrafficPolicy = live.Spec.HealthCheckNodePort, live.Spec.SessionAffinity, live.Spec.InternalTrafficPolicy
		want.AllocateLoadBalancerNodePorts = live.Spec.AllocateLoadBalancerNodePorts
		for i := range want.Ports {
			for _, lp := range live.Spec.Ports {
				if lp.Port == want.Ports[i].Port {
					want.Ports[i].NodePort = lp.NodePort
				}
			}
		}
		annotations := mergeAnnotations(live.Annotations, o.Annotations)
		if reflect.DeepEqual(live.Spec, want) && reflect.DeepEqual(live.Annotations, annotations) && reflect.DeepEqual(live.Labels, o.Labels) {
			return nil
		}
		live.Spec, live.Annotations, live.Labels = want, annotations, o.Labels
		_, err = api.Update(ctx, live, metav1.UpdateOptions{})
		return c.logged(err, "updated Service %s/%s", o.Namespace, o.Name)
	case *appsv1.Deployment:
		api := c.Client.AppsV1().Deployments(o.Namespace)
		live, err := api.Get(ctx, o.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = api.Create(ctx, o, metav1.CreateOptions{})
			return c.logged(err, "created Deployment %s/%s", o.Namespace, o.Name)
		}
		if err != nil {
			return err
		}
		if *live.Spec.Replicas == *o.Spec.Replicas && live.Spec.Template.Spec.Containers[0].Image == o.Spec.Template.Spec.Containers[0].Image &&
			reflect.DeepEqual(live.Spec.Template.Annotations, o.Spec.Template.Annotations) {
			return nil
		}
		live.Spec.Replicas, live.Spec.Template.Spec.Containers[0].Image = o.Spec.Replicas, o.Spec.Template.Spec.Containers[0].Image
		live.Spec.Template.Annotations = o.Spec.Template.Annotations
		_, err = api.Update(ctx, live, metav1.UpdateOptions{})
		return c.logged(err, "updated Deployment %s/%s", o.Namespace, o.Name)
	}
	return fmt.Errorf("cannot apply %T", obj)
}

// mergeAnnotations keeps foreign annotations, drops the ones NGF managed before and no longer does
// (provisioner/setter.go: mergeAnnotations), and sets the managed ones.
func mergeAnnotations(live, managed map[string]string) map[string]string {
	out := map[string]string{}
	previous := strings.Split(live[managedAnnotationKeys], ",")
	for k, v := range live {
		if !slices.Contains(previous, k) && k != managedAnnotationKeys {
			out[k] = v
		}
	}
	for k, v := range managed {
		out[k] = v
	}
	return out
}

func (c *Controller) logged(err error, format string, args ...any) error {
	if err == nil && c.Log != nil {
		fmt.Fprintf(c.Log, "ngfsim: "+format+"\n", args...)
	}
	return err
}

func ptr[T any](v T) *T { return &v }
