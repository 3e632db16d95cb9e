package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/memgraph-gateway/memgraph-gateway/discovery"
)

// Election backends (Config.Election).
const (
	ElectionNone       = "none"
	ElectionKubernetes = "kubernetes"
	ElectionEtcd       = "etcd"
)

// Discovery sources (Config.Discovery, and what DiscoveryMode returns).
const (
	DiscoveryNone       = ""
	DiscoveryKubernetes = "kubernetes"
	DiscoveryStatic     = "static"
)

// Defaults of the control-plane settings.
const (
	DefaultLeaseName  = "memgraph-gateway"
	DefaultEtcdPrefix = "/memgraph-gateway"
)

// Elections and Discoveries are the accepted values of Election and Discovery.
var (
	Elections   = []string{ElectionNone, ElectionKubernetes, ElectionEtcd}
	Discoveries = []string{DiscoveryKubernetes, DiscoveryStatic}
)

// ServiceAccountNamespaceFile is where a pod finds its namespace; Load reads
// it when a Kubernetes backend is selected and no namespace is set. A
// variable so that tests can point it elsewhere.
var ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// jitterFactor mirrors client-go's leaderelection.JitterFactor, which the
// election package also checks: a renew deadline must leave room for one
// jittered retry.
const jitterFactor = 1.2

// resolve fills the defaults that come from the environment rather than
// from Default: the identity from $POD_NAME, and, when a Kubernetes backend
// is selected, the namespace from $POD_NAMESPACE or the service account's
// namespace file. The host name (the last fallback of the identity) is left
// to the binary.
func (c *Config) resolve(env map[string]string) {
	if c.ID == "" {
		c.ID = strings.TrimSpace(env["POD_NAME"])
	}
	if c.Namespace == "" && c.needsKubernetes() {
		if ns := strings.TrimSpace(env["POD_NAMESPACE"]); ns != "" {
			c.Namespace = ns
		} else if b, err := os.ReadFile(ServiceAccountNamespaceFile); err == nil {
			c.Namespace = strings.TrimSpace(string(b))
		}
	}
}

// needsKubernetes reports whether a Kubernetes client is needed.
func (c Config) needsKubernetes() bool {
	return c.Election == ElectionKubernetes || c.DiscoveryMode() == DiscoveryKubernetes
}

// NeedsKubernetes reports whether the configuration talks to the Kubernetes
// API (election or discovery).
func (c Config) NeedsKubernetes() bool { return c.needsKubernetes() }

// DiscoveryMode is the discovery source in effect: Discovery, or static when
// it is empty and Instances is set, else DiscoveryNone.
func (c Config) DiscoveryMode() string {
	if c.Discovery == "" && strings.TrimSpace(c.Instances) != "" {
		return DiscoveryStatic
	}
	return c.Discovery
}

// EtcdKeys returns the election prefix and the route key under EtcdPrefix.
func (c Config) EtcdKeys() (electionPrefix, routeKey string) {
	p := strings.TrimSuffix(c.EtcdPrefix, "/")
	return p + "/election", p + "/route"
}

