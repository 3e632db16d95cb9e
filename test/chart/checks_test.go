package chart

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// binarySettings returns the GATEWAY_* variables `memgraph-gateway serve`
// reads, from the usage text its --help prints.
var binarySettings = sync.OnceValue(func() map[string]bool {
	var b bytes.Buffer
	config.Usage(&b)
	set := map[string]bool{}
	for _, m := range regexp.MustCompile(`env (GATEWAY_[A-Z0-9_]+)`).FindAllStringSubmatch(b.String(), -1) {
		set[m[1]] = true
	}
	return set
})

// downwardAPI is what the chart must take from the Downward API, and the
// value the test gives each in place of the kubelet.
var downwardAPI = map[string]struct{ fieldPath, fake string }{
	"POD_NAME":      {"metadata.name", "gw-memgraph-gateway-6d9f7c8b5-x2x7p"},
	"POD_NAMESPACE": {"metadata.namespace", ""}, // the release namespace
	"POD_IP":        {"status.podIP", "10.244.1.17"},
}

// checkRender checks what must hold for every accepted value set.
func checkRender(t *testing.T, r *rendered, existing secrets) {
	d := r.deployment(t)
	pod := &d.Spec.Template.Spec
	c := gateway(t, d)
	podLabels := labels.Set(d.Spec.Template.Labels)

	for _, o := range r.objects {
		if o.gvk.Kind != "ServiceMonitor" && o.ns != r.namespace {
			t.Errorf("%s %s: namespace %q, want the release's %q", o.gvk.Kind, o.name, o.ns, r.namespace)
		}
		meta, _ := o.doc["metadata"].(map[string]any)
		l, _ := meta["labels"].(map[string]any)
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if _, ok := l[k]; !ok {
				t.Errorf("%s %s: no label %s", o.gvk.Kind, o.name, k)
			}
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector %v does not match its pod labels %v", d.Spec.Selector, podLabels)
	}

	if s := r.secret(gossipSecret(pod)); s != nil {
		// The pods roll when the chart's gossip key changes: the binary
		// reads it at start only.
		var data string
		for _, v := range s.Data {
			data = base64.StdEncoding.EncodeToString(v)
		}
		sum := sha256.Sum256([]byte(data))
		if got, want := d.Spec.Template.Annotations["checksum/gossip-key"], hex.EncodeToString(sum[:]); got != want {
			t.Errorf("pod annotation checksum/gossip-key = %q, want the sha256 of Secret %s's data, %s", got, s.Name, want)
		}
	}
	checkEnv(t, r, c)
	checkConfig(t, r, d, c, existing)
	checkPorts(t, c)
	checkProbes(t, c)
	checkSecurity(t, pod, c)
	checkGrace(t, pod, c)
	checkServices(t, r, c, podLabels)
	checkAffinity(t, pod, podLabels)
	checkRBAC(t, r, d, c)
	if p := r.pdb(); p != nil {
		s, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || !s.Matches(podLabels) {
			t.Errorf("the PodDisruptionBudget's selector %v does not match the pods", p.Spec.Selector)
		}
		if p.Spec.MaxUnavailable == nil || *p.Spec.MaxUnavailable != intstr.FromInt32(1) {
			t.Errorf("PodDisruptionBudget maxUnavailable = %v, want 1", p.Spec.MaxUnavailable)
		}
	}
	for _, sm := range r.all("ServiceMonitor") {
		spec, _ := sm.doc["spec"].(map[string]any)
		selector, _ := spec["selector"].(map[string]any)
		match, _ := selector["matchLabels"].(map[string]any)
		h := r.service(r.release + "-memgraph-gateway-headless")
		if r.release == "" || h == nil {
			break
		}
		for k, v := range match {
			if h.Labels[k] != v {
				t.Errorf("the ServiceMonitor selects %s=%v, which the headless Service lacks", k, v)
			}
		}
		eps, _ := spec["endpoints"].([]any)
		for _, ep := range eps {
			port, _ := ep.(map[string]any)["port"].(string)
			if !slices.ContainsFunc(h.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port }) {
				t.Errorf("the ServiceMonitor scrapes port %q, which the headless Service lacks", port)
			}
		}
	}
}

