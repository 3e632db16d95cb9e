package cluster

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What a cluster with Options.Kube offers beyond the others: the
// gateways' Events and their election Lease, read with the control
// plane's admin client (the gateways' Role may create Events, not read
// them).

// Events lists the Events of the gateways' namespace, oldest first.
func (c *Cluster) Events(ctx context.Context) ([]corev1.Event, error) {
	if c.opts.Kube == nil {
		return nil, fmt.Errorf("cluster: no Kubernetes control plane (Options.Kube)")
	}
	list, err := c.opts.Kube.Client().CoreV1().Events(c.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster: list events in %s: %w", c.namespace, err)
	}
	out := list.Items
	slices.SortStableFunc(out, func(a, b corev1.Event) int { return a.FirstTimestamp.Compare(b.FirstTimestamp.Time) })
	return out, nil
}

// WaitEvent waits until an Event of the gateways' namespace has reason and
// match (nil: any) accepts it, and returns it.
func (c *Cluster) WaitEvent(ctx context.Context, within time.Duration, reason string, match func(corev1.Event) bool) (corev1.Event, error) {
	var got corev1.Event
	var last string
	err := poll(ctx, within, 100*time.Millisecond, func() bool {
		events, err := c.Events(ctx)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("%d events, none %s that matches", len(events), reason)
		for _, e := range events {
			if e.Reason == reason && (match == nil || match(e)) {
				got = e
				return true
			}
		}
		return false
	})
	if err != nil {
		return corev1.Event{}, fmt.Errorf("no %s event in %s within %v (%s)", reason, c.namespace, within, last)
	}
	return got, nil
}

// LeaseHolder is the holderIdentity of the election Lease ("" when none).
func (c *Cluster) LeaseHolder(ctx context.Context) (string, error) {
	if c.opts.Kube == nil {
		return "", fmt.Errorf("cluster: no Kubernetes control plane (Options.Kube)")
	}
	l, err := c.opts.Kube.Client().CoordinationV1().Leases(c.namespace).Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("cluster: get lease %s/%s: %w", c.namespace, LeaseName, err)
	}
	if l.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *l.Spec.HolderIdentity, nil
}

// EventString renders an Event on one line for test output.
func EventString(e corev1.Event) string {
	return fmt.Sprintf("%s %s %s %s/%s by %s: %s", e.FirstTimestamp.Format("15:04:05"), e.Type, e.Reason,
		e.InvolvedObject.Kind, e.InvolvedObject.Name, e.ReportingInstance, e.Message)
}

// dumpEvents writes the namespace's Events, for a failed test.
func (c *Cluster) dumpEvents(w io.Writer) {
	if c.opts.Kube == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events, err := c.Events(ctx)
	if err != nil {
		fmt.Fprintf(w, "--- events: %v\n", err)
		return
	}
	fmt.Fprintf(w, "--- %d events in namespace %s:\n", len(events), c.namespace)
	for _, e := range events {
		fmt.Fprintln(w, EventString(e))
	}
}
