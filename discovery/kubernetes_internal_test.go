package discovery

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestKubernetesConfigValidate(t *testing.T) {
	good := KubernetesConfig{Namespace: "db", LabelSelector: "app=memgraph", HeadlessService: "memgraph"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", good, err)
	}
	d := good.withDefaults()
	if d.ClusterDomain != "cluster.local" || d.BoltPort != 7687 || d.ReplicationPort != 10000 ||
		d.ResyncPeriod != DefaultResyncPeriod || d.Logger == nil {
		t.Errorf("defaults not filled in: %+v", d)
	}
	if d := (KubernetesConfig{ClusterDomain: "example.org.", ResyncPeriod: -1}).withDefaults(); d.ClusterDomain != "example.org" || d.ResyncPeriod != -1 {
		t.Errorf("withDefaults changed set fields: %+v", d)
	}

	for _, tc := range []struct {
		name string
		edit func(*KubernetesConfig)
		want []string
	}{
		{"set-based selector", func(c *KubernetesConfig) { c.LabelSelector = "app in (memgraph),tier!=test" }, nil},
		{"custom domain and ports", func(c *KubernetesConfig) {
			c.ClusterDomain, c.BoltPort, c.ReplicationPort, c.ResyncPeriod = "corp.example", 17687, 20000, -1
		}, nil},
		{"no namespace", func(c *KubernetesConfig) { c.Namespace = "" }, []string{"Namespace is empty; set it to the namespace of the Memgraph pods"}},
		{"bad namespace", func(c *KubernetesConfig) { c.Namespace = "DB" }, []string{`Namespace "DB" is not a namespace name`}},
		{"no selector", func(c *KubernetesConfig) { c.LabelSelector = " " }, []string{"LabelSelector is empty, which would take every pod"}},
		{"bad selector", func(c *KubernetesConfig) { c.LabelSelector = "app in (memgraph" }, []string{`LabelSelector "app in (memgraph" is not a label selector`, "write it as for kubectl -l"}},
		{"no service", func(c *KubernetesConfig) { c.HeadlessService = "" }, []string{"HeadlessService is empty; set it to the headless Service"}},
		{"bad service", func(c *KubernetesConfig) { c.HeadlessService = "1memgraph" }, []string{`HeadlessService "1memgraph" is not a Service name`}},
		{"bad domain", func(c *KubernetesConfig) { c.ClusterDomain = "a..b" }, []string{`ClusterDomain "a..b" is not a DNS domain`}},
		{"bad ports", func(c *KubernetesConfig) { c.BoltPort, c.ReplicationPort = 70000, -1 },
			[]string{"BoltPort 70000 is out of range; set a port from 1 to 65535, or 0 for 7687", "ReplicationPort -1 is out of range"}},
		{"all reported", func(c *KubernetesConfig) { *c = KubernetesConfig{} }, []string{"Namespace is empty", "LabelSelector is empty", "HeadlessService is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want %q", c, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate error\n%v\nlacks %q", err, w)
				}
			}
			if _, err := NewKubernetes(&fake.Clientset{}, c); err == nil {
				t.Error("NewKubernetes accepted a config that Validate refuses")
			}
		})
	}
	if _, err := NewKubernetes(nil, good); err == nil {
		t.Error("NewKubernetes accepted a nil client")
	}
}

