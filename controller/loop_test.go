package controller_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap/zaptest"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/discovery"
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
	hosts := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	sims := make(map[string]*mgsim.Instance)
	var insts []discovery.Instance
	for i, h := range hosts {
		name := fmt.Sprintf("mg-%d", i+1)
		cfg := mgsim.DefaultConfig(t.TempDir())
		cfg.BoltAddress = net.JoinHostPort(h, strconv.Itoa(freePort(t, h)))
		cfg.ReplicaCheckInterval = 100 * time.Millisecond
		cfg.Timeouts = mgsim.RPCTimeouts{
			Connect: time.Second, FrequentHeartbeat: 500 * time.Millisecond, SwapMainUUID: time.Second,
			Heartbeat: time.Second, PrepareCommit: 2 * time.Second, FinalizeCommit: time.Second,
			Recovery: 2 * time.Second, AsyncLock: 50 * time.Millisecond,
		}
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
	mem := state.NewMemory()
	mem.SetLeader("leader-1")
	store := mem.Store(state.Fixed("leader-1"))

	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _ = src.Run(ctx) }()
	go func() {
		done <- controller.RunLoop(ctx, controller.LoopConfig{
			Controller:    controller.Config{FailoverAfter: 1500 * time.Millisecond},
			ProbeInterval: 200 * time.Millisecond,
			RouteTTL:      time.Second,
			LeaderID:      "leader-1",
			Tracer:        tracer,
		}, store, src, nil, zaptest.NewLogger(t))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunLoop: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("RunLoop did not return after cancel")
		}
	})

	addrOf := func(name string) string {
		in, _ := discovery.Find(insts, name)
		return in.BoltAddr
	}
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
	drv, err := neo4j.NewDriverWithContext("bolt://"+addrOf(oldMain), neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	const writes = 20
	for i := range writes {
		s := drv.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite})
		_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(ctx, "CREATE (n:Item {i: $i})", map[string]any{"i": int64(i)})
			if err != nil {
				return nil, err
			}
			return res.Consume(ctx)
		})
		s.Close(ctx)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	drv.Close(ctx)

	killed := time.Now()
	sims[oldMain].Kill()

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

	drv, err = neo4j.NewDriverWithContext("bolt://"+addrOf(after.Main.Name), neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
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
		t.Fatalf("read on new main: %v", err)
	}
	seen := make(map[int64]bool)
	for _, rec := range out.([]*neo4j.Record) {
		if v, ok := rec.Values[0].(int64); ok {
			seen[v] = true
		}
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
