package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/testcert"
	"github.com/memgraph-gateway/memgraph-gateway/proxy"
)

// loadAndValidate is what the binary does: parse, then validate, every
// problem reported together.
func loadAndValidate(args, env []string) (Config, error) {
	c, err := Load(args, env)
	if errors.Is(err, flag.ErrHelp) {
		return c, err
	}
	return c, errors.Join(err, c.Validate())
}

type files struct {
	dir                  string
	cert, key            string // a matching pair
	otherCert, otherKey  string // another pair
	route                string // a valid route file
	garbage              string // not PEM, not JSON
	missing              string // does not exist
	unknownField, epoch0 string // bad route files
	failoverWithMain     string
	twoValues            string
	token, gossipKey     string // a one-line secret, a file of two gossip keys
	empty, badKey        string // an empty file, a gossip key of a bad length
	script               string // an executable
}

func writeFiles(t *testing.T) files {
	t.Helper()
	dir := t.TempDir()
	f := files{dir: dir, missing: filepath.Join(dir, "missing")}
	f.cert, f.key = testcert.Write(t, dir, "a", "memgraph.test")
	f.otherCert, f.otherKey = testcert.Write(t, dir, "b", "other.test")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.route = write("route.json", `{"epoch":7,"phase":"serving","main":{"name":"mg0","boltAddr":"mg0.db:7687"},
		"replicas":[{"name":"mg1","boltAddr":"10.0.0.2:7687","ready":true,"lag":-3}]}`)
	f.garbage = write("garbage", "this is neither PEM nor JSON")
	f.unknownField = write("unknown.json", `{"epoch":2,"phase":"serving","main":{"name":"mg0","bolt_addr":"mg0:7687"}}`)
	f.epoch0 = write("epoch0.json", `{"epoch":0,"phase":"serving","main":{"name":"mg0","boltAddr":"mg0:7687"}}`)
	f.failoverWithMain = write("failover.json", `{"epoch":3,"phase":"failover","main":{"name":"mg0","boltAddr":"mg0:7687"}}`)
	f.twoValues = write("two.json", `{"epoch":3,"phase":"failover"} {"epoch":4,"phase":"failover"}`)
	f.token = write("token", "s3cret-token\n")
	f.gossipKey = write("gossip.key", "# rotation: new key second\n"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))+"\n0123456789abcdef\n")
	f.empty = write("empty", " \n")
	f.badKey = write("bad.key", "short\n")
	f.script = write("wipe.sh", "#!/bin/sh\nexit 0\n")
	if err := os.Chmod(f.script, 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoadGood(t *testing.T) {
	f := writeFiles(t)
	withMain := func(mod func(*Config)) Config {
		c := Default()
		c.Main = "mg0=mg0.db:7687"
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want Config
	}{
		{"defaults with a static main", []string{"GATEWAY_MAIN=mg0=mg0.db:7687"}, nil, withMain(nil)},
		{"flag only", nil, []string{"--main=mg0=mg0.db:7687"}, withMain(nil)},
		{"single dash flags and separate values", nil, []string{"-main", "mg0=mg0.db:7687", "-max-connections", "5"},
			withMain(func(c *Config) { c.MaxConnections = 5 })},
		{"flag wins over env",
			[]string{"GATEWAY_MAIN=mg0=mg0.db:7687", "GATEWAY_MAX_CONNECTIONS=10", "GATEWAY_LOG_LEVEL=debug"},
			[]string{"--max-connections=20"},
			withMain(func(c *Config) { c.MaxConnections = 20; c.LogLevel = "debug" })},
		{"empty variable counts as unset",
			[]string{"GATEWAY_MAIN=mg0=mg0.db:7687", "GATEWAY_MAX_CONNECTIONS=", "GATEWAY_BIND_ADDRESS="}, nil, withMain(nil)},
		{"other variables are ignored",
			[]string{"GATEWAY_MAIN=mg0=mg0.db:7687", "HOME=/root", "MAX_CONNECTIONS=abc"}, nil, withMain(nil)},
		{"bool flags bare and with values, env in words",
			[]string{"GATEWAY_MAIN=mg0=mg0.db:7687", "GATEWAY_READ_FROM_MAIN=yes", "GATEWAY_BACKEND_TLS=off"},
			[]string{"--proxy-protocol", "--read-bind-address=:7688"},
			withMain(func(c *Config) { c.ProxyProtocol = true; c.ReadFromMain = true; c.ReadBindAddress = ":7688" })},
		{"every setting from env",
			[]string{
				"GATEWAY_ID=gw-1", "GATEWAY_ENABLED=true", "GATEWAY_HTTP_ADDRESS=127.0.0.1:9191",
				"GATEWAY_LOG_LEVEL=warn", "GATEWAY_LOG_FORMAT=console",
				"GATEWAY_BIND_ADDRESS=[::1]:7000", "GATEWAY_READ_BIND_ADDRESS=localhost:7001",
				"GATEWAY_MAX_REPLICA_LAG=50", "GATEWAY_READ_FROM_MAIN=true", "GATEWAY_PROXY_PROTOCOL=1",
				"GATEWAY_MAX_CONNECTIONS=200", "GATEWAY_MAX_CONNECTIONS_PER_IP=20",
				"GATEWAY_CONN_RATE_PER_IP=2.5", "GATEWAY_CONN_BURST_PER_IP=5", "GATEWAY_MAX_HELD=100",
				"GATEWAY_IPV6_PREFIX_LENGTH=56", "GATEWAY_RELAY_LOOPS=2",
				"GATEWAY_TIMEOUT=2s", "GATEWAY_HANDSHAKE_TIMEOUT=500ms", "GATEWAY_KEEPALIVE=0",
				"GATEWAY_HOLD_TIMEOUT=0", "GATEWAY_HALF_CLOSE_TIMEOUT=1m", "GATEWAY_DRAIN_DELAY=5s", "GATEWAY_DRAIN_TIMEOUT=1m",
				"GATEWAY_TLS_CERT_FILE=" + f.cert, "GATEWAY_TLS_KEY_FILE=" + f.key,
				"GATEWAY_BACKEND_TLS=true", "GATEWAY_BACKEND_TLS_CA_FILE=" + f.otherCert,
				"GATEWAY_BACKEND_TLS_SERVER_NAME=memgraph.internal",
				"GATEWAY_MAIN=mg0=10.0.0.1:7687", "GATEWAY_REPLICAS= mg1=10.0.0.2:7687 , mg2=mg2.db:7687,",
				"GATEWAY_ELECTION=etcd", "GATEWAY_DISCOVERY=static", "GATEWAY_INSTANCES=mg0=10.0.0.1:7687,mg1=10.0.0.2:7687",
				"GATEWAY_NAMESPACE=db", "GATEWAY_LEASE_NAME=gw", "GATEWAY_MEMGRAPH_SELECTOR=app=mg", "GATEWAY_MEMGRAPH_SERVICE=mg",
				"GATEWAY_KUBECONFIG=" + f.route, "GATEWAY_ETCD_ENDPOINTS=https://etcd-0:2379,etcd-1:2379", "GATEWAY_ETCD_PREFIX=/gw",
				"GATEWAY_ETCD_CA_FILE=" + f.otherCert, "GATEWAY_ETCD_CERT_FILE=" + f.cert, "GATEWAY_ETCD_KEY_FILE=" + f.key,
				"GATEWAY_LEASE_DURATION=6s", "GATEWAY_RENEW_DEADLINE=4s", "GATEWAY_RETRY_PERIOD=1s",
				"GATEWAY_MANAGE_REPLICATION=true", "GATEWAY_FAILOVER_AFTER=2s", "GATEWAY_ROUTE_TTL=10s",
				"GATEWAY_SYNC_MODE=SYNC", "GATEWAY_REPLICATION_PORT=10001", "GATEWAY_SWITCHOVER_TIMEOUT=20s",
				"GATEWAY_ALLOW_WIPE_DIVERGED=true", "GATEWAY_WIPE_DIVERGED_COMMAND=" + f.script, "GATEWAY_FAILOVER_TO_ASYNC=true", "GATEWAY_PROBE_INTERVAL=250ms",
				"GATEWAY_PROBE_TIMEOUT=800ms", "GATEWAY_MEMGRAPH_USERNAME=admin", "GATEWAY_MEMGRAPH_PASSWORD_FILE=" + f.token,
				"GATEWAY_ADMIN_TOKEN_FILE=" + f.token, "GATEWAY_OTLP_ENDPOINT=otel:4318", "GATEWAY_OTLP_INSECURE=true",
				"GATEWAY_TRACE_SAMPLE_RATIO=0.25", "GATEWAY_GOSSIP_BIND_ADDRESS=127.0.0.1:7950",
				"GATEWAY_GOSSIP_ADVERTISE_ADDRESS=10.0.0.9", "GATEWAY_GOSSIP_JOIN=gw-gossip:7950,10.0.0.8",
				"GATEWAY_GOSSIP_KEY_FILE=" + f.gossipKey, "GATEWAY_GOSSIP_INSECURE=false",
			}, nil,
			Config{
				ID: "gw-1", Enabled: true, HTTPAddress: "127.0.0.1:9191", LogLevel: "warn", LogFormat: "console",
				BindAddress: "[::1]:7000", ReadBindAddress: "localhost:7001", MaxReplicaLag: 50, ReadFromMain: true,
				ProxyProtocol: true, MaxConnections: 200, MaxConnectionsPerIP: 20, ConnRatePerIP: 2.5,
				ConnBurstPerIP: 5, MaxHeld: 100, IPv6PrefixLength: 56, RelayLoops: 2, Timeout: 2 * time.Second, HandshakeTimeout: 500 * time.Millisecond,
				KeepAlive: 0, HoldTimeout: 0, HalfCloseTimeout: time.Minute, DrainDelay: 5 * time.Second, DrainTimeout: time.Minute,
				TLSCertFile: f.cert, TLSKeyFile: f.key, BackendTLS: true, BackendTLSCAFile: f.otherCert,
				BackendTLSServerName: "memgraph.internal", Main: "mg0=10.0.0.1:7687",
				Replicas: []string{"mg1=10.0.0.2:7687", "mg2=mg2.db:7687"},
				Election: "etcd", Discovery: "static", Instances: "mg0=10.0.0.1:7687,mg1=10.0.0.2:7687",
				Namespace: "db", LeaseName: "gw", MemgraphSelector: "app=mg", MemgraphService: "mg", Kubeconfig: f.route,
				EtcdEndpoints: []string{"https://etcd-0:2379", "etcd-1:2379"}, EtcdPrefix: "/gw",
				EtcdCAFile: f.otherCert, EtcdCertFile: f.cert, EtcdKeyFile: f.key,
				LeaseDuration: 6 * time.Second, RenewDeadline: 4 * time.Second, RetryPeriod: time.Second,
				ManageReplication: true, FailoverAfter: 2 * time.Second, RouteTTL: 10 * time.Second,
				Management: Management{
					SyncMode: "SYNC", ReplicationPort: 10001, SwitchoverTimeout: 20 * time.Second,
					AllowWipeDiverged: true, WipeDivergedCommand: f.script, FailoverToAsync: true, ProbeInterval: 250 * time.Millisecond,
					ProbeTimeout: 800 * time.Millisecond, MemgraphUsername: "admin", MemgraphPasswordFile: f.token,
					AdminTokenFile: f.token, OTLPEndpoint: "otel:4318", OTLPInsecure: true, TraceSampleRatio: 0.25,
					GossipBindAddress: "127.0.0.1:7950", GossipAdvertiseAddress: "10.0.0.9",
					GossipJoin: []string{"gw-gossip:7950", "10.0.0.8"}, GossipKeyFile: f.gossipKey,
				},
			}},
		{"route file", []string{"GATEWAY_ROUTE_FILE=" + f.route}, nil,
			func() Config { c := Default(); c.RouteFile = f.route; return c }()},
		{"HTTP only needs no route", []string{"GATEWAY_ENABLED=false"}, nil,
			func() Config { c := Default(); c.Enabled = false; return c }()},
		{"HTTP only ignores the Bolt address", []string{"GATEWAY_ENABLED=false"}, []string{"--bind-address=0.0.0.0:9090"},
			func() Config { c := Default(); c.Enabled = false; c.BindAddress = "0.0.0.0:9090"; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadAndValidate(tt.args, tt.env)
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config\n got %+v\nwant %+v", got, tt.want)
			}
			if err := got.ProxyConfig(nil, nil).Validate(); err != nil {
				t.Errorf("the proxy refuses a valid config: %v", err)
			}
		})
	}
}

