// Package sandboxnode is the sandbox's kubelet and network for the images that are built here from their Go
// modules (Images): it runs each such pod's containers as local processes, with the env, volumes, ports and
// probes of the pod spec, and writes the pod status a kubelet would; and it serves the cluster's network to the
// processes and tools of this machine as an HTTP proxy (Network). Every other pod stays with kwok, which sets a
// status and runs nothing. It is part of the test harness, never of the product's program.
package sandboxnode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/seldon-ab/provisioner/internal/loopback"
)

// Node runs the runnable pods of the cluster behind Client.
type Node struct {
	Client kubernetes.Interface
	// Bin is the toolchain's bin directory (scripts/toolchain.sh), where each Image's Binary is.
	Bin string
	// StateDir holds pod directories, logs and volumes: a PersistentVolume's data lives in StateDir/volumes/<pv>.
	StateDir string
	// Kubeconfig replaces the service account token for processes that talk to the API server.
	Kubeconfig string
	// ProxyURL is the Network's address, given to every process as HTTP_PROXY: the cluster's DNS and Services.
	ProxyURL string
	Log      io.Writer
	// Simulators answer for the pods whose images cannot run here (the data plane).
	Simulators []Simulator

	mu        sync.Mutex
	pods      map[types.UID]*runningPod
	listed    map[string]*corev1.Pod // every pod of the last pass, by namespace/name
	simulated map[podPort]*simulatedPort
	nextIP    int
	probeHC   http.Client
}

type runningPod struct {
	pod        *corev1.Pod
	ip         string
	dir        string
	ports      map[int32]int
	started    metav1.Time
	containers []*process
	written    []byte
}

type process struct {
	c        *Container
	image    *Image
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	running  bool
	final    bool
	exitCode int
	restarts int32
	start    time.Time
	finish   time.Time
	next     time.Time
	waiting  string // reason while not started
	message  string
	ready    bool
	probed   time.Time
}

func (n *Node) logf(format string, args ...any) {
	if n.Log != nil {
		fmt.Fprintf(n.Log, "sandboxd: "+format+"\n", args...)
	}
}

// Reconcile runs one pass: provision the volumes claims ask for, start the runnable pods scheduled to a node, restart or finish their containers as
// their restartPolicy says, probe them, write their status, and stop the processes of pods that went away.
func (n *Node) Reconcile(ctx context.Context) error {
	if err := n.provisionVolumes(ctx); err != nil {
		return err
	}
	list, err := n.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.pods == nil {
		n.pods = map[types.UID]*runningPod{}
	}
	n.mu.Unlock()
	seen := map[types.UID]bool{}
	listed := map[string]*corev1.Pod{}
	present := map[types.UID]bool{}
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.DeletionTimestamp == nil {
			listed[pod.Namespace+"/"+pod.Name], present[pod.UID] = pod, true
		}
		if pod.Spec.NodeName == "" || !Runnable(&pod.Spec) {
			continue
		}
		seen[pod.UID] = true
		if pod.DeletionTimestamp != nil {
			n.forget(pod.UID)
			continue
		}
		n.mu.Lock()
		rp := n.pods[pod.UID]
		n.mu.Unlock()
		if rp == nil {
			if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			if rp, err = n.admit(pod); err != nil {
				n.logf("%s/%s: %v", pod.Namespace, pod.Name, err)
				continue
			}
		}
		rp.pod = pod
		n.step(ctx, rp)
		if err := n.writeStatus(ctx, rp); err != nil && !apierrors.IsNotFound(err) {
			n.logf("%s/%s: writing status: %v", pod.Namespace, pod.Name, err)
		}
	}
	n.mu.Lock()
	n.listed = listed
	n.forgetSimulated(present)
	var gone []types.UID
	for uid := range n.pods {
		if !seen[uid] {
			gone = append(gone, uid)
		}
	}
	n.mu.Unlock()
	for _, uid := range gone {
		n.forget(uid)
	}
	return nil
}

