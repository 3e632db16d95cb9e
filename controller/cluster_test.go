package controller_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.uber.org/zap/zaptest"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// simCluster is a set of in-process emulated instances named mg-1, mg-2,
// ... on the given loopback hosts (replication on port 10000 of each),
// listed by a running static discovery source. Tests of the whole loop
// share it.
type simCluster struct {
	t     *testing.T
	insts []discovery.Instance
	src   *discovery.Static

	mu   sync.Mutex
	sims map[string]*mgsim.Instance
	cfgs map[string]mgsim.Config
}

// startSimCluster starts one instance per host; tune adjusts each
// instance's configuration (nil: none). Everything stops with the test.
func startSimCluster(t *testing.T, hosts []string, tune func(*mgsim.Config)) *simCluster {
	t.Helper()
	c := &simCluster{t: t, sims: map[string]*mgsim.Instance{}, cfgs: map[string]mgsim.Config{}}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, in := range c.sims {
			in.Close()
		}
	})
	for i, h := range hosts {
		name := fmt.Sprintf("mg-%d", i+1)
		cfg := mgsim.DefaultConfig(t.TempDir())
		cfg.BoltAddress = net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
		cfg.ReplicaCheckInterval = 100 * time.Millisecond
		if tune != nil {
			tune(&cfg)
		}
		if err := c.start(name, cfg); err != nil {
			t.Fatal(err)
		}
		c.insts = append(c.insts, discovery.Instance{Name: name, BoltAddr: cfg.BoltAddress,
			ReplicationAddr: net.JoinHostPort(h, "10000"), Ready: true})
	}
	src, err := discovery.NewStatic(c.insts)
	if err != nil {
		t.Fatal(err)
	}
	c.src = src
	go func() { _ = src.Run(t.Context()) }()
	return c
}

// start runs instance name with cfg (a first start or a restart).
func (c *simCluster) start(name string, cfg mgsim.Config) error {
	in, err := mgsim.Start(cfg)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	c.mu.Lock()
	c.sims[name], c.cfgs[name] = in, cfg
	c.mu.Unlock()
	return nil
}

// instance returns the running instance and its configuration.
func (c *simCluster) instance(name string) (*mgsim.Instance, mgsim.Config) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sims[name], c.cfgs[name]
}

// kill crashes instance name (as kill -9: nothing flushed beyond what it
// made durable).
func (c *simCluster) kill(name string) {
	if in, _ := c.instance(name); in != nil {
		in.Kill()
	}
}

func (c *simCluster) addr(name string) string {
	in, _ := discovery.Find(c.insts, name)
	return in.BoltAddr
}

// memStore is an in-memory route store whose leader is id.
func memStore(id string) (*state.Memory, state.Store) {
	mem := state.NewMemory()
	mem.SetLeader(id)
	return mem, mem.Store(state.Fixed(id))
}

// runLoop runs RunLoop on the cluster until the returned stop is called
// (or the test ends), and checks that it returns nil once stopped.
func runLoop(t *testing.T, c *simCluster, cfg controller.LoopConfig, store state.Store) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	log := zaptest.NewLogger(t)
	if cfg.LeaderID != "" {
		log = log.Named(cfg.LeaderID)
	}
	go func() { done <- controller.RunLoop(ctx, cfg, store, c.src, nil, log) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("RunLoop %s: %v", cfg.LeaderID, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("RunLoop %s did not return after cancel", cfg.LeaderID)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// writeNode creates one :Item node on the instance at addr.
func writeNode(ctx context.Context, addr string, i int64) error {
	drv, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth())
	if err != nil {
		return err
	}
	defer drv.Close(ctx)
	s := drv.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite})
	defer s.Close(ctx)
	_, err = s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "CREATE (n:Item {i: $i})", map[string]any{"i": i})
		if err != nil {
			return nil, err
		}
		return res.Consume(ctx)
	})
	return err
}

// items reads every :Item's i on the instance at addr.
func items(ctx context.Context, addr string) (map[int64]bool, error) {
	drv, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth())
	if err != nil {
		return nil, err
	}
	defer drv.Close(ctx)
	s := drv.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead})
	defer s.Close(ctx)
	out, err := s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "MATCH (n:Item) RETURN n.i AS i", nil)
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	for _, rec := range out.([]*neo4j.Record) {
		if v, ok := rec.Values[0].(int64); ok {
			seen[v] = true
		}
	}
	return seen, nil
}
