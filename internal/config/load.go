package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every variable that Load reads.
const EnvPrefix = "GATEWAY_"

// option binds one setting to its flag, its variable and a field of a Config.
type option struct {
	group string // heading in --help
	flag  string // without dashes; the variable is derived from it
	meta  string // placeholder shown in --help; empty: derived from the kind
	usage string // one line, for --help
	hint  string // how to write a good value, ends parse errors
	ptr   any    // *string, *bool, *int, *int64, *float64, *time.Duration or *[]string
}

// env is the option's variable: --bind-address is GATEWAY_BIND_ADDRESS.
func (o option) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(o.flag, "-", "_"))
}

func (o option) isBool() bool { _, ok := o.ptr.(*bool); return ok }

// options lists every setting of c, in --help order. The pointers point into c.
func options(c *Config) []option {
	return append([]option{
		{"Gateway", "id", "name", "name of this gateway in /status and logs (default: the host name)", "set a name such as gateway-0", &c.ID},
		{"Gateway", "enabled", "", "run the Bolt proxy; false serves the HTTP API only", "set true or false", &c.Enabled},
		{"Gateway", "http-address", "host:port", "HTTP API: /healthz, /readyz, /metrics, /status", "set an address such as 0.0.0.0:9090", &c.HTTPAddress},
		{"Gateway", "log-level", "level", "debug, info, warn or error", "set debug, info, warn or error", &c.LogLevel},
		{"Gateway", "log-format", "format", "json (for log collectors) or console (for people)", "set json or console", &c.LogFormat},

		{"Listeners", "bind-address", "host:port", "read-write Bolt listener, relayed to the current MAIN", "set an address such as 0.0.0.0:7687", &c.BindAddress},
		{"Listeners", "read-bind-address", "host:port", "read-only Bolt listener, relayed to ready replicas (empty: none)", "set an address such as 0.0.0.0:7688", &c.ReadBindAddress},
		{"Listeners", "max-replica-lag", "", "read-only listener: transactions a replica may be behind the MAIN (0: caught up only)", "set a whole number such as 100", &c.MaxReplicaLag},
		{"Listeners", "read-from-main", "", "read-only listener: use the MAIN when no replica qualifies", "set true or false", &c.ReadFromMain},
		{"Listeners", "proxy-protocol", "", "expect a PROXY protocol v1/v2 header from the load balancer (stripped, never forwarded)", "set true or false", &c.ProxyProtocol},

		{"Limits", "max-connections", "", "client connections over all listeners", "set a positive integer such as 1000", &c.MaxConnections},
		{"Limits", "max-connections-per-ip", "", "client connections from one source IP (0: unlimited)", "set a whole number such as 100, or 0 for unlimited", &c.MaxConnectionsPerIP},
		{"Limits", "conn-rate-per-ip", "", "new connections per second from one source IP (0: unlimited)", "set a number such as 10 or 0.5, or 0 for unlimited", &c.ConnRatePerIP},
		{"Limits", "conn-burst-per-ip", "", "burst for --conn-rate-per-ip (0: the rate rounded up, at least 1)", "set a whole number such as 20", &c.ConnBurstPerIP},
		{"Limits", "max-held", "", "connections held at once while a failover is in progress (0: --max-connections)", "set a whole number such as 500", &c.MaxHeld},
		{"Limits", "ipv6-prefix-length", "", "the per-IP limits count IPv6 clients per prefix of this length (128: each address)", "set 32 to 128, such as 64", &c.IPv6PrefixLength},
		{"Limits", "relay-loops", "", "epoll loops relaying plain-TCP connections on Linux (0: one per CPU; -1: two goroutines per connection instead)", "set 0, a number of loops such as 2, or -1", &c.RelayLoops},

		{"Timeouts", "timeout", "", "dial timeout to Memgraph", "set a duration such as 30s", &c.Timeout},
		{"Timeouts", "handshake-timeout", "", "time a client has to send the 20-byte Bolt handshake", "set a duration such as 10s", &c.HandshakeTimeout},
		{"Timeouts", "keepalive", "", "TCP keepalive period, client and Memgraph sides; keep it shorter than any load balancer's idle timeout (AWS NLB 350s, Azure 4m) (0: off)", "set a duration such as 60s, or 0 for off", &c.KeepAlive},
		{"Timeouts", "hold-timeout", "", "how long a new connection is held waiting for a MAIN during a failover (0: refuse instead of holding)", "set a duration such as 10s", &c.HoldTimeout},
		{"Timeouts", "half-close-timeout", "", "after one side of a relayed connection ends its stream, how long the other may stay silent before both close (0: no limit)", "set a duration such as 30s", &c.HalfCloseTimeout},
		{"Timeouts", "drain-delay", "", "on SIGTERM, time between /readyz turning 503 and draining, so load balancers stop sending clients first", "set a duration such as 5s, or 0", &c.DrainDelay},
		{"Timeouts", "drain-timeout", "", "on SIGTERM, time relayed connections get to finish before they are closed", "set a duration such as 30s", &c.DrainTimeout},

		{"TLS", "tls-cert-file", "path", "PEM certificate chain for client TLS; reloaded when it changes (with --tls-key-file)", "set a file path", &c.TLSCertFile},
		{"TLS", "tls-key-file", "path", "PEM private key for client TLS (with --tls-cert-file)", "set a file path", &c.TLSKeyFile},
		{"TLS", "backend-tls", "", "connect to Memgraph over TLS", "set true or false", &c.BackendTLS},
		{"TLS", "backend-tls-ca-file", "path", "PEM CA bundle that verifies Memgraph (empty: system roots)", "set a file path", &c.BackendTLSCAFile},
		{"TLS", "backend-tls-server-name", "name", "name expected in Memgraph's certificate (empty: the host dialed)", "set a DNS name", &c.BackendTLSServerName},

		{"Route (until the controller manages it)", "main", "name=host:port", "static MAIN, served as epoch 1; excludes --route-file", "set name=host:port such as memgraph-0=memgraph-0.memgraph:7687", &c.Main},
		{"Route (until the controller manages it)", "replicas", "name=host:port,...", "static replicas for the read-only listener (with --main)", "set a comma-separated list of name=host:port", &c.Replicas},
		{"Route (until the controller manages it)", "route-file", "path", "JSON route {epoch, phase, main, replicas}; re-read on change and on SIGHUP; excludes --main; only with --election=none", "set a file path", &c.RouteFile},

		{"Control plane", "election", "backend", "leader election and route store: none (route from --main or --route-file), kubernetes (a Lease; the route in its annotation) or etcd; with a backend, --main is only the bootstrap route written into an empty store", "set none, kubernetes or etcd", &c.Election},
		{"Control plane", "discovery", "source", "where the Memgraph instances are listed from: kubernetes (pods) or static (--instances) (empty: static when --instances is set, else none)", "set kubernetes or static", &c.Discovery},
		{"Control plane", "instances", "list", "static Memgraph instances, name=host:port[/replhost[:replport]],...", "set a list such as mg-0=10.0.0.5:7687,mg-1=10.0.0.6:7687", &c.Instances},
		{"Control plane", "lease-duration", "", "election: how long a silent leader keeps leadership (whole seconds; > renew deadline)", "set whole seconds such as 4s", &c.LeaseDuration},
		{"Control plane", "renew-deadline", "", "election: a leader that could not renew for this long stops leading (< lease duration, > 1.2 x retry period)", "set a duration such as 3s", &c.RenewDeadline},
		{"Control plane", "retry-period", "", "election: how often candidates try and leaders renew", "set a duration such as 500ms", &c.RetryPeriod},
		{"Control plane", "manage-replication", "", "the leader manages Memgraph replication: bootstrap from discovery, automatic failover, replica care (needs --election and discovery)", "set true or false", &c.ManageReplication},
		{"Control plane", "failover-after", "", "with --manage-replication: how long the MAIN must fail its probes before a failover", "set a duration such as 1500ms", &c.FailoverAfter},
		{"Control plane", "route-ttl", "", "with --manage-replication: how long a gateway may serve a route it cannot confirm; a failover waits this long before promoting", "set a duration such as 6s", &c.RouteTTL},

		{"Kubernetes", "namespace", "name", "namespace of the election Lease and the Memgraph pods (default: $POD_NAMESPACE, else the service account's namespace)", "set a namespace such as memgraph", &c.Namespace},
		{"Kubernetes", "lease-name", "name", "name of the election Lease, which also holds the route record", "set a name such as memgraph-gateway", &c.LeaseName},
		{"Kubernetes", "memgraph-selector", "selector", "label selector of the Memgraph pods (discovery kubernetes)", "set a selector such as app.kubernetes.io/name=memgraph", &c.MemgraphSelector},
		{"Kubernetes", "memgraph-service", "name", "headless Service of the Memgraph pods, for their stable DNS names (discovery kubernetes)", "set a Service name such as memgraph", &c.MemgraphService},
		{"Kubernetes", "kubeconfig", "path", "kubeconfig file (empty: the in-cluster service account)", "set a file path", &c.Kubeconfig},

		{"etcd", "etcd-endpoints", "url,...", "etcd client URLs, comma-separated (election etcd)", "set URLs such as http://etcd-0.etcd:2379,http://etcd-1.etcd:2379", &c.EtcdEndpoints},
		{"etcd", "etcd-prefix", "key", "key prefix: the election under <prefix>/election, the route at <prefix>/route", "set a prefix such as /memgraph-gateway", &c.EtcdPrefix},
		{"etcd", "etcd-ca-file", "path", "PEM CA bundle that verifies etcd (empty: system roots for https endpoints)", "set a file path", &c.EtcdCAFile},
		{"etcd", "etcd-cert-file", "path", "PEM client certificate for etcd (with --etcd-key-file)", "set a file path", &c.EtcdCertFile},
		{"etcd", "etcd-key-file", "path", "PEM client key for etcd (with --etcd-cert-file)", "set a file path", &c.EtcdKeyFile},
	}, managementOptions(c)...)
}

