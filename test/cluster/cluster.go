package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/testnet"
	"github.com/memgraph-gateway/memgraph-gateway/routeagent"
	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// DefaultVersion is the Memgraph release the instances emulate: the newest
// mgsim emulates (what the sandbox runs too).
const DefaultVersion = "3.12.0"

// ReplicationPort is where an instance serves replication once it is a
// REPLICA: the controller's default (SET REPLICATION ROLE TO REPLICA WITH
// PORT 10000), fixed, which is why every instance has its own address.
const ReplicationPort = 10000

// GossipPort is each gateway's gossip port with Options.Gossip.
const GossipPort = 7946

// LeaseName is the election Lease of the gateways with Options.Kube (the
// gateway's default --lease-name), which also holds the route record.
const LeaseName = "memgraph-gateway"

// ServiceAccountName is the ServiceAccount the gateways act as with
// Options.Kube.
const ServiceAccountName = "memgraph-gateway"

// Options shape a cluster. Zero values take the defaults.
type Options struct {
	// Instances is the number of mgsim instances (mg1, mg2, ...). Default 3.
	Instances int
	// Gateways is the number of gateway processes (gw1, gw2, ...). Default 3.
	Gateways int
	// HAProxy puts HAProxy in front of the gateways when it is installed
	// (BoltURIs then returns its address only).
	HAProxy bool
	// Version is the emulated Memgraph release. Default DefaultVersion.
	Version string
	// ReplicaCheckFrequency is mgsim's --replica-check-frequency (0: its
	// default, Memgraph's 1s).
	ReplicaCheckFrequency time.Duration
	// Gossip connects the gateways with memberlist (--gossip-bind-address
	// on port GossipPort of each gateway's address, all joining gw1,
	// encrypted with a random key file), which carries route leases and
	// acks where the gateway supports them.
	Gossip bool
	// Kube runs the gateways with --election kubernetes against this
	// control plane (test/kube) instead of the embedded etcd: in a fresh
	// namespace, as ServiceAccount ServiceAccountName bound to
	// deploy/rbac/role.yaml and nothing else (its kubeconfig is every
	// gateway's --kubeconfig), so the gateway's RBAC is exercised. The
	// route lives in the annotation of Lease LeaseName; discovery stays
	// static. nil: etcd.
	Kube *kube.Cluster
	// StoreGate puts a Gate between the gateways and etcd, so that
	// StoreGate() can take the route store away from all of them.
	StoreGate bool
	// GatewayArgs are added to every gateway's command line (for example
	// "--route-ttl", "6s"); later flags win.
	GatewayArgs []string
	// LogLevel of the gateways. Default "info" (the controller's actions).
	LogLevel string
	// Keep leaves the working directory (logs, data) in place on Close.
	Keep bool
	// Logf receives progress lines (nil: none).
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Instances <= 0 {
		o.Instances = 3
	}
	if o.Gateways <= 0 {
		o.Gateways = 3
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	begin, logf := time.Now(), o.Logf
	o.Logf = func(format string, args ...any) {
		logf("+%.1fs "+format, append([]any{time.Since(begin).Seconds()}, args...)...)
	}
	return o
}

// Instance is one emulated Memgraph instance.
type Instance struct {
	Name    string // mg1, mg2, ...: also its name in the gateways' --instances
	Host    string // its own loopback address
	Bolt    string // host:port clients and the gateways use
	Repl    string // host:10000, what it is registered with
	DataDir string
	proc    *Process
}

// Process is the instance's process.
func (in *Instance) Process() *Process { return in.proc }

// Gateway is one gateway process.
type Gateway struct {
	Name string // gw1, gw2, ...: its --id
	Host string
	Bolt string // read-write Bolt listener
	HTTP string // HTTP API (host:port)
	proc *Process
}

// Process is the gateway's process.
func (g *Gateway) Process() *Process { return g.proc }

// Cluster is a running deployment. Its methods are safe for concurrent use.
type Cluster struct {
	opts      Options
	work      string
	bin       string
	subnet    string // "127.a.b."
	boltPort  int
	httpPort  int
	etcd      *etcdtest.Etcd // nil with Options.Kube
	storeGate *Gate          // with Options.StoreGate
	namespace string         // with Options.Kube
	account   *kube.Account  // with Options.Kube
	instances []*Instance
	gateways  []*Gateway
	haproxy   *Process
	lbAddr    string
	logs      *logBook

	mu     sync.Mutex
	extra  []*Process
	closed bool
}

// New starts a cluster for a test and closes it when the test ends; on
// failure it logs the gateways' control-plane lines first. It fails the
// test when the cluster cannot start.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			c.DumpLogs(&b, 400)
			t.Logf("cluster logs (control plane):\n%s", b.String())
		}
		c.Close()
	})
	return c
}

