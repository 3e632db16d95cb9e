package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noServiceAccount points the namespace file at nothing for the test.
func noServiceAccount(t *testing.T) {
	t.Helper()
	old := ServiceAccountNamespaceFile
	ServiceAccountNamespaceFile = filepath.Join(t.TempDir(), "no-namespace")
	t.Cleanup(func() { ServiceAccountNamespaceFile = old })
}

func TestControlPlaneGood(t *testing.T) {
	noServiceAccount(t)
	f := writeFiles(t)
	nsFile := filepath.Join(t.TempDir(), "namespace")
	if err := os.WriteFile(nsFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   []string
		args  []string
		nsSA  bool // the service account namespace file exists
		check func(t *testing.T, c Config)
	}{
		{"defaults: no election, no discovery", []string{"GATEWAY_MAIN=mg0=mg0:7687"}, nil, false, func(t *testing.T, c Config) {
			if c.Election != "none" || c.DiscoveryMode() != "" || c.LeaseDuration != 4*time.Second || c.RenewDeadline != 3*time.Second ||
				c.RetryPeriod != 500*time.Millisecond || c.LeaseName != "memgraph-gateway" || c.EtcdPrefix != "/memgraph-gateway" {
				t.Errorf("defaults %+v", c)
			}
		}},
		{"etcd with bootstrap main", []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=http://127.0.0.1:2379"}, []string{"--main=mg0=mg0:7687"}, false,
			func(t *testing.T, c Config) {
				if p, k := c.EtcdKeys(); p != "/memgraph-gateway/election" || k != "/memgraph-gateway/route" {
					t.Errorf("keys %s %s", p, k)
				}
				if tc, err := c.EtcdTLSConfig(); tc != nil || err != nil {
					t.Errorf("plain http gets TLS %v %v", tc, err)
				}
			}},
		{"etcd without main (store written by someone else)", []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=etcd:2379", "GATEWAY_ETCD_PREFIX=/x/"}, nil, false,
			func(t *testing.T, c Config) {
				if _, k := c.EtcdKeys(); k != "/x/route" {
					t.Errorf("route key %s", k)
				}
			}},
		{"etcd TLS", []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=https://etcd:2379", "GATEWAY_ETCD_CA_FILE=" + f.cert,
			"GATEWAY_ETCD_CERT_FILE=" + f.otherCert, "GATEWAY_ETCD_KEY_FILE=" + f.otherKey}, nil, false,
			func(t *testing.T, c Config) {
				tc, err := c.EtcdTLSConfig()
				if err != nil || tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 {
					t.Errorf("TLS %+v %v", tc, err)
				}
			}},
		{"kubernetes, namespace from POD_NAMESPACE, id from POD_NAME", []string{"GATEWAY_ELECTION=kubernetes", "POD_NAMESPACE=db", "POD_NAME=gw-7"}, nil, false,
			func(t *testing.T, c Config) {
				if c.Namespace != "db" || c.ID != "gw-7" {
					t.Errorf("namespace %q id %q", c.Namespace, c.ID)
				}
			}},
		{"kubernetes, namespace from the service account", []string{"GATEWAY_ELECTION=kubernetes"}, nil, true,
			func(t *testing.T, c Config) {
				if c.Namespace != "from-file" {
					t.Errorf("namespace %q", c.Namespace)
				}
			}},
		{"flag namespace wins; GATEWAY_ID wins over POD_NAME", []string{"GATEWAY_ELECTION=kubernetes", "POD_NAMESPACE=db", "POD_NAME=pod", "GATEWAY_ID=gw"}, []string{"--namespace=mine"}, true,
			func(t *testing.T, c Config) {
				if c.Namespace != "mine" || c.ID != "gw" {
					t.Errorf("namespace %q id %q", c.Namespace, c.ID)
				}
			}},
		{"no namespace lookup without a Kubernetes backend", []string{"GATEWAY_MAIN=mg0=mg0:7687", "POD_NAMESPACE=db"}, nil, true,
			func(t *testing.T, c Config) {
				if c.Namespace != "" {
					t.Errorf("namespace %q", c.Namespace)
				}
			}},
		{"kubernetes discovery with election none", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_DISCOVERY=kubernetes", "GATEWAY_NAMESPACE=db",
			"GATEWAY_MEMGRAPH_SELECTOR=app.kubernetes.io/name=memgraph", "GATEWAY_MEMGRAPH_SERVICE=memgraph", "GATEWAY_KUBECONFIG=" + f.route}, nil, false,
			func(t *testing.T, c Config) {
				if !c.NeedsKubernetes() || c.DiscoveryMode() != "kubernetes" {
					t.Errorf("%+v", c)
				}
			}},
		{"static discovery implied by --instances", []string{"GATEWAY_MAIN=mg0=mg0:7687"}, []string{"--instances=mg0=10.0.0.5:7687,mg1=10.0.0.6:7687/mg1.db:10000"}, false,
			func(t *testing.T, c Config) {
				if c.DiscoveryMode() != "static" || c.NeedsKubernetes() {
					t.Errorf("%+v", c)
				}
			}},
		{"managed replication with etcd and static discovery", []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=etcd:2379",
			"GATEWAY_INSTANCES=mg0=10.0.0.5:7687,mg1=10.0.0.6:7687"}, []string{"--manage-replication", "--failover-after=3s"}, false,
			func(t *testing.T, c Config) {
				if !c.ManageReplication || c.FailoverAfter != 3*time.Second || c.RouteTTL != 6*time.Second {
					t.Errorf("%+v", c)
				}
				if w := strings.Join(c.Warnings(), "\n"); strings.Contains(w, "GATEWAY_MAIN") || strings.Contains(w, "FAILOVER_AFTER") {
					t.Errorf("warnings %q", w)
				}
			}},
		{"custom timings in order", []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=etcd:2379", "GATEWAY_LEASE_DURATION=2s",
			"GATEWAY_RENEW_DEADLINE=1500ms", "GATEWAY_RETRY_PERIOD=250ms"}, nil, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.nsSA {
				old := ServiceAccountNamespaceFile
				ServiceAccountNamespaceFile = nsFile
				defer func() { ServiceAccountNamespaceFile = old }()
			}
			c, err := loadAndValidate(tt.args, tt.env)
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestControlPlaneBad(t *testing.T) {
	noServiceAccount(t)
	f := writeFiles(t)
	const etcd = "GATEWAY_ELECTION=etcd"
	const ep = "GATEWAY_ETCD_ENDPOINTS=http://127.0.0.1:2379"
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"unknown election", []string{"GATEWAY_ELECTION=zookeeper"}, nil, []string{`GATEWAY_ELECTION="zookeeper": unknown backend; set none`}},
		{"unknown discovery", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_DISCOVERY=dns"}, nil, []string{`GATEWAY_DISCOVERY="dns": unknown source`}},
		{"etcd without endpoints", []string{etcd}, nil, []string{"GATEWAY_ELECTION=etcd needs GATEWAY_ETCD_ENDPOINTS; set the etcd client URLs"}},
		{"bad etcd endpoints", []string{etcd, "GATEWAY_ETCD_ENDPOINTS=ftp://etcd:2379,etcd,http://etcd:99999"}, nil, []string{
			`GATEWAY_ETCD_ENDPOINTS entry "ftp://etcd:2379": scheme "ftp" is neither http nor https`,
			`GATEWAY_ETCD_ENDPOINTS entry "etcd": no host:port`,
			`GATEWAY_ETCD_ENDPOINTS entry "http://etcd:99999": port "99999" is not a number`,
		}},
		{"bad etcd prefix", []string{etcd, ep, "GATEWAY_ETCD_PREFIX=gw"}, nil, []string{`GATEWAY_ETCD_PREFIX="gw": must start with /`}},
		{"etcd cert without key", []string{etcd, ep, "GATEWAY_ETCD_CERT_FILE=" + f.cert}, nil, []string{"GATEWAY_ETCD_CERT_FILE is set but GATEWAY_ETCD_KEY_FILE is not"}},
		{"etcd CA not PEM", []string{etcd, ep, "GATEWAY_ETCD_CA_FILE=" + f.garbage}, nil, []string{"GATEWAY_ETCD_CA_FILE=" + f.garbage + ": holds no PEM certificate"}},
		{"kubernetes without namespace resolution", []string{"GATEWAY_ELECTION=kubernetes"}, nil, []string{
			"GATEWAY_ELECTION=kubernetes needs a namespace and none was found", "set GATEWAY_NAMESPACE to the release's namespace, or POD_NAMESPACE from the Downward API",
		}},
		{"kubernetes discovery without namespace, selector, service", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_DISCOVERY=kubernetes"}, nil, []string{
			"GATEWAY_DISCOVERY=kubernetes needs a namespace", "GATEWAY_DISCOVERY=kubernetes needs GATEWAY_MEMGRAPH_SELECTOR", "GATEWAY_DISCOVERY=kubernetes needs GATEWAY_MEMGRAPH_SERVICE",
		}},
		{"kubernetes discovery with a bad selector", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_DISCOVERY=kubernetes", "GATEWAY_NAMESPACE=db",
			"GATEWAY_MEMGRAPH_SELECTOR=app in", "GATEWAY_MEMGRAPH_SERVICE=Memgraph"}, nil, []string{`GATEWAY_MEMGRAPH_SELECTOR="app in"`, "is not a label selector", "is not a Service name"}},
		{"bad namespace and Lease name", []string{"GATEWAY_ELECTION=kubernetes", "GATEWAY_NAMESPACE=My_NS", "GATEWAY_LEASE_NAME=no spaces"}, nil, []string{
			`GATEWAY_NAMESPACE="My_NS": not a namespace name`, `GATEWAY_LEASE_NAME="no spaces": not a Lease name`,
		}},
		{"missing kubeconfig", []string{"GATEWAY_ELECTION=kubernetes", "GATEWAY_NAMESPACE=db", "GATEWAY_KUBECONFIG=" + f.missing}, nil, []string{
			"GATEWAY_KUBECONFIG=" + f.missing + ": cannot read it", "or unset it to use the pod's service account",
		}},
		{"renew not shorter than lease", []string{etcd, ep, "GATEWAY_LEASE_DURATION=3s", "GATEWAY_RENEW_DEADLINE=3s"}, nil, []string{
			"GATEWAY_RENEW_DEADLINE=3s is not shorter than GATEWAY_LEASE_DURATION=3s", "keep lease > renew > retry",
		}},
		{"retry too long for renew", []string{etcd, ep}, []string{"--retry-period=3s"}, []string{
			"GATEWAY_RENEW_DEADLINE=3s is not longer than 1.2 × GATEWAY_RETRY_PERIOD=3s",
		}},
		{"lease not whole seconds, zero retry", []string{etcd, ep, "GATEWAY_LEASE_DURATION=2500ms", "GATEWAY_RETRY_PERIOD=0"}, nil, []string{
			"GATEWAY_LEASE_DURATION=2.5s: must be whole seconds", "GATEWAY_RETRY_PERIOD=0s: must be longer than zero",
		}},
		{"route file with an election", []string{"GATEWAY_ELECTION=etcd", ep, "GATEWAY_ROUTE_FILE=" + f.route}, nil, []string{
			"GATEWAY_ROUTE_FILE is set with GATEWAY_ELECTION=etcd: with an election the route comes only from the fenced store",
			"unset GATEWAY_ROUTE_FILE (use GATEWAY_MAIN for the bootstrap route), or set GATEWAY_ELECTION=none",
		}},
		{"managed replication without election or discovery", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_MANAGE_REPLICATION=true"}, nil, []string{
			"GATEWAY_MANAGE_REPLICATION=true needs an election backend", "GATEWAY_MANAGE_REPLICATION=true needs a discovery source",
		}},
		{"managed replication without discovery", []string{etcd, ep}, []string{"--manage-replication"}, []string{
			"GATEWAY_MANAGE_REPLICATION=true needs a discovery source",
		}},
		{"zero failover timings", []string{etcd, ep, "GATEWAY_FAILOVER_AFTER=0", "GATEWAY_ROUTE_TTL=-1s"}, nil, []string{
			"GATEWAY_FAILOVER_AFTER=0s: must be longer than zero", "GATEWAY_ROUTE_TTL=-1s: must be longer than zero",
		}},
		{"static discovery without instances", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_DISCOVERY=static"}, nil, []string{"GATEWAY_DISCOVERY=static needs GATEWAY_INSTANCES"}},
		{"bad instances", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_INSTANCES=mg0=10.0.0.5,mg0=10.0.0.6:7687"}, nil, []string{"GATEWAY_INSTANCES: discovery: static entry"}},
		{"instances with kubernetes discovery", []string{"GATEWAY_MAIN=mg0=mg0:7687", "GATEWAY_DISCOVERY=kubernetes", "GATEWAY_NAMESPACE=db",
			"GATEWAY_MEMGRAPH_SELECTOR=app=mg", "GATEWAY_MEMGRAPH_SERVICE=mg", "GATEWAY_INSTANCES=mg0=10.0.0.5:7687"}, nil, []string{
			"GATEWAY_INSTANCES is set with GATEWAY_DISCOVERY=kubernetes",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadAndValidate(tt.args, tt.env)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.Contains(line, "; ") {
					t.Errorf("problem without a fix: %q", line)
				}
			}
		})
	}
}

func TestControlPlaneWarnings(t *testing.T) {
	c := Default()
	c.Main = "mg0=mg0:7687"
	c.EtcdEndpoints = []string{"etcd:2379"}
	c.MemgraphSelector = "app=mg"
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"GATEWAY_ETCD_* settings have no effect", "GATEWAY_MEMGRAPH_SELECTOR and GATEWAY_MEMGRAPH_SERVICE have no effect"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	c = Default()
	c.Election = ElectionEtcd
	c.EtcdEndpoints = []string{"etcd:2379"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "without GATEWAY_MAIN: an empty store stays empty") {
		t.Errorf("warnings %q", w)
	}
	c.FailoverAfter = 3 * time.Second
	c.RouteTTL = 8 * time.Second
	w = strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"GATEWAY_FAILOVER_AFTER has no effect unless GATEWAY_MANAGE_REPLICATION=true", "GATEWAY_ROUTE_TTL has no effect unless"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	// With gossip the route TTL is the lease's length: no warning.
	c.GossipInsecure = true
	if w := strings.Join(c.Warnings(), "\n"); strings.Contains(w, "GATEWAY_ROUTE_TTL") {
		t.Errorf("warnings %q mention the route TTL although gossip is on", w)
	}
}
