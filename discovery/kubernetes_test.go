package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

func TestMain(m *testing.M) { kube.Main(m) }

// stepTimeout bounds how long the snapshot may take to follow one change.
const stepTimeout = 10 * time.Second

var memgraphLabels = map[string]string{"app": "memgraph"}

// env is one test's namespace, the source under test running with the
// gateway's ServiceAccount, and the logs it wrote.
type env struct {
	t    *testing.T
	c    *kube.Cluster
	ns   string
	src  *discovery.Kubernetes
	logs *observer.ObservedLogs
	done chan error // Run's result
}

// startEnv creates a namespace, lets setup create pods in it, then runs a
// source with cfg (Namespace defaults to the test's) as the gateway's
// ServiceAccount, until the test ends: its cleanup stops Run and waits for
// it, so nothing logs to a finished test.
func startEnv(t *testing.T, cfg discovery.KubernetesConfig, setup func(e *env)) *env {
	t.Helper()
	c := kube.Shared(t)
	ctx := t.Context()
	e := &env{t: t, c: c, ns: c.TestNamespace(t), done: make(chan error, 1)}
	sa, err := c.ServiceAccount(ctx, e.ns, "memgraph-gateway")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sa.Client()
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(e)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = e.ns
	}
	var core zapcore.Core
	core, e.logs = observer.New(zap.DebugLevel)
	cfg.Logger = zaptest.NewLogger(t).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) }))
	e.src, err = discovery.NewKubernetes(cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	go func() { e.done <- e.src.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(stepTimeout):
			t.Errorf("Run did not return within %v of its context's end", stepTimeout)
		}
	})
	return e
}

func (e *env) waitSynced() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), stepTimeout)
	defer cancel()
	if err := discovery.WaitSynced(ctx, e.src); err != nil {
		e.t.Fatalf("not synced within %v: %v", stepTimeout, err)
	}
}

