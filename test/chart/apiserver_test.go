package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cluster returns the package's kube-apiserver, with the tools checked
// first so that a missing binary fails instead of skipping.
func cluster(t *testing.T) *kube.Cluster {
	t.Helper()
	toolsDir(t)
	return kube.Shared(t)
}

// restrictedNamespace creates a namespace that enforces, and warns about,
// the "restricted" Pod Security Standard.
func restrictedNamespace(t *testing.T, c *kube.Cluster) string {
	t.Helper()
	ctx := t.Context()
	ns := c.TestNamespace(t)
	n, err := c.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	n.Labels["pod-security.kubernetes.io/warn"] = "restricted"
	if _, err := c.Client().CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

var serviceMonitorCRD sync.Once

// installServiceMonitorCRD installs testdata/servicemonitor-crd.yaml once:
// a reduced ServiceMonitor CRD (the fields the chart can render, no unknown
// field allowed) standing in for the Prometheus Operator's.
func installServiceMonitorCRD(t *testing.T, c *kube.Cluster) {
	t.Helper()
	var err error
	var out []byte
	serviceMonitorCRD.Do(func() {
		ctx := t.Context()
		path, _ := filepath.Abs(filepath.Join("testdata", "servicemonitor-crd.yaml"))
		if out, err = c.Kubectl(ctx, "apply", "--server-side", "-f", path); err != nil {
			return
		}
		out, err = c.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
			"customresourcedefinition/servicemonitors.monitoring.coreos.com")
	})
	if err != nil {
		t.Fatalf("ServiceMonitor CRD: %v\n%s", err, out)
	}
}

// TestServerDryRun has the API server validate (strictly) and admit every
// object of every accepted value set, in a namespace that enforces the
// restricted Pod Security Standard; a Pod made from the Deployment's
// template goes through admission as the ReplicaSet controller's would.
func TestServerDryRun(t *testing.T) {
	c := cluster(t)
	for _, vs := range valueSets {
		if vs.wantErr != "" {
			continue
		}
		t.Run(vs.name, func(t *testing.T) {
			ctx := t.Context()
			ns := restrictedNamespace(t, c)
			r, err := template(t, vs, "gw", ns)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.all("ServiceMonitor")) > 0 {
				installServiceMonitorCRD(t, c)
			}
			manifest := filepath.Join(t.TempDir(), "manifest.yaml")
			if err := os.WriteFile(manifest, r.raw, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := c.Kubectl(ctx, "apply", "--dry-run=server", "--validate=strict", "--namespace", ns, "--filename", manifest)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if strings.Contains(string(out), "Warning") {
				t.Errorf("the API server warns:\n%s", out)
			}
			if n, want := strings.Count(string(out), "(server dry run)"), len(r.objects); n != want {
				t.Errorf("the API server accepted %d objects, want %d:\n%s", n, want, out)
			}

			d := r.deployment(t)
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-dryrun", Namespace: ns, Labels: d.Spec.Template.Labels, Annotations: d.Spec.Template.Annotations},
				Spec:       d.Spec.Template.Spec,
			}
			if _, err := c.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Errorf("a gateway pod is refused: %v", err)
			}
		})
	}
}

