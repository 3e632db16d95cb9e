// Package config holds the gateway binary's settings: one Config with one
// Default and one Validate, loaded from environment variables and flags.
//
// Every setting has exactly one name in each form: the flag --bind-address is
// the variable GATEWAY_BIND_ADDRESS. Load starts from Default, applies the
// environment, then the flags, so a flag wins over the variable. Load reports
// values that do not parse; Validate reports values that parse but cannot
// work, including files that cannot be read. Both report every problem at once,
// each problem saying how to fix it, so an operator fixes a manifest in one go.
//
// Invariants: Default().Validate() fails only for want of a route source
// (GATEWAY_MAIN or GATEWAY_ROUTE_FILE); Validate never changes the Config; a
// Config that validates maps onto a proxy.Config that proxy.New accepts.
//
// With GATEWAY_ELECTION=none (the default) the route the proxy serves comes
// from here: GATEWAY_MAIN and GATEWAY_REPLICAS (a static route, epoch 1,
// serving) or GATEWAY_ROUTE_FILE (a JSON proxy.Route the binary re-reads).
// With an election backend (kubernetes, etcd) the route comes only from the
// fenced store of that backend; GATEWAY_MAIN (and GATEWAY_REPLICAS) are then
// the bootstrap route the leader writes as epoch 1 into an empty store, and
// GATEWAY_ROUTE_FILE is refused. See controlplane.go.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/proxy"
)

