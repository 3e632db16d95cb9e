package kube

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// NodeName is the spec.nodeName of the pods CreatePod makes: a node that
// does not exist, as no scheduler runs.
const NodeName = "kube-test-node"

// CreatePod creates a Pod as if scheduled to NodeName and started by a
// kubelet: the object, then its status (phase Running with IP ip, Ready and
// ContainersReady per ready). An empty ip leaves the pod Pending without IP.
// Labels select it for discovery. The pod runs nothing: the test starts
// whatever listens on ip (a 127.0.0.x address) itself.
func (c *Cluster) CreatePod(ctx context.Context, ns, name string, labels map[string]string, ip string, ready bool) (*corev1.Pod, error) {
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("kube: pod %s/%s: bad ip: %w", ns, name, err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName: NodeName,
			Containers: []corev1.Container{{
				Name:  "memgraph",
				Image: "memgraph/memgraph:emulated",
				Ports: []corev1.ContainerPort{{Name: "bolt", ContainerPort: 7687, Protocol: corev1.ProtocolTCP}},
			}},
			// Deleting with a grace period would leave the object
			// Terminating forever, as no kubelet confirms.
			TerminationGracePeriodSeconds: new(int64),
		},
	}
	pod, err := c.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kube: create pod %s/%s: %w", ns, name, err)
	}
	return c.updatePodStatus(ctx, ns, name, func(p *corev1.Pod) {
		now := metav1.Now()
		p.Status.StartTime = &now
		setCondition(p, corev1.PodScheduled, true)
		setCondition(p, corev1.PodInitialized, true)
		setIP(p, ip)
		setReady(p, ready)
	})
}

// SetPodReady sets the pod's Ready and ContainersReady conditions and its
// container's ready flag, as a kubelet does when a readiness probe flips.
func (c *Cluster) SetPodReady(ctx context.Context, ns, name string, ready bool) (*corev1.Pod, error) {
	return c.updatePodStatus(ctx, ns, name, func(p *corev1.Pod) { setReady(p, ready) })
}

// SetPodIP sets the pod's IP (podIP and podIPs); empty clears it and makes
// the pod Pending, as for a pod restarting in a new sandbox.
func (c *Cluster) SetPodIP(ctx context.Context, ns, name, ip string) (*corev1.Pod, error) {
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("kube: pod %s/%s: bad ip: %w", ns, name, err)
		}
	}
	return c.updatePodStatus(ctx, ns, name, func(p *corev1.Pod) { setIP(p, ip) })
}

// DeletePod deletes the pod at once (grace period 0), as a kubelet confirms
// a deletion once the containers are gone. Watchers see what they see in a
// cluster: a MODIFIED event with deletionTimestamp set, then DELETED. The
// test stops what listened on the pod's IP itself.
func (c *Cluster) DeletePod(ctx context.Context, ns, name string) error {
	if err := c.client.CoreV1().Pods(ns).Delete(ctx, name, *metav1.NewDeleteOptions(0)); err != nil {
		return fmt.Errorf("kube: delete pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// updatePodStatus applies f to the current pod and writes its status
// subresource, retrying on conflicts with concurrent writers.
func (c *Cluster) updatePodStatus(ctx context.Context, ns, name string, f func(*corev1.Pod)) (*corev1.Pod, error) {
	pods := c.client.CoreV1().Pods(ns)
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		f(p)
		out, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kube: update status of pod %s/%s: %w", ns, name, err)
	}
	return out, nil
}

func setIP(p *corev1.Pod, ip string) {
	p.Status.PodIP = ip
	p.Status.PodIPs = nil
	if ip == "" {
		p.Status.Phase = corev1.PodPending
		p.Status.HostIP, p.Status.HostIPs = "", nil
		return
	}
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.HostIP = "127.0.0.1"
	p.Status.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	p.Status.Phase = corev1.PodRunning
}

func setReady(p *corev1.Pod, ready bool) {
	setCondition(p, corev1.ContainersReady, ready)
	setCondition(p, corev1.PodReady, ready)
	statuses := make([]corev1.ContainerStatus, 0, len(p.Spec.Containers))
	for _, ctr := range p.Spec.Containers {
		st := corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image, ImageID: "emulated://" + ctr.Image, Ready: ready}
		for _, old := range p.Status.ContainerStatuses {
			if old.Name == ctr.Name {
				st = old
				st.Ready = ready
			}
		}
		if st.State.Running == nil && p.Status.Phase == corev1.PodRunning {
			st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
		}
		started := st.State.Running != nil
		st.Started = &started
		statuses = append(statuses, st)
	}
	p.Status.ContainerStatuses = statuses
}

// setCondition sets a condition, changing its transition time only when its
// status changes.
func setCondition(p *corev1.Pod, t corev1.PodConditionType, on bool) {
	status := corev1.ConditionFalse
	if on {
		status = corev1.ConditionTrue
	}
	now := metav1.Now()
	for i := range p.Status.Conditions {
		cond := &p.Status.Conditions[i]
		if cond.Type == t {
			if cond.Status != status {
				cond.Status = status
				cond.LastTransitionTime = now
			}
			cond.LastProbeTime = metav1.Time{}
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
}

// PodReady reports whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