// Start builds the binaries (once per process) and starts the cluster:
// instances, an embedded etcd (or, with Options.Kube, a namespace and a
// ServiceAccount on that kube-apiserver), gateways (which elect a leader
// and bootstrap replication) and HAProxy if asked. It returns once every
// gateway serves a route with a MAIN. On error everything started is
// stopped.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts = opts.withDefaults()
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "mg-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, work: work, bin: bin, logs: newLogBook()}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := c.pickAddresses(); err != nil {
		return nil, err
	}
	opts.Logf("cluster: %d instances, %d gateways on %s0/24, work dir %s", opts.Instances, opts.Gateways, c.subnet, work)

	for i := 1; i <= opts.Instances; i++ {
		host := c.host(10 + i)
		in := &Instance{Name: fmt.Sprintf("mg%d", i), Host: host,
			Bolt: net.JoinHostPort(host, strconv.Itoa(c.boltPort)),
			Repl: net.JoinHostPort(host, strconv.Itoa(ReplicationPort)),
		}
		in.DataDir = filepath.Join(work, "data", in.Name)
		in.proc = c.mgsimProcess(in.Name, in.Bolt, in.DataDir)
		c.instances = append(c.instances, in)
		if err := in.proc.start(20 * time.Second); err != nil {
			return nil, err
		}
	}

	var election []string
	if opts.Kube != nil {
		if c.namespace, err = opts.Kube.NewNamespace(ctx, "chaos"); err != nil {
			return nil, err
		}
		if c.account, err = opts.Kube.ServiceAccount(ctx, c.namespace, ServiceAccountName); err != nil {
			return nil, err
		}
		election = []string{"--election", "kubernetes", "--kubeconfig", c.account.Kubeconfig,
			"--namespace", c.namespace, "--lease-name", LeaseName}
		opts.Logf("cluster: Kubernetes election in namespace %s as serviceaccount %s (%s)", c.namespace, ServiceAccountName, opts.Kube.Host())
	} else {
		c.etcd, err = etcdtest.StartEtcd(filepath.Join(work, "etcd"))
		if err != nil {
			return nil, err
		}
		endpoint := c.etcd.Endpoint
		if opts.StoreGate {
			u, err := url.Parse(endpoint)
			if err != nil {
				return nil, err
			}
			if c.storeGate, err = NewGate(u.Host); err != nil {
				return nil, err
			}
			endpoint = "http://" + c.storeGate.Addr()
		}
		election = []string{"--election", "etcd", "--etcd-endpoints", endpoint}
	}
	var list []string
	for _, in := range c.instances {
		list = append(list, in.Name+"="+in.Bolt+"/"+in.Repl)
	}
	keyFile := filepath.Join(work, "gossip.key")
	if opts.Gossip {
		key := make([]byte, 32)
		for i := range key {
			key[i] = byte(rand.IntN(256))
		}
		if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	// Every gateway joins the whole list, as a headless Service resolves
	// to every pod: a gateway restarted with only itself to join would
	// wait for the others' next periodic rejoin.
	var join []string
	for j := 1; j <= opts.Gateways; j++ {
		join = append(join, net.JoinHostPort(c.host(20+j), strconv.Itoa(GossipPort)))
	}
	for j := 1; j <= opts.Gateways; j++ {
		host := c.host(20 + j)
		g := &Gateway{Name: fmt.Sprintf("gw%d", j), Host: host,
			Bolt: net.JoinHostPort(host, strconv.Itoa(c.boltPort)),
			HTTP: net.JoinHostPort(host, strconv.Itoa(c.httpPort)),
		}
		args := []string{"serve", "--id", g.Name, "--bind-address", g.Bolt, "--http-address", g.HTTP,
			"--log-format", "json", "--log-level", opts.LogLevel,
			"--instances", strings.Join(list, ","), "--manage-replication"}
		args = append(args, election...)
		if opts.Gossip {
			args = append(args, "--gossip-key-file", keyFile,
				"--gossip-bind-address", net.JoinHostPort(host, strconv.Itoa(GossipPort)),
				"--gossip-join", strings.Join(join, ","))
		}
		args = append(args, opts.GatewayArgs...)
		name := g.Name
		g.proc = &Process{Name: g.Name, LogPath: filepath.Join(work, g.Name+".log"),
			bin: filepath.Join(bin, "memgraph-gateway"), args: args,
			onLine: func(line string) { c.logs.add(name, line) }}
		c.gateways = append(c.gateways, g)
		if err := g.proc.start(0); err != nil {
			return nil, err
		}
	}
	for _, g := range c.gateways {
		if err := c.waitReady(ctx, g, 30*time.Second); err != nil {
			return nil, err
		}
	}
	r, err := c.WaitServing(ctx, 30*time.Second, nil)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	opts.Logf("cluster: every gateway serves epoch %d, MAIN %s", r.Epoch, r.Main.Name)

	if opts.HAProxy {
		path, lookErr := exec.LookPath("haproxy")
		if lookErr != nil {
			opts.Logf("cluster: haproxy not installed; clients use the gateways directly")
		} else if err := c.startHAProxy(ctx, path); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) mgsimProcess(name, bolt, dataDir string, extra ...string) *Process {
	args := []string{"--bolt-address", bolt, "--data-dir", dataDir, "--version", c.opts.Version,
		"--log-format", "console", "--log-level", "warn"}
	if c.opts.ReplicaCheckFrequency > 0 {
		args = append(args, "--replica-check-frequency", c.opts.ReplicaCheckFrequency.String())
	}
	args = append(args, extra...)
	return &Process{Name: name, LogPath: filepath.Join(c.work, name+".log"),
		bin: filepath.Join(c.bin, "mgsim"), args: args, ready: "mgsim ready"}
}

// pickAddresses chooses a random 127.a.b.0/24 whose addresses and ports
// are free: instance i on .(10+i), gateway j on .(20+j), HAProxy on .1,
// spares from .(90) on. Tests of parallel packages each get their own.
func (c *Cluster) pickAddresses() error {
	var last error
	for attempt := range 40 {
		c.subnet = fmt.Sprintf("127.%d.%d.", 100+rand.IntN(150), rand.IntN(256))
		c.boltPort, c.httpPort = 7687, 9090
		if attempt >= 20 { // something holds 7687 or 9090 on every address
			ports, err := testnet.FreePorts(2)
			if err != nil {
				return err
			}
			c.boltPort, c.httpPort = ports[0], ports[1]
		}
		var want []string
		for i := 1; i <= c.opts.Instances; i++ {
			want = append(want, net.JoinHostPort(c.host(10+i), strconv.Itoa(c.boltPort)),
				net.JoinHostPort(c.host(10+i), strconv.Itoa(ReplicationPort)))
		}
		for j := 1; j <= c.opts.Gateways; j++ {
			want = append(want, net.JoinHostPort(c.host(20+j), strconv.Itoa(c.boltPort)),
				net.JoinHostPort(c.host(20+j), strconv.Itoa(c.httpPort)),
				net.JoinHostPort(c.host(20+j), strconv.Itoa(GossipPort)))
		}
		want = append(want, net.JoinHostPort(c.host(1), strconv.Itoa(c.boltPort)),
			c.SpareAddr(0), c.SpareAddr(1))
		if last = probeFree(want); last == nil {
			return nil
		}
	}
	return fmt.Errorf("cluster: no free loopback /24 found: %w", last)
}

func probeFree(addrs []string) error {
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		l.Close()
	}
	return nil
}