func TestLoadBad(t *testing.T) {
	f := writeFiles(t)
	const main = "GATEWAY_MAIN=mg0=mg0:7687"
	tests := []struct {
		name string
		env  []string
		args []string
		want []string // each must appear in the error
	}{
		{"not a number in env", []string{main, "GATEWAY_MAX_CONNECTIONS=abc"}, nil,
			[]string{`GATEWAY_MAX_CONNECTIONS="abc": not a whole number; set a positive integer such as 1000`}},
		{"not a number in a flag", []string{main}, []string{"--max-connections=abc"},
			[]string{`--max-connections="abc": not a whole number; set a positive integer such as 1000`}},
		{"bad flag wins over good env and is reported", []string{main, "GATEWAY_TIMEOUT=5s"}, []string{"--timeout=5"},
			[]string{`--timeout="5": not a duration with a unit (ms, s, m, h); set a duration such as 30s`}},
		{"bad bool", []string{main, "GATEWAY_ENABLED=maybe"}, nil, []string{`GATEWAY_ENABLED="maybe": not true or false`}},
		{"bad bool flag", []string{main}, []string{"--proxy-protocol=sure"}, []string{`--proxy-protocol="sure": not true or false`}},
		{"bad float", []string{main, "GATEWAY_CONN_RATE_PER_IP=fast"}, nil, []string{`GATEWAY_CONN_RATE_PER_IP="fast": not a number`}},
		{"NaN rate", []string{main, "GATEWAY_CONN_RATE_PER_IP=NaN"}, nil, []string{`GATEWAY_CONN_RATE_PER_IP=NaN: not a finite number`}},
		{"bad int64", []string{main, "GATEWAY_MAX_REPLICA_LAG=1e3"}, nil, []string{`GATEWAY_MAX_REPLICA_LAG="1e3": not a whole number`}},
		{"unknown flag", []string{main}, []string{"--max-conections=5"},
			[]string{"flag provided but not defined: -max-conections; run with --help"}},
		{"stray argument", []string{main}, []string{"serve"}, []string{`unexpected argument "serve"`}},

		{"address without port", []string{main, "GATEWAY_BIND_ADDRESS=nope"}, nil,
			[]string{`GATEWAY_BIND_ADDRESS="nope": not host:port; set an address such as 0.0.0.0:7687`}},
		{"port out of range", []string{main, "GATEWAY_HTTP_ADDRESS=:70000"}, nil,
			[]string{`GATEWAY_HTTP_ADDRESS=":70000": port "70000" is not a number from 1 to 65535`}},
		{"port zero", []string{main, "GATEWAY_READ_BIND_ADDRESS=127.0.0.1:0"}, nil,
			[]string{`GATEWAY_READ_BIND_ADDRESS="127.0.0.1:0": port "0" is not a number from 1 to 65535`}},
		{"bad host", []string{main, "GATEWAY_BIND_ADDRESS=bad host:7687"}, nil,
			[]string{`"bad host" is neither an IP address nor a host name`}},
		{"empty HTTP address by flag", []string{main}, []string{"--http-address="}, []string{"GATEWAY_HTTP_ADDRESS is empty"}},
		{"same port", []string{main, "GATEWAY_HTTP_ADDRESS=127.0.0.1:7687"}, nil,
			[]string{"GATEWAY_HTTP_ADDRESS=127.0.0.1:7687 and GATEWAY_BIND_ADDRESS=0.0.0.0:7687 listen on the same port"}},
		{"read and write on one port", []string{main, "GATEWAY_READ_BIND_ADDRESS=:7687"}, nil,
			[]string{"GATEWAY_READ_BIND_ADDRESS=:7687 and GATEWAY_BIND_ADDRESS=0.0.0.0:7687 listen on the same port"}},

		{"zero max connections", []string{main, "GATEWAY_MAX_CONNECTIONS=0"}, nil,
			[]string{"GATEWAY_MAX_CONNECTIONS=0: must be at least 1; set a positive integer such as 1000"}},
		{"per-IP above max", []string{main, "GATEWAY_MAX_CONNECTIONS=10", "GATEWAY_MAX_CONNECTIONS_PER_IP=11"}, nil,
			[]string{"GATEWAY_MAX_CONNECTIONS_PER_IP=11: exceeds GATEWAY_MAX_CONNECTIONS=10; set at most 10"}},
		{"negative per-IP", []string{main, "GATEWAY_MAX_CONNECTIONS_PER_IP=-1"}, nil, []string{"GATEWAY_MAX_CONNECTIONS_PER_IP=-1: is negative"}},
		{"negative rate", []string{main, "GATEWAY_CONN_RATE_PER_IP=-2"}, nil, []string{"GATEWAY_CONN_RATE_PER_IP=-2: is negative"}},
		{"negative burst", []string{main, "GATEWAY_CONN_RATE_PER_IP=2", "GATEWAY_CONN_BURST_PER_IP=-2"}, nil, []string{"GATEWAY_CONN_BURST_PER_IP=-2: is negative"}},
		{"burst without rate", []string{main, "GATEWAY_CONN_BURST_PER_IP=5"}, nil,
			[]string{"GATEWAY_CONN_BURST_PER_IP=5: has no effect while GATEWAY_CONN_RATE_PER_IP is 0"}},
		{"held above max", []string{main, "GATEWAY_MAX_HELD=1001"}, nil, []string{"GATEWAY_MAX_HELD=1001: exceeds GATEWAY_MAX_CONNECTIONS=1000"}},
		{"negative held", []string{main, "GATEWAY_MAX_HELD=-1"}, nil, []string{"GATEWAY_MAX_HELD=-1: is negative"}},
		{"relay loops below -1", []string{main, "GATEWAY_RELAY_LOOPS=-2"}, nil, []string{"GATEWAY_RELAY_LOOPS=-2: is out of range; set 0 for one loop per CPU"}},
		{"IPv6 prefix too short", []string{main, "GATEWAY_IPV6_PREFIX_LENGTH=8"}, nil, []string{"GATEWAY_IPV6_PREFIX_LENGTH=8: is out of range"}},
		{"too many relay loops", []string{main, "GATEWAY_RELAY_LOOPS=1000"}, nil, []string{"GATEWAY_RELAY_LOOPS=1000: is out of range"}},
		{"negative lag", []string{main, "GATEWAY_MAX_REPLICA_LAG=-5"}, nil, []string{"GATEWAY_MAX_REPLICA_LAG=-5: is negative"}},

		{"zero dial timeout", []string{main, "GATEWAY_TIMEOUT=0s"}, nil,
			[]string{"GATEWAY_TIMEOUT=0s: must be longer than zero; set a duration such as 30s"}},
		{"negative handshake timeout", []string{main}, []string{"--handshake-timeout=-1s"},
			[]string{"GATEWAY_HANDSHAKE_TIMEOUT=-1s: must be longer than zero"}},
		{"negative hold timeout", []string{main, "GATEWAY_HOLD_TIMEOUT=-1s"}, nil, []string{"GATEWAY_HOLD_TIMEOUT=-1s: is negative"}},
		{"negative half-close timeout", []string{main, "GATEWAY_HALF_CLOSE_TIMEOUT=-1s"}, nil, []string{"GATEWAY_HALF_CLOSE_TIMEOUT=-1s: is negative"}},
		{"sub-second keepalive", []string{main, "GATEWAY_KEEPALIVE=500ms"}, nil, []string{"GATEWAY_KEEPALIVE=500ms: must be 0 or at least 1s"}},
		{"zero drain timeout", []string{main, "GATEWAY_DRAIN_TIMEOUT=0"}, nil, []string{"GATEWAY_DRAIN_TIMEOUT=0s: must be longer than zero"}},
		{"negative keepalive", []string{main, "GATEWAY_KEEPALIVE=-1s"}, nil, []string{"GATEWAY_KEEPALIVE=-1s: must be 0 or at least 1s"}},
		{"negative drain delay", []string{main, "GATEWAY_DRAIN_DELAY=-1s"}, nil, []string{"GATEWAY_DRAIN_DELAY=-1s: is negative"}},

		{"cert without key", []string{main, "GATEWAY_TLS_CERT_FILE=" + f.cert}, nil,
			[]string{"GATEWAY_TLS_CERT_FILE is set but GATEWAY_TLS_KEY_FILE is not; set both"}},
		{"key without cert", []string{main, "GATEWAY_TLS_KEY_FILE=" + f.key}, nil,
			[]string{"GATEWAY_TLS_KEY_FILE is set but GATEWAY_TLS_CERT_FILE is not"}},
		{"unreadable cert and key", []string{main, "GATEWAY_TLS_CERT_FILE=" + f.missing, "GATEWAY_TLS_KEY_FILE=" + f.dir + "/nokey"}, nil,
			[]string{"GATEWAY_TLS_CERT_FILE=" + f.missing + ": cannot read it", "GATEWAY_TLS_KEY_FILE=" + f.dir + "/nokey: cannot read it"}},
		{"cert and key do not match", []string{main, "GATEWAY_TLS_CERT_FILE=" + f.cert, "GATEWAY_TLS_KEY_FILE=" + f.otherKey}, nil,
			[]string{"not a usable PEM certificate and key pair"}},
		{"CA not PEM", []string{main, "GATEWAY_BACKEND_TLS=true", "GATEWAY_BACKEND_TLS_CA_FILE=" + f.garbage}, nil,
			[]string{"GATEWAY_BACKEND_TLS_CA_FILE=" + f.garbage + ": holds no PEM certificate"}},
		{"CA unreadable", []string{main, "GATEWAY_BACKEND_TLS=true", "GATEWAY_BACKEND_TLS_CA_FILE=" + f.missing}, nil,
			[]string{"GATEWAY_BACKEND_TLS_CA_FILE=" + f.missing + ": cannot read it"}},
		{"backend TLS settings while off", []string{main, "GATEWAY_BACKEND_TLS_CA_FILE=" + f.cert, "GATEWAY_BACKEND_TLS_SERVER_NAME=x"}, nil,
			[]string{"GATEWAY_BACKEND_TLS_CA_FILE is set but GATEWAY_BACKEND_TLS is false", "GATEWAY_BACKEND_TLS_SERVER_NAME is set but GATEWAY_BACKEND_TLS is false"}},

		{"unknown log level", []string{main, "GATEWAY_LOG_LEVEL=verbose"}, nil,
			[]string{`GATEWAY_LOG_LEVEL="verbose": unknown level; set one of debug, info, warn, error`}},
		{"unknown log format", []string{main, "GATEWAY_LOG_FORMAT=text"}, nil, []string{`GATEWAY_LOG_FORMAT="text": unknown format`}},
		{"bad ID", []string{main, "GATEWAY_ID=my gateway"}, nil, []string{`GATEWAY_ID="my gateway": contains spaces`}},

		{"no route source", nil, nil, []string{"no route source; set GATEWAY_MAIN=name=host:port"}},
		{"two route sources", []string{main, "GATEWAY_ROUTE_FILE=" + f.route}, nil, []string{"GATEWAY_MAIN and GATEWAY_ROUTE_FILE are both set"}},
		{"main without name", []string{"GATEWAY_MAIN=mg0:7687"}, nil,
			[]string{`GATEWAY_MAIN="mg0:7687": not name=host:port; write it like memgraph-0=memgraph-0.memgraph:7687`}},
		{"main without port", []string{"GATEWAY_MAIN=mg0=mg0"}, nil, []string{`GATEWAY_MAIN="mg0=mg0": the address "mg0" of mg0 is not host:port`}},
		{"main with empty name", []string{"GATEWAY_MAIN==mg0:7687"}, nil, []string{"the instance name is empty"}},
		{"main with bad port", []string{"GATEWAY_MAIN=mg0=mg0:x"}, nil, []string{`port "x" is not a number from 1 to 65535`}},
		{"main without host", []string{"GATEWAY_MAIN=mg0=:7687"}, nil, []string{`the address ":7687" of mg0 has no host`}},
		{"replicas without main", []string{"GATEWAY_ROUTE_FILE=" + f.route, "GATEWAY_REPLICAS=mg1=mg1:7687"}, nil,
			[]string{"GATEWAY_REPLICAS is set without GATEWAY_MAIN"}},
		{"replica named like main", []string{main, "GATEWAY_REPLICAS=mg1=mg1:7687,mg0=other:7687"}, nil,
			[]string{`GATEWAY_REPLICAS entry "mg0=other:7687": the name mg0 is used twice`}},
		{"malformed replica", []string{main, "GATEWAY_REPLICAS=mg1"}, nil, []string{`GATEWAY_REPLICAS entry "mg1": not name=host:port`}},
		{"route file missing", []string{"GATEWAY_ROUTE_FILE=" + f.missing}, nil,
			[]string{"GATEWAY_ROUTE_FILE=" + f.missing + ": cannot read it"}},
		{"route file not JSON", []string{"GATEWAY_ROUTE_FILE=" + f.garbage}, nil, []string{"not a JSON route"}},
		{"route file misspelt field", []string{"GATEWAY_ROUTE_FILE=" + f.unknownField}, nil, []string{`unknown field "bolt_addr"`}},
		{"route file epoch 0", []string{"GATEWAY_ROUTE_FILE=" + f.epoch0}, nil, []string{"epoch is 0; set a positive epoch"}},
		{"route file failover with main", []string{"GATEWAY_ROUTE_FILE=" + f.failoverWithMain}, nil, []string{"a failover route has a main"}},
		{"route file with two routes", []string{"GATEWAY_ROUTE_FILE=" + f.twoValues}, nil, []string{"holds more than one JSON value"}},

		{"every problem at once",
			[]string{main, "GATEWAY_MAX_CONNECTIONS=abc", "GATEWAY_LOG_LEVEL=loud", "GATEWAY_TIMEOUT=-1s"},
			[]string{"--bind-address=nope", "--keepalive=x"},
			[]string{
				`GATEWAY_MAX_CONNECTIONS="abc": not a whole number`,
				`--keepalive="x": not a duration`,
				`GATEWAY_BIND_ADDRESS="nope": not host:port`,
				`GATEWAY_LOG_LEVEL="loud": unknown level`,
				`GATEWAY_TIMEOUT=-1s: must be longer than zero`,
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
			if n := len(Problems(err)); n < len(tt.want) {
				t.Errorf("%d problems reported, want at least %d", n, len(tt.want))
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.Contains(line, "; ") && !strings.Contains(line, "flag provided") {
					t.Errorf("problem without a fix: %q", line)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		if _, err := Load([]string{arg}, nil); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("Load(%s) = %v, want flag.ErrHelp", arg, err)
		}
	}
	var buf bytes.Buffer
	Usage(&buf)
	out := buf.String()
	for _, o := range options(&Config{}) {
		if !strings.Contains(out, "--"+o.flag+" ") || !strings.Contains(out, "env "+o.env()+",") {
			t.Errorf("usage lacks --%s or %s", o.flag, o.env())
		}
	}
	for _, want := range []string{"env GATEWAY_MAX_CONNECTIONS, default 1000", "env GATEWAY_KEEPALIVE, default 60s", "idle timeout", `env GATEWAY_READ_BIND_ADDRESS, default ""`} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestEveryOptionNamesItsVariable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range options(&Config{}) {
		if seen[o.env()] {
			t.Errorf("%s twice", o.env())
		}
		seen[o.env()] = true
	}
	// Every field of Config has exactly one option: a new field without a
	// flag would be unreachable.
	n := reflect.TypeFor[Config]().NumField() - 1 + reflect.TypeFor[Management]().NumField()
	if n != len(seen) {
		t.Errorf("Config has %d fields, %d options", n, len(seen))
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"GATEWAY_MAX_CONNECTION=5", "GATEWAY_MAIN=x", "GATEWAY_EXTRA=1", "PATH=/bin", "GATEWAY_ZZ=1"}, "GATEWAY_EXTRA")
	want := []string{"GATEWAY_MAX_CONNECTION", "GATEWAY_ZZ"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownEnv = %v, want %v", got, want)
	}
}

func TestDefaultValidatesWithARouteSource(t *testing.T) {
	c := Default()
	err := c.Validate()
	if got := Problems(err); len(got) != 1 || !strings.Contains(got[0].Error(), "no route source") {
		t.Errorf("Default().Validate() = %v, want only the missing route source", err)
	}
	c.Main = "mg0=mg0:7687"
	if err := c.Validate(); err != nil {
		t.Errorf("Default with a main: %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Default warns: %v", w)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"long keepalive", func(c *Config) { c.KeepAlive = 5 * time.Minute }, "GATEWAY_KEEPALIVE=5m0s is not shorter"},
		{"read from main without read listener", func(c *Config) { c.ReadFromMain = true }, "GATEWAY_READ_FROM_MAIN has no effect"},
		{"lag without read listener", func(c *Config) { c.MaxReplicaLag = 3 }, "GATEWAY_MAX_REPLICA_LAG has no effect"},
		{"route while disabled", func(c *Config) { c.Enabled = false }, "the route source (GATEWAY_MAIN or GATEWAY_ROUTE_FILE) is not read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Main = "mg0=mg0:7687"
			tt.mod(&c)
			if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, tt.want) {
				t.Errorf("warnings %q lack %q", w, tt.want)
			}
		})
	}
}

