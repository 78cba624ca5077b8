package sandboxnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// env resolves the container's environment as the kubelet does (values, Secret and ConfigMap keys, the downward
// API), maps values that are paths inside the container, and adds the node's part: the cluster network through
// the proxy, HOME, and what the image needs from a pod's node (Image.Env).
func (n *Node) env(ctx context.Context, rp *runningPod, c *Container) ([]string, error) {
	vars := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin",
		"HOME": c.Root("/root/"),
		// A container's /tmp is its own, not this machine's.
		"TMPDIR":      c.Root("/tmp/"),
		"HTTP_PROXY":  n.ProxyURL,
		"HTTPS_PROXY": n.ProxyURL,
		"http_proxy":  n.ProxyURL,
		"https_proxy": n.ProxyURL,
		// Loopback is this machine, never the cluster: the API server and the pod's own ports.
		"NO_PROXY": "127.0.0.1,localhost",
		"no_proxy": "127.0.0.1,localhost",
	}
	ns := c.Pod.Namespace
	for _, from := range c.Spec.EnvFrom {
		var data map[string]string
		var err error
		switch {
		case from.SecretRef != nil:
			data, err = n.secretData(ctx, ns, from.SecretRef.Name, from.SecretRef.Optional)
		case from.ConfigMapRef != nil:
			data, err = n.configMapData(ctx, ns, from.ConfigMapRef.Name, from.ConfigMapRef.Optional)
		}
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			vars[from.Prefix+k] = v
		}
	}
	for _, e := range c.Spec.Env {
		value, set, err := n.envValue(ctx, rp, e)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !set {
			continue
		}
		if strings.HasPrefix(value, "/") {
			value = c.Root(value)
		}
		vars[e.Name] = value
	}
	if img := ImageFor(c.Spec.Image); img != nil && img.Env != nil {
		for k, v := range img.Env(c) {
			vars[k] = v
		}
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

func (n *Node) envValue(ctx context.Context, rp *runningPod, e corev1.EnvVar) (string, bool, error) {
	if e.ValueFrom == nil {
		return e.Value, true, nil
	}
	ns := rp.pod.Namespace
	switch from := e.ValueFrom; {
	case from.SecretKeyRef != nil:
		data, err := n.secretData(ctx, ns, from.SecretKeyRef.Name, from.SecretKeyRef.Optional)
		return keyOf(data, from.SecretKeyRef.Key, "secret", from.SecretKeyRef.Name, from.SecretKeyRef.Optional, err)
	case from.ConfigMapKeyRef != nil:
		data, err := n.configMapData(ctx, ns, from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Optional)
		return keyOf(data, from.ConfigMapKeyRef.Key, "configmap", from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Optional, err)
	case from.FieldRef != nil:
		switch from.FieldRef.FieldPath {
		case "metadata.name":
			return rp.pod.Name, true, nil
		case "metadata.namespace":
			return ns, true, nil
		case "metadata.uid":
			return string(rp.pod.UID), true, nil
		case "spec.nodeName":
			return rp.pod.Spec.NodeName, true, nil
		case "spec.serviceAccountName":
			return rp.pod.Spec.ServiceAccountName, true, nil
		case "status.podIP":
			return rp.ip, true, nil
		case "status.hostIP":
			return rp.pod.Status.HostIP, true, nil
		}
		return "", false, fmt.Errorf("field %s is not served by the sandbox's node", from.FieldRef.FieldPath)
	}
	// resourceFieldRef: no process here is limited, so there is no value to give.
	return "", false, nil
}

func keyOf(data map[string]string, key, kind, name string, optional *bool, err error) (string, bool, error) {
	if err != nil {
		return "", false, err
	}
	if v, ok := data[key]; ok {
		return v, true, nil
	}
	if optional != nil && *optional {
		return "", false, nil
	}
	// The kubelet's CreateContainerConfigError message.
	return "", false, fmt.Errorf("couldn't find key %s in %s %s", key, kind, name)
}

func (n *Node) secretData(ctx context.Context, ns, name string, optional *bool) (map[string]string, error) {
	s, err := n.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %q not found", name)
	}
	data := map[string]string{}
	for k, v := range s.Data {
		data[k] = string(v)
	}
	return data, nil
}

func (n *Node) configMapData(ctx context.Context, ns, name string, optional *bool) (map[string]string, error) {
	cm, err := n.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	return cm.Data, nil
}

// volumes makes a local directory for each volume the container mounts: a PersistentVolume's data directory
// (kept across pods, as the volume is), an emptyDir per pod, and Secrets and ConfigMaps written out as files.
func (n *Node) volumes(ctx context.Context, rp *runningPod, spec *corev1.Container) (map[string]string, error) {
	ns := rp.pod.Namespace
	mounts := map[string]string{}
	for _, m := range spec.VolumeMounts {
		var vol *corev1.Volume
		for i := range rp.pod.Spec.Volumes {
			if rp.pod.Spec.Volumes[i].Name == m.Name {
				vol = &rp.pod.Spec.Volumes[i]
			}
		}
		if vol == nil {
			return nil, fmt.Errorf("volume %s is not in the pod", m.Name)
		}
		dir := filepath.Join(rp.dir, "volumes", m.Name)
		var files map[string]string
		switch {
		case vol.PersistentVolumeClaim != nil:
			claim, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, vol.PersistentVolumeClaim.ClaimName, metav1.GetOptions{})
			if err != nil || claim.Spec.VolumeName == "" {
				return nil, fmt.Errorf("MountVolume: claim %s is not bound", vol.PersistentVolumeClaim.ClaimName)
			}
			dir = filepath.Join(n.StateDir, "volumes", claim.Spec.VolumeName)
		case vol.Secret != nil:
			data, err := n.secretData(ctx, ns, vol.Secret.SecretName, vol.Secret.Optional)
			if err != nil {
				return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", m.Name, err)
			}
			files = data
		case vol.ConfigMap != nil:
			data, err := n.configMapData(ctx, ns, vol.ConfigMap.Name, vol.ConfigMap.Optional)
			if err != nil {
				return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", m.Name, err)
			}
			files = data
		case vol.Projected != nil:
			// The service account volume: its namespace file (no token: processes use Image.Env's kubeconfig).
			files = map[string]string{"namespace": ns}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				return nil, err
			}
		}
		if m.SubPath != "" {
			dir = filepath.Join(dir, m.SubPath)
		}
		mounts[m.MountPath] = dir
	}
	return mounts, nil
}
