package kube_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

func TestMain(m *testing.M) { kube.Main(m) }

var memgraphLabels = map[string]string{"app.kubernetes.io/name": "memgraph"}

const memgraphSelector = "app.kubernetes.io/name=memgraph"

// listPods returns the memgraph pods of ns by name.
func listPods(t *testing.T, cs kubernetes.Interface, ns string) map[string]corev1.Pod {
	t.Helper()
	list, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: memgraphSelector})
	if err != nil {
		t.Fatal(err)
	}
	pods := make(map[string]corev1.Pod, len(list.Items))
	for _, p := range list.Items {
		pods[p.Name] = p
	}
	return pods
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestPodsActAsKubelet(t *testing.T) {
	t.Parallel()
	c := kube.Shared(t)
	ctx := t.Context()
	ns := c.TestNamespace(t)
	cs := c.Client()

	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: memgraphSelector})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	pod := must[*corev1.Pod](t)
	pod(c.CreatePod(ctx, ns, "memgraph-0", memgraphLabels, "127.0.0.2", true))
	pod(c.CreatePod(ctx, ns, "memgraph-1", memgraphLabels, "127.0.0.3", false))
	pod(c.CreatePod(ctx, ns, "memgraph-2", memgraphLabels, "", false))
	pod(c.CreatePod(ctx, ns, "other", map[string]string{"app": "other"}, "127.0.0.9", true))

	pods := listPods(t, cs, ns)
	if len(pods) != 3 {
		t.Fatalf("selector matched %d pods, want 3: %v", len(pods), slices.Collect(mapKeys(pods)))
	}
	check := func(name, ip string, phase corev1.PodPhase, ready bool) {
		t.Helper()
		p, ok := pods[name]
		if !ok {
			t.Fatalf("pod %s not listed", name)
		}
		if p.Status.PodIP != ip || p.Status.Phase != phase || kube.PodReady(&p) != ready {
			t.Errorf("pod %s: ip %q phase %s ready %v, want %q %s %v",
				name, p.Status.PodIP, p.Status.Phase, kube.PodReady(&p), ip, phase, ready)
		}
		if ip != "" && (len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != ip) {
			t.Errorf("pod %s: podIPs %v, want [%s]", name, p.Status.PodIPs, ip)
		}
		if p.Spec.NodeName != kube.NodeName {
			t.Errorf("pod %s: nodeName %q", name, p.Spec.NodeName)
		}
	}
	check("memgraph-0", "127.0.0.2", corev1.PodRunning, true)
	check("memgraph-1", "127.0.0.3", corev1.PodRunning, false)
	check("memgraph-2", "", corev1.PodPending, false)

	// Flip readiness both ways, move an IP, give the pending pod one.
	pod(c.SetPodReady(ctx, ns, "memgraph-0", false))
	pod(c.SetPodReady(ctx, ns, "memgraph-1", true))
	pod(c.SetPodIP(ctx, ns, "memgraph-1", "127.0.0.5"))
	pod(c.SetPodIP(ctx, ns, "memgraph-2", "127.0.0.4"))
	pod(c.SetPodReady(ctx, ns, "memgraph-2", true))
	pods = listPods(t, cs, ns)
	check("memgraph-0", "127.0.0.2", corev1.PodRunning, false)
	check("memgraph-1", "127.0.0.5", corev1.PodRunning, true)
	check("memgraph-2", "127.0.0.4", corev1.PodRunning, true)

	// Ready's transition time moves only when the status changes, and an
	// unchanged status is no write at all (no watch event below).
	before := pods["memgraph-1"]
	p := pod(c.SetPodReady(ctx, ns, "memgraph-1", true))
	if got, want := readyTransition(p), readyTransition(&before); !got.Equal(&want) {
		t.Errorf("Ready transition time moved without a change")
	}

	if err := c.DeletePod(ctx, ns, "memgraph-0"); err != nil {
		t.Fatal(err)
	}
	pods = listPods(t, cs, ns)
	if _, ok := pods["memgraph-0"]; ok || len(pods) != 2 {
		t.Fatalf("after delete: %v", slices.Collect(mapKeys(pods)))
	}
	if _, err := c.SetPodReady(ctx, ns, "memgraph-0", true); !apierrors.IsNotFound(err) {
		t.Errorf("SetPodReady on deleted pod: %v, want NotFound", err)
	}

	// The watch saw it all, in order, as discovery's informer would.
	var events []string
	timeout := time.After(5 * time.Second)
	for len(events) < 13 {
		select {
		case ev := <-w.ResultChan():
			p := ev.Object.(*corev1.Pod)
			e := string(ev.Type) + " " + p.Name + " " + p.Status.PodIP + " " + boolStr(kube.PodReady(p))
			if p.DeletionTimestamp != nil {
				e += " terminating"
			}
			events = append(events, e)
		case <-timeout:
			t.Fatalf("watch events so far: %q", events)
		}
	}
	want := []string{
		"ADDED memgraph-0  not-ready", "MODIFIED memgraph-0 127.0.0.2 ready",
		"ADDED memgraph-1  not-ready", "MODIFIED memgraph-1 127.0.0.3 not-ready",
		"ADDED memgraph-2  not-ready", "MODIFIED memgraph-2  not-ready",
		"MODIFIED memgraph-0 127.0.0.2 not-ready",
		"MODIFIED memgraph-1 127.0.0.3 ready",
		"MODIFIED memgraph-1 127.0.0.5 ready",
		"MODIFIED memgraph-2 127.0.0.4 not-ready",
		"MODIFIED memgraph-2 127.0.0.4 ready",
		// A pod is deleted in two steps, grace period 0 or not.
		"MODIFIED memgraph-0 127.0.0.2 not-ready terminating",
		"DELETED memgraph-0 127.0.0.2 not-ready terminating",
	}
	if !slices.Equal(events, want) {
		t.Errorf("watch events:\n got %q\nwant %q", events, want)
	}
}

