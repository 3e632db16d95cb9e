package controller_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// TestLoopResumesPredecessorsFailover: a leader claims a failover and is
// deposed before its barrier completes; the next leader reads the claim's
// Target from the record and promotes exactly that instance at the next
// epoch, instead of choosing anew under another claim.
func TestLoopResumesPredecessorsFailover(t *testing.T) {
	hosts := []string{"127.0.0.31", "127.0.0.32", "127.0.0.33"}
	sims := make(map[string]*mgsim.Instance)
	var insts []discovery.Instance
	for i, h := range hosts {
		name := fmt.Sprintf("mg-%d", i+1)
		cfg := mgsim.DefaultConfig(t.TempDir())
		cfg.BoltAddress = net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
		cfg.ReplicaCheckInterval = 100 * time.Millisecond
		in, err := mgsim.Start(cfg)
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { in.Close() })
		sims[name] = in
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

	lead := func(id string, ttl time.Duration) (state.Store, func()) {
		mem.SetLeader(id)
		store := mem.Store(state.Fixed(id))
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- controller.RunLoop(lctx, controller.LoopConfig{
				Controller:    controller.Config{FailoverAfter: time.Second},
				ProbeInterval: 200 * time.Millisecond,
				RouteTTL:      ttl,
				LeaderID:      id,
			}, store, src, nil, zaptest.NewLogger(t).Named(id))
		}()
		stop := func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("RunLoop %s: %v", id, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("RunLoop %s did not return after cancel", id)
			}
		}
		return store, stop
	}

	// The first leader bootstraps and, with a long barrier, claims a
	// failover it will not finish.
	store1, stop1 := lead("leader-1", 20*time.Second)
	var boot state.Route
	waitFor(t, 30*time.Second, "bootstrap", func() (bool, string) {
		r, _, err := store1.Load(ctx)
		boot = r
		return err == nil && r.Phase == state.PhaseServing && len(r.Replicas) == 2 && r.Replicas[0].Mode != "" && r.Replicas[1].Mode != "",
			fmt.Sprintf("route %+v err %v", r, err)
	})
	// The first leader waits out its own start-up barrier (RouteTTL after it
	// started) before any promotion; bootstrap promoted nothing, so the
	// record may be serving before that. Kill the MAIN now.
	sims[boot.Main.Name].Kill()
	var claim state.Route
	waitFor(t, 15*time.Second, "claim", func() (bool, string) {
		r, _, err := store1.Load(ctx)
		claim = r
		return err == nil && r.Phase == state.PhaseFailover && r.Epoch > boot.Epoch, fmt.Sprintf("route %+v err %v", r, err)
	})
	stop1()
	if claim.Target == "" || claim.From != boot.Main.Name {
		t.Fatalf("claim %+v: want a target and from=%s in the record", claim, boot.Main.Name)
	}
	if r, _, _ := store1.Load(ctx); r.Epoch != claim.Epoch {
		t.Fatalf("the deposed leader went on to epoch %d (%+v)", r.Epoch, r)
	}

	// The next leader completes it: same target, next epoch.
	store2, stop2 := lead("leader-2", time.Second)
	defer stop2()
	var after state.Route
	waitFor(t, 20*time.Second, "resumed failover", func() (bool, string) {
		r, _, err := store2.Load(ctx)
		after = r
		return err == nil && r.Phase == state.PhaseServing && r.Epoch > claim.Epoch, fmt.Sprintf("route %+v err %v", r, err)
	})
	if after.Main.Name != claim.Target || after.Epoch != claim.Epoch+1 {
		t.Fatalf("next leader published %s at epoch %d; want the recorded target %s at epoch %d",
			after.Main.Name, after.Epoch, claim.Target, claim.Epoch+1)
	}
	if after.Leader != "leader-2" {
		t.Fatalf("published by %q", after.Leader)
	}
}