// TestInstallUpgrade installs the chart with helm into the API server,
// upgrades it, and checks what only a real install shows: the generated
// Secrets survive upgrades (lookup), NOTES tell how to switch over, and the
// ServiceAccount may do what the gateway does and nothing more.
func TestInstallUpgrade(t *testing.T) {
	c := cluster(t)
	ctx := t.Context()
	ns := restrictedNamespace(t, c)
	const release = "gw"
	name := release + "-memgraph-gateway"
	kubeconfig := "--kubeconfig=" + c.Kubeconfig
	cs := c.Client()

	out, err := helm(t, "install", release, chartPath, "--namespace", ns, kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes := fmt.Sprintf("kubectl -n %s exec deploy/%s -- memgraph-gateway switchover --to NAME", ns, name)
	if !strings.Contains(string(out), wantNotes) {
		t.Errorf("NOTES do not say %q:\n%s", wantNotes, out)
	}
	secretData := func() (gossip, admin []byte) {
		t.Helper()
		g, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-gossip", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-admin", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return g.Data["gossip.key"], a.Data["token"]
	}
	checksum := func() string {
		t.Helper()
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations["checksum/gossip-key"]
	}
	sum1 := checksum()
	gossip1, admin1 := secretData()
	if len(gossip1) == 0 || len(admin1) == 0 {
		t.Fatalf("generated Secrets are empty: gossip %q, admin %q", gossip1, admin1)
	}

	if _, err := helm(t, "upgrade", release, chartPath, "--namespace", ns, kubeconfig, "--set", "replicaCount=5"); err != nil {
		t.Fatal(err)
	}
	gossip2, admin2 := secretData()
	if string(gossip2) != string(gossip1) || string(admin2) != string(admin1) {
		t.Errorf("an upgrade changed the generated Secrets: gossip %q -> %q, admin %q -> %q", gossip1, gossip2, admin1, admin2)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 5 {
		t.Errorf("after the upgrade: %d replicas, want 5", *d.Spec.Replicas)
	}
	if sum2 := checksum(); sum2 != sum1 {
		t.Errorf("an upgrade changed the pod template's gossip key checksum (%q -> %q): every upgrade would roll the pods", sum1, sum2)
	}

	const newKey = "bmV3LWtleS0xMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW4="
	if _, err := helm(t, "upgrade", release, chartPath, "--namespace", ns, kubeconfig, "--reuse-values", "--set", "gossip.key="+newKey); err != nil {
		t.Fatal(err)
	}
	if gossip3, _ := secretData(); string(gossip3) != newKey {
		t.Errorf("gossip.key set: the Secret holds %q, want %q", gossip3, newKey)
	}
	if sum3 := checksum(); sum3 == sum1 || sum1 == "" {
		t.Errorf("a new gossip key leaves the pod template's checksum at %q: the pods would keep the old key", sum1)
	}

	// The ServiceAccount's permissions, as the API server decides them.
	user := "system:serviceaccount:" + ns + ":" + name
	type access struct {
		verb, group, resource, ns string
	}
	allowed := []access{
		{"get", "coordination.k8s.io", "leases", ns},
		{"create", "coordination.k8s.io", "leases", ns},
		{"update", "coordination.k8s.io", "leases", ns},
		{"list", "coordination.k8s.io", "leases", ns},
		{"watch", "coordination.k8s.io", "leases", ns},
		{"get", "", "pods", ns},
		{"list", "", "pods", ns},
		{"watch", "", "pods", ns},
		{"create", "", "events", ns},
		{"patch", "", "events", ns},
	}
	denied := []access{
		{"delete", "coordination.k8s.io", "leases", ns},
		{"get", "coordination.k8s.io", "leases", "default"},
		{"list", "", "pods", "default"},
		{"delete", "", "pods", ns},
		{"create", "", "pods", ns},
		{"get", "", "secrets", ns},
		{"list", "", "secrets", ns},
		{"create", "", "configmaps", ns},
		{"delete", "", "events", ns},
		{"list", "", "pods", ""}, // cluster-wide
	}
	check := func(a access) bool {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.ns, Verb: a.verb, Group: a.group, Resource: a.resource,
			},
		}}
		res, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Status.Allowed
	}
	// RBAC reads bindings through an informer: wait for the first rule.
	deadline := time.Now().Add(20 * time.Second)
	for !check(allowed[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never got %+v", user, allowed[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, a := range allowed {
		if !check(a) {
			t.Errorf("%s may not %s %s in %q; the gateway needs it", user, a.verb, a.resource, a.ns)
		}
	}
	for _, a := range denied {
		if check(a) {
			t.Errorf("%s may %s %s in %q; it needs no such right", user, a.verb, a.resource, a.ns)
		}
	}

	if _, err := helm(t, "uninstall", release, "--namespace", ns, kubeconfig); err != nil {
		t.Fatal(err)
	}
}
