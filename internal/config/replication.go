package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/tracing"
	"github.com/memgraph-gateway/memgraph-gateway/routelease"
)

// Settings of the replication controller, the admin API, tracing and
// gossip. They live in their own file because each group is wired by a
// different part of the binary; Validate calls validateManagement.

// Accepted values of SyncMode.
const (
	SyncModeStrict = "STRICT_SYNC"
	SyncModeSync   = "SYNC"
)

// DefaultGossipPort is memberlist's conventional port.
const DefaultGossipPort = 7946

// Management holds the settings added for replication management, the
// admin API, tracing and gossip. It is embedded in Config.
type Management struct {
	// SyncMode is the mode of the one synchronous replica
	// (GATEWAY_SYNC_MODE): STRICT_SYNC (default) or SYNC.
	SyncMode string
	// ReplicationPort is the port an instance listens on for replication
	// once it is a REPLICA (GATEWAY_REPLICATION_PORT, default 10000).
	ReplicationPort int
	// SwitchoverTimeout bounds how long a switchover waits for its target
	// to catch up (GATEWAY_SWITCHOVER_TIMEOUT, default 10s).
	SwitchoverTimeout time.Duration
	// AllowWipeDiverged lets the controller wipe a diverged instance and
	// re-sync it (GATEWAY_ALLOW_WIPE_DIVERGED, default false).
	AllowWipeDiverged bool
	// WipeDivergedCommand is the executable that destroys a diverged
	// instance's data (GATEWAY_WIPE_DIVERGED_COMMAND), run with the
	// instance's name as its argument and MEMGRAPH_INSTANCE,
	// MEMGRAPH_BOLT_ADDR in its environment; exit 0 means wiped. Required
	// by AllowWipeDiverged.
	WipeDivergedCommand string
	// FailoverToAsync lets a failover promote an ASYNC replica when no
	// synchronous one is eligible, which can lose acknowledged writes
	// (GATEWAY_FAILOVER_TO_ASYNC, default false).
	FailoverToAsync bool
	// ProbeInterval and ProbeTimeout time the controller's probes of each
	// instance (GATEWAY_PROBE_INTERVAL 500ms, GATEWAY_PROBE_TIMEOUT 1s).
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// MemgraphUsername and MemgraphPasswordFile are the controller's
	// credentials for Memgraph (GATEWAY_MEMGRAPH_USERNAME,
	// GATEWAY_MEMGRAPH_PASSWORD_FILE). Empty: no authentication. The
	// controller also uses the backend TLS settings.
	MemgraphUsername     string
	MemgraphPasswordFile string

	// AdminTokenFile holds the bearer token of the admin actions such as
	// POST /v1/switchover (GATEWAY_ADMIN_TOKEN_FILE, re-read on every
	// request so a rotated Secret applies at once). Empty: admin actions
	// answer 403.
	AdminTokenFile string

	// OTLPEndpoint is where traces are exported over OTLP/HTTP
	// (GATEWAY_OTLP_ENDPOINT, host:port or URL). Empty (default): no
	// tracing.
	OTLPEndpoint string
	// OTLPInsecure sends traces without TLS (GATEWAY_OTLP_INSECURE).
	OTLPInsecure bool
	// TraceSampleRatio is the share of connection traces kept
	// (GATEWAY_TRACE_SAMPLE_RATIO, 0 to 1, default 1). Failover and
	// switchover traces are always kept.
	TraceSampleRatio float64

	// GossipBindAddress is the memberlist listener, host:port for UDP and
	// TCP (GATEWAY_GOSSIP_BIND_ADDRESS, default 0.0.0.0:7946).
	GossipBindAddress string
	// GossipAdvertiseAddress is the address other gateways reach this one
	// at (GATEWAY_GOSSIP_ADVERTISE_ADDRESS, an IP, optionally :port).
	// Empty: $POD_IP, else the bind address, else a private interface's.
	GossipAdvertiseAddress string
	// GossipJoin lists gateways to join, host[:port], where a host may be
	// a DNS name with many addresses such as a headless Service
	// (GATEWAY_GOSSIP_JOIN, comma-separated).
	GossipJoin []string
	// GossipKeyFile holds the gossip encryption keys, one per line, each
	// 16, 24 or 32 bytes raw or base64 (GATEWAY_GOSSIP_KEY_FILE). Setting
	// it turns gossip on.
	GossipKeyFile string
	// GossipInsecure turns gossip on without encryption
	// (GATEWAY_GOSSIP_INSECURE): anyone who reaches the port could inject
	// a route. Local sandboxes only.
	GossipInsecure bool
}