// Config is everything `memgraph-gateway serve` needs. Each field notes its
// variable, unit, default and the meaning of zero.
type Config struct {
	// ID names this gateway in /status and logs (GATEWAY_ID). Empty: the host name.
	ID string

	// Enabled runs the Bolt proxy (GATEWAY_ENABLED, default true). False runs
	// the HTTP API only: no Bolt listener, /readyz always 503.
	Enabled bool
	// BindAddress is the read-write Bolt listener, host:port (GATEWAY_BIND_ADDRESS,
	// default 0.0.0.0:7687). Connections go to the MAIN.
	BindAddress string
	// ReadBindAddress is the read-only Bolt listener (GATEWAY_READ_BIND_ADDRESS).
	// Empty (default): no read-only listener.
	ReadBindAddress string

	// MaxConnections caps client connections over all listeners
	// (GATEWAY_MAX_CONNECTIONS, default 1000, at least 1).
	MaxConnections int
	// MaxConnectionsPerIP caps connections from one source IP
	// (GATEWAY_MAX_CONNECTIONS_PER_IP). 0 (default): no per-IP cap.
	MaxConnectionsPerIP int
	// ConnRatePerIP is the new connections per second allowed from one source
	// IP (GATEWAY_CONN_RATE_PER_IP). 0 (default): unlimited.
	ConnRatePerIP float64
	// ConnBurstPerIP is the token bucket's burst for ConnRatePerIP
	// (GATEWAY_CONN_BURST_PER_IP). 0 (default): max(1, ConnRatePerIP).
	ConnBurstPerIP int

	// Timeout bounds the dial to Memgraph (GATEWAY_TIMEOUT, default 30s, > 0).
	Timeout time.Duration
	// HandshakeTimeout bounds reading the client's 20-byte Bolt handshake
	// (GATEWAY_HANDSHAKE_TIMEOUT, default 10s, > 0).
	HandshakeTimeout time.Duration
	// KeepAlive is the TCP keepalive period on client and backend sockets
	// (GATEWAY_KEEPALIVE, default 60s). 0 turns keepalive off. It must be
	// shorter than the idle timeout of any load balancer in front (AWS NLB
	// 350s, Azure LB 4m) or idle Bolt sessions are cut silently.
	KeepAlive time.Duration
	// HoldTimeout is how long a new connection waits for a serving route
	// during a failover before it is closed (GATEWAY_HOLD_TIMEOUT, default
	// 10s). 0: never hold; refuse connections while there is no MAIN.
	HoldTimeout time.Duration
	// HalfCloseTimeout is how long, after one side of a relayed connection
	// ends its stream, the other may stay silent before both are closed
	// (GATEWAY_HALF_CLOSE_TIMEOUT, default 30s). 0: no limit.
	HalfCloseTimeout time.Duration
	// MaxHeld caps connections held at once during a failover
	// (GATEWAY_MAX_HELD). 0 (default): MaxConnections.
	MaxHeld int
	// IPv6PrefixLength is the prefix by which the per-IP limits count IPv6
	// clients (GATEWAY_IPV6_PREFIX_LENGTH, default 64: a host usually owns
	// a /64; 128: each address alone).
	IPv6PrefixLength int
	// RelayLoops is the number of epoll loops that relay plain-TCP
	// connections on Linux (GATEWAY_RELAY_LOOPS). 0 (default): one per CPU
	// (GOMAXPROCS); -1: two goroutines per connection instead, as TLS
	// connections and other platforms always are.
	RelayLoops int

	// DrainTimeout is how long shutdown waits for relayed connections to end
	// before closing them (GATEWAY_DRAIN_TIMEOUT, default 30s, > 0).
	DrainTimeout time.Duration
	// DrainDelay is how long shutdown keeps serving after /readyz turns 503,
	// so load balancers and Kubernetes endpoints stop sending new clients
	// first (GATEWAY_DRAIN_DELAY). 0 (default): drain at once.
	DrainDelay time.Duration

	// ProxyProtocol expects a PROXY protocol v1/v2 header on every client
	// connection (GATEWAY_PROXY_PROTOCOL, default false). It is stripped,
	// never forwarded to Memgraph.
	ProxyProtocol bool
	// MaxReplicaLag is how many transactions a replica may be behind the MAIN
	// and still serve the read-only listener (GATEWAY_MAX_REPLICA_LAG).
	// 0 (default): only caught-up replicas.
	MaxReplicaLag int64
	// ReadFromMain lets the read-only listener use the MAIN when no replica
	// qualifies (GATEWAY_READ_FROM_MAIN, default false).
	ReadFromMain bool

	// TLSCertFile and TLSKeyFile are the PEM certificate chain and key for
	// client TLS termination (GATEWAY_TLS_CERT_FILE, GATEWAY_TLS_KEY_FILE).
	// Both or neither; empty (default): plain Bolt. Reloaded when they change.
	TLSCertFile string
	TLSKeyFile  string
	// BackendTLS dials Memgraph over TLS (GATEWAY_BACKEND_TLS, default false).
	BackendTLS bool
	// BackendTLSCAFile is a PEM bundle that verifies Memgraph's certificate
	// (GATEWAY_BACKEND_TLS_CA_FILE). Empty (default): the system roots.
	BackendTLSCAFile string
	// BackendTLSServerName is the name checked in Memgraph's certificate
	// (GATEWAY_BACKEND_TLS_SERVER_NAME). Empty (default): the backend's host.
	BackendTLSServerName string

	// HTTPAddress serves /healthz, /readyz, /metrics and /status
	// (GATEWAY_HTTP_ADDRESS, default 0.0.0.0:9090, required).
	HTTPAddress string
	// LogLevel is debug, info, warn or error (GATEWAY_LOG_LEVEL, default info).
	LogLevel string
	// LogFormat is json or console (GATEWAY_LOG_FORMAT, default json).
	LogFormat string

	// Main is the static MAIN as name=host:port (GATEWAY_MAIN). Empty: none.
	// It installs the route {epoch 1, serving, Main, Replicas}.
	Main string
	// Replicas are static replicas, each name=host:port (GATEWAY_REPLICAS,
	// comma-separated). They need Main and are assumed ready and caught up.
	Replicas []string
	// RouteFile is a JSON proxy.Route re-read on SIGHUP and whenever its
	// modification time changes (GATEWAY_ROUTE_FILE). Empty: none. Exclusive
	// with Main, and only with Election none.
	RouteFile string

	// Election is the leader election and route store backend
	// (GATEWAY_ELECTION): none (default: the route comes from Main or
	// RouteFile), kubernetes (a Lease; the route in its annotation) or
	// etcd (an etcd election; the route under EtcdPrefix). With an
	// election, Main is only the bootstrap route: the leader writes it as
	// epoch 1 when the store is empty.
	Election string
	// Discovery is where the Memgraph instances are listed from
	// (GATEWAY_DISCOVERY): kubernetes (pods) or static (Instances). Empty
	// (default): static when Instances is set, else none.
	Discovery string
	// Instances is the static list of Memgraph instances, in discovery's
	// syntax name=host:port[/replhost[:replport]],... (GATEWAY_INSTANCES).
	Instances string

	// Namespace of the election Lease and of the Memgraph pods
	// (GATEWAY_NAMESPACE). Empty: Load fills it, when a Kubernetes backend
	// is selected, from $POD_NAMESPACE or the service account's namespace
	// file.
	Namespace string
	// LeaseName is the election Lease's name (GATEWAY_LEASE_NAME, default
	// memgraph-gateway).
	LeaseName string
	// MemgraphSelector is the label selector of the Memgraph pods
	// (GATEWAY_MEMGRAPH_SELECTOR), for discovery kubernetes.
	MemgraphSelector string
	// MemgraphService is the headless Service of the Memgraph pods
	// (GATEWAY_MEMGRAPH_SERVICE), for discovery kubernetes.
	MemgraphService string
	// Kubeconfig is a kubeconfig file (GATEWAY_KUBECONFIG). Empty
	// (default): the in-cluster service account.
	Kubeconfig string

	// EtcdEndpoints are the etcd client URLs (GATEWAY_ETCD_ENDPOINTS,
	// comma-separated, http(s)://host:port or host:port). Required with
	// Election etcd.
	EtcdEndpoints []string
	// EtcdPrefix is the key prefix (GATEWAY_ETCD_PREFIX, default
	// /memgraph-gateway): the election under <prefix>/election, the route
	// at <prefix>/route.
	EtcdPrefix string
	// EtcdCAFile verifies etcd's certificate (GATEWAY_ETCD_CA_FILE). Empty:
	// the system roots when an endpoint is https.
	EtcdCAFile string
	// EtcdCertFile and EtcdKeyFile are a client certificate for etcd
	// (GATEWAY_ETCD_CERT_FILE, GATEWAY_ETCD_KEY_FILE). Both or neither.
	EtcdCertFile string
	EtcdKeyFile  string

	// LeaseDuration, RenewDeadline and RetryPeriod time the election
	// (GATEWAY_LEASE_DURATION 4s, GATEWAY_RENEW_DEADLINE 3s,
	// GATEWAY_RETRY_PERIOD 500ms): lease > renew > 1.2 × retry > 0, the
	// lease in whole seconds.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// ManageReplication lets the elected leader run the replication
	// controller (GATEWAY_MANAGE_REPLICATION, default false): it bootstraps
	// replication from discovery, fails over a dead MAIN and cares for the
	// replicas. Needs an election backend and a discovery source.
	ManageReplication bool
	// FailoverAfter is how long the MAIN must fail its probes before the
	// controller fails over (GATEWAY_FAILOVER_AFTER, default 1.5s).
	FailoverAfter time.Duration
	// RouteTTL is how long a gateway may keep serving a route it can no
	// longer confirm (GATEWAY_ROUTE_TTL, default 6s); the controller waits
	// that long after claiming a failover before it promotes.
	RouteTTL time.Duration

	// Management: replication controller, admin API, tracing and gossip
	// settings (replication.go).
	Management
}