func TestStaticRoute(t *testing.T) {
	c := Default()
	if _, ok, err := c.StaticRoute(); ok || err != nil {
		t.Errorf("no main: ok=%v err=%v", ok, err)
	}
	c.Main = " mg0 = mg0.db:7687"
	c.Replicas = []string{"mg1=10.0.0.2:7687"}
	r, ok, err := c.StaticRoute()
	if !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	want := proxy.Route{
		Epoch: 1, Phase: proxy.PhaseServing,
		Main:     proxy.Backend{Name: "mg0", Addr: "mg0.db:7687"},
		Replicas: []proxy.Replica{{Backend: proxy.Backend{Name: "mg1", Addr: "10.0.0.2:7687"}, Ready: true}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("route %+v, want %+v", r, want)
	}
}

func TestReadRouteFile(t *testing.T) {
	f := writeFiles(t)
	r, err := ReadRouteFile(f.route)
	if err != nil {
		t.Fatal(err)
	}
	want := proxy.Route{
		Epoch: 7, Phase: proxy.PhaseServing,
		Main:     proxy.Backend{Name: "mg0", Addr: "mg0.db:7687"},
		Replicas: []proxy.Replica{{Backend: proxy.Backend{Name: "mg1", Addr: "10.0.0.2:7687"}, Ready: true, Lag: -3}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("route %+v, want %+v", r, want)
	}
	big := filepath.Join(f.dir, "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), MaxRouteFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRouteFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

func TestCheckRoute(t *testing.T) {
	mg := proxy.Backend{Name: "mg0", Addr: "mg0:7687"}
	rep := func(name, addr string) proxy.Replica {
		return proxy.Replica{Backend: proxy.Backend{Name: name, Addr: addr}}
	}
	tests := []struct {
		name  string
		route proxy.Route
		want  string // "" = valid
	}{
		{"serving", proxy.Route{Epoch: 1, Phase: proxy.PhaseServing, Main: mg}, ""},
		{"failover", proxy.Route{Epoch: 2, Phase: proxy.PhaseFailover, Replicas: []proxy.Replica{rep("mg1", "mg1:7687")}}, ""},
		{"no phase", proxy.Route{Epoch: 1, Main: mg}, `phase "" is unknown`},
		{"serving without main", proxy.Route{Epoch: 1, Phase: proxy.PhaseServing}, "main: the instance name is empty"},
		{"bad replica", proxy.Route{Epoch: 1, Phase: proxy.PhaseServing, Main: mg, Replicas: []proxy.Replica{rep("mg1", "mg1")}}, "replicas[0]: the address"},
		{"duplicate replica", proxy.Route{Epoch: 1, Phase: proxy.PhaseServing, Main: mg, Replicas: []proxy.Replica{rep("mg1", "a:1"), rep("mg1", "b:1")}}, "replicas[1]: the name mg1 is used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRoute(tt.route)
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestProxyConfig(t *testing.T) {
	c := Default()
	c.MaxConnectionsPerIP, c.ConnRatePerIP, c.ConnBurstPerIP, c.MaxHeld = 5, 1.5, 3, 7
	c.MaxReplicaLag, c.ReadFromMain, c.ProxyProtocol, c.RelayLoops = 9, true, true, 3
	got := c.ProxyConfig(nil, nil)
	want := proxy.Config{
		MaxConnections: 1000, MaxConnectionsPerIP: 5, ConnRatePerIP: 1.5, ConnBurstPerIP: 3,
		HandshakeTimeout: 10 * time.Second, DialTimeout: 30 * time.Second, KeepAlive: 60 * time.Second,
		HoldTimeout: 10 * time.Second, HalfCloseTimeout: 30 * time.Second, MaxHeld: 7, MaxReplicaLag: 9, ReadFromMain: true, ProxyProtocol: true, EventLoops: 3, IPv6PrefixLength: 64,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ProxyConfig\n got %+v\nwant %+v", got, want)
	}
	c.KeepAlive, c.HoldTimeout, c.HalfCloseTimeout = 0, 0, 0
	got = c.ProxyConfig(nil, nil)
	if got.KeepAlive >= 0 || got.HoldTimeout >= 0 || got.HalfCloseTimeout >= 0 {
		t.Errorf("0 (off) maps to %v, %v, %v; want negative (off)", got.KeepAlive, got.HoldTimeout, got.HalfCloseTimeout)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("proxy refuses the mapped config: %v", err)
	}
}

func TestBackendTLSConfig(t *testing.T) {
	f := writeFiles(t)
	c := Default()
	if tc, err := c.BackendTLSConfig(); tc != nil || err != nil {
		t.Errorf("off: %v %v", tc, err)
	}
	c.BackendTLS, c.BackendTLSCAFile, c.BackendTLSServerName = true, f.cert, "memgraph.test"
	tc, err := c.BackendTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || tc.ServerName != "memgraph.test" {
		t.Errorf("tls config %+v", tc)
	}
}

func TestManagementRefusals(t *testing.T) {
	f := writeFiles(t)
	base := []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=http://127.0.0.1:2379", "GATEWAY_INSTANCES=mg0=10.0.0.1:7687"}
	tests := []struct {
		name string
		env  []string
		want string // a substring of the error
	}{
		{"sync mode", []string{"GATEWAY_SYNC_MODE=ASYNC"}, "GATEWAY_SYNC_MODE=\"ASYNC\": unknown mode"},
		{"replication port", []string{"GATEWAY_REPLICATION_PORT=70000"}, "GATEWAY_REPLICATION_PORT=70000: not a port"},
		{"zero probe interval", []string{"GATEWAY_PROBE_INTERVAL=0"}, "GATEWAY_PROBE_INTERVAL=0s: must be longer than zero"},
		{"failover faster than probes", []string{"GATEWAY_MANAGE_REPLICATION=true", "GATEWAY_FAILOVER_AFTER=200ms"}, "one lost probe would fail the MAIN over"},
		{"password without user", []string{"GATEWAY_MEMGRAPH_PASSWORD_FILE=" + f.token}, "without GATEWAY_MEMGRAPH_USERNAME"},
		{"missing password file", []string{"GATEWAY_MEMGRAPH_USERNAME=u", "GATEWAY_MEMGRAPH_PASSWORD_FILE=" + f.missing}, "GATEWAY_MEMGRAPH_PASSWORD_FILE"},
		{"empty admin token", []string{"GATEWAY_ADMIN_TOKEN_FILE=" + f.empty}, "the file is empty"},
		{"otlp endpoint", []string{"GATEWAY_OTLP_ENDPOINT=ftp://x"}, "scheme \"ftp\""},
		{"sample ratio", []string{"GATEWAY_TRACE_SAMPLE_RATIO=1.5"}, "must be between 0 and 1"},
		{"gossip key length", []string{"GATEWAY_GOSSIP_KEY_FILE=" + f.badKey}, "line 1: a key of 5 characters"},
		{"gossip empty key file", []string{"GATEWAY_GOSSIP_KEY_FILE=" + f.empty}, "holds no key"},
		{"gossip both", []string{"GATEWAY_GOSSIP_KEY_FILE=" + f.gossipKey, "GATEWAY_GOSSIP_INSECURE=true"}, "both set"},
		{"gossip bind", []string{"GATEWAY_GOSSIP_INSECURE=true", "GATEWAY_GOSSIP_BIND_ADDRESS=gw:7946"}, "GATEWAY_GOSSIP_BIND_ADDRESS=\"gw:7946\""},
		{"gossip advertise", []string{"GATEWAY_GOSSIP_INSECURE=true", "GATEWAY_GOSSIP_ADVERTISE_ADDRESS=host"}, "GATEWAY_GOSSIP_ADVERTISE_ADDRESS"},
		{"gossip join port", []string{"GATEWAY_GOSSIP_INSECURE=true", "GATEWAY_GOSSIP_JOIN=gw:0"}, "GATEWAY_GOSSIP_JOIN entry \"gw:0\""},
		{"join without gossip", []string{"GATEWAY_GOSSIP_JOIN=gw"}, "gossip is off"},
		{"lease shorter than a leader change", []string{"GATEWAY_GOSSIP_INSECURE=true", "GATEWAY_ROUTE_TTL=4s"}, "GATEWAY_ROUTE_TTL=4s with GATEWAY_LEASE_DURATION=4s"},
		{"wipe without command", []string{"GATEWAY_ALLOW_WIPE_DIVERGED=true"}, "needs GATEWAY_WIPE_DIVERGED_COMMAND"},
		{"command without wipe", []string{"GATEWAY_WIPE_DIVERGED_COMMAND=" + f.script}, "the command would never run"},
		{"command not executable", []string{"GATEWAY_ALLOW_WIPE_DIVERGED=true", "GATEWAY_WIPE_DIVERGED_COMMAND=" + f.token}, "not an executable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadAndValidate(nil, append(append([]string(nil), base...), tt.env...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("gossip without election", func(t *testing.T) {
		_, err := loadAndValidate(nil, []string{"GATEWAY_MAIN=mg0=10.0.0.1:7687", "GATEWAY_GOSSIP_INSECURE=true"})
		if err == nil || !strings.Contains(err.Error(), "gossip (GATEWAY_GOSSIP_KEY_FILE or GATEWAY_GOSSIP_INSECURE) needs an election backend") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("gossip keys decoded", func(t *testing.T) {
		c, err := loadAndValidate(nil, append(base, "GATEWAY_GOSSIP_KEY_FILE="+f.gossipKey))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := c.GossipKeys()
		if err != nil || len(keys) != 2 || len(keys[0]) != 32 || string(keys[1]) != "0123456789abcdef" {
			t.Fatalf("keys %q, %v", keys, err)
		}
		if ip, port := c.GossipAdvertise("10.1.2.3"); ip != "10.1.2.3" || port != 0 {
			t.Errorf("advertise from POD_IP = %s:%d", ip, port)
		}
	})
}