// GossipEnabled reports whether the gateway joins a gossip cluster.
func (c Config) GossipEnabled() bool { return c.GossipKeyFile != "" || c.GossipInsecure }

func defaultManagement() Management {
	return Management{
		SyncMode:          SyncModeStrict,
		ReplicationPort:   10000,
		SwitchoverTimeout: 10 * time.Second,
		ProbeInterval:     500 * time.Millisecond,
		ProbeTimeout:      time.Second,
		TraceSampleRatio:  1,
		GossipBindAddress: "0.0.0.0:" + strconv.Itoa(DefaultGossipPort),
	}
}

func managementOptions(c *Config) []option {
	return []option{
		{"Replication", "sync-mode", "mode", "mode of the one synchronous replica: STRICT_SYNC (no acknowledged write lost) or SYNC", "set STRICT_SYNC or SYNC", &c.SyncMode},
		{"Replication", "replication-port", "", "port an instance listens on for replication once it is a REPLICA", "set a port such as 10000", &c.ReplicationPort},
		{"Replication", "switchover-timeout", "", "how long a planned switchover waits for its target to catch up before it gives up", "set a duration such as 10s", &c.SwitchoverTimeout},
		{"Replication", "allow-wipe-diverged", "", "wipe a diverged instance (data the MAIN lacks) and re-sync it; off: report it and leave its data alone", "set true or false", &c.AllowWipeDiverged},
		{"Replication", "wipe-diverged-command", "path", "with --allow-wipe-diverged: executable that destroys a diverged instance's data (such as deleting its PVC and pod), run with the instance name; exit 0 means wiped", "set the path of an executable", &c.WipeDivergedCommand},
		{"Replication", "failover-to-async", "", "fail over to an ASYNC replica when no synchronous one is eligible (can lose acknowledged writes)", "set true or false", &c.FailoverToAsync},
		{"Replication", "probe-interval", "", "how often the leader probes each Memgraph instance", "set a duration such as 500ms", &c.ProbeInterval},
		{"Replication", "probe-timeout", "", "how long one probe may take", "set a duration such as 1s", &c.ProbeTimeout},
		{"Replication", "memgraph-username", "name", "user the controller logs in to Memgraph as (empty: no authentication)", "set a user name", &c.MemgraphUsername},
		{"Replication", "memgraph-password-file", "path", "file holding that user's password (a mounted Secret)", "set a file path", &c.MemgraphPasswordFile},

		{"Admin and tracing", "admin-token-file", "path", "bearer token for admin actions such as POST /v1/switchover, re-read on each request (empty: admin actions refused)", "set a file path", &c.AdminTokenFile},
		{"Admin and tracing", "otlp-endpoint", "host:port", "export OpenTelemetry traces over OTLP/HTTP to this collector (empty: no tracing)", "set an address such as otel-collector:4318", &c.OTLPEndpoint},
		{"Admin and tracing", "otlp-insecure", "", "send traces without TLS", "set true or false", &c.OTLPInsecure},
		{"Admin and tracing", "trace-sample-ratio", "", "share of connection traces kept, 0 to 1 (failover traces are always kept)", "set a number such as 0.1", &c.TraceSampleRatio},

		{"Gossip", "gossip-bind-address", "host:port", "gossip listener (UDP and TCP) shared with the other gateways", "set an address such as 0.0.0.0:7946", &c.GossipBindAddress},
		{"Gossip", "gossip-advertise-address", "ip[:port]", "address other gateways reach this one at (default: $POD_IP, else the bind address)", "set an IP address such as 10.0.0.7", &c.GossipAdvertiseAddress},
		{"Gossip", "gossip-join", "host[:port],...", "gateways to join; a DNS name may list many (a headless Service)", "set a list such as memgraph-gateway-gossip:7946", &c.GossipJoin},
		{"Gossip", "gossip-key-file", "path", "gossip encryption keys, one per line, 16, 24 or 32 bytes raw or base64; setting it turns gossip on", "set a file path", &c.GossipKeyFile},
		{"Gossip", "gossip-insecure", "", "gossip without encryption (local sandboxes only: anyone reaching the port could inject a route)", "set true or false", &c.GossipInsecure},
	}
}