// admit gives a new pod its IP, loopback ports and directories.
func (n *Node) admit(pod *corev1.Pod) (*runningPod, error) {
	rp := &runningPod{pod: pod, ports: map[int32]int{}, started: metav1.Now(),
		dir: filepath.Join(n.StateDir, "pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))}
	for _, port := range declaredPorts(pod) {
		if _, ok := rp.ports[port]; ok {
			continue
		}
		local, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		rp.ports[port] = local
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	rp.ip = pod.Status.PodIP
	if rp.ip == "" {
		// Pod IPs are names only: the Network maps them to loopback ports and nothing ever dials them.
		n.nextIP++
		rp.ip = fmt.Sprintf("10.255.%d.%d", n.nextIP/250, n.nextIP%250+1)
	}
	for _, c := range pod.Spec.Containers {
		rp.containers = append(rp.containers, &process{image: ImageFor(c.Image),
			logPath: filepath.Join(rp.dir, c.Name+".log"),
			c:       &Container{Pod: pod, Spec: c, Kubeconfig: n.Kubeconfig, ports: rp.ports, rootfs: filepath.Join(rp.dir, "rootfs", c.Name)}})
	}
	n.pods[pod.UID] = rp
	n.logf("%s/%s: admitted (ip %s, ports %v)", pod.Namespace, pod.Name, rp.ip, rp.ports)
	return rp, nil
}

// LocalPort is the loopback port of a pod's container port, if that pod runs here or a Simulator answers for it.
func (n *Node) LocalPort(namespace, name string, port int32) (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, rp := range n.pods {
		if rp.pod.Namespace == namespace && rp.pod.Name == name {
			local, ok := rp.ports[port]
			return local, ok
		}
	}
	if pod := n.listed[namespace+"/"+name]; pod != nil {
		return n.simulatedPort(pod, port)
	}
	return 0, false
}

// step starts, restarts and probes the pod's containers.
func (n *Node) step(ctx context.Context, rp *runningPod) {
	policy := rp.pod.Spec.RestartPolicy
	for _, p := range rp.containers {
		p.c.Pod = rp.pod
		if p.running {
			select {
			case <-p.exited:
				p.running, p.ready, p.finish = false, false, time.Now()
				p.message = tail(p.logPath, 1024)
				n.logf("%s/%s[%s]: exited with %d", rp.pod.Namespace, rp.pod.Name, p.c.Spec.Name, p.exitCode)
				restart := policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && p.exitCode != 0)
				if !restart {
					p.final = true
					continue
				}
				p.restarts++
				// The kubelet's crash-loop back-off: 10 s doubling to 5 min (pkg/kubelet/kubelet.go).
				p.next = time.Now().Add(min(10*time.Second<<min(p.restarts-1, 5), 5*time.Minute))
			default:
				n.probe(p)
				continue
			}
		}
		if p.final || time.Now().Before(p.next) {
			continue
		}
		if err := n.start(ctx, rp, p); err != nil {
			p.message = err.Error()
			p.next = time.Now().Add(2 * time.Second)
			n.logf("%s/%s[%s]: %s: %v", rp.pod.Namespace, rp.pod.Name, p.c.Spec.Name, p.waiting, err)
		}
	}
}

func (n *Node) start(ctx context.Context, rp *runningPod, p *process) error {
	mounts, err := n.volumes(ctx, rp, &p.c.Spec)
	if err != nil {
		p.waiting = "ContainerCreating"
		return err
	}
	p.c.mounts = mounts
	if err := p.c.linkMounts(); err != nil {
		p.waiting = "ContainerCreating"
		return err
	}
	env, err := n.env(ctx, rp, p.c)
	if err != nil {
		p.waiting = "CreateContainerConfigError"
		return err
	}
	argv, err := p.image.Argv(p.c)
	if err != nil {
		p.waiting = "RunContainerError"
		return err
	}
	if err := os.MkdirAll(rp.dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(n.Bin, p.image.Binary), argv...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, logFile, logFile, p.c.Root("/")
	// Its own process group, killed with this process: nothing outlives the sandbox.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logFile, "--- sandboxd: %s %v\n", p.image.Binary, argv)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		p.waiting = "RunContainerError"
		return err
	}
	p.cmd, p.running, p.ready, p.start, p.waiting, p.message = cmd, true, false, time.Now(), "", ""
	p.exited = make(chan struct{})
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.exitCode = 0
		if err != nil {
			p.exitCode = 1
			if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() >= 0 {
				p.exitCode = exit.ExitCode()
			}
		}
		close(p.exited)
	}()
	n.logf("%s/%s[%s]: started %s (pid %d, log %s)", rp.pod.Namespace, rp.pod.Name, p.c.Spec.Name, p.image.Binary, cmd.Process.Pid, p.logPath)
	return nil
}

// probe runs the readiness probe as the kubelet would, on the mapped port; no probe means ready once started.
func (n *Node) probe(p *process) {
	probe := p.c.Spec.ReadinessProbe
	if probe == nil {
		p.ready = true
		return
	}
	period := time.Duration(max(probe.PeriodSeconds, 1)) * time.Second
	if time.Since(p.start) < time.Duration(probe.InitialDelaySeconds)*time.Second || time.Since(p.probed) < period {
		return
	}
	p.probed = time.Now()
	port, ok := probeTarget(&p.c.Spec, probe)
	local := p.c.ports[port]
	if !ok || local == 0 {
		p.ready = false
		return
	}
	n.probeHC.Timeout = time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	switch {
	case probe.HTTPGet != nil:
		resp, err := n.probeHC.Get(fmt.Sprintf("http://127.0.0.1:%d%s", local, probe.HTTPGet.Path))
		p.ready = err == nil && resp.StatusCode >= 200 && resp.StatusCode < 400
		if err == nil {
			resp.Body.Close()
		}
	case probe.TCPSocket != nil:
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", local), n.probeHC.Timeout)
		p.ready = err == nil
		if err == nil {
			conn.Close()
		}
	}
}

// forget stops a pod's processes and drops it.
func (n *Node) forget(uid types.UID) {
	n.mu.Lock()
	rp := n.pods[uid]
	delete(n.pods, uid)
	n.mu.Unlock()
	if rp == nil {
		return
	}
	for _, p := range rp.containers {
		stopProcess(p)
	}
	n.logf("%s/%s: stopped", rp.pod.Namespace, rp.pod.Name)
}

// StopAll stops every process the node started: when the sandbox stops, its pods stop with it.
func (n *Node) StopAll() {
	n.mu.Lock()
	uids := make([]types.UID, 0, len(n.pods))
	for uid := range n.pods {
		uids = append(uids, uid)
	}
	n.mu.Unlock()
	for _, uid := range uids {
		n.forget(uid)
	}
}

func stopProcess(p *process) {
	if !p.running || p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.running = false
}

// tail is the end of a container's log: its termination message, as with FallbackToLogsOnError.
func tail(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	if info.Size() > limit {
		_, _ = f.Seek(info.Size()-limit, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(bytes.TrimSpace(b))
}

// writeStatus writes the pod status a kubelet would report, when it changed.
func (n *Node) writeStatus(ctx context.Context, rp *runningPod) error {
	status := n.status(rp)
	encoded, err := json.Marshal(status)
	if err != nil || bytes.Equal(encoded, rp.written) {
		return err
	}
	pod := rp.pod.DeepCopy()
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: rp.started}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			scheduled = c
		}
	}
	status.Conditions = append([]corev1.PodCondition{scheduled}, status.Conditions...)
	status.HostIP, status.HostIPs = pod.Status.HostIP, pod.Status.HostIPs
	if status.HostIP == "" {
		if node, err := n.Client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{}); err == nil {
			for _, a := range node.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					status.HostIP, status.HostIPs = a.Address, []corev1.HostIP{{IP: a.Address}}
				}
			}
		}
	}
	pod.Status = *status
	if _, err := n.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return err
	}
	rp.written = encoded
	return nil
}