// gossipSecret returns the name of the Secret behind the gossip key volume,
// or "".
func gossipSecret(pod *corev1.PodSpec) string {
	for _, v := range pod.Volumes {
		if v.Name == "gossip-key" && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

// checkEnv: every GATEWAY_* variable is a setting of the binary, set once;
// the Downward API variables come from the right fields.
func checkEnv(t *testing.T, r *rendered, c *corev1.Container) {
	seen := map[string]bool{}
	var environ []string
	for _, e := range c.Env {
		if seen[e.Name] {
			t.Errorf("variable %s is set twice", e.Name)
		}
		seen[e.Name] = true
		if strings.HasPrefix(e.Name, config.EnvPrefix) {
			if !binarySettings()[e.Name] {
				t.Errorf("variable %s is not a setting of memgraph-gateway serve (see its --help)", e.Name)
			}
			if e.ValueFrom != nil {
				t.Errorf("variable %s comes from valueFrom; secrets go in files (GATEWAY_*_FILE)", e.Name)
			}
			environ = append(environ, e.Name+"="+e.Value)
		}
	}
	if unknown := config.UnknownEnv(environ); len(unknown) > 0 {
		t.Errorf("the binary would warn about unknown variables %v", unknown)
	}
	for name, want := range downwardAPI {
		var got string
		for _, e := range c.Env {
			if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				got = e.ValueFrom.FieldRef.FieldPath
			}
		}
		if got != want.fieldPath {
			t.Errorf("%s: want it from the Downward API field %s, got %q", name, want.fieldPath, got)
		}
	}
}

// checkConfig runs the binary's own configuration loading on the
// container's environment, with each *_FILE variable pointing at the file
// the volumes would mount there (taken from the rendered Secrets or the
// value set's existing ones): the gateway would start with it.
func checkConfig(t *testing.T, r *rendered, d *appsv1.Deployment, c *corev1.Container, existing secrets) {
	root := t.TempDir()
	var environ []string
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			v := downwardAPI[e.Name].fake
			if e.ValueFrom.FieldRef.FieldPath == "metadata.namespace" {
				v = r.namespace
			}
			environ = append(environ, e.Name+"="+v)
		case e.ValueFrom != nil:
			continue // extraEnv from elsewhere: not the chart's
		case e.Name == "GATEWAY_WIPE_DIVERGED_COMMAND":
			// An executable the operator mounts (extraVolumes): a volume
			// must be mounted above it; a stub stands in for it.
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
				return strings.HasPrefix(e.Value, strings.TrimSuffix(m.MountPath, "/")+"/")
			}) {
				t.Errorf("%s=%s: no volume is mounted above it", e.Name, e.Value)
			}
			path := filepath.Join(root, e.Value)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			environ = append(environ, e.Name+"="+path)
		case strings.HasPrefix(e.Name, config.EnvPrefix) && strings.HasSuffix(e.Name, "_FILE"):
			data, err := mountedFile(r, d, c, e.Value, existing)
			if err != nil {
				t.Errorf("%s=%s: %v", e.Name, e.Value, err)
				continue
			}
			path := filepath.Join(root, e.Value)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			environ = append(environ, e.Name+"="+path)
		default:
			environ = append(environ, e.Name+"="+e.Value)
		}
	}
	cfg, err := config.Load(nil, environ)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Errorf("memgraph-gateway serve would refuse this environment:\n%v\nenvironment: %q", err, environ)
		return
	}
	if cfg.GossipEnabled() {
		if _, err := cfg.GossipKeys(); err != nil {
			t.Errorf("gossip key: %v", err)
		}
		if cfg.GossipInsecure {
			t.Errorf("gossip runs without encryption")
		}
	}
	if cfg.ID != downwardAPI["POD_NAME"].fake {
		t.Errorf("the gateway's identity is %q, want the pod name", cfg.ID)
	}
	if cfg.NeedsKubernetes() && cfg.Namespace != r.namespace {
		t.Errorf("the gateway's namespace is %q, want the release's %q", cfg.Namespace, r.namespace)
	}
	if w := cfg.Warnings(); len(w) > 0 {
		t.Errorf("the binary would warn at start: %q", w)
	}
}

