package sandboxnode

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Container is one container of a pod run here: its spec, and where its paths and ports are on this machine.
type Container struct {
	Pod        *corev1.Pod
	Spec       corev1.Container
	Kubeconfig string
	// rootfs stands in for the image's file system; mounts maps each volumeMount's path to a local directory.
	rootfs string
	mounts map[string]string
	// ports maps each port the pod declares (container ports and probe ports) to a loopback port.
	ports map[int32]int
}

// Root maps a path inside the container to this machine: under a volume mount, or under the container's own
// file system directory. Directories on the way are created, as an image would have them.
func (c *Container) Root(path string) string {
	best := ""
	for mount := range c.mounts {
		if (path == mount || strings.HasPrefix(path, strings.TrimSuffix(mount, "/")+"/")) && len(mount) > len(best) {
			best = mount
		}
	}
	local := filepath.Join(c.rootfs, path)
	if best != "" {
		local = filepath.Join(c.mounts[best], strings.TrimPrefix(path, best))
	}
	dir := local
	if !strings.HasSuffix(path, "/") && best != path {
		dir = filepath.Dir(local)
	}
	_ = os.MkdirAll(dir, 0o755)
	return local
}

// linkMounts makes each volume visible at its mount path under the container's own file system too, as a mount
// is: a process that finds a path by itself rather than from its arguments reaches the volume. MetalLB's webhook
// server reads its certificates from controller-runtime's default directory under os.TempDir(), whatever its
// --cert-dir says (metallb internal/k8s/k8s.go webhookServer, v0.16.1; controller-runtime pkg/webhook/server.go,
// v0.22.3).
func (c *Container) linkMounts() error {
	for path, dir := range c.mounts {
		link := filepath.Join(c.rootfs, path)
		outer := ""
		for other := range c.mounts {
			if strings.HasPrefix(path, strings.TrimSuffix(other, "/")+"/") && len(other) > len(outer) {
				outer = other
			}
		}
		if outer != "" {
			// As a container runtime does, a mount inside another volume has its mount point in that volume.
			link = filepath.Join(c.mounts[outer], strings.TrimPrefix(path, outer))
		}
		if target, err := os.Readlink(link); err == nil && target == dir {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := os.Symlink(dir, link); err != nil {
			return err
		}
	}
	return nil
}

// Paths maps every absolute path among the arguments (other arguments stay as they are).
func (c *Container) Paths(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if strings.HasPrefix(a, "/") {
			a = c.Root(a)
		}
		out[i] = a
	}
	return out
}

// LocalAddress maps a listen address of the container (":9000", "0.0.0.0:9000") to its loopback address here.
func (c *Container) LocalAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		return "", fmt.Errorf("listens on %s, not on every interface of the pod", host)
	}
	local, err := c.localPortOf(port)
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(local), nil
}

func (c *Container) localPortOf(port string) (int, error) {
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number", port)
	}
	local, ok := c.ports[int32(n)]
	if !ok {
		return 0, fmt.Errorf("port %d is not declared by the pod (containerPort or probe)", n)
	}
	return local, nil
}

// probePort is the loopback port of the container's readiness (or else liveness) probe.
func (c *Container) probePort() (int, bool) {
	for _, p := range []*corev1.Probe{c.Spec.ReadinessProbe, c.Spec.LivenessProbe, c.Spec.StartupProbe} {
		if port, ok := probeTarget(&c.Spec, p); ok {
			local, found := c.ports[port]
			return local, found
		}
	}
	return 0, false
}

// probeTarget is the container port a probe calls, names resolved against the container's ports.
func probeTarget(spec *corev1.Container, p *corev1.Probe) (int32, bool) {
	if p == nil {
		return 0, false
	}
	var port intOrName
	switch {
	case p.HTTPGet != nil:
		port = intOrName{p.HTTPGet.Port.IntVal, p.HTTPGet.Port.StrVal}
	case p.TCPSocket != nil:
		port = intOrName{p.TCPSocket.Port.IntVal, p.TCPSocket.Port.StrVal}
	default:
		return 0, false
	}
	if port.name == "" {
		return port.number, true
	}
	for _, cp := range spec.Ports {
		if cp.Name == port.name {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

type intOrName struct {
	number int32
	name   string
}

// declaredPorts lists every port of the pod that something may connect to.
func declaredPorts(pod *corev1.Pod) []int32 {
	var ports []int32
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		for _, p := range c.Ports {
			ports = append(ports, p.ContainerPort)
		}
		for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if port, ok := probeTarget(c, probe); ok {
				ports = append(ports, port)
			}
		}
	}
	return ports
}
