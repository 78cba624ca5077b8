package sandboxnode

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Image is a container image whose program is built here from its Go module (scripts/toolchain.sh) and run as a
// local process in place of the container.
type Image struct {
	// Repository is the image name without tag or digest, as the charts and the program write it.
	Repository string
	// Binary is the program's file in the toolchain's bin directory.
	Binary string
	// Argv turns the container's command and args into the local program's arguments (without argv[0]).
	Argv func(c *Container) ([]string, error)
	// Env adds what the pod gets from its node rather than its spec (service account, downward files).
	Env func(c *Container) map[string]string
}

// Images run for real in the sandbox; every other pod is left to kwok, which only sets its status.
// scripts/sandbox/kwok.yaml keeps kwok's stages off these pods (TestKwokLeavesTheRunnableImagesAlone).
var Images = []Image{
	// The MinIO chart (5.4.0) runs `/bin/sh -ce "/usr/bin/docker-entrypoint.sh minio server ..."`
	// (templates/deployment.yaml); the entrypoint script of the image only execs its arguments.
	{Repository: "quay.io/minio/minio", Binary: "minio", Argv: minioArgv},
	// The MetalLB chart (0.16.1) runs the image's /controller with args only (templates/controller.yaml).
	{Repository: "quay.io/metallb/controller", Binary: "metallb-controller", Argv: metallbControllerArgv, Env: kubeClientEnv},
	// rclone's image has ENTRYPOINT ["rclone"]; the model store's bucket Job gives args only.
	{Repository: "docker.io/rclone/rclone", Binary: "rclone", Argv: entrypointArgv("rclone")},
}

// Repository strips the tag and digest from an image reference.
func Repository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// ImageFor finds the runnable image of a container; nil when it has none here.
func ImageFor(image string) *Image {
	repo := Repository(image)
	for i := range Images {
		if Images[i].Repository == repo {
			return &Images[i]
		}
	}
	return nil
}

// Runnable is true when every container of the pod has a program here: a pod runs entirely or not at all.
func Runnable(spec *corev1.PodSpec) bool {
	if len(spec.InitContainers) > 0 || len(spec.Containers) == 0 {
		return false
	}
	for _, c := range spec.Containers {
		if ImageFor(c.Image) == nil {
			return false
		}
	}
	return true
}

// entrypointArgv: the image's entrypoint is the program itself; a command naming it replaces it.
func entrypointArgv(program string) func(c *Container) ([]string, error) {
	return func(c *Container) ([]string, error) {
		argv := append([]string{}, c.Spec.Command...)
		if len(argv) > 0 {
			if filepath.Base(argv[0]) != program {
				return nil, fmt.Errorf("command %q is not %s", argv[0], program)
			}
			argv = argv[1:]
		}
		return c.Paths(append(argv, c.Spec.Args...)), nil
	}
}

func minioArgv(c *Container) ([]string, error) {
	argv := append(append([]string{}, c.Spec.Command...), c.Spec.Args...)
	if len(argv) == 3 && argv[0] == "/bin/sh" && strings.HasPrefix(argv[1], "-") && strings.Contains(argv[1], "c") {
		if strings.ContainsAny(argv[2], "'\"$`;&|<>\\") {
			return nil, fmt.Errorf("shell command %q needs a shell; only plain words run here", argv[2])
		}
		argv = strings.Fields(argv[2])
	}
	if len(argv) > 0 && filepath.Base(argv[0]) == "docker-entrypoint.sh" {
		argv = argv[1:]
	}
	if len(argv) == 0 || argv[0] != "minio" {
		return nil, fmt.Errorf("command %q does not run minio", strings.Join(argv, " "))
	}
	argv = argv[1:]
	for i := 0; i < len(argv)-1; i++ {
		if argv[i] == "--address" || argv[i] == "--console-address" {
			local, err := c.LocalAddress(argv[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", argv[i], argv[i+1], err)
			}
			argv[i+1] = local
		}
	}
	return c.Paths(argv), nil
}

func metallbControllerArgv(c *Container) ([]string, error) {
	var argv []string
	for _, a := range c.Spec.Args {
		if v, ok := strings.CutPrefix(a, "--port="); ok {
			port, err := c.localPortOf(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a, err)
			}
			a = "--port=" + strconv.Itoa(port)
		}
		argv = append(argv, a)
	}
	// The readiness and liveness probes' port is the controller's --health-probe-port (default 17472,
	// internal/k8s/k8s.go); the pod's namespace comes from its service account mount, which no process here has.
	if port, ok := c.probePort(); ok {
		argv = append(argv, "--health-probe-port="+strconv.Itoa(port))
	}
	argv = append(argv, "--namespace="+c.Pod.Namespace, "--cert-dir="+c.Root("/tmp/k8s-webhook-server/serving-certs"))
	return argv, nil
}

// kubeClientEnv gives a process that talks to the API server the sandbox's kubeconfig, in place of the service
// account token a pod would have (controller-runtime reads KUBECONFIG before the in-cluster config).
func kubeClientEnv(c *Container) map[string]string {
	return map[string]string{"KUBECONFIG": c.Kubeconfig}
}