// validateControlPlane checks the election, store and discovery settings.
func (c Config) validateControlPlane() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !slices.Contains(Elections, c.Election) {
		bad("GATEWAY_ELECTION=%q: unknown backend; set none (route from GATEWAY_MAIN or GATEWAY_ROUTE_FILE), kubernetes (a Lease) or etcd", c.Election)
	}
	if c.Discovery != "" && !slices.Contains(Discoveries, c.Discovery) {
		bad("GATEWAY_DISCOVERY=%q: unknown source; set kubernetes (pods by label) or static (GATEWAY_INSTANCES), or leave it empty", c.Discovery)
	}

	// Election timings, checked whatever the backend: they have defaults.
	lease, renew, retry := c.LeaseDuration, c.RenewDeadline, c.RetryPeriod
	timingsOK := true
	if lease < time.Second || lease%time.Second != 0 {
		bad("GATEWAY_LEASE_DURATION=%s: must be whole seconds, at least 1s (the Lease and the etcd TTL count seconds); set a duration such as 4s", FormatDuration(lease))
		timingsOK = false
	}
	if renew <= 0 {
		bad("GATEWAY_RENEW_DEADLINE=%s: must be longer than zero; set a duration such as 3s", FormatDuration(renew))
		timingsOK = false
	}
	if retry <= 0 {
		bad("GATEWAY_RETRY_PERIOD=%s: must be longer than zero; set a duration such as 500ms", FormatDuration(retry))
		timingsOK = false
	}
	if timingsOK {
		if renew >= lease {
			bad("GATEWAY_RENEW_DEADLINE=%s is not shorter than GATEWAY_LEASE_DURATION=%s: a leader must give up before the others may take over; keep lease > renew > retry, such as 4s, 3s and 500ms",
				FormatDuration(renew), FormatDuration(lease))
		}
		if float64(renew) <= jitterFactor*float64(retry) {
			bad("GATEWAY_RENEW_DEADLINE=%s is not longer than 1.2 × GATEWAY_RETRY_PERIOD=%s: a leader needs at least one retry before its deadline; keep lease > renew > retry, such as 4s, 3s and 500ms",
				FormatDuration(renew), FormatDuration(retry))
		}
	}

	// Replication management.
	if c.ManageReplication {
		if c.Election == ElectionNone {
			bad("GATEWAY_MANAGE_REPLICATION=true needs an election backend (only the leader manages replication); set GATEWAY_ELECTION=kubernetes or etcd, or unset GATEWAY_MANAGE_REPLICATION")
		}
		if c.DiscoveryMode() == DiscoveryNone {
			bad("GATEWAY_MANAGE_REPLICATION=true needs a discovery source (the instances to manage); set GATEWAY_INSTANCES (static, %s) or GATEWAY_DISCOVERY=kubernetes, or unset GATEWAY_MANAGE_REPLICATION", discovery.StaticSyntax)
		}
	}
	if c.FailoverAfter <= 0 {
		bad("GATEWAY_FAILOVER_AFTER=%s: must be longer than zero; set a duration such as 1500ms", FormatDuration(c.FailoverAfter))
	}
	if c.RouteTTL <= 0 {
		bad("GATEWAY_ROUTE_TTL=%s: must be longer than zero; set a duration such as 6s", FormatDuration(c.RouteTTL))
	}

	// Kubernetes: namespace, Lease name, kubeconfig.
	if c.needsKubernetes() {
		what := "GATEWAY_ELECTION=kubernetes"
		if c.Election != ElectionKubernetes {
			what = "GATEWAY_DISCOVERY=kubernetes"
		}
		switch {
		case c.Namespace == "":
			bad("%s needs a namespace and none was found (GATEWAY_NAMESPACE and POD_NAMESPACE are unset, and %s cannot be read: not in a pod?); set GATEWAY_NAMESPACE to the release's namespace, or POD_NAMESPACE from the Downward API (fieldRef metadata.namespace)",
				what, ServiceAccountNamespaceFile)
		case len(validation.IsDNS1123Label(c.Namespace)) > 0:
			bad("GATEWAY_NAMESPACE=%q: not a namespace name (%s); set the release's namespace, such as memgraph", c.Namespace, strings.Join(validation.IsDNS1123Label(c.Namespace), "; "))
		}
		if c.Kubeconfig != "" {
			if err := checkReadable("GATEWAY_KUBECONFIG", c.Kubeconfig); err != nil {
				errs = append(errs, fmt.Errorf("%w, or unset it to use the pod's service account", err))
			}
		}
	}
	if c.Election == ElectionKubernetes {
		if msgs := validation.IsDNS1123Subdomain(c.LeaseName); len(msgs) > 0 {
			bad("GATEWAY_LEASE_NAME=%q: not a Lease name (%s); set a name such as %s", c.LeaseName, strings.Join(msgs, "; "), DefaultLeaseName)
		}
	}

	// etcd: endpoints, prefix, TLS.
	if c.Election == ElectionEtcd {
		if len(c.EtcdEndpoints) == 0 {
			bad("GATEWAY_ELECTION=etcd needs GATEWAY_ETCD_ENDPOINTS; set the etcd client URLs, comma-separated, such as http://etcd-0.etcd:2379,http://etcd-1.etcd:2379")
		}
		for _, e := range c.EtcdEndpoints {
			if err := checkEtcdEndpoint(e); err != nil {
				bad("GATEWAY_ETCD_ENDPOINTS entry %q: %v; write http://host:port, https://host:port or host:port, such as http://etcd-0.etcd:2379", e, err)
			}
		}
		if !strings.HasPrefix(c.EtcdPrefix, "/") || strings.Trim(c.EtcdPrefix, "/") == "" || strings.ContainsFunc(c.EtcdPrefix, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			bad("GATEWAY_ETCD_PREFIX=%q: must start with / and name a key prefix without spaces; set one such as %s", c.EtcdPrefix, DefaultEtcdPrefix)
		}
		if _, err := c.EtcdTLSConfig(); err != nil {
			errs = append(errs, Problems(err)...)
		}
	}

	// Discovery.
	switch c.DiscoveryMode() {
	case DiscoveryStatic:
		if strings.TrimSpace(c.Instances) == "" {
			bad("GATEWAY_DISCOVERY=static needs GATEWAY_INSTANCES; set the list as %s, or unset GATEWAY_DISCOVERY", discovery.StaticSyntax)
		} else if _, err := discovery.ParseStatic(c.Instances); err != nil {
			for _, e := range Problems(err) {
				bad("GATEWAY_INSTANCES: %w", e)
			}
		}
	case DiscoveryKubernetes:
		if strings.TrimSpace(c.Instances) != "" {
			bad("GATEWAY_INSTANCES is set with GATEWAY_DISCOVERY=kubernetes, which lists the pods instead; unset GATEWAY_INSTANCES, or set GATEWAY_DISCOVERY=static")
		}
		missing := false
		if strings.TrimSpace(c.MemgraphSelector) == "" {
			bad("GATEWAY_DISCOVERY=kubernetes needs GATEWAY_MEMGRAPH_SELECTOR; set the labels of the Memgraph pods only, such as app.kubernetes.io/name=memgraph")
			missing = true
		}
		if c.MemgraphService == "" {
			bad("GATEWAY_DISCOVERY=kubernetes needs GATEWAY_MEMGRAPH_SERVICE; set the headless Service of the Memgraph StatefulSet (its spec.serviceName), such as memgraph")
			missing = true
		}
		if !missing && c.Namespace != "" {
			if err := c.DiscoveryKubernetesConfig().Validate(); err != nil {
				for _, e := range Problems(err) {
					bad("GATEWAY_MEMGRAPH_SELECTOR=%q, GATEWAY_MEMGRAPH_SERVICE=%q: %w", c.MemgraphSelector, c.MemgraphService, e)
				}
			}
		}
	}
	return errs
}

