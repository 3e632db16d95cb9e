package memgraph

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// Test timing: instances check their replicas every 50 ms and give up on
// replication RPCs within about a second, so state settles fast.
const (
	testCheckInterval = 50 * time.Millisecond
	testWait          = 10 * time.Second
)

func simTimeouts() mgsim.RPCTimeouts {
	return mgsim.RPCTimeouts{
		Connect:           time.Second,
		FrequentHeartbeat: 500 * time.Millisecond,
		SwapMainUUID:      time.Second,
		Heartbeat:         time.Second,
		PrepareCommit:     2 * time.Second,
		FinalizeCommit:    time.Second,
		Recovery:          2 * time.Second,
		AsyncLock:         50 * time.Millisecond,
	}
}

// node is one emulated Memgraph with this package's Client on it. Its Bolt
// port is fixed, so it can be restarted on the same address and data, as
// a pod with a volume.
type node struct {
	t        *testing.T
	cfg      mgsim.Config
	in       *mgsim.Instance
	c        *Client
	host     string
	replPort int // where it listens for replication once demoted
}

// startNode starts an emulated instance on host (a 127.0.0.x address)
// with the given version ("" for mgsim's default) and a Client for it.
func startNode(t *testing.T, host, version string, opts ...func(*mgsim.Config)) *node {
	t.Helper()
	cfg := mgsim.DefaultConfig(t.TempDir())
	cfg.BoltAddress = net.JoinHostPort(host, strconv.Itoa(freePort(t, host)))
	cfg.Version = version
	cfg.ReplicaCheckInterval = testCheckInterval
	cfg.Timeouts = simTimeouts()
	for _, o := range opts {
		o(&cfg)
	}
	n := &node{t: t, cfg: cfg, host: host, replPort: freePort(t, host)}
	n.start()
	n.c = newClient(t, Config{Name: host, Addr: cfg.BoltAddress})
	return n
}

// start (re)starts the instance on its address and data directory.
func (n *node) start() {
	n.t.Helper()
	in, err := mgsim.Start(n.cfg)
	if err != nil {
		n.t.Fatalf("start %s: %v", n.cfg.BoltAddress, err)
	}
	n.in = in
	n.t.Cleanup(func() { in.Close() })
}

// replAddr is the address to register the node with.
func (n *node) replAddr() string { return net.JoinHostPort(n.host, strconv.Itoa(n.replPort)) }

// demote makes the node a replica on its replication port.
func (n *node) demote() {
	n.t.Helper()
	if err := n.c.Demote(testCtx(n.t), n.replPort); err != nil {
		n.t.Fatalf("demote %s: %v", n.host, err)
	}
}

// write runs a data query on the node (auto-commit) and returns its error.
func (n *node) write(query string) error {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	_, err := n.c.runOnce(ctx, query)
	return err
}

// newClient makes a Client with test-friendly timeouts (the race detector
// slows everything) and closes it at the end of the test.
func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.AdminTimeout == 0 {
		cfg.AdminTimeout = 5 * time.Second
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// freePort returns a TCP port free on host at the time of the call.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or testWait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replicas returns SHOW REPLICAS by name, failing the test on error.
func replicas(t *testing.T, c *Client) map[string]ReplicaInfo {
	t.Helper()
	rows, err := c.Replicas(testCtx(t))
	if err != nil {
		t.Fatalf("replicas of %s: %v", c.Name(), err)
	}
	out := make(map[string]ReplicaInfo, len(rows))
	for _, r := range rows {
		if _, dup := out[r.Name]; dup {
			t.Fatalf("two rows named %s", r.Name)
		}
		out[r.Name] = r
	}
	return out
}

// waitReplica waits until the row of name satisfies cond.
func waitReplica(t *testing.T, c *Client, name string, cond func(ReplicaInfo) bool) ReplicaInfo {
	t.Helper()
	var last ReplicaInfo
	waitFor(t, "replica "+name, func() bool {
		r, ok := replicas(t, c)[name]
		last = r
		return ok && cond(r)
	})
	return last
}

func readyCaughtUp(r ReplicaInfo) bool {
	return !r.Zombie && r.Status == StatusReady && r.Behind == 0
}

// wantKind asserts err is an *Error of kind.
func wantKind(t *testing.T, err, kind error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, kind) {
		t.Fatalf("got %T %v, want an *Error of kind %v", err, err, kind)
	}
	return e
}

// mustOK fails the test on err.
func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
