package mgsim

import (
	"net"
	"strconv"
	"testing"
)

// node is one emulated instance of a test cluster, restartable on the same
// addresses and data directory, as a pod with a persistent volume.
type node struct {
	t        *testing.T
	host     string
	cfg      Config
	in       *Instance
	c        *client
	replPort int // the port it listens on when it is a replica
}

// startNode starts an instance on host with a fixed Bolt port.
func startNode(t *testing.T, host, version string) *node {
	t.Helper()
	cfg := testConfig(t, host)
	cfg.Version = version
	cfg.BoltAddress = net.JoinHostPort(host, strconv.Itoa(freePort(t, host)))
	n := &node{t: t, host: host, cfg: cfg, replPort: freePort(t, host)}
	n.start()
	return n
}

func (n *node) start() {
	n.t.Helper()
	in, err := Start(n.cfg)
	if err != nil {
		n.t.Fatalf("start %s: %v", n.host, err)
	}
	n.in = in
	n.t.Cleanup(func() { in.Close() })
	n.c = newClient(n.t, in.Addr())
}

// kill emulates kill -9.
func (n *node) kill() { n.in.Kill() }

// restart starts the instance again on the same data directory.
func (n *node) restart() { n.start() }

// replAddr is the socket address to register this node with.
func (n *node) replAddr() string { return hostPort(n.host, n.replPort) }

// demote makes the node a replica on its replication port.
func (n *node) demote() { n.c.demote(n.replPort) }

// cluster is MAIN on 127.0.0.1 with replicas on 127.0.0.2 and 127.0.0.3,
// registered with the given modes.
type cluster struct {
	main, r1, r2 *node
}

func newCluster(t *testing.T, version, mode1, mode2 string) *cluster {
	t.Helper()
	cl := &cluster{
		main: startNode(t, "127.0.0.1", version),
		r1:   startNode(t, "127.0.0.2", version),
		r2:   startNode(t, "127.0.0.3", version),
	}
	cl.r1.demote()
	cl.r2.demote()
	cl.main.c.register("r1", mode1, cl.r1.replAddr())
	cl.main.c.register("r2", mode2, cl.r2.replAddr())
	cl.main.c.waitReplica("r1", readyCaughtUp)
	cl.main.c.waitReplica("r2", readyCaughtUp)
	return cl
}