// Load returns Default overlaid with the GATEWAY_* variables of environ
// (os.Environ form, "NAME=value") and then with args, the flags after the
// subcommand; a flag wins over its variable, and an empty variable counts as
// unset. Values that do not parse are all reported, joined; Load does not
// call Validate. Load also fills the defaults that come from the
// environment: GATEWAY_ID from $POD_NAME, and, with a Kubernetes backend,
// GATEWAY_NAMESPACE from $POD_NAMESPACE or the service account's namespace
// file. With -h or --help it returns flag.ErrHelp.
func Load(args, environ []string) (Config, error) {
	c := Default()
	opts := options(&c)
	env := envMap(environ)
	var errs []error
	for _, o := range opts {
		if v := env[o.env()]; v != "" {
			if err := set(o, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", o.env(), v, err))
			}
		}
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	raw := make([]rawFlag, len(opts))
	for i, o := range opts {
		raw[i].boolean = o.isBool()
		fs.Var(&raw[i], o.flag, o.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		errs = append(errs, fmt.Errorf("%w; run with --help to list the flags", err))
		return c, errors.Join(errs...)
	}
	for i, o := range opts {
		if raw[i].set {
			if err := set(o, raw[i].value); err != nil {
				errs = append(errs, fmt.Errorf("--%s=%q: %w", o.flag, raw[i].value, err))
			}
		}
	}
	for _, a := range fs.Args() {
		errs = append(errs, fmt.Errorf("unexpected argument %q; write settings as --name=value flags or GATEWAY_* variables", a))
	}
	c.resolve(env)
	return c, errors.Join(errs...)
}

// UnknownEnv lists the GATEWAY_* variables in environ that no setting reads,
// usually misspellings. extra names variables read elsewhere.
func UnknownEnv(environ []string, extra ...string) []string {
	known := map[string]bool{}
	for _, o := range options(&Config{}) {
		known[o.env()] = true
	}
	for _, e := range extra {
		known[e] = true
	}
	var unknown []string
	for name := range envMap(environ) {
		if strings.HasPrefix(name, EnvPrefix) && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return unknown
}

// Usage writes the settings, grouped, with their variables and defaults.
func Usage(w io.Writer) {
	d := Default()
	group := ""
	for _, o := range options(&d) {
		if o.group != group {
			group = o.group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		meta := o.meta
		if meta == "" {
			meta = kindName(o.ptr)
		}
		def := format(o.ptr)
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s %s\n        %s\n        env %s, default %s\n", o.flag, meta, o.usage, o.env(), def)
	}
}

// set parses v into the option's field. Errors say what is wrong and end
// with the option's hint.
func set(o option, v string) error {
	v = strings.TrimSpace(v)
	switch p := o.ptr.(type) {
	case *string:
		*p = v
	case *[]string:
		*p = nil
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*p = append(*p, s)
			}
		}
	case *bool:
		b, ok := parseBool(v)
		if !ok {
			return errors.New("not true or false; set true or false")
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number; %s", o.hint)
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number; %s", o.hint)
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number; %s", o.hint)
		}
		*p = f
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration with a unit (ms, s, m, h); %s", o.hint)
		}
		*p = d
	default:
		panic(fmt.Sprintf("config: option %s has unsupported type %T", o.flag, o.ptr))
	}
	return nil
}

func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "true", "t", "1", "yes", "y", "on":
		return true, true
	case "false", "f", "0", "no", "n", "off":
		return false, true
	}
	return false, false
}

// format renders a field's value as it would be written in a flag.
func format(ptr any) string {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *[]string:
		return strings.Join(*p, ",")
	case *bool:
		return strconv.FormatBool(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *time.Duration:
		return FormatDuration(*p)
	}
	return fmt.Sprint(ptr)
}

// FormatDuration writes whole seconds as "60s" rather than "1m0s".
func FormatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

func kindName(ptr any) string {
	switch ptr.(type) {
	case *bool:
		return "[=true|false]"
	case *int, *int64:
		return "int"
	case *float64:
		return "number"
	case *time.Duration:
		return "duration"
	}
	return "string"
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// rawFlag records a flag's text; Load parses it after flag.Parse so that
// every bad flag is reported, not only the first.
type rawFlag struct {
	boolean bool
	set     bool
	value   string
}

func (r *rawFlag) String() string   { return r.value }
func (r *rawFlag) IsBoolFlag() bool { return r.boolean }
func (r *rawFlag) Set(v string) error {
	r.set, r.value = true, v
	return nil
}