// Values shared by Default, the help text and the messages.
const (
	defaultBindAddress = "0.0.0.0:7687"
	defaultHTTPAddress = "0.0.0.0:9090"

	// KeepAliveWarnAt is the keepalive period from which Warnings speaks up:
	// Azure's load balancer drops idle flows after 4 minutes by default.
	KeepAliveWarnAt = 4 * time.Minute
)

// LogLevels and LogFormats are the accepted values of LogLevel and LogFormat.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"json", "console"}
)

// Default returns the settings used when nothing is set. It has no route
// source, so it does not validate on its own.
func Default() Config {
	return Config{
		Enabled:          true,
		BindAddress:      defaultBindAddress,
		MaxConnections:   1000,
		Timeout:          30 * time.Second,
		HandshakeTimeout: 10 * time.Second,
		KeepAlive:        60 * time.Second,
		HoldTimeout:      10 * time.Second,
		HalfCloseTimeout: 30 * time.Second,
		IPv6PrefixLength: 64,
		DrainTimeout:     30 * time.Second,
		HTTPAddress:      defaultHTTPAddress,
		LogLevel:         "info",
		LogFormat:        "json",
		Election:         ElectionNone,
		LeaseName:        DefaultLeaseName,
		EtcdPrefix:       DefaultEtcdPrefix,
		LeaseDuration:    4 * time.Second,
		RenewDeadline:    3 * time.Second,
		RetryPeriod:      500 * time.Millisecond,
		FailoverAfter:    1500 * time.Millisecond,
		RouteTTL:         6 * time.Second,
		Management:       defaultManagement(),
	}
}

