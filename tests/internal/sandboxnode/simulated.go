package sandboxnode

import (
	"net"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Simulator answers, in this process, for the containers of pods that cannot run here and whose answers the
// sandbox simulates from their source (tests/internal/dataplane: NGINX, Seldon's envoy, MLServer behind Seldon's
// agent). Such pods stay kwok's: it sets their status; the simulator only serves their ports.
type Simulator interface {
	// Handler serves a pod's container port, or is nil when the simulator does not answer for it.
	Handler(pod *corev1.Pod, port int32) http.Handler
}

// simulatedPort is one served container port of a simulated pod.
type simulatedPort struct {
	local  int
	server *http.Server
}

type podPort struct {
	uid  types.UID
	port int32
}

// simulatedPort starts (once) a loopback server for a simulated pod's port and returns its local port.
func (n *Node) simulatedPort(pod *corev1.Pod, port int32) (int, bool) {
	key := podPort{pod.UID, port}
	if sp, ok := n.simulated[key]; ok {
		return sp.local, true
	}
	for _, sim := range n.Simulators {
		handler := sim.Handler(pod, port)
		if handler == nil {
			continue
		}
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			n.logf("%s/%s: serving port %d: %v", pod.Namespace, pod.Name, port, err)
			return 0, false
		}
		sp := &simulatedPort{local: listener.Addr().(*net.TCPAddr).Port, server: &http.Server{Handler: handler}}
		go func() { _ = sp.server.Serve(listener) }()
		if n.simulated == nil {
			n.simulated = map[podPort]*simulatedPort{}
		}
		n.simulated[key] = sp
		n.logf("%s/%s: port %d simulated on 127.0.0.1:%d", pod.Namespace, pod.Name, port, sp.local)
		return sp.local, true
	}
	return 0, false
}

// forgetSimulated stops serving the ports of pods that are gone. Callers hold n.mu.
func (n *Node) forgetSimulated(present map[types.UID]bool) {
	for key, sp := range n.simulated {
		if !present[key.uid] {
			_ = sp.server.Close()
			delete(n.simulated, key)
		}
	}
}