// validateManagement checks the settings of this file.
func (c Config) validateManagement() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch c.SyncMode {
	case SyncModeStrict, SyncModeSync:
	default:
		bad("GATEWAY_SYNC_MODE=%q: unknown mode; set STRICT_SYNC (Memgraph 3.5+, no acknowledged write lost) or SYNC", c.SyncMode)
	}
	if c.ReplicationPort < 1 || c.ReplicationPort > 65535 {
		bad("GATEWAY_REPLICATION_PORT=%d: not a port; set 1-65535, such as 10000", c.ReplicationPort)
	}
	for _, d := range []struct {
		env     string
		v       time.Duration
		example string
	}{
		{"GATEWAY_SWITCHOVER_TIMEOUT", c.SwitchoverTimeout, "10s"},
		{"GATEWAY_PROBE_INTERVAL", c.ProbeInterval, "500ms"},
		{"GATEWAY_PROBE_TIMEOUT", c.ProbeTimeout, "1s"},
	} {
		if d.v <= 0 {
			bad("%s=%s: must be longer than zero; set a duration such as %s", d.env, FormatDuration(d.v), d.example)
		}
	}
	if c.ManageReplication && c.ProbeInterval > 0 && c.FailoverAfter > 0 && c.FailoverAfter < c.ProbeInterval {
		bad("GATEWAY_FAILOVER_AFTER=%s is shorter than GATEWAY_PROBE_INTERVAL=%s: one lost probe would fail the MAIN over; set failover-after to at least two probe intervals, such as 1500ms with 500ms",
			FormatDuration(c.FailoverAfter), FormatDuration(c.ProbeInterval))
	}
	switch {
	case c.AllowWipeDiverged && c.WipeDivergedCommand == "":
		bad("GATEWAY_ALLOW_WIPE_DIVERGED=true needs GATEWAY_WIPE_DIVERGED_COMMAND, the executable that destroys an instance's data (Memgraph has no query for it); set it, or unset GATEWAY_ALLOW_WIPE_DIVERGED")
	case !c.AllowWipeDiverged && c.WipeDivergedCommand != "":
		bad("GATEWAY_WIPE_DIVERGED_COMMAND is set but GATEWAY_ALLOW_WIPE_DIVERGED is false: the command would never run; set GATEWAY_ALLOW_WIPE_DIVERGED=true to let the controller wipe diverged instances, or unset the command")
	case c.WipeDivergedCommand != "":
		if fi, err := os.Stat(c.WipeDivergedCommand); err != nil {
			bad("GATEWAY_WIPE_DIVERGED_COMMAND=%s: %v; give the full path of an executable", c.WipeDivergedCommand, err)
		} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
			bad("GATEWAY_WIPE_DIVERGED_COMMAND=%s: not an executable file; chmod +x it or give another path", c.WipeDivergedCommand)
		}
	}
	if c.MemgraphPasswordFile != "" {
		if err := checkReadable("GATEWAY_MEMGRAPH_PASSWORD_FILE", c.MemgraphPasswordFile); err != nil {
			errs = append(errs, err)
		}
		if c.MemgraphUsername == "" {
			bad("GATEWAY_MEMGRAPH_PASSWORD_FILE is set without GATEWAY_MEMGRAPH_USERNAME; set the user name too, or unset the password file")
		}
	}
	if c.AdminTokenFile != "" {
		if _, err := ReadSecretFile("GATEWAY_ADMIN_TOKEN_FILE", c.AdminTokenFile); err != nil {
			errs = append(errs, err)
		}
	}

	if c.OTLPEndpoint != "" {
		if err := checkOTLPEndpoint(c.OTLPEndpoint); err != nil {
			bad("GATEWAY_OTLP_ENDPOINT=%q: %v; set host:port such as otel-collector:4318, or an http(s) URL", c.OTLPEndpoint, err)
		} else if err := c.TracingConfig().Validate(); err != nil {
			bad("GATEWAY_OTLP_ENDPOINT=%q with GATEWAY_OTLP_INSECURE=%v: %v", c.OTLPEndpoint, c.OTLPInsecure, err)
		}
	}
	if math.IsNaN(c.TraceSampleRatio) || c.TraceSampleRatio < 0 || c.TraceSampleRatio > 1 {
		bad("GATEWAY_TRACE_SAMPLE_RATIO=%v: must be between 0 and 1; set a share such as 0.1", c.TraceSampleRatio)
	}

	if c.GossipEnabled() {
		if c.GossipKeyFile != "" && c.GossipInsecure {
			bad("GATEWAY_GOSSIP_KEY_FILE and GATEWAY_GOSSIP_INSECURE are both set; keep the key file and unset GATEWAY_GOSSIP_INSECURE")
		}
		if _, _, err := c.GossipBind(); err != nil {
			bad("GATEWAY_GOSSIP_BIND_ADDRESS=%q: %v; set ip:port such as 0.0.0.0:7946", c.GossipBindAddress, err)
		}
		if c.GossipAdvertiseAddress != "" {
			if _, _, err := splitIPPort(c.GossipAdvertiseAddress, true); err != nil {
				bad("GATEWAY_GOSSIP_ADVERTISE_ADDRESS=%q: %v; set an IP address such as 10.0.0.7, optionally with :port", c.GossipAdvertiseAddress, err)
			}
		}
		for _, j := range c.GossipJoin {
			if err := checkJoin(j); err != nil {
				bad("GATEWAY_GOSSIP_JOIN entry %q: %v; write host or host:port such as memgraph-gateway-gossip:7946", j, err)
			}
		}
		if c.GossipKeyFile != "" {
			if _, err := c.GossipKeys(); err != nil {
				errs = append(errs, err)
			}
		}
		lc := routelease.Config{RouteTTL: c.RouteTTL, LeaseDuration: c.LeaseDuration, RenewDeadline: c.RenewDeadline, RetryPeriod: c.RetryPeriod}
		if c.RouteTTL > 0 && c.LeaseDuration > 0 && c.RenewDeadline > 0 && c.RetryPeriod > 0 {
			if err := lc.Validate(); err != nil {
				bad("GATEWAY_ROUTE_TTL=%s with GATEWAY_LEASE_DURATION=%s, GATEWAY_RETRY_PERIOD=%s: %v; a route lease must outlast a leader change, such as route-ttl 6s with lease 4s and retry 500ms",
					FormatDuration(c.RouteTTL), FormatDuration(c.LeaseDuration), FormatDuration(c.RetryPeriod), err)
			}
		}
		if c.Election == ElectionNone {
			bad("gossip (GATEWAY_GOSSIP_KEY_FILE or GATEWAY_GOSSIP_INSECURE) needs an election backend: gossip carries the leader's routes and leases; set GATEWAY_ELECTION=kubernetes or etcd, or turn gossip off")
		}
	} else if len(c.GossipJoin) > 0 {
		bad("GATEWAY_GOSSIP_JOIN is set but gossip is off; set GATEWAY_GOSSIP_KEY_FILE (a mounted Secret) to turn it on, or unset GATEWAY_GOSSIP_JOIN")
	}
	return errs
}

