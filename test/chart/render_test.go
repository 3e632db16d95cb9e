package chart

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/internal/testcert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// secrets are Secrets a value set expects in the cluster (existingSecret
// values), by name, then key.
type secrets map[string]map[string][]byte

// valueSet is one configuration of the chart.
type valueSet struct {
	name   string
	values string // a values file
	// existing returns the Secrets the values name but the chart does not
	// create, as an operator would have made them.
	existing func(t *testing.T) secrets
	// wantErr, if set, is a part of the message helm template must fail with.
	wantErr string
	// check runs after the common checks (checkRender).
	check func(t *testing.T, r *rendered)
}

// rendered is the output of helm template, decoded.
type rendered struct {
	release, namespace string
	raw                []byte
	objects            []object
}

// object is one document of the output.
type object struct {
	gvk   schema.GroupVersionKind
	name  string
	ns    string
	doc   map[string]any // as JSON
	typed runtime.Object // decoded strictly; nil for kinds client-go does not know (ServiceMonitor)
}

// strict decodes YAML into client-go's types and refuses unknown or
// duplicate fields, as kubectl --validate=strict would.
var strict = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// template renders the chart as release in namespace with the value set's
// values (no values: the defaults).
func template(t *testing.T, vs valueSet, release, namespace string) (*rendered, error) {
	t.Helper()
	args := []string{"template", release, chartPath, "--namespace", namespace}
	if vs.values != "" {
		args = append(args, "--values", writeValues(t, vs.values))
	}
	out, err := helm(t, args...)
	if err != nil {
		return nil, err
	}
	return parse(t, release, namespace, out), nil
}

// parse splits helm's output into objects and decodes each one.
func parse(t *testing.T, release, namespace string, out []byte) *rendered {
	t.Helper()
	r := &rendered{release: release, namespace: namespace, raw: out}
	rd := yamlutil.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template output: %v", err)
		}
		js, err := yamlutil.ToJSON(doc)
		if err != nil {
			t.Fatalf("helm template output is not YAML: %v\n%s", err, doc)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatalf("helm template output: %v\n%s", err, doc)
		}
		if len(m) == 0 { // a template that rendered nothing but comments
			continue
		}
		var o object
		o.doc = m
		apiVersion, _ := m["apiVersion"].(string)
		kind, _ := m["kind"].(string)
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil || kind == "" {
			t.Fatalf("a rendered document has no apiVersion or kind:\n%s", doc)
		}
		o.gvk = gv.WithKind(kind)
		meta, _ := m["metadata"].(map[string]any)
		o.name, _ = meta["name"].(string)
		o.ns, _ = meta["namespace"].(string)
		if scheme.Scheme.Recognizes(o.gvk) {
			obj, _, err := strict.Decode(doc, nil, nil)
			if err != nil {
				t.Errorf("%s %s does not decode strictly: %v", kind, o.name, err)
			} else {
				o.typed = obj
			}
		}
		r.objects = append(r.objects, o)
	}
	return r
}