func TestPodInstance(t *testing.T) {
	cfg := KubernetesConfig{Namespace: "db", LabelSelector: "app=memgraph", HeadlessService: "memgraph"}.withDefaults()
	now := metav1.Now()
	pod := func(edit func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "memgraph-1", Namespace: "db", UID: "u1", Labels: map[string]string{"app": "memgraph"}},
			Spec:       corev1.PodSpec{Hostname: "memgraph-1", Subdomain: "memgraph"},
			Status: corev1.PodStatus{
				Phase: corev1.PodRunning, PodIP: "10.1.2.3",
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			},
		}
		if edit != nil {
			edit(p)
		}
		return p
	}
	const repl = "memgraph-1.memgraph.db.svc.cluster.local:10000"
	base := Instance{Name: "memgraph-1", BoltAddr: "10.1.2.3:7687", ReplicationAddr: repl, Ready: true, UID: "u1",
		Labels: map[string]string{"app": "memgraph"}}
	with := func(edit func(*Instance)) Instance { in := base.clone(); edit(&in); return in }

	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		cfg     func(*KubernetesConfig)
		want    Instance
		warning string
	}{
		{"ready StatefulSet pod", pod(nil), nil, base, ""},
		{"not ready", pod(func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }), nil,
			with(func(in *Instance) { in.Ready = false }), ""},
		{"no Ready condition", pod(func(p *corev1.Pod) { p.Status.Conditions = nil }), nil,
			with(func(in *Instance) { in.Ready = false }), ""},
		{"no IP yet", pod(func(p *corev1.Pod) { p.Status.PodIP, p.Status.Phase = "", corev1.PodPending }), nil,
			with(func(in *Instance) { in.BoltAddr, in.Ready = "", false }), ""},
		{"terminating", pod(func(p *corev1.Pod) { p.DeletionTimestamp = &now }), nil,
			with(func(in *Instance) { in.Terminating, in.Ready = true, false }), ""},
		{"failed", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), nil,
			with(func(in *Instance) { in.Ready = false }), ""},
		{"IPv6", pod(func(p *corev1.Pod) { p.Status.PodIP = "fd00::1:2" }), nil,
			with(func(in *Instance) { in.BoltAddr = "[fd00::1:2]:7687" }), ""},
		{"custom domain and ports", pod(nil), func(c *KubernetesConfig) {
			c.ClusterDomain, c.BoltPort, c.ReplicationPort = "corp.example", 17687, 20000
		},
			with(func(in *Instance) {
				in.BoltAddr, in.ReplicationAddr = "10.1.2.3:17687", "memgraph-1.memgraph.db.svc.corp.example:20000"
			}), ""},
		{"spec.hostname wins over the name", pod(func(p *corev1.Pod) { p.Spec.Hostname = "mg-b" }), nil,
			with(func(in *Instance) { in.ReplicationAddr = "mg-b.memgraph.db.svc.cluster.local:10000" }), ""},
		{"no hostname: the pod name", pod(func(p *corev1.Pod) { p.Spec.Hostname = "" }), nil, base, ""},
		{"no subdomain", pod(func(p *corev1.Pod) { p.Spec.Subdomain = "" }), nil, base,
			"the pod has no spec.subdomain, so it has no DNS name in Service memgraph"},
		{"other subdomain", pod(func(p *corev1.Pod) { p.Spec.Subdomain = "memgraph-hl" }), nil, base,
			"set HeadlessService to memgraph-hl"},
		{"name not a DNS label", pod(func(p *corev1.Pod) { p.Name, p.Spec.Hostname = "mg.1", "" }), nil,
			with(func(in *Instance) { in.Name, in.ReplicationAddr = "mg.1", "mg.1.memgraph.db.svc.cluster.local:10000" }),
			`the pod's host name "mg.1" is not a DNS label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			got, warning := podInstance(tc.pod, c)
			if !got.equal(tc.want) {
				t.Errorf("podInstance\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.warning == "" && warning != "" || !strings.Contains(warning, tc.warning) {
				t.Errorf("warning %q, want %q", warning, tc.warning)
			}
			got.Labels["app"] = "changed"
			if tc.pod.Labels["app"] != "memgraph" {
				t.Error("the instance shares its labels with the pod")
			}
		})
	}
}

// TestKubernetesFake runs the source on client-go's fake clientset: the
// informer plumbing without an API server (the real one is in
// kubernetes_test.go).
func TestKubernetesFake(t *testing.T) {
	mk := func(name, app string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db", Labels: map[string]string{"app": app}},
			Status:     corev1.PodStatus{PodIP: "10.0.0.1", Phase: corev1.PodRunning},
		}
	}
	cs := fake.NewClientset(mk("mg-0", "memgraph"), mk("gw-0", "gateway"))
	src, err := NewKubernetes(cs, KubernetesConfig{Namespace: "db", LabelSelector: "app=memgraph", HeadlessService: "memgraph"})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Snapshot()) != 0 {
		t.Fatal("a snapshot before Run")
	}
	done := make(chan error, 1)
	go func() { done <- src.Run(t.Context()) }()
	select {
	case <-src.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("not synced")
	}
	if names := instanceNames(src.Snapshot()); len(names) != 1 || names[0] != "mg-0" {
		t.Fatalf("snapshot %v, want [mg-0]", names)
	}
	expectNotified(t, src, true)
	if err := src.Run(t.Context()); err != ErrRunning {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}