// mountedFile returns the content the container would see at path: the key
// of the Secret behind the volume mounted above it.
func mountedFile(r *rendered, d *appsv1.Deployment, c *corev1.Container, path string, existing secrets) ([]byte, error) {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		if m.SubPath != "" {
			return nil, fmt.Errorf("mounted with subPath %q: the kubelet never updates such a file", m.SubPath)
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.Secret == nil {
				return nil, fmt.Errorf("volume %s is not a Secret", v.Name)
			}
			key := rel
			if len(v.Secret.Items) > 0 {
				key = ""
				for _, it := range v.Secret.Items {
					if it.Path == rel {
						key = it.Key
					}
				}
				if key == "" {
					return nil, fmt.Errorf("volume %s does not project a file %s", v.Name, rel)
				}
			}
			if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o044 == 0 {
				return nil, fmt.Errorf("volume %s: mode %v is not readable by the pod's group (fsGroup)", v.Name, v.Secret.DefaultMode)
			}
			if s := r.secret(v.Secret.SecretName); s != nil {
				if data, ok := s.Data[key]; ok {
					return data, nil
				}
				return nil, fmt.Errorf("the chart's Secret %s has no key %s", s.Name, key)
			}
			if data, ok := existing[v.Secret.SecretName][key]; ok {
				return data, nil
			}
			return nil, fmt.Errorf("Secret %s (key %s) is neither rendered nor one the value set provides", v.Secret.SecretName, key)
		}
		return nil, fmt.Errorf("mount %s has no volume", m.Name)
	}
	return nil, fmt.Errorf("no volume is mounted above it")
}

// containerPort returns the port of c named name, or 0.
func containerPort(c *corev1.Container, name string, proto corev1.Protocol) int32 {
	for _, p := range c.Ports {
		if p.Name == name && p.Protocol == proto {
			return p.ContainerPort
		}
	}
	return 0
}

// envPort returns the port of a host:port variable, or 0 when unset.
func envPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	v, ok := env(c, name)
	if !ok {
		return 0
	}
	_, p, err := net.SplitHostPort(v)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Errorf("%s=%q is not host:port", name, v)
	}
	return int32(n)
}

// checkPorts: the named container ports are the ports the binary listens on.
func checkPorts(t *testing.T, c *corev1.Container) {
	for _, p := range []struct {
		env, name string
		proto     corev1.Protocol
	}{
		{"GATEWAY_BIND_ADDRESS", "bolt", corev1.ProtocolTCP},
		{"GATEWAY_READ_BIND_ADDRESS", "bolt-ro", corev1.ProtocolTCP},
		{"GATEWAY_HTTP_ADDRESS", "http", corev1.ProtocolTCP},
		{"GATEWAY_GOSSIP_BIND_ADDRESS", "gossip-tcp", corev1.ProtocolTCP},
		{"GATEWAY_GOSSIP_BIND_ADDRESS", "gossip-udp", corev1.ProtocolUDP},
	} {
		if got, want := containerPort(c, p.name, p.proto), envPort(t, c, p.env); got != want {
			t.Errorf("container port %s/%s is %d, but %s listens on %d", p.name, p.proto, got, p.env, want)
		}
	}
	if envPort(t, c, "GATEWAY_HTTP_ADDRESS") == 0 || envPort(t, c, "GATEWAY_BIND_ADDRESS") == 0 {
		t.Errorf("GATEWAY_HTTP_ADDRESS and GATEWAY_BIND_ADDRESS must be set explicitly")
	}
}

