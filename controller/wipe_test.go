package controller_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.uber.org/zap/zaptest"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

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

// TestLoopWipesDivergedInstance: an old MAIN that took a write the new
// MAIN lacks comes back diverged; with AllowWipeDiverged the loop drops
// it, calls the wipe hook (here: the instance restarts empty on a fresh
// data directory) and registers it again, and it catches up with the new
// MAIN without the diverged write.
func TestLoopWipesDivergedInstance(t *testing.T) {
	hosts := []string{"127.0.0.41", "127.0.0.42", "127.0.0.43"}
	var mu sync.Mutex
	sims := map[string]*mgsim.Instance{}
	cfgs := map[string]mgsim.Config{}
	start := func(name string, cfg mgsim.Config) {
		t.Helper()
		in, err := mgsim.Start(cfg)
		if err != nil {
			t.Errorf("start %s: %v", name, err)
			return
		}
		mu.Lock()
		sims[name], cfgs[name] = in, cfg
		mu.Unlock()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, in := range sims {
			in.Close()
		}
	})
	var insts []discovery.Instance
	for i, h := range hosts {
		name := fmt.Sprintf("mg-%d", i+1)
		cfg := mgsim.DefaultConfig(t.TempDir())
		cfg.BoltAddress = net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
		cfg.ReplicaCheckInterval = 100 * time.Millisecond
		start(name, cfg)
		insts = append(insts, discovery.Instance{Name: name, BoltAddr: cfg.BoltAddress,
			ReplicationAddr: net.JoinHostPort(h, "10000"), Ready: true})
	}
	src, err := discovery.NewStatic(insts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	go func() { _ = src.Run(ctx) }()
	mem := state.NewMemory()
	mem.SetLeader("leader-1")
	store := mem.Store(state.Fixed("leader-1"))

	var wiped []string
	wipe := func(_ context.Context, name, addr string) error {
		// What an operator's hook does to a pod: delete its volume and
		// restart it empty at the same address.
		mu.Lock()
		in, cfg := sims[name], cfgs[name]
		wiped = append(wiped, name)
		mu.Unlock()
		if in == nil || cfg.BoltAddress != addr {
			return fmt.Errorf("unknown instance %s at %s", name, addr)
		}
		in.Kill()
		dir, err := os.MkdirTemp(t.TempDir(), "wiped-")
		if err != nil {
			return err
		}
		cfg.DataDir = dir
		in, err = mgsim.Start(cfg)
		if err != nil {
			return err
		}
		mu.Lock()
		sims[name], cfgs[name] = in, cfg
		mu.Unlock()
		return nil
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- controller.RunLoop(lctx, controller.LoopConfig{
			Controller:    controller.Config{FailoverAfter: time.Second, AllowWipeDiverged: true},
			ProbeInterval: 200 * time.Millisecond,
			RouteTTL:      time.Second,
			LeaderID:      "leader-1",
			Wipe:          wipe,
		}, store, src, nil, zaptest.NewLogger(t))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunLoop: %v", err)
		}
	}()

	var boot state.Route
	waitFor(t, 30*time.Second, "bootstrap", func() (bool, string) {
		r, _, err := store.Load(ctx)
		boot = r
		return err == nil && r.Phase == state.PhaseServing && len(r.Replicas) == 2 && r.Replicas[0].Mode != "" && r.Replicas[1].Mode != "",
			fmt.Sprintf("route %+v err %v", r, err)
	})
	old := boot.Main.Name
	mu.Lock()
	oldCfg := cfgs[old]
	mu.Unlock()
	for i := range int64(5) {
		if err := writeNode(ctx, oldCfg.BoltAddress, i); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	mu.Lock()
	sims[old].Kill()
	mu.Unlock()
	var after state.Route
	waitFor(t, 20*time.Second, "failover", func() (bool, string) {
		r, _, err := store.Load(ctx)
		after = r
		return err == nil && r.Phase == state.PhaseServing && r.Main.Name != old, fmt.Sprintf("route %+v err %v", r, err)
	})
	// The old MAIN takes a write alone, on an address nobody knows.
	// Its replication state is not restored there: with its STRICT_SYNC
	// replica gone, a write would be refused.
	h, _, _ := net.SplitHostPort(oldCfg.BoltAddress)
	alone := oldCfg
	alone.BoltAddress = net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
	alone.RestoreStateOnStartup = false
	in, err := mgsim.Start(alone)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeNode(ctx, alone.BoltAddress, 100); err != nil {
		t.Fatalf("diverging write: %v", err)
	}
	in.Close()
	// Back at its own address: diverged from the new MAIN.
	start(old, oldCfg)

	newMain := after.Main
	waitFor(t, 30*time.Second, "the wiped instance registered and ready", func() (bool, string) {
		c, err := memgraph.New(memgraph.Config{Name: newMain.Name, Addr: newMain.BoltAddr})
		if err != nil {
			return false, err.Error()
		}
		defer c.Close()
		rcx, rcancel := context.WithTimeout(ctx, time.Second)
		defer rcancel()
		rows, err := c.Replicas(rcx)
		if err != nil {
			return false, err.Error()
		}
		for _, row := range rows {
			if row.Name == old && row.Status == memgraph.StatusReady {
				return true, ""
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return false, fmt.Sprintf("replicas %+v, wiped %v", rows, wiped)
	})
	mu.Lock()
	w := append([]string(nil), wiped...)
	mu.Unlock()
	if len(w) != 1 || w[0] != old {
		t.Fatalf("wiped %v, want exactly [%s]", w, old)
	}
	got, err := items(ctx, oldCfg.BoltAddress)
	if err != nil {
		t.Fatal(err)
	}
	if got[100] {
		t.Fatalf("the diverged write survived the wipe: %v", got)
	}
	for i := range int64(5) {
		if !got[i] {
			t.Fatalf("write %d acknowledged before the failover is missing on the re-synced %s: %v", i, old, got)
		}
	}
}
