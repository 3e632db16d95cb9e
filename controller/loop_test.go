package controller_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 50 ms until it is true or d passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; last: %s", what, d, last)
}

// TestLoopBootstrapAndFailover runs the whole loop against three emulated
// instances: a fresh cluster is bootstrapped to a serving route with
// registered replicas; after the MAIN is killed the route moves, at a
// higher epoch, to the former synchronous replica, which holds every write
// the MAIN acknowledged.
func TestLoopBootstrapAndFailover(t *testing.T) {
	c := startSimCluster(t, []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}, func(cfg *mgsim.Config) {
		cfg.Timeouts = mgsim.RPCTimeouts{
			Connect: time.Second, FrequentHeartbeat: 500 * time.Millisecond, SwapMainUUID: time.Second,
			Heartbeat: time.Second, PrepareCommit: 2 * time.Second, FinalizeCommit: time.Second,
			Recovery: 2 * time.Second, AsyncLock: 50 * time.Millisecond,
		}
	})
	_, store := memStore("leader-1")
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")
	ctx := t.Context()
	runLoop(t, c, controller.LoopConfig{
		Controller:    controller.Config{FailoverAfter: 1500 * time.Millisecond},
		ProbeInterval: 200 * time.Millisecond,
		RouteTTL:      time.Second,
		LeaderID:      "leader-1",
		Tracer:        tracer,
	}, store)
	addrOf := c.addr
	admin := func(name string) *memgraph.Client {
		c, err := memgraph.New(memgraph.Config{Name: name, Addr: addrOf(name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// Bootstrap: one MAIN serving, both others registered and ready, one
	// of them synchronous.
	var route state.Route
	var syncReplica string
	waitFor(t, 20*time.Second, "bootstrap", func() (bool, string) {
		r, _, err := store.Load(ctx)
		if err != nil || r.Phase != state.PhaseServing {
			return false, fmt.Sprintf("route %+v err %v", r, err)
		}
		c := admin(r.Main.Name)
		rcx, rcancel := context.WithTimeout(ctx, time.Second)
		defer rcancel()
		rows, err := c.Replicas(rcx)
		if err != nil {
			return false, err.Error()
		}
		ready, sync := 0, ""
		for _, row := range rows {
			if row.Status == memgraph.StatusReady && !row.Zombie {
				ready++
			}
			if row.SyncMode == memgraph.ModeStrictSync || row.SyncMode == memgraph.ModeSync {
				sync = row.Name
			}
		}
		route, syncReplica = r, sync
		return ready == 2 && sync != "", fmt.Sprintf("main %s replicas %+v", r.Main.Name, rows)
	})
	t.Logf("bootstrapped: epoch %d main %s sync replica %s", route.Epoch, route.Main.Name, syncReplica)

	// Acknowledged writes on the MAIN.
	oldMain := route.Main.Name
	const writes = 20
	for i := range int64(writes) {
		if err := writeNode(ctx, addrOf(oldMain), i); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}

	killed := time.Now()
	c.kill(oldMain)

	var after state.Route
	waitFor(t, 15*time.Second, "failover", func() (bool, string) {
		r, _, err := store.Load(ctx)
		after = r
		return err == nil && r.Phase == state.PhaseServing && r.Epoch > route.Epoch && r.Main.Name != oldMain,
			fmt.Sprintf("route %+v err %v", r, err)
	})
	t.Logf("failover after %v: epoch %d main %s", time.Since(killed), after.Epoch, after.Main.Name)
	if after.Main.Name != syncReplica {
		t.Fatalf("new main %s, want the former sync replica %s", after.Main.Name, syncReplica)
	}

	seen, err := items(ctx, addrOf(after.Main.Name))
	if err != nil {
		t.Fatalf("read on new main: %v", err)
	}
	for i := range int64(writes) {
		if !seen[i] {
			t.Errorf("write %d acknowledged by %s is missing on the new main %s", i, oldMain, after.Main.Name)
		}
	}

	// The new MAIN is actually MAIN.
	rcx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	if role, err := admin(after.Main.Name).Role(rcx); err != nil || role != memgraph.RoleMain {
		t.Fatalf("new main %s answers role %q, %v", after.Main.Name, role, err)
	}

	// One failover span, from the old MAIN to the new, ended Ok at the
	// published epoch, with the promotion among its children.
	waitFor(t, 5*time.Second, "failover span", func() (bool, string) {
		var lines []string
		for _, ep := range spans.Ended() {
			if ep.Name() != "controller.failover" {
				continue
			}
			attrs := attribute.NewSet(ep.Attributes()...)
			target, _ := attrs.Value("target")
			from, _ := attrs.Value("from")
			published, _ := attrs.Value("published_epoch")
			lines = append(lines, fmt.Sprintf("%s->%s e%d %v", from.AsString(), target.AsString(), published.AsInt64(), ep.Status().Code))
			if ep.Status().Code != codes.Ok || target.AsString() != after.Main.Name || from.AsString() != oldMain ||
				uint64(published.AsInt64()) != after.Epoch {
				continue
			}
			for _, s := range spans.Ended() {
				if s.Name() == "controller.Promote" && s.Parent().SpanID() == ep.SpanContext().SpanID() {
					return true, ""
				}
			}
			return false, "no controller.Promote child"
		}
		return false, fmt.Sprintf("failover spans %q", lines)
	})
}