// controlPlaneWarnings lists control-plane settings that have no effect.
func (c Config) controlPlaneWarnings() []string {
	var w []string
	if c.Election != ElectionEtcd && (len(c.EtcdEndpoints) > 0 || c.EtcdCAFile != "" || c.EtcdCertFile != "") {
		w = append(w, "GATEWAY_ETCD_* settings have no effect unless GATEWAY_ELECTION=etcd")
	}
	if !c.needsKubernetes() && c.Kubeconfig != "" {
		w = append(w, "GATEWAY_KUBECONFIG has no effect unless GATEWAY_ELECTION or GATEWAY_DISCOVERY is kubernetes")
	}
	if c.DiscoveryMode() != DiscoveryKubernetes && (c.MemgraphSelector != "" || c.MemgraphService != "") {
		w = append(w, "GATEWAY_MEMGRAPH_SELECTOR and GATEWAY_MEMGRAPH_SERVICE have no effect unless GATEWAY_DISCOVERY=kubernetes")
	}
	if !c.ManageReplication && c.FailoverAfter != Default().FailoverAfter {
		w = append(w, "GATEWAY_FAILOVER_AFTER has no effect unless GATEWAY_MANAGE_REPLICATION=true")
	}
	if !c.ManageReplication && !c.GossipEnabled() && c.RouteTTL != Default().RouteTTL {
		w = append(w, "GATEWAY_ROUTE_TTL has no effect unless GATEWAY_MANAGE_REPLICATION=true or gossip is on (GATEWAY_GOSSIP_KEY_FILE)")
	}
	if c.Election != ElectionNone && c.Main == "" && c.Enabled && !c.ManageReplication {
		w = append(w, "GATEWAY_ELECTION="+c.Election+" without GATEWAY_MAIN: an empty store stays empty (no bootstrap route) and gateways hold clients until a route is written")
	}
	return w
}

