package controller_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// TestLoopResumesPredecessorsFailover: a leader claims a failover and is
// deposed before its barrier completes; the next leader reads the claim's
// Target from the record and promotes exactly that instance at the next
// epoch, instead of choosing anew under another claim.
func TestLoopResumesPredecessorsFailover(t *testing.T) {
	c := startSimCluster(t, []string{"127.0.0.31", "127.0.0.32", "127.0.0.33"}, nil)
	ctx := t.Context()
	mem := state.NewMemory()
	lead := func(id string, ttl time.Duration) (state.Store, func()) {
		mem.SetLeader(id)
		store := mem.Store(state.Fixed(id))
		return store, runLoop(t, c, controller.LoopConfig{
			Controller:    controller.Config{FailoverAfter: time.Second},
			ProbeInterval: 200 * time.Millisecond,
			RouteTTL:      ttl,
			LeaderID:      id,
		}, store)
	}

	// The first leader bootstraps and, with a long barrier, claims a
	// failover it will not finish.
	store1, stop1 := lead("leader-1", 20*time.Second)
	boot := waitBootstrap(t, store1)
	c.kill(boot.Main.Name)
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
	store2, _ := lead("leader-2", time.Second)
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

// waitBootstrap waits until the store holds a serving route whose two
// replicas are registered, the synchronous one caught up (so that a
// failover has a target), and returns it.
func waitBootstrap(t *testing.T, store state.Store) state.Route {
	t.Helper()
	var boot state.Route
	waitFor(t, 30*time.Second, "bootstrap", func() (bool, string) {
		r, _, err := store.Load(t.Context())
		boot = r
		if err != nil || r.Phase != state.PhaseServing || len(r.Replicas) != 2 {
			return false, fmt.Sprintf("route %+v err %v", r, err)
		}
		registered, syncReady := 0, false
		for _, rep := range r.Replicas {
			if rep.Mode != "" {
				registered++
			}
			if (rep.Mode == state.ModeStrictSync || rep.Mode == state.ModeSync) && rep.Ready {
				syncReady = true
			}
		}
		return registered == 2 && syncReady, fmt.Sprintf("route %+v", r)
	})
	return boot
}
