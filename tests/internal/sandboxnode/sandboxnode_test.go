package sandboxnode

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// kwok's stages must leave exactly these images' pods to tests/cmd/sandboxd, or both would write their status.
func TestKwokLeavesTheRunnableImagesAlone(t *testing.T) {
	data, err := os.ReadFile("../../../scripts/sandbox/kwok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, img := range Images {
		want = append(want, `"`+img.Repository+`"`)
	}
	lists := regexp.MustCompile(`\] - \[([^\]]*)\]`).FindAllStringSubmatch(string(data), -1)
	if len(lists) != 2 {
		t.Fatalf("found %d image lists in kwok.yaml, want one in pod-ready and one in pod-complete", len(lists))
	}
	for _, l := range lists {
		if got := strings.Split(l[1], ", "); !slices.Equal(got, want) {
			t.Errorf("kwok.yaml excludes %v, tests/internal/sandboxnode.Images are %v", got, want)
		}
	}
}

func TestAPodRunsHereOnlyIfEveryContainerHasAProgram(t *testing.T) {
	pod := func(images ...string) *corev1.PodSpec {
		spec := &corev1.PodSpec{}
		for _, img := range images {
			spec.Containers = append(spec.Containers, corev1.Container{Image: img})
		}
		return spec
	}
	for _, c := range []struct {
		spec *corev1.PodSpec
		want bool
	}{
		{pod("quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z"), true},
		{pod("quay.io/metallb/controller:v0.16.1@sha256:abc"), true},
		{pod("docker.io/rclone/rclone:1.71.1", "docker.io/rclone/rclone:1.71.1"), true},
		{pod("docker.io/rclone/rclone:1.71.1", "seldonio/mlserver:1.7.1"), false},
		{pod("quay.io/minio/mc:RELEASE.2024-11-21T17-21-54Z"), false},
		{&corev1.PodSpec{InitContainers: []corev1.Container{{Image: "busybox:1"}}, Containers: pod("quay.io/minio/minio:x").Containers}, false},
	} {
		if got := Runnable(c.spec); got != c.want {
			t.Errorf("Runnable(%v) = %v, want %v", c.spec.Containers, got, c.want)
		}
	}
}

// The chart's MinIO command line runs the local binary on loopback ports, its data in the claim's directory.
func TestMinIOsChartCommandRunsLocally(t *testing.T) {
	c := &Container{
		Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "minio"}},
		Spec: corev1.Container{Command: []string{"/bin/sh", "-ce",
			"/usr/bin/docker-entrypoint.sh minio server /export -S /etc/minio/certs/ --address :9000 --console-address :9001"}},
		rootfs: t.TempDir(), mounts: map[string]string{"/export": "/data/pv-1"},
		ports: map[int32]int{9000: 40000, 9001: 40001},
	}
	argv, err := minioArgv(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"server", "/data/pv-1", "-S", c.rootfs + "/etc/minio/certs", "--address", "127.0.0.1:40000", "--console-address", "127.0.0.1:40001"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv = %v, want %v", argv, want)
	}
	c.Spec.Command[2] = "minio server /export; curl evil"
	if _, err := minioArgv(c); err == nil {
		t.Error("a shell command line ran without a shell")
	}
}

// The network resolves what a pod or this machine's tools would dial, and refuses the rest with the reason.
func TestTheNetworkRoutesToPodsRunHereAndNowhereElse(t *testing.T) {
	ready := true
	port, portName := int32(9000), "http"
	client := fake.NewSimpleClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "minio", Namespace: "minio"},
			Spec:   corev1.ServiceSpec{ClusterIP: "10.0.0.7", Ports: []corev1.ServicePort{{Name: "http", Port: 9000}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.168.1.248"}}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "minio-x", Namespace: "minio",
			Labels: map[string]string{discoveryv1.LabelServiceName: "minio"}},
			Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.255.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "minio", Name: "minio-abc"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "seldon-mesh", Namespace: "seldon-system"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.9", Ports: []corev1.ServicePort{{Name: "data", Port: 80}}}},
	)
	node := &Node{Client: client, pods: map[types.UID]*runningPod{"u1": {
		pod:   &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "minio-abc", Namespace: "minio"}},
		ports: map[int32]int{9000: 40000},
	}}}
	network := &Network{Node: node}
	ctx := context.Background()
	for _, host := range []string{"minio.minio:9000", "minio.minio.svc:9000", "minio.minio.svc.cluster.local:9000", "10.0.0.7:9000", "192.168.1.248:9000"} {
		if got, err := network.Resolve(ctx, host); err != nil || got != "127.0.0.1:40000" {
			t.Errorf("Resolve(%s) = %q, %v; want 127.0.0.1:40000", host, got, err)
		}
	}
	for host, want := range map[string]string{
		"minio.minoi:9000":             "no such host",
		"minio:9000":                   "no such host",
		"minio.minio:9001":             "has no port 9001",
		"192.168.1.249:80":             "i/o timeout",
		"seldon-mesh.seldon-system:80": "has no ready endpoint",
		"dl.min.io:443":                "no such host",
	} {
		if got, err := network.Resolve(ctx, host); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%s) = %q, %v; want an error containing %q", host, got, err, want)
		}
	}
}

// A process that finds a mounted path by itself (MetalLB's webhook server reads its certificates from
// $TMPDIR/k8s-webhook-server/serving-certs, whatever --cert-dir says) reaches the volume, and so does one that
// looks under a mount inside another volume.
func TestAVolumeIsAtItsMountPathUnderTheContainersRoot(t *testing.T) {
	certs, cache, inner := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(certs+"/tls.crt", []byte("cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inner+"/model", []byte("weights"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Container{rootfs: t.TempDir(), mounts: map[string]string{
		"/tmp/k8s-webhook-server/serving-certs": certs, "/cache": cache, "/cache/models": inner}}
	for range 2 { // a restarted container finds its links in place
		if err := c.linkMounts(); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]string{
		"/tmp/k8s-webhook-server/serving-certs/tls.crt": "cert",
		"/cache/models/model":                           "weights",
	} {
		if got, err := os.ReadFile(c.rootfs + path); err != nil || string(got) != want {
			t.Errorf("%s read %q, %v; want %q", path, got, err, want)
		}
	}
	node := &Node{Client: fake.NewSimpleClientset()}
	c.Pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system"}}
	env, err := node.env(context.Background(), &runningPod{pod: c.Pod}, c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env, "TMPDIR="+c.rootfs+"/tmp") {
		t.Errorf("env %v has no TMPDIR under the container's root", env)
	}
}
