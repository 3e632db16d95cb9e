// Package integration tests the gateway's data path end to end: the real
// neo4j-go-driver talks through the real proxy to emulated Memgraph
// instances (test/mgsim), all in one process on loopback.
package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"go.uber.org/zap/zaptest"

	"github.com/memgraph-gateway/memgraph-gateway/proxy"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// startInstance runs one emulated Memgraph MAIN on a free loopback port.
func startInstance(t *testing.T) *mgsim.Instance {
	t.Helper()
	cfg := mgsim.DefaultConfig(t.TempDir())
	cfg.BoltAddress = "127.0.0.1:0"
	in, err := mgsim.Start(cfg)
	if err != nil {
		t.Fatalf("start mgsim: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// gateway is an in-process proxy with one read-write listener.
type gateway struct {
	p    *proxy.Proxy
	addr string
	done chan error
}

func startGateway(t *testing.T, cfg proxy.Config) *gateway {
	t.Helper()
	p, err := proxy.New(cfg, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{p: p, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { g.done <- p.Serve(ln, proxy.RoleReadWrite) }()
	t.Cleanup(func() {
		p.Close()
		select {
		case <-g.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return g
}

func route(epoch uint64, name string, in *mgsim.Instance) proxy.Route {
	return proxy.Route{Epoch: epoch, Phase: proxy.PhaseServing, Main: proxy.Backend{Name: name, Addr: in.Addr()}}
}

func newDriver(t *testing.T, addr string, opts ...func(*config.Config)) neo4j.DriverWithContext {
	t.Helper()
	d, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func write(ctx context.Context, d neo4j.DriverWithContext, label string, k int) error {
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, fmt.Sprintf("CREATE (:%s {k: $k})", label), map[string]any{"k": k})
		if err != nil {
			return nil, err
		}
		return r.Consume(ctx)
	})
	return err
}

// countOn counts label nodes directly on an instance (not through a gateway).
func countOn(t *testing.T, in *mgsim.Instance, label string) int64 {
	t.Helper()
	ctx := context.Background()
	d := newDriver(t, in.Addr())
	res, err := neo4j.ExecuteQuery(ctx, d, fmt.Sprintf("MATCH (n:%s) RETURN count(n) AS c", label), nil,
		neo4j.EagerResultTransformer)
	if err != nil {
		t.Fatalf("count on %s: %v", in.Addr(), err)
	}
	return res.Records[0].Values[0].(int64)
}

func TestQueriesAndTransactionsThroughGateway(t *testing.T) {
	ctx := context.Background()
	main := startInstance(t)
	g := startGateway(t, proxy.Config{})
	if !g.p.SetRoute(route(1, "mg1", main)) {
		t.Fatal("first route refused")
	}
	d := newDriver(t, g.addr)

	// Auto-commit.
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	res, err := s.Run(ctx, "RETURN 1 AS one, $p AS p", map[string]any{"p": "x"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := res.Single(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Values[0] != int64(1) || rec.Values[1] != "x" {
		t.Fatalf("RETURN through gateway = %v", rec.Values)
	}
	// Replication queries work through the gateway too (auto-commit).
	res, err = s.Run(ctx, "SHOW REPLICATION ROLE", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = res.Single(ctx); err != nil || rec.Values[0] != "main" {
		t.Fatalf("SHOW REPLICATION ROLE = %v, %v", rec, err)
	}

	// Managed and explicit transactions; a rolled-back one leaves nothing.
	for i := 0; i < 5; i++ {
		if err := write(ctx, d, "T", i); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	tx, err := s.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(ctx, "CREATE (:T {k: 99})", nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countOn(t, main, "T"); got != 5 {
		t.Fatalf("main holds %d T nodes, want 5", got)
	}
	st := g.p.Stats()
	if st.Total == 0 || st.Epoch != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// A route with a higher epoch cuts the connections of the older one; the
// driver's managed transaction then retries and lands on the new MAIN.
func TestRouteChangeCutsAndDriverRetriesOntoNewMain(t *testing.T) {
	ctx := context.Background()
	a, b := startInstance(t), startInstance(t)
	g := startGateway(t, proxy.Config{})
	g.p.SetRoute(route(1, "a", a))
	d := newDriver(t, g.addr)

	if err := write(ctx, d, "W", 1); err != nil {
		t.Fatal(err)
	}
	// An explicit transaction open across the route change must fail: its
	// connection belongs to epoch 1.
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	tx, err := s.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(ctx, "CREATE (:W {k: 2})", nil); err != nil {
		t.Fatal(err)
	}

	if !g.p.SetRoute(route(2, "b", b)) {
		t.Fatal("route epoch 2 refused")
	}
	if g.p.SetRoute(route(2, "a", a)) || g.p.SetRoute(route(1, "a", a)) {
		t.Fatal("equal or lower epoch accepted")
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("commit on a connection of the old epoch succeeded")
	}

	// The managed transaction retries (the pooled connection is dead) and
	// lands on b.
	if err := write(ctx, d, "W", 3); err != nil {
		t.Fatalf("write after route change: %v", err)
	}
	if got := countOn(t, a, "W"); got != 1 {
		t.Fatalf("old main holds %d W nodes, want 1 (the cut transaction must not commit)", got)
	}
	if got := countOn(t, b, "W"); got != 1 {
		t.Fatalf("new main holds %d W nodes, want 1", got)
	}
}

// With no serving route, connections are held and released when one
// arrives: the client sees a delay, not an error.
func TestHeldConnectionsReleasedWhenRouteArrives(t *testing.T) {
	ctx := context.Background()
	main := startInstance(t)
	g := startGateway(t, proxy.Config{HoldTimeout: 10 * time.Second})
	g.p.SetRoute(proxy.Route{Epoch: 1, Phase: proxy.PhaseFailover})
	d := newDriver(t, g.addr)

	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- write(ctx, d, "H", 1) }()

	waitFor(t, 5*time.Second, "a held connection", func() bool { return g.p.Stats().Held > 0 })
	select {
	case err := <-errc:
		t.Fatalf("write finished while no route existed: %v", err)
	default:
	}
	g.p.SetRoute(route(2, "mg1", main))
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("held write failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held write not released")
	}
	if got := countOn(t, main, "H"); got != 1 {
		t.Fatalf("main holds %d H nodes, want 1", got)
	}
	t.Logf("held write completed after %v", time.Since(start))
}

// A held connection that sees no route within the hold timeout is closed
// cleanly, and no connection reaches any backend.
func TestHeldConnectionTimesOutCleanly(t *testing.T) {
	ctx := context.Background()
	var dials sync.Map
	g := startGateway(t, proxy.Config{
		HoldTimeout: 300 * time.Millisecond,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Store(addr, true)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	})
	d := newDriver(t, g.addr, func(c *config.Config) { c.MaxTransactionRetryTime = 0 })
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	start := time.Now()
	_, err := s.Run(ctx, "RETURN 1", nil)
	if err == nil {
		t.Fatal("query succeeded with no route")
	}
	var conn *neo4j.ConnectivityError
	if !errors.As(err, &conn) {
		t.Fatalf("error %T (%v), want a connectivity error the driver can retry", err, err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 5*time.Second {
		t.Fatalf("failed after %v, want about the 300ms hold timeout", el)
	}
	n := 0
	dials.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d backend dials with no route", n)
	}
	if r := g.p.Stats().Rejected; r["hold-timeout"] == 0 {
		t.Fatalf("rejections = %v, want hold-timeout counted", r)
	}
}

// Drain lets an in-flight transaction finish, refuses new clients, and
// closes what is left at the deadline.
func TestDrainLetsInFlightTransactionFinish(t *testing.T) {
	ctx := context.Background()
	main := startInstance(t)
	g := startGateway(t, proxy.Config{})
	g.p.SetRoute(route(1, "mg1", main))
	d := newDriver(t, g.addr)

	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	tx, err := s.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(ctx, "CREATE (:D {k: 1})", nil); err != nil {
		t.Fatal(err)
	}

	drainCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- g.p.Drain(drainCtx) }()

	// New clients are refused while draining.
	waitFor(t, 2*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", g.addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	// The open transaction still commits.
	if _, err := tx.Run(ctx, "CREATE (:D {k: 2})", nil); err != nil {
		t.Fatalf("run during drain: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit during drain: %v", err)
	}
	if got := countOn(t, main, "D"); got != 2 {
		t.Fatalf("main holds %d D nodes, want 2", got)
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after its deadline")
	}
	if st := g.p.Stats(); st.Active != 0 {
		t.Fatalf("%d connections left after drain", st.Active)
	}
	select {
	case err := <-g.done:
		if !errors.Is(err, proxy.ErrClosed) {
			t.Fatalf("Serve returned %v, want ErrClosed", err)
		}
		g.done <- err // for the cleanup
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after Drain")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