func (n *Node) status(rp *runningPod) *corev1.PodStatus {
	s := &corev1.PodStatus{PodIP: rp.ip, PodIPs: []corev1.PodIP{{IP: rp.ip}}, StartTime: &rp.started}
	allReady, anyRunning, allFinal, anyFailed := true, false, true, false
	for _, p := range rp.containers {
		cs := corev1.ContainerStatus{Name: p.c.Spec.Name, Image: p.c.Spec.Image, Ready: p.ready, RestartCount: p.restarts}
		switch {
		case p.running:
			started := true
			cs.Started = &started
			cs.ContainerID = "sandbox://" + strconv.Itoa(p.cmd.Process.Pid)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.start)}
			anyRunning = true
		case !p.finish.IsZero() && (p.final || p.waiting == ""):
			terminated := &corev1.ContainerStateTerminated{ExitCode: int32(p.exitCode), Reason: "Completed",
				StartedAt: metav1.NewTime(p.start), FinishedAt: metav1.NewTime(p.finish)}
			if p.exitCode != 0 {
				terminated.Reason, terminated.Message = "Error", p.message
			}
			if p.final {
				cs.State.Terminated = terminated
			} else {
				cs.LastTerminationState.Terminated = terminated
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off restarting failed container %s", p.c.Spec.Name)}
			}
		default:
			reason := p.waiting
			if reason == "" {
				reason = "ContainerCreating"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: p.message}
		}
		allReady = allReady && p.ready
		allFinal = allFinal && p.final
		anyFailed = anyFailed || (p.final && p.exitCode != 0)
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	sort.Slice(s.ContainerStatuses, func(i, j int) bool { return s.ContainerStatuses[i].Name < s.ContainerStatuses[j].Name })
	switch {
	case allFinal && anyFailed:
		s.Phase = corev1.PodFailed
	case allFinal:
		s.Phase = corev1.PodSucceeded
	case anyRunning || rp.anyStarted():
		s.Phase = corev1.PodRunning
	default:
		s.Phase = corev1.PodPending
	}
	ready := corev1.ConditionFalse
	if allReady && !allFinal {
		ready = corev1.ConditionTrue
	}
	s.Conditions = []corev1.PodCondition{
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: rp.started},
		{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: rp.started},
		{Type: corev1.PodReady, Status: ready, LastTransitionTime: rp.started},
	}
	return s
}

func (rp *runningPod) anyStarted() bool {
	for _, p := range rp.containers {
		if !p.start.IsZero() {
			return true
		}
	}
	return false
}