func (c *Cluster) host(n int) string { return c.subnet + strconv.Itoa(n) }

// SpareAddr is a free Bolt address on this cluster's subnet that no
// gateway knows about (n from 0), for an instance started on its own.
func (c *Cluster) SpareAddr(n int) string {
	return net.JoinHostPort(c.host(90+n), strconv.Itoa(c.boltPort))
}

// Instances returns the instances, mg1 first.
func (c *Cluster) Instances() []*Instance { return c.instances }

// Gateways returns the gateways, gw1 first.
func (c *Cluster) Gateways() []*Gateway { return c.gateways }

// Instance returns the named instance; it panics on an unknown name (a
// test bug).
func (c *Cluster) Instance(name string) *Instance {
	for _, in := range c.instances {
		if in.Name == name {
			return in
		}
	}
	panic("cluster: no instance " + name)
}

// Gateway returns the named gateway; it panics on an unknown name.
func (c *Cluster) Gateway(name string) *Gateway {
	for _, g := range c.gateways {
		if g.Name == name {
			return g
		}
	}
	panic("cluster: no gateway " + name)
}

// WorkDir holds the logs (<name>.log) and the instances' data.
func (c *Cluster) WorkDir() string { return c.work }

// StoreGate is the gate between the gateways and etcd (nil without
// Options.StoreGate).
func (c *Cluster) StoreGate() *Gate { return c.storeGate }

// EtcdEndpoint is the embedded etcd's client URL ("" with Options.Kube).
func (c *Cluster) EtcdEndpoint() string {
	if c.etcd == nil {
		return ""
	}
	return c.etcd.Endpoint
}

// Kube is the control plane of Options.Kube (nil without).
func (c *Cluster) Kube() *kube.Cluster { return c.opts.Kube }