// checkProbes: readiness is /readyz, liveness and startup /healthz, all on
// the HTTP API's port.
func checkProbes(t *testing.T, c *corev1.Container) {
	httpPort := envPort(t, c, "GATEWAY_HTTP_ADDRESS")
	for _, p := range []struct {
		what     string
		probe    *corev1.Probe
		path     string
		required bool
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz", true},
		{"livenessProbe", c.LivenessProbe, "/healthz", true},
		{"startupProbe", c.StartupProbe, "/healthz", false},
	} {
		if p.probe == nil {
			if p.required {
				t.Errorf("no %s", p.what)
			}
			continue
		}
		g := p.probe.HTTPGet
		if g == nil {
			t.Errorf("%s is not an HTTP GET", p.what)
			continue
		}
		port := g.Port.IntVal
		if g.Port.Type == intstr.String {
			port = containerPort(c, g.Port.StrVal, corev1.ProtocolTCP)
		}
		if g.Path != p.path || port != httpPort {
			t.Errorf("%s: GET %s on port %d, want %s on the HTTP API's port %d", p.what, g.Path, port, p.path, httpPort)
		}
	}
}

// checkSecurity: non-root, read-only root, no privilege, no capability,
// seccomp, no service links.
func checkSecurity(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatalf("want pod and container security contexts")
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	if !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod: want runAsNonRoot and a non-zero runAsUser, got %+v", psc)
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod: want seccompProfile RuntimeDefault")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) || !isFalse(sc.AllowPrivilegeEscalation) || isTrue(sc.Privileged) {
		t.Errorf("container: want readOnlyRootFilesystem, no privilege escalation, not privileged, got %+v", sc)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container: want capabilities drop [ALL] and none added, got %+v", sc.Capabilities)
	}
	if !isFalse(pod.EnableServiceLinks) {
		t.Errorf("enableServiceLinks: want false (a Service named gateway would inject GATEWAY_* variables)")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("host namespaces in use")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("want CPU and memory requests and a memory limit, got %+v", c.Resources)
	}
}

// checkGrace: the kubelet waits for preStop, the drain delay and the drain.
func checkGrace(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	var need time.Duration
	for _, name := range []string{"GATEWAY_DRAIN_DELAY", "GATEWAY_DRAIN_TIMEOUT"} {
		v, _ := env(c, name)
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Errorf("%s=%q: %v", name, v, err)
		}
		need += d
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil {
			t.Errorf("preStop must be a sleep action: the image has no shell")
		} else {
			need += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
	}
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than preStop + drain delay + drain timeout = %v", pod.TerminationGracePeriodSeconds, need)
	}
}

// checkServices: Services select the gateway pods and target ports they
// have; the headless one publishes not-ready pods for the gossip join.
func checkServices(t *testing.T, r *rendered, c *corev1.Container, podLabels labels.Set) {
	for _, o := range r.all("Service") {
		s, ok := o.typed.(*corev1.Service)
		if !ok {
			continue
		}
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s: selector %v does not select the gateway pods", s.Name, s.Spec.Selector)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type != intstr.String || containerPort(c, p.TargetPort.StrVal, p.Protocol) == 0 {
				t.Errorf("Service %s port %s: targetPort %v is not a named %s port of the container", s.Name, p.Name, p.TargetPort.String(), p.Protocol)
			}
		}
	}
	client := r.service(r.release + "-memgraph-gateway")
	if client == nil {
		// Names derive from fullnameOverride there; the checks above ran.
		return
	}
	if !slices.ContainsFunc(client.Spec.Ports, func(p corev1.ServicePort) bool { return p.TargetPort.StrVal == "bolt" }) {
		t.Errorf("the client Service has no Bolt port")
	}
	if slices.ContainsFunc(client.Spec.Ports, func(p corev1.ServicePort) bool { return strings.HasPrefix(p.TargetPort.StrVal, "gossip") }) {
		t.Errorf("the client Service exposes gossip")
	}
	h := r.service(r.release + "-memgraph-gateway-headless")
	if h == nil || h.Spec.ClusterIP != corev1.ClusterIPNone || !h.Spec.PublishNotReadyAddresses {
		t.Fatalf("want a headless Service with publishNotReadyAddresses, got %+v", h)
	}
	if join, ok := env(c, "GATEWAY_GOSSIP_JOIN"); ok {
		want := net.JoinHostPort(h.Name+"."+r.namespace+".svc.cluster.local", strconv.Itoa(int(envPort(t, c, "GATEWAY_GOSSIP_BIND_ADDRESS"))))
		if join != want {
			t.Errorf("GATEWAY_GOSSIP_JOIN = %q, want the headless Service %q", join, want)
		}
		for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
			if !slices.ContainsFunc(h.Spec.Ports, func(p corev1.ServicePort) bool {
				return p.Protocol == proto && strings.HasPrefix(p.TargetPort.StrVal, "gossip")
			}) {
				t.Errorf("the headless Service lacks the gossip port over %s", proto)
			}
		}
	}
}