// DiscoveryKubernetesConfig is the discovery configuration for pods.
func (c Config) DiscoveryKubernetesConfig() discovery.KubernetesConfig {
	return discovery.KubernetesConfig{
		Namespace:       c.Namespace,
		LabelSelector:   c.MemgraphSelector,
		HeadlessService: c.MemgraphService,
	}
}

// EtcdTLSConfig returns the TLS settings for etcd, or nil for plain HTTP
// (no TLS file set and no https endpoint).
func (c Config) EtcdTLSConfig() (*tls.Config, error) {
	https := slices.ContainsFunc(c.EtcdEndpoints, func(e string) bool { return strings.HasPrefix(e, "https://") })
	if !https && c.EtcdCAFile == "" && c.EtcdCertFile == "" && c.EtcdKeyFile == "" {
		return nil, nil
	}
	var errs []error
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.EtcdCAFile != "" {
		pem, err := os.ReadFile(c.EtcdCAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("GATEWAY_ETCD_CA_FILE=%s: cannot read it (%w); point it at a readable PEM file", c.EtcdCAFile, err))
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("GATEWAY_ETCD_CA_FILE=%s: holds no PEM certificate; point it at the CA bundle that signed etcd's certificate", c.EtcdCAFile))
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case c.EtcdCertFile != "" && c.EtcdKeyFile == "":
		errs = append(errs, errors.New("GATEWAY_ETCD_CERT_FILE is set but GATEWAY_ETCD_KEY_FILE is not; set both for a client certificate, or neither"))
	case c.EtcdCertFile == "" && c.EtcdKeyFile != "":
		errs = append(errs, errors.New("GATEWAY_ETCD_KEY_FILE is set but GATEWAY_ETCD_CERT_FILE is not; set both for a client certificate, or neither"))
	case c.EtcdCertFile != "":
		pair, err := tls.LoadX509KeyPair(c.EtcdCertFile, c.EtcdKeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("GATEWAY_ETCD_CERT_FILE=%s and GATEWAY_ETCD_KEY_FILE=%s: not a usable PEM certificate and key pair (%w); point them at a matching chain and unencrypted key", c.EtcdCertFile, c.EtcdKeyFile, err))
		} else {
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkEtcdEndpoint accepts http(s)://host:port or host:port.
func checkEtcdEndpoint(e string) error {
	hostport := e
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil {
			return errors.New("not a URL")
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("scheme %q is neither http nor https", u.Scheme)
		}
		if u.Path != "" && u.Path != "/" {
			return errors.New("has a path")
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return errors.New("no host:port")
	}
	if host == "" {
		return errors.New("no host")
	}
	if net.ParseIP(host) == nil && !isHostname(host) {
		return fmt.Errorf("%q is neither an IP address nor a host name", host)
	}
	return checkPort(port)
}