// Namespace is the gateways' namespace with Options.Kube ("" without):
// their Lease LeaseName and their Events are there.
func (c *Cluster) Namespace() string { return c.namespace }

// Account is the ServiceAccount the gateways act as with Options.Kube
// (nil without).
func (c *Cluster) Account() *kube.Account { return c.account }

// LoadBalancer is HAProxy's Bolt address, "" without HAProxy.
func (c *Cluster) LoadBalancer() string { return c.lbAddr }

// BoltURIs is where clients connect: HAProxy if it runs, else every
// gateway.
func (c *Cluster) BoltURIs() []string {
	if c.lbAddr != "" {
		return []string{"bolt://" + c.lbAddr}
	}
	var out []string
	for _, g := range c.gateways {
		out = append(out, "bolt://"+g.Bolt)
	}
	return out
}

// RestartInstance starts a stopped (killed) instance again with the same
// data directory and flags, and waits until it serves.
func (c *Cluster) RestartInstance(name string) error {
	return c.Instance(name).proc.start(20 * time.Second)
}

// StartInstanceAt starts another process of the named instance's data
// directory on addr (SpareAddr), which no gateway knows, with extra mgsim
// flags; the instance's own process must not run. Close kills it too;
// stop it (Terminate) before restarting the instance.
func (c *Cluster) StartInstanceAt(name, addr string, extra ...string) (*Process, error) {
	in := c.Instance(name)
	if in.proc.Running() {
		return nil, fmt.Errorf("%s runs: its data directory is in use", name)
	}
	c.mu.Lock()
	n := len(c.extra)
	c.mu.Unlock()
	p := c.mgsimProcess(fmt.Sprintf("%s-alone-%d", name, n), addr, in.DataDir, extra...)
	c.mu.Lock()
	c.extra = append(c.extra, p)
	c.mu.Unlock()
	if err := p.start(20 * time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

// RestartGateway starts a killed gateway again and waits until /readyz
// answers 200.
func (c *Cluster) RestartGateway(ctx context.Context, name string) error {
	g := c.Gateway(name)
	if err := g.proc.start(0); err != nil {
		return err
	}
	return c.waitReady(ctx, g, 30*time.Second)
}

func (c *Cluster) startHAProxy(ctx context.Context, bin string) error {
	listen := net.JoinHostPort(c.host(1), strconv.Itoa(c.boltPort))
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn 4000\n\ndefaults\n  mode tcp\n  retries 3\n  option redispatch\n")
	fmt.Fprintf(&b, "  timeout connect 2s\n  timeout client 1h\n  timeout server 1h\n  timeout check 1s\n\n")
	fmt.Fprintf(&b, "frontend bolt\n  bind %s\n  default_backend gateways\n\n", listen)
	fmt.Fprintf(&b, "backend gateways\n  balance leastconn\n  option httpchk GET /readyz\n  http-check expect status 200\n")
	for _, g := range c.gateways {
		fmt.Fprintf(&b, "  server %s %s check port %d inter 500ms fall 2 rise 1\n", g.Name, g.Bolt, c.httpPort)
	}
	cfg := filepath.Join(c.work, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	c.haproxy = &Process{Name: "haproxy", LogPath: filepath.Join(c.work, "haproxy.log"), bin: bin, args: []string{"-db", "-f", cfg}}
	if err := c.haproxy.start(0); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	probe := routeagent.BoltProbe(nil) // a Bolt handshake, as the gateways probe a MAIN
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx, listen)
		cancel()
		if err == nil {
			c.lbAddr = listen
			c.opts.Logf("cluster: HAProxy on %s", listen)
			return nil
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("haproxy: no Bolt answer on %s within 10s: %v; log:\n%s", listen, err, tail(c.haproxy.LogPath, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close kills every process (SIGKILL, paused ones included), stops etcd
// and removes the working directory unless Options.Keep. It is idempotent.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	extra := c.extra
	c.mu.Unlock()
	var procs []*Process
	if c.haproxy != nil {
		procs = append(procs, c.haproxy)
	}
	for _, g := range c.gateways {
		procs = append(procs, g.proc)
	}
	for _, in := range c.instances {
		procs = append(procs, in.proc)
	}
	procs = append(procs, extra...)
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() {
			if err := p.Kill(); err != nil {
				c.opts.Logf("cluster: %v", err)
			}
		})
	}
	wg.Wait()
	if c.storeGate != nil {
		c.storeGate.Stop()
	}
	if c.etcd != nil {
		c.etcd.Close()
	}
	if c.opts.Keep {
		c.opts.Logf("cluster: kept %s", c.work)
		return
	}
	os.RemoveAll(c.work)
}