// TracingConfig is the OpenTelemetry export the settings ask for.
func (c Config) TracingConfig() tracing.Config {
	return tracing.Config{Endpoint: c.OTLPEndpoint, Insecure: c.OTLPInsecure, SampleRatio: c.TraceSampleRatio}
}

// GossipBind returns the gossip bind IP and port.
func (c Config) GossipBind() (ip string, port int, err error) {
	return splitIPPort(c.GossipBindAddress, false)
}

// GossipAdvertise returns the advertised gossip IP and port ("" and 0: let
// memberlist choose), from GossipAdvertiseAddress or the POD_IP in env.
func (c Config) GossipAdvertise(podIP string) (ip string, port int) {
	if c.GossipAdvertiseAddress != "" {
		ip, port, _ = splitIPPort(c.GossipAdvertiseAddress, true)
		return ip, port
	}
	if net.ParseIP(strings.TrimSpace(podIP)) != nil {
		return strings.TrimSpace(podIP), 0
	}
	return "", 0
}

// GossipKeys reads the gossip keys: one per line, each raw (16, 24 or 32
// bytes) or base64 of such; blank lines and lines starting with # skipped.
func (c Config) GossipKeys() ([][]byte, error) {
	b, err := os.ReadFile(c.GossipKeyFile)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_GOSSIP_KEY_FILE=%s: cannot read (%w); mount the gossip Secret there", c.GossipKeyFile, err)
	}
	var keys [][]byte
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := decodeKey(line)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_GOSSIP_KEY_FILE=%s line %d: %w; write a key of 16, 24 or 32 bytes, or its base64 (such as the output of `head -c 32 /dev/urandom | base64`)", c.GossipKeyFile, i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GATEWAY_GOSSIP_KEY_FILE=%s: holds no key; write one key per line, such as the output of `head -c 32 /dev/urandom | base64`", c.GossipKeyFile)
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	if k, err := base64Decode(s); err == nil && validKeyLen(len(k)) {
		return k, nil
	}
	if validKeyLen(len(s)) {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("a key of %d characters is neither 16, 24 or 32 bytes nor the base64 of such", len(s))
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// ReadSecretFile reads a one-line secret (token, password), trimmed of
// surrounding white space; env names the setting in errors.
func ReadSecretFile(env, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s=%s: cannot read (%w); mount the Secret there", env, path, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s=%s: the file is empty; write the secret into it", env, path)
	}
	if len(s) > 4096 {
		return "", fmt.Errorf("%s=%s: longer than 4096 bytes; is it the right file?", env, path)
	}
	return s, nil
}

func splitIPPort(s string, portOptional bool) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		if !portOptional {
			return "", 0, fmt.Errorf("not ip:port")
		}
		host, portStr = s, ""
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q is not an IP address", host)
	}
	if portStr == "" {
		return host, 0, nil
	}
	p, err := strconv.Atoi(portStr)
	if err != nil || p < 1 || p > 65535 {
		return "", 0, fmt.Errorf("port %q is not 1-65535", portStr)
	}
	return host, p, nil
}

func checkJoin(s string) error {
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		host = h
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not 1-65535", p)
		}
	}
	if host == "" || strings.ContainsAny(host, " /\t") {
		return fmt.Errorf("%q is not a host name or IP", host)
	}
	return nil
}

func checkOTLPEndpoint(s string) error {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("scheme %q (want http or https)", u.Scheme)
		}
		if u.Host == "" {
			return fmt.Errorf("no host")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("not host:port")
	}
	return nil
}
