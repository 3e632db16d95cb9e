package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
)

// waitEvent waits until the namespace holds an Event with reason whose
// involved object is kind/name, and returns it. It lists with client (the
// gateway's Role may create events but not read them).
func waitEvent(t *testing.T, client kubernetes.Interface, ns, reason, kind, name string, within time.Duration) corev1.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	var seen []string
	for {
		// The field selector kubectl describe uses for an object's events.
		list, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
		seen = seen[:0]
		if err == nil {
			for _, e := range list.Items {
				if e.Reason == reason {
					return e
				}
				seen = append(seen, e.Reason)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event on %s/%s in %s within %v (list error %v; events there: %v)", reason, kind, name, ns, within, err, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkEvent(t *testing.T, e corev1.Event, typ string, uid types.UID, gateway, message string) {
	t.Helper()
	if e.Type != typ || e.InvolvedObject.UID != uid || e.Source.Component != eventComponent ||
		e.ReportingController != eventComponent || e.ReportingInstance != gateway || !strings.Contains(e.Message, message) {
		t.Errorf("event %s on %s/%s: type %s, uid %s (want %s), source %+v, reporting %s/%s, message %q (want %q in it)",
			e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.InvolvedObject.UID, uid, e.Source,
			e.ReportingController, e.ReportingInstance, e.Message, message)
	}
}

// TestKubeEvents runs the events sink with the gateway's ServiceAccount
// (deploy/rbac/role.yaml) against a real kube-apiserver: an event about
// an instance lands on its pod (discovery kubernetes), one about the
// cluster or about an instance without a pod on the election Lease, and
// with static discovery everything on the Lease.
func TestKubeEvents(t *testing.T) {
	c, ns, sa := gatewayAccount(t)
	ctx := t.Context()
	pod, err := c.CreatePod(ctx, ns, "mg-0", map[string]string{"app": "memgraph"}, "127.0.0.2", true)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := c.Client().CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "gw-lease"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{Kubeconfig: sa.Kubeconfig, Namespace: ns, LeaseName: "gw-lease", Discovery: config.DiscoveryKubernetes}
	cs, err := kubeClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := newKubeEvents(cs, cfg, "gw-a", zaptest.NewLogger(t))
	t.Cleanup(ev.stop)
	var sink controller.EventSink = ev
	sink.Event(controller.EventWarning, controller.ReasonInstanceDiverged, "mg-0 has diverged from the MAIN", "mg-0")
	sink.Event(controller.EventWarning, controller.AlertReason("no-eligible-replica"), "no replica is eligible", "")
	sink.Event(controller.EventNormal, controller.ReasonFailoverCompleted, "failover from mg-0 to mg-9 completed", "mg-9")
	sink.Event(controller.EventWarning, "LongMessage", strings.Repeat("é", 2000), "")

	e := waitEvent(t, c.Client(), ns, controller.ReasonInstanceDiverged, "Pod", "mg-0", 10*time.Second)
	checkEvent(t, e, controller.EventWarning, pod.UID, "gw-a", "mg-0 has diverged")
	e = waitEvent(t, c.Client(), ns, "NoEligibleReplica", "Lease", "gw-lease", 10*time.Second)
	checkEvent(t, e, controller.EventWarning, lease.UID, "gw-a", "no replica is eligible")
	e = waitEvent(t, c.Client(), ns, controller.ReasonFailoverCompleted, "Lease", "gw-lease", 10*time.Second)
	checkEvent(t, e, controller.EventNormal, lease.UID, "gw-a", "mg-9 completed")
	e = waitEvent(t, c.Client(), ns, "LongMessage", "Lease", "gw-lease", 10*time.Second)
	if len(e.Message) > eventMessageMax || !strings.HasSuffix(e.Message, "...") {
		t.Errorf("a long message is sent as %d bytes ending %q", len(e.Message), e.Message[len(e.Message)-10:])
	}

	// Static discovery: instances are no pods, events go to the Lease. A
	// run of one alert (more than client-go's spam burst of 25 Warnings
	// per object) does not silence the failover's event.
	static := cfg
	static.Discovery = config.DiscoveryStatic
	ev2 := newKubeEvents(cs, static, "gw-b", zaptest.NewLogger(t))
	t.Cleanup(ev2.stop)
	for i := range 30 {
		ev2.Event(controller.EventWarning, "Flapping", fmt.Sprintf("flap %d", i), "")
	}
	ev2.Event(controller.EventWarning, controller.ReasonFailoverStarted, "failover from MAIN mg-0 started", "mg-0")
	e = waitEvent(t, c.Client(), ns, controller.ReasonFailoverStarted, "Lease", "gw-lease", 10*time.Second)
	checkEvent(t, e, controller.EventWarning, lease.UID, "gw-b", "failover from MAIN mg-0")
}

// TestE2EKubernetesEvents runs the gateway binary with the Kubernetes
// election (ServiceAccount of deploy/rbac/role.yaml), static discovery and
// the replication controller over two emulated instances that are both
// MAINs holding different data: the controller refuses to bootstrap
// (BootstrapRefused), the operator names mg-1 (Bootstrapped), and mg-2,
// whose history differs, is reported diverged when it is registered
// (InstanceDiverged): each is an Event on the election Lease, readable
// with the client.
func TestE2EKubernetesEvents(t *testing.T) {
	c, ns, sa := gatewayAccount(t)
	ctx := t.Context()
	var instances []string
	for i, host := range []string{"127.0.0.81", "127.0.0.82"} {
		name := fmt.Sprintf("mg-%d", i+1)
		bolt, entry := startMgsim(t, name, host, nil)
		// Data of its own on each: two MAINs whose histories differ.
		if err := cluster.WriteStamp(ctx, bolt, "Events", int64(i+1)); err != nil {
			t.Fatalf("write to %s: %v", name, err)
		}
		instances = append(instances, entry)
	}
	tokenFile := writeFile(t, t.TempDir(), "token", "events-s3cret\n")
	n := startNode(t, "gw-ev",
		"GATEWAY_ELECTION=kubernetes", "GATEWAY_KUBECONFIG="+sa.Kubeconfig, "GATEWAY_NAMESPACE="+ns,
		"GATEWAY_INSTANCES="+strings.Join(instances, ","), "GATEWAY_MANAGE_REPLICATION=true",
		"GATEWAY_ADMIN_TOKEN_FILE="+tokenFile, "GATEWAY_PROBE_INTERVAL=100ms", "GATEWAY_ROUTE_TTL=5s",
		"GATEWAY_LOG_LEVEL=debug")
	leaderOf(t, []*node{n}, 20*time.Second)
	leaseUID := func() types.UID {
		l, err := c.Client().CoordinationV1().Leases(ns).Get(ctx, "memgraph-gateway", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.UID
	}()

	e := waitEvent(t, c.Client(), ns, controller.ReasonBootstrapRefused, "Lease", "memgraph-gateway", 20*time.Second)
	checkEvent(t, e, controller.EventWarning, leaseUID, "gw-ev", "several MAINs hold data")

	var out, errOut bytes.Buffer
	if code := run([]string{"switchover", "--to", "mg-1", "--gateway", n.base(), "--token-file", tokenFile, "--timeout", "20s"}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("switchover --to mg-1 on an unbootstrapped cluster: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	e = waitEvent(t, c.Client(), ns, controller.ReasonBootstrapped, "Lease", "memgraph-gateway", 10*time.Second)
	checkEvent(t, e, controller.EventNormal, leaseUID, "gw-ev", "mg-1 is MAIN at epoch 1")
	e = waitEvent(t, c.Client(), ns, controller.ReasonInstanceDiverged, "Lease", "memgraph-gateway", 20*time.Second)
	checkEvent(t, e, controller.EventWarning, leaseUID, "gw-ev", "mg-2 has diverged from the MAIN")
	t.Logf("InstanceDiverged event: %s", e.Message)
	if st, err := n.status(); err != nil || st.Controller == nil {
		t.Errorf("status: %v", err)
	} else {
		for _, in := range st.Controller.Instances {
			if in.Name == "mg-2" && !in.Diverged {
				t.Errorf("/status does not show mg-2 diverged: %+v", in)
			}
		}
	}
}