// checkAffinity: anti-affinity terms that select the gateways spread them
// over nodes.
func checkAffinity(t *testing.T, pod *corev1.PodSpec, podLabels labels.Set) {
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		return
	}
	a := pod.Affinity.PodAntiAffinity
	terms := slices.Clone(a.RequiredDuringSchedulingIgnoredDuringExecution)
	for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, w.PodAffinityTerm)
	}
	for _, term := range terms {
		s, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
		if err != nil || s.Empty() {
			t.Errorf("anti-affinity term with an empty or bad selector: %+v", term)
			continue
		}
		if term.TopologyKey != "kubernetes.io/hostname" {
			t.Errorf("anti-affinity term on %q, want kubernetes.io/hostname", term.TopologyKey)
		}
	}
}

// checkRBAC: the Role holds rules of deploy/rbac/role.yaml, exactly those
// this configuration uses, bound to the Deployment's ServiceAccount.
func checkRBAC(t *testing.T, r *rendered, d *appsv1.Deployment, c *corev1.Container) {
	want := map[string]bool{}
	if v, _ := env(c, "GATEWAY_ELECTION"); v == "kubernetes" {
		want["leases"] = true
	}
	if v, _ := env(c, "GATEWAY_DISCOVERY"); v == "kubernetes" {
		want["pods"] = true
	}
	if v, _ := env(c, "GATEWAY_MANAGE_REPLICATION"); v == "true" && len(want) > 0 {
		want["events"] = true // the leader records Events through the same client
	}
	sa := d.Spec.Template.Spec.ServiceAccountName
	auto := d.Spec.Template.Spec.AutomountServiceAccountToken
	if auto == nil || *auto != (len(want) > 0) {
		t.Errorf("automountServiceAccountToken = %v, want %v (a token only when the Kubernetes API is used)", auto, len(want) > 0)
	}
	if sa != "default" && r.get("ServiceAccount", sa) == nil {
		t.Errorf("the Deployment runs as ServiceAccount %s, which is not rendered", sa)
	}
	role := r.role()
	if len(want) == 0 {
		if role != nil {
			t.Errorf("a Role is rendered although nothing uses the Kubernetes API")
		}
		return
	}
	if role == nil {
		t.Fatalf("no Role, want rules for %v", want)
	}
	project := projectRole(t)
	got := map[string]bool{}
	for _, rule := range role.Rules {
		if !slices.ContainsFunc(project.Rules, func(p rbacv1.PolicyRule) bool { return reflect.DeepEqual(p, rule) }) {
			t.Errorf("Role rule %+v is not a rule of %s", rule, kube.RoleFile)
		}
		for _, res := range rule.Resources {
			got[res] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the Role covers %v, want exactly %v", got, want)
	}
	var bound bool
	for _, o := range r.all("RoleBinding") {
		b, ok := o.typed.(*rbacv1.RoleBinding)
		if !ok || b.RoleRef.Kind != "Role" || b.RoleRef.Name != role.Name {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == r.namespace {
				bound = true
			}
		}
	}
	if !bound {
		t.Errorf("no RoleBinding binds Role %s to ServiceAccount %s", role.Name, sa)
	}
}

var projectRoleOnce = sync.OnceValues(func() (*rbacv1.Role, error) {
	root, err := kube.RepoRoot()
	if err != nil {
		return nil, err
	}
	return kube.ReadRole(filepath.Join(root, kube.RoleFile))
})

// projectRole is deploy/rbac/role.yaml.
func projectRole(t *testing.T) *rbacv1.Role {
	t.Helper()
	role, err := projectRoleOnce()
	if err != nil {
		t.Fatal(err)
	}
	return role
}