func readyTransition(p *corev1.Pod) metav1.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime
		}
	}
	return metav1.Time{}
}

func boolStr(ready bool) string {
	if ready {
		return "ready"
	}
	return "not-ready"
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestServiceAccountHasExactlyTheChartRules runs as a ServiceAccount bound
// to deploy/rbac/role.yaml and checks what it may and may not do.
func TestServiceAccountHasExactlyTheChartRules(t *testing.T) {
	t.Parallel()
	c := kube.Shared(t)
	ctx := t.Context()
	ns := c.TestNamespace(t)
	other := c.TestNamespace(t)
	admin := c.Client()

	start := time.Now()
	sa, err := c.ServiceAccount(ctx, ns, "memgraph-gateway")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ServiceAccount with role and token in %v", time.Since(start).Round(time.Millisecond))

	// Objects the account will try to reach, created as admin.
	for _, n := range []string{ns, other} {
		if _, err := c.CreatePod(ctx, n, "memgraph-0", memgraphLabels, "127.0.0.2", true); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"memgraph-gateway-gossip", "other-secret"} {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"key": []byte("k")}}
			if _, err := admin.CoreV1().Secrets(n).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}

	cs, err := sa.Client()
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v, want allowed", what, err)
		}
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", what, err)
		}
	}
	errOf := func(_ any, err error) error { return err }

	// Pods: read and watch in its namespace, nothing else.
	allowed("list pods", errOf(cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: memgraphSelector})))
	allowed("get pod", errOf(cs.CoreV1().Pods(ns).Get(ctx, "memgraph-0", metav1.GetOptions{})))
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	allowed("watch pods", err)
	if w != nil {
		w.Stop()
	}
	forbidden("delete pod", cs.CoreV1().Pods(ns).Delete(ctx, "memgraph-0", metav1.DeleteOptions{}))
	forbidden("create pod", errOf(cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}},
	}, metav1.CreateOptions{})))
	forbidden("patch pod", errOf(cs.CoreV1().Pods(ns).Patch(ctx, "memgraph-0", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})))
	forbidden("list pods in another namespace", errOf(cs.CoreV1().Pods(other).List(ctx, metav1.ListOptions{})))
	forbidden("list pods cluster-wide", errOf(cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})))

	// Leases: the election and the route record.
	leases := cs.CoordinationV1().Leases(ns)
	holder := "gw-0"
	lease, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "memgraph-gateway"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder},
	}, metav1.CreateOptions{})
	allowed("create lease", err)
	if lease != nil {
		lease.Annotations = map[string]string{"memgraph-gateway/route": `{"epoch":1}`}
		lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		allowed("update lease", err)
		forbidden("patch lease", errOf(leases.Patch(ctx, "memgraph-gateway", types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"memgraph-gateway/route":"{\"epoch\":2}"}}}`), metav1.PatchOptions{})))
		allowed("get lease", errOf(leases.Get(ctx, "memgraph-gateway", metav1.GetOptions{})))
		allowed("list leases", errOf(leases.List(ctx, metav1.ListOptions{})))
		forbidden("delete lease", leases.Delete(ctx, "memgraph-gateway", metav1.DeleteOptions{}))
	}
	forbidden("create lease in another namespace", errOf(cs.CoordinationV1().Leases(other).Create(ctx,
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})))

	// Events: create only.
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "memgraph-gateway.failover"},
		InvolvedObject: corev1.ObjectReference{Kind: "Lease", Namespace: ns, Name: "memgraph-gateway"},
		Reason:         "Failover", Message: "test", Type: corev1.EventTypeNormal,
	}
	allowed("create event", errOf(cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})))
	forbidden("list events", errOf(cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})))

	// ConfigMaps and Secrets: nothing (the route is in the Lease; the gossip
	// key and the tokens are mounted files).
	forbidden("create configmap", errOf(cs.CoreV1().ConfigMaps(ns).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "memgraph-gateway-route"}}, metav1.CreateOptions{})))
	forbidden("get a secret", errOf(cs.CoreV1().Secrets(ns).Get(ctx, "memgraph-gateway-gossip", metav1.GetOptions{})))
	forbidden("list secrets", errOf(cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})))
	forbidden("list secrets cluster-wide", errOf(cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})))
	forbidden("create secret", errOf(cs.CoreV1().Secrets(ns).Create(ctx,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})))

	// Cluster scope and RBAC itself.
	forbidden("list namespaces", errOf(cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})))
	forbidden("list nodes", errOf(cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})))
	forbidden("update own role", errOf(cs.RbacV1().Roles(ns).Update(ctx, sa.Role, metav1.UpdateOptions{})))

	// The kubeconfig file authenticates as the same account.
	cfg, err := clientcmd.BuildConfigFromFlags("", sa.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kcs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	allowed("list pods via kubeconfig", errOf(kcs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})))
	forbidden("list secrets via kubeconfig", errOf(kcs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})))
}

// TestKubectl checks the version stamp (kubectl parses the server version)
// and kubectl's view of the account's rights.
func TestKubectl(t *testing.T) {
	t.Parallel()
	c := kube.Shared(t)
	ctx := t.Context()
	out, err := c.Kubectl(ctx, "version")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Server Version: v1.37.2") {
		t.Errorf("kubectl version:\n%s", out)
	}

	ns := c.TestNamespace(t)
	sa, err := c.ServiceAccount(ctx, ns, "gw")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "pods"}, "yes"},
		{[]string{"update", "leases.coordination.k8s.io"}, "yes"},
		{[]string{"delete", "pods"}, "no"},
		{[]string{"list", "secrets"}, "no"},
	} {
		args := append([]string{"--kubeconfig=" + sa.Kubeconfig, "auth", "can-i", "-n", ns}, tc.args...)
		out, _ := c.Kubectl(ctx, args...) // "no" exits 1
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("can-i %v: %q, want %q", tc.args, got, tc.want)
		}
	}

	// Server-side dry run validates manifests strictly (the chart check).
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: "+ns+"\ndatta: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = c.Kubectl(ctx, "apply", "--dry-run=server", "--validate=strict", "-f", manifest)
	if err == nil || !strings.Contains(string(out), `unknown field "datta"`) {
		t.Errorf("strict dry run of a bad manifest: %v\n%s", err, out)
	}
}

// TestStartStopRestart starts a private control plane, measures it, takes
// the API server down and up again, and checks Stop leaves nothing behind.
func TestStartStopRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	start := time.Now()
	c := kube.StartT(t, kube.Options{})
	t.Logf("start (etcd + kube-apiserver ready): %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()

	ns, err := c.NewNamespace(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := c.ServiceAccount(ctx, ns, "gw")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sa.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePod(ctx, ns, "memgraph-0", memgraphLabels, "127.0.0.2", true); err != nil {
		t.Fatal(err)
	}

	c.StopAPIServer()
	short, cancel := context.WithTimeout(ctx, time.Second)
	_, err = cs.CoreV1().Pods(ns).List(short, metav1.ListOptions{})
	cancel()
	if err == nil {
		t.Fatal("list succeeded with the API server down")
	}
	restart := time.Now()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("API server restart: %v", time.Since(restart).Round(time.Millisecond))
	// Data and the account's token survive.
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("after restart: %v, %v", list, err)
	}

	// Stop: processes gone, temp dir gone.
	dir := filepath.Dir(c.Kubeconfig)
	pids := processesUnder(t, dir)
	if len(pids) != 2 {
		t.Errorf("found %d processes using %s, want 2 (etcd, kube-apiserver)", len(pids), dir)
	}
	stop := time.Now()
	c.Stop()
	t.Logf("stop: %v", time.Since(stop).Round(time.Millisecond))
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Stop: %v", pid, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s after Stop: %v", dir, err)
	}
	c.Stop() // idempotent
}

// processesUnder returns the pids whose command line mentions dir.
func processesUnder(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}
