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

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// TestLoopWipesDivergedInstance: an old MAIN that took a write the new
// MAIN lacks comes back diverged; with AllowWipeDiverged the loop drops
// it, calls the wipe hook (here: the instance restarts empty on a fresh
// data directory) and registers it again, and it catches up with the new
// MAIN without the diverged write.
func TestLoopWipesDivergedInstance(t *testing.T) {
	c := startSimCluster(t, []string{"127.0.0.41", "127.0.0.42", "127.0.0.43"}, nil)
	ctx := t.Context()
	_, store := memStore("leader-1")

	var mu sync.Mutex
	var wiped []string
	wipe := func(_ context.Context, name, addr string) error {
		// What an operator's hook does to a pod: delete its volume and
		// restart it empty at the same address.
		mu.Lock()
		wiped = append(wiped, name)
		mu.Unlock()
		in, cfg := c.instance(name)
		if in == nil || cfg.BoltAddress != addr {
			return fmt.Errorf("unknown instance %s at %s", name, addr)
		}
		in.Kill()
		dir, err := os.MkdirTemp(t.TempDir(), "wiped-")
		if err != nil {
			return err
		}
		cfg.DataDir = dir
		return c.start(name, cfg)
	}
	runLoop(t, c, controller.LoopConfig{
		Controller:    controller.Config{FailoverAfter: time.Second, AllowWipeDiverged: true},
		ProbeInterval: 200 * time.Millisecond,
		RouteTTL:      time.Second,
		LeaderID:      "leader-1",
		Wipe:          wipe,
	}, store)

	old := waitBootstrap(t, store).Main.Name
	_, oldCfg := c.instance(old)
	for i := range int64(5) {
		if err := writeNode(ctx, oldCfg.BoltAddress, i); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	c.kill(old)
	var after state.Route
	waitFor(t, 20*time.Second, "failover", func() (bool, string) {
		r, _, err := store.Load(ctx)
		after = r
		return err == nil && r.Phase == state.PhaseServing && r.Main.Name != old, fmt.Sprintf("route %+v err %v", r, err)
	})
	// The old MAIN takes a write alone, on an address nobody knows; its
	// replication state is not restored there (with its STRICT_SYNC
	// replica gone, a write would be refused).
	h, _, _ := net.SplitHostPort(oldCfg.BoltAddress)
	alone := oldCfg
	alone.BoltAddress = net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
	alone.RestoreStateOnStartup = false
	if err := c.start(old+"-alone", alone); err != nil {
		t.Fatal(err)
	}
	if err := writeNode(ctx, alone.BoltAddress, 100); err != nil {
		t.Fatalf("diverging write: %v", err)
	}
	in, _ := c.instance(old + "-alone")
	in.Close()
	// Back at its own address: diverged from the new MAIN.
	if err := c.start(old, oldCfg); err != nil {
		t.Fatal(err)
	}

	newMain := after.Main
	waitFor(t, 30*time.Second, "the wiped instance registered and ready", func() (bool, string) {
		mc, err := memgraph.New(memgraph.Config{Name: newMain.Name, Addr: newMain.BoltAddr})
		if err != nil {
			return false, err.Error()
		}
		defer mc.Close()
		rcx, rcancel := context.WithTimeout(ctx, time.Second)
		defer rcancel()
		rows, err := mc.Replicas(rcx)
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