func (e *env) createPod(name string, labels map[string]string, ip string, ready bool) {
	e.t.Helper()
	if _, err := e.c.CreatePod(e.t.Context(), e.ns, name, labels, ip, ready); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) check(_ *corev1.Pod, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deletePod(name string) {
	e.t.Helper()
	if err := e.c.DeletePod(e.t.Context(), e.ns, name); err != nil {
		e.t.Fatal(err)
	}
}

// patch merge-patches pod name as the admin (the gateway may not).
func (e *env) patch(name, patch string) {
	e.t.Helper()
	_, err := e.c.Client().CoreV1().Pods(e.ns).Patch(e.t.Context(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		e.t.Fatalf("patch pod %s with %s: %v", name, patch, err)
	}
}

// step does act (nil: nothing), then waits until the snapshot matches
// want, waking only on the source's notifications: a change that is not
// notified fails the test. It logs how long the source took.
func (e *env) step(what string, act func(), want func([]discovery.Instance) error) []discovery.Instance {
	e.t.Helper()
	start := time.Now()
	if act != nil {
		act()
	}
	deadline := time.After(stepTimeout)
	for {
		snap := e.src.Snapshot()
		err := want(snap)
		if err == nil {
			e.t.Logf("%s: seen %v after the change began", what, time.Since(start).Round(time.Millisecond))
			return snap
		}
		select {
		case <-e.src.Changes():
		case <-deadline:
			e.t.Fatalf("%s: not seen within %v: %v\nsnapshot: %s", what, stepTimeout, err, show(snap))
		}
	}
}

// instance returns a condition on the instance called name.
func instance(name string, ok func(discovery.Instance) error) func([]discovery.Instance) error {
	return func(snap []discovery.Instance) error {
		in, found := discovery.Find(snap, name)
		if !found {
			return fmt.Errorf("%s is not listed", name)
		}
		return ok(in)
	}
}

// names is a condition on the listed names, in order.
func names(want ...string) func([]discovery.Instance) error {
	return func(snap []discovery.Instance) error {
		var got []string
		for _, in := range snap {
			got = append(got, in.Name)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			return fmt.Errorf("names %v, want %v", got, want)
		}
		return nil
	}
}

func show(snap []discovery.Instance) string {
	var b strings.Builder
	for _, in := range snap {
		fmt.Fprintf(&b, "\n  %+v", in)
	}
	return b.String()
}

func TestKubernetesFollowsPods(t *testing.T) {
	t.Parallel()
	e := startEnv(t, discovery.KubernetesConfig{LabelSelector: "app=memgraph", HeadlessService: "memgraph"}, func(e *env) {
		e.createPod("mg-0", memgraphLabels, "127.0.0.2", true)
		e.createPod("mg-1", memgraphLabels, "", false) // not scheduled yet: no IP
		e.createPod("other-0", map[string]string{"app": "other"}, "127.0.0.9", true)
		e.createPod("gateway-0", map[string]string{"app": "memgraph-gateway"}, "127.0.0.10", true)
	})
	e.waitSynced()
	ctx := t.Context()
	dns := func(pod string) string { return pod + ".memgraph." + e.ns + ".svc.cluster.local:10000" }

	// Synced means the initial list is in: no waiting for it.
	snap := e.src.Snapshot()
	if err := names("mg-0", "mg-1")(snap); err != nil {
		t.Fatalf("after sync: %v%s", err, show(snap))
	}
	mg0, _ := discovery.Find(snap, "mg-0")
	if mg0.BoltAddr != "127.0.0.2:7687" || mg0.ReplicationAddr != dns("mg-0") || !mg0.Ready || mg0.Terminating ||
		mg0.UID == "" || mg0.Labels["app"] != "memgraph" {
		t.Errorf("mg-0 = %+v", mg0)
	}
	if mg1, _ := discovery.Find(snap, "mg-1"); mg1.BoltAddr != "" || mg1.ReplicationAddr != dns("mg-1") || mg1.Ready {
		t.Errorf("mg-1 without IP = %+v, want no BoltAddr, not ready, its DNS name", mg1)
	}
	select {
	case <-e.src.Changes():
	default:
		t.Error("no notification for the initial list")
	}

	// mg-1 gets an IP, then turns Ready.
	e.step("mg-1 has an IP", func() { e.check(e.c.SetPodIP(ctx, e.ns, "mg-1", "127.0.0.3")) },
		instance("mg-1", func(in discovery.Instance) error {
			if in.BoltAddr != "127.0.0.3:7687" || in.Ready {
				return fmt.Errorf("mg-1 = %+v, want 127.0.0.3:7687, not ready", in)
			}
			return nil
		}))
	e.step("mg-1 ready", func() { e.check(e.c.SetPodReady(ctx, e.ns, "mg-1", true)) },
		instance("mg-1", func(in discovery.Instance) error {
			if !in.Ready {
				return errors.New("mg-1 not ready")
			}
			return nil
		}))

	// mg-0 restarts elsewhere: new IP, same stable replication address.
	e.step("mg-0 moved", func() { e.check(e.c.SetPodIP(ctx, e.ns, "mg-0", "127.0.0.7")) },
		instance("mg-0", func(in discovery.Instance) error {
			if in.BoltAddr != "127.0.0.7:7687" || in.ReplicationAddr != dns("mg-0") || in.UID != mg0.UID {
				return fmt.Errorf("mg-0 = %+v, want 127.0.0.7:7687, %s, UID %s", in, dns("mg-0"), mg0.UID)
			}
			return nil
		}))

	// mg-0's readiness probe fails.
	e.step("mg-0 not ready", func() { e.check(e.c.SetPodReady(ctx, e.ns, "mg-0", false)) },
		instance("mg-0", func(in discovery.Instance) error {
			if in.Ready || in.BoltAddr != "127.0.0.7:7687" {
				return fmt.Errorf("mg-0 = %+v, want not ready at 127.0.0.7:7687", in)
			}
			return nil
		}))

	// A new pod appears; a pod relabelled into the selection appears, one
	// relabelled out of it disappears.
	e.step("mg-2 created", func() { e.createPod("mg-2", memgraphLabels, "127.0.0.4", true) },
		names("mg-0", "mg-1", "mg-2"))
	e.step("other-0 relabelled in", func() { e.patch("other-0", `{"metadata":{"labels":{"app":"memgraph"}}}`) },
		names("mg-0", "mg-1", "mg-2", "other-0"))
	e.step("mg-2 relabelled out", func() { e.patch("mg-2", `{"metadata":{"labels":{"app":"retired"}}}`) },
		names("mg-0", "mg-1", "other-0"))

	// Deletion held by a finalizer: terminating, then gone.
	e.patch("mg-1", `{"metadata":{"finalizers":["memgraph-gateway.test/hold"]}}`)
	e.step("mg-1 terminating", func() { e.deletePod("mg-1") },
		instance("mg-1", func(in discovery.Instance) error {
			if !in.Terminating || in.Ready {
				return fmt.Errorf("mg-1 = %+v, want terminating, not ready", in)
			}
			return nil
		}))
	e.step("mg-1 gone", func() { e.patch("mg-1", `{"metadata":{"finalizers":null}}`) },
		names("mg-0", "other-0"))

	// Plain deletion, then the same name comes back as a new pod.
	e.step("mg-0 deleted", func() { e.deletePod("mg-0") }, names("other-0"))
	e.step("mg-0 recreated", func() { e.createPod("mg-0", memgraphLabels, "127.0.0.8", true) },
		instance("mg-0", func(in discovery.Instance) error {
			if in.UID == mg0.UID || in.BoltAddr != "127.0.0.8:7687" || in.ReplicationAddr != dns("mg-0") || !in.Ready {
				return fmt.Errorf("mg-0 = %+v, want a new UID at 127.0.0.8:7687, ready", in)
			}
			return nil
		}))

	// Pods outside a StatefulSet have no DNS name: said once per pod.
	if n := e.logs.FilterMessageSnippet("has no spec.subdomain").FilterField(zap.String("pod", "other-0")).Len(); n != 1 {
		t.Errorf("the DNS warning for other-0 was logged %d times, want once", n)
	}

	if err := e.src.Run(ctx); !errors.Is(err, discovery.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

// TestKubernetesDNSNames runs pods as a StatefulSet makes them (hostname
// and subdomain) with a custom domain and ports.
func TestKubernetesDNSNames(t *testing.T) {
	t.Parallel()
	cfg := discovery.KubernetesConfig{
		LabelSelector:   "app.kubernetes.io/name=memgraph,app.kubernetes.io/instance in (prod)",
		HeadlessService: "memgraph-hl",
		ClusterDomain:   "corp.example",
		BoltPort:        17687,
		ReplicationPort: 20000,
	}
	sts := map[string]string{"app.kubernetes.io/name": "memgraph", "app.kubernetes.io/instance": "prod"}
	e := startEnv(t, cfg, func(e *env) {
		e.createStatefulPod("db-0", "memgraph-hl", sts, "127.0.0.2")
		e.createStatefulPod("db-1", "memgraph-hl", sts, "127.0.0.3")
		e.createStatefulPod("db-other", "elsewhere", map[string]string{"app.kubernetes.io/name": "memgraph", "app.kubernetes.io/instance": "prod"}, "127.0.0.4")
		e.createStatefulPod("staging-0", "memgraph-hl", map[string]string{"app.kubernetes.io/name": "memgraph", "app.kubernetes.io/instance": "staging"}, "127.0.0.5")
	})
	e.waitSynced()
	snap := e.src.Snapshot()
	if err := names("db-0", "db-1", "db-other")(snap); err != nil {
		t.Fatalf("%v%s", err, show(snap))
	}
	for i, want := range []discovery.Instance{
		{Name: "db-0", BoltAddr: "127.0.0.2:17687", ReplicationAddr: "db-0.memgraph-hl." + e.ns + ".svc.corp.example:20000", Ready: true},
		{Name: "db-1", BoltAddr: "127.0.0.3:17687", ReplicationAddr: "db-1.memgraph-hl." + e.ns + ".svc.corp.example:20000", Ready: true},
	} {
		got := snap[i]
		if got.Name != want.Name || got.BoltAddr != want.BoltAddr || got.ReplicationAddr != want.ReplicationAddr || got.Ready != want.Ready {
			t.Errorf("instance %d = %+v, want %+v", i, got, want)
		}
	}
	if n := e.logs.FilterMessageSnippet("will not resolve").Len(); n != 1 {
		t.Errorf("%d DNS warnings, want 1 (db-other):%v", n, e.logs.All())
	}
	if n := e.logs.FilterMessageSnippet("set HeadlessService to elsewhere").FilterField(zap.String("pod", "db-other")).Len(); n != 1 {
		t.Errorf("no warning for db-other in another Service: %v", e.logs.All())
	}
}

// createStatefulPod creates a running, ready pod as a StatefulSet with
// serviceName service would: spec.hostname and spec.subdomain set.
func (e *env) createStatefulPod(name, service string, labels map[string]string, ip string) {
	e.t.Helper()
	ctx := e.t.Context()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			Hostname:                      name,
			Subdomain:                     service,
			NodeName:                      kube.NodeName,
			Containers:                    []corev1.Container{{Name: "memgraph", Image: "memgraph/memgraph:emulated"}},
			TerminationGracePeriodSeconds: new(int64),
		},
	}
	if _, err := e.c.Client().CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.check(e.c.SetPodIP(ctx, e.ns, name, ip))
	e.check(e.c.SetPodReady(ctx, e.ns, name, true))
}

// TestKubernetesForbidden: a namespace the gateway's Role is not bound in
// is never synced, and the log says which permission is missing.
func TestKubernetesForbidden(t *testing.T) {
	t.Parallel()
	c := kube.Shared(t)
	other := c.TestNamespace(t)
	if _, err := c.CreatePod(t.Context(), other, "mg-0", memgraphLabels, "127.0.0.2", true); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, discovery.KubernetesConfig{Namespace: other, LabelSelector: "app=memgraph", HeadlessService: "memgraph"}, nil)
	deadline := time.Now().Add(stepTimeout)
	for e.logs.FilterMessageSnippet("not allowed to list or watch pods").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no log about the missing permission within %v: %v", stepTimeout, e.logs.All())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-e.src.Synced():
		t.Fatal("synced without permission to list pods")
	default:
	}
	if snap := e.src.Snapshot(); len(snap) != 0 {
		t.Errorf("snapshot without permission: %s", show(snap))
	}
}

// TestKubernetesStops: Run returns soon after its context ends, and the
// snapshot keeps the last state.
func TestKubernetesStops(t *testing.T) {
	t.Parallel()
	c := kube.Shared(t)
	ns := c.TestNamespace(t)
	sa, err := c.ServiceAccount(t.Context(), ns, "memgraph-gateway")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sa.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePod(t.Context(), ns, "mg-0", memgraphLabels, "127.0.0.2", true); err != nil {
		t.Fatal(err)
	}
	src, err := discovery.NewKubernetes(cs, discovery.KubernetesConfig{
		Namespace: ns, LabelSelector: "app=memgraph", HeadlessService: "memgraph", ResyncPeriod: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(t.Context(), stepTimeout)
	defer wcancel()
	if err := discovery.WaitSynced(wctx, src); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(stepTimeout):
		t.Fatal("Run did not return after its context ended")
	}
	if err := names("mg-0")(src.Snapshot()); err != nil {
		t.Errorf("after Run: %v", err)
	}
}