// Validate reports every setting that cannot work, joined into one error
// (errors.Join); nil means the Config is usable. It reads the files the
// Config names (certificates, CA bundle, route file) to prove they are usable.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if strings.ContainsFunc(c.ID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		bad("GATEWAY_ID=%q: contains spaces or control characters; set a name such as gateway-0, or leave it empty for the host name", c.ID)
	}

	// Listeners.
	add(checkListenAddr("GATEWAY_HTTP_ADDRESS", c.HTTPAddress, defaultHTTPAddress))
	if c.Enabled {
		add(checkListenAddr("GATEWAY_BIND_ADDRESS", c.BindAddress, defaultBindAddress))
		if c.ReadBindAddress != "" {
			add(checkListenAddr("GATEWAY_READ_BIND_ADDRESS", c.ReadBindAddress, "0.0.0.0:7688"))
		}
		type listener struct{ env, addr string }
		ls := []listener{{"GATEWAY_BIND_ADDRESS", c.BindAddress}, {"GATEWAY_READ_BIND_ADDRESS", c.ReadBindAddress}, {"GATEWAY_HTTP_ADDRESS", c.HTTPAddress}}
		for i := range ls {
			for j := i + 1; j < len(ls); j++ {
				if sameListenPort(ls[i].addr, ls[j].addr) {
					bad("%s=%s and %s=%s listen on the same port; give each listener its own port", ls[j].env, ls[j].addr, ls[i].env, ls[i].addr)
				}
			}
		}
	}

	// Limits.
	if c.MaxConnections < 1 {
		bad("GATEWAY_MAX_CONNECTIONS=%d: must be at least 1; set a positive integer such as 1000", c.MaxConnections)
	}
	switch {
	case c.MaxConnectionsPerIP < 0:
		bad("GATEWAY_MAX_CONNECTIONS_PER_IP=%d: is negative; set 0 for no per-IP limit or a positive integer", c.MaxConnectionsPerIP)
	case c.MaxConnectionsPerIP > c.MaxConnections && c.MaxConnections >= 1:
		bad("GATEWAY_MAX_CONNECTIONS_PER_IP=%d: exceeds GATEWAY_MAX_CONNECTIONS=%d; set at most %d, or 0 for no per-IP limit", c.MaxConnectionsPerIP, c.MaxConnections, c.MaxConnections)
	}
	switch {
	case math.IsNaN(c.ConnRatePerIP) || math.IsInf(c.ConnRatePerIP, 0):
		bad("GATEWAY_CONN_RATE_PER_IP=%v: not a finite number; set connections per second such as 10, or 0 for unlimited", c.ConnRatePerIP)
	case c.ConnRatePerIP < 0:
		bad("GATEWAY_CONN_RATE_PER_IP=%v: is negative; set connections per second such as 10, or 0 for unlimited", c.ConnRatePerIP)
	}
	switch {
	case c.ConnBurstPerIP < 0:
		bad("GATEWAY_CONN_BURST_PER_IP=%d: is negative; set a positive integer such as 20, or 0 for the rate rounded up", c.ConnBurstPerIP)
	case c.ConnBurstPerIP > 0 && c.ConnRatePerIP == 0:
		bad("GATEWAY_CONN_BURST_PER_IP=%d: has no effect while GATEWAY_CONN_RATE_PER_IP is 0 (unlimited); set a rate too, or unset the burst", c.ConnBurstPerIP)
	}
	switch {
	case c.MaxHeld < 0:
		bad("GATEWAY_MAX_HELD=%d: is negative; set 0 to allow up to GATEWAY_MAX_CONNECTIONS, or a positive integer", c.MaxHeld)
	case c.MaxHeld > c.MaxConnections && c.MaxConnections >= 1:
		bad("GATEWAY_MAX_HELD=%d: exceeds GATEWAY_MAX_CONNECTIONS=%d; set at most %d, or 0 for the same as GATEWAY_MAX_CONNECTIONS", c.MaxHeld, c.MaxConnections, c.MaxConnections)
	}
	if c.IPv6PrefixLength < 32 || c.IPv6PrefixLength > 128 {
		bad("GATEWAY_IPV6_PREFIX_LENGTH=%d: is out of range; set the prefix length by which IPv6 clients are counted, 32 to 128, such as 64 (the default) or 128 for each address alone", c.IPv6PrefixLength)
	}
	if c.RelayLoops < -1 || c.RelayLoops > 256 {
		bad("GATEWAY_RELAY_LOOPS=%d: is out of range; set 0 for one loop per CPU, a number of loops up to 256, or -1 to relay with goroutines", c.RelayLoops)
	}
	if c.MaxReplicaLag < 0 {
		bad("GATEWAY_MAX_REPLICA_LAG=%d: is negative; set how many transactions a replica may lag, such as 100, or 0 for caught-up replicas only", c.MaxReplicaLag)
	}

	// Durations.
	positive := []struct {
		env     string
		d       time.Duration
		example string
	}{
		{"GATEWAY_TIMEOUT", c.Timeout, "30s"},
		{"GATEWAY_HANDSHAKE_TIMEOUT", c.HandshakeTimeout, "10s"},
		{"GATEWAY_DRAIN_TIMEOUT", c.DrainTimeout, "30s"},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad("%s=%s: must be longer than zero; set a duration such as %s", p.env, p.d, p.example)
		}
	}
	if c.KeepAlive < 0 || (c.KeepAlive > 0 && c.KeepAlive < time.Second) {
		bad("GATEWAY_KEEPALIVE=%s: must be 0 or at least 1s; set a period such as 60s (shorter than your load balancer's idle timeout), or 0 to turn keepalive off", c.KeepAlive)
	}
	if c.HoldTimeout < 0 {
		bad("GATEWAY_HOLD_TIMEOUT=%s: is negative; set a duration such as 10s, or 0 to refuse connections instead of holding them", c.HoldTimeout)
	}
	if c.HalfCloseTimeout < 0 {
		bad("GATEWAY_HALF_CLOSE_TIMEOUT=%s: is negative; set a duration such as 30s, or 0 for no limit", c.HalfCloseTimeout)
	}
	if c.DrainDelay < 0 {
		bad("GATEWAY_DRAIN_DELAY=%s: is negative; set a duration such as 5s, or 0 to drain at once", c.DrainDelay)
	}

	// TLS.
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		bad("GATEWAY_TLS_CERT_FILE is set but GATEWAY_TLS_KEY_FILE is not; set both for TLS, or neither for plain Bolt")
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		bad("GATEWAY_TLS_KEY_FILE is set but GATEWAY_TLS_CERT_FILE is not; set both for TLS, or neither for plain Bolt")
	case c.TLSCertFile != "":
		certErr := checkReadable("GATEWAY_TLS_CERT_FILE", c.TLSCertFile)
		keyErr := checkReadable("GATEWAY_TLS_KEY_FILE", c.TLSKeyFile)
		add(certErr)
		add(keyErr)
		if certErr == nil && keyErr == nil {
			if _, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
				bad("GATEWAY_TLS_CERT_FILE=%s and GATEWAY_TLS_KEY_FILE=%s: not a usable PEM certificate and key pair (%w); point them at a matching chain and unencrypted key", c.TLSCertFile, c.TLSKeyFile, err)
			}
		}
	}
	if c.BackendTLS {
		if c.BackendTLSCAFile != "" {
			if _, err := loadCAPool(c.BackendTLSCAFile); err != nil {
				add(err)
			}
		}
	} else {
		if c.BackendTLSCAFile != "" {
			bad("GATEWAY_BACKEND_TLS_CA_FILE is set but GATEWAY_BACKEND_TLS is false; set GATEWAY_BACKEND_TLS=true, or unset the CA file")
		}
		if c.BackendTLSServerName != "" {
			bad("GATEWAY_BACKEND_TLS_SERVER_NAME is set but GATEWAY_BACKEND_TLS is false; set GATEWAY_BACKEND_TLS=true, or unset the server name")
		}
	}

	// Logging.
	if !slices.Contains(LogLevels, c.LogLevel) {
		bad("GATEWAY_LOG_LEVEL=%q: unknown level; set one of %s", c.LogLevel, strings.Join(LogLevels, ", "))
	}
	if !slices.Contains(LogFormats, c.LogFormat) {
		bad("GATEWAY_LOG_FORMAT=%q: unknown format; set json (for log collectors) or console (for people)", c.LogFormat)
	}

	// Route source.
	switch {
	case c.Election != ElectionNone && c.RouteFile != "":
		bad("GATEWAY_ROUTE_FILE is set with GATEWAY_ELECTION=%s: with an election the route comes only from the fenced store, and a file edited beside it would let gateways route to a MAIN the store does not name; unset GATEWAY_ROUTE_FILE (use GATEWAY_MAIN for the bootstrap route), or set GATEWAY_ELECTION=none", c.Election)
	case c.Main != "" && c.RouteFile != "":
		bad("GATEWAY_MAIN and GATEWAY_ROUTE_FILE are both set; set exactly one route source: GATEWAY_MAIN for a fixed MAIN, or GATEWAY_ROUTE_FILE for a route you change at run time")
	case c.Main == "" && c.RouteFile == "" && c.Enabled && c.Election == ElectionNone:
		bad("no route source; set GATEWAY_MAIN=name=host:port (such as memgraph-0=memgraph-0.memgraph:7687) or GATEWAY_ROUTE_FILE=/path/to/route.json, or GATEWAY_ELECTION=kubernetes or etcd to read the route from a store")
	}
	if c.Main != "" {
		if _, err := ParseBackend(c.Main); err != nil {
			bad("GATEWAY_MAIN=%q: %w", c.Main, err)
		}
	}
	if len(c.Replicas) > 0 {
		if c.Main == "" {
			bad("GATEWAY_REPLICAS is set without GATEWAY_MAIN; static replicas need a static MAIN (a route file lists its own replicas)")
		}
		seen := map[string]bool{}
		if b, err := ParseBackend(c.Main); err == nil {
			seen[b.Name] = true
		}
		for _, r := range c.Replicas {
			b, err := ParseBackend(r)
			if err != nil {
				bad("GATEWAY_REPLICAS entry %q: %w", r, err)
				continue
			}
			if seen[b.Name] {
				bad("GATEWAY_REPLICAS entry %q: the name %s is used twice (replicas and MAIN); give every instance its own name", r, b.Name)
			}
			seen[b.Name] = true
		}
	}
	if c.RouteFile != "" {
		if _, err := ReadRouteFile(c.RouteFile); err != nil {
			for _, e := range Problems(err) {
				bad("GATEWAY_ROUTE_FILE=%s: %w", c.RouteFile, e)
			}
		}
	}

	errs = append(errs, c.validateControlPlane()...)
	errs = append(errs, c.validateManagement()...)
	return errors.Join(errs...)
}