// all returns the objects of a kind.
func (r *rendered) all(kind string) []object {
	var out []object
	for _, o := range r.objects {
		if o.gvk.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the typed object of a kind and name, or nil.
func (r *rendered) get(kind, name string) runtime.Object {
	for _, o := range r.all(kind) {
		if o.name == name {
			return o.typed
		}
	}
	return nil
}

// deployment returns the one Deployment.
func (r *rendered) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	ds := r.all("Deployment")
	if len(ds) != 1 {
		t.Fatalf("rendered %d Deployments, want 1", len(ds))
	}
	d, ok := ds[0].typed.(*appsv1.Deployment)
	if !ok {
		t.Fatalf("the Deployment did not decode")
	}
	return d
}

// gateway returns the gateway container.
func gateway(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "gateway" {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container named gateway", d.Name)
	return nil
}

// env returns the literal value of a variable of c, and whether it is set.
func env(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func (r *rendered) secret(name string) *corev1.Secret {
	s, _ := r.get("Secret", name).(*corev1.Secret)
	return s
}

func (r *rendered) service(name string) *corev1.Service {
	s, _ := r.get("Service", name).(*corev1.Service)
	return s
}

// role returns the chart's Role (not the one of rbac.extraRules), or nil.
func (r *rendered) role() *rbacv1.Role {
	for _, o := range r.all("Role") {
		if !strings.HasSuffix(o.name, "-extra") {
			role, _ := o.typed.(*rbacv1.Role)
			return role
		}
	}
	return nil
}

func (r *rendered) pdb() *policyv1.PodDisruptionBudget {
	pdbs := r.all("PodDisruptionBudget")
	if len(pdbs) == 0 {
		return nil
	}
	p, _ := pdbs[0].typed.(*policyv1.PodDisruptionBudget)
	return p
}

// tlsPair returns a PEM certificate and key for name.
func tlsPair(t *testing.T, name string) (cert, key []byte) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := testcert.Write(t, dir, "pair", name)
	cert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err = os.ReadFile(filepath.Join(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// gossipKey is a key file with two keys (rotation): base64 of 32 bytes, then
// 16 raw bytes.
func gossipKey() []byte {
	k := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	return []byte(k + "\nfedcba9876543210\n")
}

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// valueSets are the configurations every test renders. The ones with
// wantErr must be refused by helm template (schema or the chart's checks).
var valueSets = []valueSet{
	{
		name: "defaults",
		check: func(t *testing.T, r *rendered) {
			d := r.deployment(t)
			if got := *d.Spec.Replicas; got != 3 {
				t.Errorf("replicas = %d, want 3", got)
			}
			c := gateway(t, d)
			for name, want := range map[string]string{
				"GATEWAY_ELECTION":           "kubernetes",
				"GATEWAY_DISCOVERY":          "kubernetes",
				"GATEWAY_MANAGE_REPLICATION": "true",
				"GATEWAY_SYNC_MODE":          "STRICT_SYNC",
				"GATEWAY_LEASE_NAME":         r.release + "-memgraph-gateway",
				"GATEWAY_MEMGRAPH_SELECTOR":  "app.kubernetes.io/name=memgraph",
				"GATEWAY_MEMGRAPH_SERVICE":   "memgraph",
				"GATEWAY_FAILOVER_AFTER":     "1.5s",
				"GATEWAY_ROUTE_TTL":          "6s",
			} {
				if got, _ := env(c, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if _, ok := env(c, "GATEWAY_NAMESPACE"); ok {
				t.Errorf("GATEWAY_NAMESPACE is set; the Lease belongs in the release namespace, which POD_NAMESPACE gives")
			}
			aff := d.Spec.Template.Spec.Affinity
			if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 2 ||
				len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 {
				t.Errorf("want two preferred anti-affinity terms (gateways, Memgraph pods) and no required one, got %+v", aff)
			}
			if len(d.Spec.Template.Spec.TopologySpreadConstraints) != 1 {
				t.Errorf("want one topology spread constraint, got %+v", d.Spec.Template.Spec.TopologySpreadConstraints)
			}
			if s := r.service(r.release + "-memgraph-gateway"); s == nil || s.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("client Service: want type ClusterIP, got %+v", s)
			}
			if len(r.all("ServiceMonitor")) != 0 {
				t.Errorf("a ServiceMonitor is rendered although metrics.serviceMonitor.enabled is false")
			}
			for _, name := range []string{"-gossip", "-admin"} {
				if r.secret(r.release+"-memgraph-gateway"+name) == nil {
					t.Errorf("Secret %s not generated", r.release+"-memgraph-gateway"+name)
				}
			}
			if d.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *d.Spec.Template.Spec.TerminationGracePeriodSeconds != 45 {
				t.Errorf("terminationGracePeriodSeconds = %v, want 45 (5s delay + 30s drain + 10s)", d.Spec.Template.Spec.TerminationGracePeriodSeconds)
			}
		},
	},
	{
		name: "production",
		values: `
replicaCount: 5
image:
  digest: ` + digest + `
log: {level: debug, format: console}
service:
  type: LoadBalancer
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-type: external
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
    service.beta.kubernetes.io/aws-load-balancer-scheme: internal
    service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: "*"
  externalTrafficPolicy: Local
  loadBalancerSourceRanges: [10.0.0.0/8]
proxyProtocol: true
tls: {enabled: true, secretName: gw-tls}
memgraph:
  auth: {username: gateway, existingSecret: mg-auth}
readOnly: {enabled: true, maxReplicaLag: 100, readFromMain: true}
limits: {maxConnections: 1000000, maxConnectionsPerIP: 5000, connRatePerIP: 2.5, connBurstPerIP: 10, maxHeld: 20000}
timeouts: {drainDelay: 15s, drainTimeout: 2m, keepalive: 30s, hold: 0}
preStopSleepSeconds: 3
replication:
  syncMode: SYNC
  failoverAfter: 2s
  routeTTL: 8s
  allowWipeDiverged: true
  wipeDivergedCommand: /opt/wipe/wipe-instance
rbac:
  extraRules:
    - apiGroups: [""]
      resources: [persistentvolumeclaims]
      verbs: [delete]
extraVolumes:
  - name: wipe
    configMap: {name: memgraph-wipe, defaultMode: 0555}
extraVolumeMounts:
  - {name: wipe, mountPath: /opt/wipe, readOnly: true}
gossip: {existingSecret: gw-gossip, secretKey: key}
adminToken: {existingSecret: gw-admin}
tracing: {otlpEndpoint: "http://otel-collector.observability:4318", insecure: true, sampleRatio: 0.1}
podAntiAffinity: {gateways: hard, memgraph: hard}
topologySpread: {whenUnsatisfiable: DoNotSchedule}
metrics:
  serviceMonitor:
    enabled: true
    labels: {release: prometheus}
    relabelings:
      - sourceLabels: [__meta_kubernetes_pod_node_name]
        targetLabel: node
networkPolicy:
  enabled: true
  boltFrom:
    - namespaceSelector: {matchLabels: {team: graph-apps}}
  httpFrom:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
extraEnv:
  - name: GOMEMLIMIT
    value: 450MiB
resources:
  requests: {cpu: "1", memory: 512Mi}
  limits: {memory: 512Mi}
`,
		existing: func(t *testing.T) secrets {
			cert, key := tlsPair(t, "gateway.example.com")
			return secrets{
				"gw-tls":    {"tls.crt": cert, "tls.key": key},
				"mg-auth":   {"password": []byte("s3cret\n")},
				"gw-gossip": {"key": gossipKey()},
				"gw-admin":  {"token": []byte("admin-token-0123456789")},
			}
		},
		check: func(t *testing.T, r *rendered) {
			d := r.deployment(t)
			c := gateway(t, d)
			if want := "ghcr.io/memgraph-gateway/memgraph-gateway@" + digest; c.Image != want {
				t.Errorf("image = %q, want %q", c.Image, want)
			}
			if got, _ := env(c, "GATEWAY_MAX_CONNECTIONS"); got != "1000000" {
				t.Errorf("GATEWAY_MAX_CONNECTIONS = %q, want 1000000 (not 1e+06)", got)
			}
			aff := d.Spec.Template.Spec.Affinity.PodAntiAffinity
			if len(aff.RequiredDuringSchedulingIgnoredDuringExecution) != 2 || len(aff.PreferredDuringSchedulingIgnoredDuringExecution) != 0 {
				t.Errorf("want two required anti-affinity terms, got %+v", aff)
			}
			s := r.service(r.release + "-memgraph-gateway")
			if s.Spec.Type != corev1.ServiceTypeLoadBalancer || s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
				s.Annotations["service.beta.kubernetes.io/aws-load-balancer-type"] != "external" || len(s.Spec.Ports) != 2 {
				t.Errorf("client Service: want a LoadBalancer with the annotations, Local policy and two Bolt ports, got %+v", s)
			}
			for _, name := range []string{"-gossip", "-admin"} {
				if r.secret(r.release+"-memgraph-gateway"+name) != nil {
					t.Errorf("Secret %s generated although an existing one is named", r.release+"-memgraph-gateway"+name)
				}
			}
			if len(r.all("ServiceMonitor")) != 1 {
				t.Errorf("want a ServiceMonitor")
			}
			nps := r.all("NetworkPolicy")
			if len(nps) != 1 {
				t.Fatalf("want a NetworkPolicy")
			}
			np := nps[0].typed.(*networkingv1.NetworkPolicy)
			podLabels := labels.Set(d.Spec.Template.Labels)
			if s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || !s.Matches(podLabels) {
				t.Errorf("the NetworkPolicy does not select the gateway pods")
			}
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					if p.Port == nil || containerPort(c, p.Port.StrVal, *p.Protocol) == 0 {
						t.Errorf("NetworkPolicy port %v is not a named port of the container", p.Port)
					}
				}
				if strings.HasPrefix(rule.Ports[0].Port.StrVal, "gossip") {
					if len(rule.From) != 1 || rule.From[0].PodSelector == nil || rule.From[0].NamespaceSelector != nil {
						t.Fatalf("gossip: want one pod selector peer (the gateways), got %+v", rule.From)
					}
					if s, _ := metav1.LabelSelectorAsSelector(rule.From[0].PodSelector); !s.Matches(podLabels) {
						t.Errorf("gossip is open to pods other than the gateways: %v", rule.From[0].PodSelector)
					}
				} else if len(rule.From) != 1 {
					t.Errorf("Bolt and HTTP: want the configured peer, got %+v", rule.From)
				}
			}
			if got := *d.Spec.Template.Spec.TerminationGracePeriodSeconds; got != 3+15+120+10 {
				t.Errorf("terminationGracePeriodSeconds = %d, want %d", got, 3+15+120+10)
			}
			if extra, _ := r.get("Role", r.release+"-memgraph-gateway-extra").(*rbacv1.Role); extra == nil || len(extra.Rules) != 1 {
				t.Errorf("rbac.extraRules: want a Role %s-memgraph-gateway-extra with one rule", r.release)
			}
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != 3 {
				t.Errorf("want a preStop sleep of 3 s, got %+v", c.Lifecycle)
			}
		},
	},
	{
		name: "etcd-static-instances",
		values: `
election:
  backend: etcd
  etcd:
    endpoints: ["https://etcd-0.etcd:2379", "https://etcd-1.etcd:2379", "https://etcd-2.etcd:2379"]
    prefix: /memgraph-gateway/prod
    tls: {secretName: etcd-client}
discovery:
  mode: static
  staticInstances:
    - mg-0=memgraph-0.memgraph.db.svc.cluster.local:7687
    - mg-1=memgraph-1.memgraph.db.svc.cluster.local:7687/memgraph-1.memgraph.db.svc.cluster.local:10000
service: {type: NodePort, nodePorts: {bolt: 30687}}
`,
		existing: func(t *testing.T) secrets {
			cert, key := tlsPair(t, "gateway")
			ca, _ := tlsPair(t, "etcd")
			return secrets{"etcd-client": {"ca.crt": ca, "tls.crt": cert, "tls.key": key}}
		},
		check: func(t *testing.T, r *rendered) {
			if r.role() != nil || len(r.all("RoleBinding")) != 0 {
				t.Errorf("a Role is rendered although nothing talks to the Kubernetes API")
			}
			d := r.deployment(t)
			if d.Spec.Template.Spec.AutomountServiceAccountToken == nil || *d.Spec.Template.Spec.AutomountServiceAccountToken {
				t.Errorf("automountServiceAccountToken: want false without a Kubernetes backend")
			}
			if len(d.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
				t.Errorf("want only the gateways' anti-affinity with static discovery")
			}
			if s := r.service(r.release + "-memgraph-gateway"); s.Spec.Ports[0].NodePort != 30687 {
				t.Errorf("nodePort = %d, want 30687", s.Spec.Ports[0].NodePort)
			}
		},
	},
	{
		name: "managed-backend-tls",
		values: `
memgraph:
  tls: {enabled: true, caSecret: memgraph-ca, caKey: bundle.pem, serverName: memgraph.db.svc}
`,
		existing: func(t *testing.T) secrets {
			ca, _ := tlsPair(t, "memgraph.db.svc")
			return secrets{"memgraph-ca": {"bundle.pem": ca}}
		},
		check: func(t *testing.T, r *rendered) {
			g := gateway(t, r.deployment(t))
			if got, _ := env(g, "GATEWAY_BACKEND_TLS"); got != "true" {
				t.Errorf("GATEWAY_BACKEND_TLS = %q with memgraph.tls.enabled", got)
			}
			if got, _ := env(g, "GATEWAY_MANAGE_REPLICATION"); got != "true" {
				t.Errorf("GATEWAY_MANAGE_REPLICATION = %q by default", got)
			}
		},
	},
	{
		name: "follower-backend-tls",
		values: `
election: {backend: kubernetes, leaseName: memgraph-route}
discovery: {mode: none}
replication: {manage: false}
bootstrap: {main: "mg-0=memgraph-0.memgraph.db.svc:7687"}
memgraph:
  tls: {enabled: true, caSecret: memgraph-ca, caKey: bundle.pem, serverName: memgraph.db.svc}
`,
		existing: func(t *testing.T) secrets {
			ca, _ := tlsPair(t, "memgraph.db.svc")
			return secrets{"memgraph-ca": {"bundle.pem": ca}}
		},
		check: func(t *testing.T, r *rendered) {
			role := r.role()
			if role == nil || len(role.Rules) != 1 || role.Rules[0].Resources[0] != "leases" {
				t.Errorf("want a Role for the Lease only (no discovery, no controller and so no events), got %+v", role)
			}
			if got, _ := env(gateway(t, r.deployment(t)), "GATEWAY_LEASE_NAME"); got != "memgraph-route" {
				t.Errorf("GATEWAY_LEASE_NAME = %q, want memgraph-route", got)
			}
		},
	},
	{
		name: "static-route",
		values: `
replicaCount: 2
election: {backend: none}
discovery: {mode: none}
replication: {manage: false}
bootstrap: {main: "mg-0=memgraph-0.memgraph:7687", replicas: ["mg-1=memgraph-1.memgraph:7687"]}
readOnly: {enabled: true}
gossip: {enabled: false}
adminToken: {enabled: false}
podAntiAffinity: {gateways: none, memgraph: none}
topologySpread: {enabled: false}
podDisruptionBudget: {enabled: false}
probes: {startup: {enabled: false}}
`,
		check: func(t *testing.T, r *rendered) {
			d := r.deployment(t)
			if d.Spec.Template.Spec.Affinity != nil || len(d.Spec.Template.Spec.TopologySpreadConstraints) != 0 {
				t.Errorf("want no affinity and no spread constraint")
			}
			if len(r.all("Secret")) != 0 || r.role() != nil || r.pdb() != nil {
				t.Errorf("want no Secret, Role or PodDisruptionBudget")
			}
			h := r.service(r.release + "-memgraph-gateway-headless")
			if len(h.Spec.Ports) != 1 {
				t.Errorf("headless Service: want only the http port without gossip, got %+v", h.Spec.Ports)
			}
			if gateway(t, d).StartupProbe != nil {
				t.Errorf("startup probe rendered although disabled")
			}
		},
	},
	{
		name: "long-names-set-selector",
		values: `
fullnameOverride: a-very-long-release-name-that-goes-on-and-on-and-on-past-sixty-three-characters
discovery: {memgraphSelector: "app.kubernetes.io/name in (memgraph),tier!=test"}
podAntiAffinity: {memgraph: none}
`,
		check: func(t *testing.T, r *rendered) {
			for _, o := range r.objects {
				if len(o.name) > 63 {
					t.Errorf("%s %s: name longer than 63 characters", o.gvk.Kind, o.name)
				}
			}
		},
	},
	{
		name:    "refused-gossip-without-election",
		values:  `{election: {backend: none}, bootstrap: {main: "mg-0=mg-0:7687"}, replication: {manage: false}, discovery: {mode: none}}`,
		wantErr: "gossip.enabled=true needs election.backend kubernetes or etcd",
	},
	{
		name:    "refused-sync-mode",
		values:  `{replication: {syncMode: ASYNC}}`,
		wantErr: "/replication/syncMode",
	},
	{
		name:    "refused-unknown-value",
		values:  `{replicas: 3}`,
		wantErr: "additional properties 'replicas' not allowed",
	},
	{
		name:    "refused-duration-without-unit",
		values:  `{replication: {failoverAfter: "1500"}}`,
		wantErr: "/replication/failoverAfter",
	},
	{
		name:    "refused-extra-env-override",
		values:  `{extraEnv: [{name: GATEWAY_SYNC_MODE, value: SYNC}]}`,
		wantErr: "extraEnv sets GATEWAY_SYNC_MODE",
	},
	{
		name:    "refused-set-selector-with-memgraph-anti-affinity",
		values:  `{discovery: {memgraphSelector: "app in (memgraph)"}}`,
		wantErr: "needs an equality-based discovery.memgraphSelector",
	},
	{
		name:    "refused-wipe-without-command",
		values:  `{replication: {allowWipeDiverged: true}}`,
		wantErr: "replication.allowWipeDiverged=true needs replication.wipeDivergedCommand",
	},
	{
		name:    "refused-tls-without-secret",
		values:  `{tls: {enabled: true}}`,
		wantErr: "tls.enabled=true needs tls.secretName",
	},
	{
		name:    "refused-short-grace-period",
		values:  `{terminationGracePeriodSeconds: 20}`,
		wantErr: "terminationGracePeriodSeconds=20 is shorter than",
	},
	{
		name:    "refused-port-clash",
		values:  `{ports: {http: 7687}}`,
		wantErr: "must differ",
	},
}

// TestLint runs helm lint --strict with every accepted value set.
func TestLint(t *testing.T) {
	for _, vs := range valueSets {
		if vs.wantErr != "" {
			continue
		}
		t.Run(vs.name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartPath}
			if vs.values != "" {
				args = append(args, "--values", writeValues(t, vs.values))
			}
			out, err := helm(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "0 chart(s) failed") {
				t.Errorf("helm lint:\n%s", out)
			}
		})
	}
}

// TestTemplate renders every value set and checks the objects, or checks
// that a refused one fails with its message.
func TestTemplate(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			r, err := template(t, vs, "gw", "db")
			if vs.wantErr != "" {
				if err == nil {
					t.Fatalf("helm template succeeded, want an error containing %q", vs.wantErr)
				}
				if !strings.Contains(err.Error(), vs.wantErr) {
					t.Fatalf("helm template failed with\n%v\nwant a message containing %q", err, vs.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var existing secrets
			if vs.existing != nil {
				existing = vs.existing(t)
			}
			checkRender(t, r, existing)
			if vs.check != nil {
				vs.check(t, r)
			}
		})
	}
}
