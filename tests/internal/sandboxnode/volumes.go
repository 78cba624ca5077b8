package sandboxnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorageClass is the sandbox's one storage class (scripts/sandbox/storage.yaml, the cluster's default).
const StorageClass = "sandbox-local"

// provisionedBy marks the volumes this node made, as a dynamic provisioner's annotation does.
const provisionedBy = "pv.kubernetes.io/provisioned-by"

const provisioner = "sandbox.local/hostpath"

// provisionVolumes does what k3s's local-path provisioner does for the sandbox's storage class: a volume for each
// pending claim (its data a directory under StateDir/volumes/<pv>), and, with reclaim policy Delete, the volume
// and its data deleted once its claim is gone. A claim the stack retains keeps its volume and data.
func (n *Node) provisionVolumes(ctx context.Context) error {
	core := n.Client.CoreV1()
	claims, err := core.PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, c := range claims.Items {
		class := ""
		if c.Spec.StorageClassName != nil {
			class = *c.Spec.StorageClassName
		}
		if c.Status.Phase != corev1.ClaimPending || c.Spec.VolumeName != "" || (class != "" && class != StorageClass) ||
			c.DeletionTimestamp != nil {
			continue
		}
		name := "pvc-" + string(c.UID)
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{provisionedBy: provisioner}},
			Spec: corev1.PersistentVolumeSpec{
				StorageClassName:              StorageClass,
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   c.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: c.Namespace,
					Name: c.Name, UID: c.UID},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: filepath.Join(n.StateDir, "volumes", name)}},
			},
		}
		if _, err := core.PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("provisioning a volume for claim %s/%s: %w", c.Namespace, c.Name, err)
		}
		n.logf("volume %s provisioned for claim %s/%s", name, c.Namespace, c.Name)
	}
	volumes, err := core.PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pv := range volumes.Items {
		if pv.Annotations[provisionedBy] != provisioner || pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			continue
		}
		if err := core.PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := os.RemoveAll(filepath.Join(n.StateDir, "volumes", pv.Name)); err != nil {
			return err
		}
		n.logf("volume %s deleted with its data: its claim is gone", pv.Name)
	}
	return nil
}