// Warnings lists settings that are valid but probably not what the operator
// meant. The binary logs them at start.
func (c Config) Warnings() []string {
	var w []string
	if c.KeepAlive >= KeepAliveWarnAt {
		w = append(w, fmt.Sprintf("GATEWAY_KEEPALIVE=%s is not shorter than common load balancer idle timeouts (Azure 4m, AWS NLB 350s): idle Bolt sessions may be cut silently; set 60s unless nothing sits between clients and the gateway", c.KeepAlive))
	}
	if c.Enabled && c.ReadBindAddress == "" {
		if c.ReadFromMain {
			w = append(w, "GATEWAY_READ_FROM_MAIN has no effect without GATEWAY_READ_BIND_ADDRESS")
		}
		if c.MaxReplicaLag != 0 {
			w = append(w, "GATEWAY_MAX_REPLICA_LAG has no effect without GATEWAY_READ_BIND_ADDRESS")
		}
	}
	if !c.Enabled && (c.Main != "" || c.RouteFile != "") && c.Election == ElectionNone {
		w = append(w, "GATEWAY_ENABLED=false: the route source (GATEWAY_MAIN or GATEWAY_ROUTE_FILE) is not read")
	}
	return append(w, c.controlPlaneWarnings()...)
}

// ProxyConfig maps the Config onto the proxy's. clientTLS and backendTLS are
// built by the caller (they own reloading); nil means plain TCP.
func (c Config) ProxyConfig(clientTLS, backendTLS *tls.Config) proxy.Config {
	// The proxy reads 0 as "its default" and negative as "off"; here 0 is off.
	off := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	return proxy.Config{
		MaxConnections:      c.MaxConnections,
		MaxConnectionsPerIP: c.MaxConnectionsPerIP,
		ConnRatePerIP:       c.ConnRatePerIP,
		ConnBurstPerIP:      c.ConnBurstPerIP,
		HandshakeTimeout:    c.HandshakeTimeout,
		DialTimeout:         c.Timeout,
		KeepAlive:           off(c.KeepAlive),
		HoldTimeout:         off(c.HoldTimeout),
		HalfCloseTimeout:    off(c.HalfCloseTimeout),
		MaxHeld:             c.MaxHeld,
		EventLoops:          c.RelayLoops,
		IPv6PrefixLength:    c.IPv6PrefixLength,
		MaxReplicaLag:       c.MaxReplicaLag,
		ReadFromMain:        c.ReadFromMain,
		TLS:                 clientTLS,
		BackendTLS:          backendTLS,
		ProxyProtocol:       c.ProxyProtocol,
	}
}

// BackendTLSConfig returns the TLS settings for dialing Memgraph, or nil when
// BackendTLS is off.
func (c Config) BackendTLSConfig() (*tls.Config, error) {
	if !c.BackendTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.BackendTLSServerName}
	if c.BackendTLSCAFile != "" {
		pool, err := loadCAPool(c.BackendTLSCAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func loadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_BACKEND_TLS_CA_FILE=%s: cannot read it (%w); point it at a readable PEM file", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("GATEWAY_BACKEND_TLS_CA_FILE=%s: holds no PEM certificate; point it at the CA bundle that signed Memgraph's certificate", path)
	}
	return pool, nil
}

func checkReadable(env, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s=%s: cannot read it (%w); point it at a readable file", env, path, err)
	}
	return f.Close()
}

// checkListenAddr checks a host:port to listen on. The host may be empty
// (every interface), an IP or a host name; the port must be 1-65535.
func checkListenAddr(env, addr, example string) error {
	if addr == "" {
		return fmt.Errorf("%s is empty; set host:port such as %s", env, example)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s=%q: not host:port; set an address such as %s", env, addr, example)
	}
	if err := checkPort(port); err != nil {
		return fmt.Errorf("%s=%q: %w; set an address such as %s", env, addr, err, example)
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(host) {
		return fmt.Errorf("%s=%q: %q is neither an IP address nor a host name; set an address such as %s", env, addr, host, example)
	}
	return nil
}

func checkPort(port string) error {
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// sameListenPort reports whether two listen addresses would collide: same
// port and the same host, or one of them on every interface.
func sameListenPort(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	return ha == hb || isWildcard(ha) || isWildcard(hb)
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// isHostname accepts DNS names: dot-separated labels of letters, digits,
// '-' and '_' (Kubernetes service names), none empty, 253 bytes at most.
func isHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// Problems flattens an error built by errors.Join, at any depth, into its
// single problems; a plain error is one problem, nil none.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Problems(e)...)
	}
	return out
}
