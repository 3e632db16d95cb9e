package routeagent

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/memgraph-gateway/memgraph-gateway/gossip"
	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Short protocol timings so that lease expiries take about two seconds.
var testLease = routelease.Config{
	RouteTTL: 2 * time.Second, RenewInterval: 300 * time.Millisecond,
	LeaseDuration: time.Second, RenewDeadline: 800 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
}

// fakeProxy records what the agent asks of the proxy.
type fakeProxy struct {
	mu      sync.Mutex
	epoch   uint64
	routing bool
	offs    int // SetRouting(false) calls
}

func (p *fakeProxy) install(r state.Route, routing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Epoch > p.epoch {
		p.epoch, p.routing = r.Epoch, routing
	}
}

func (p *fakeProxy) setRouting(epoch uint64, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch == p.epoch {
		p.routing = on
		if !on {
			p.offs++
		}
	}
}

func (p *fakeProxy) state() (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.epoch, p.routing
}

// fakeElector renews every 100 ms while renewing is set.
type fakeElector struct{ last atomic.Int64 }

func (e *fakeElector) LastRenewal() time.Time { return time.Unix(0, e.last.Load()) }

type member struct {
	*Agent
	proxy  *fakeProxy
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(t *testing.T, id string, el Renewals, probe func(context.Context, string) error, join ...string) *member {
	t.Helper()
	m := &member{proxy: &fakeProxy{}, done: make(chan struct{})}
	a, err := New(Config{
		ID: id, Lease: testLease,
		Gossip:     gossip.Config{BindAddr: "127.0.0.1", BindPort: -1, Insecure: true, Join: join},
		API:        "http://" + id + ":9090",
		Install:    m.proxy.install,
		SetRouting: m.proxy.setRouting,
		Probe:      probe, ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond,
		Elector: el,
		Log:     zaptest.NewLogger(t).Named(id),
	})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	m.Agent = a
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { defer close(m.done); _ = a.Run(ctx) }()
	t.Cleanup(func() { m.stop() })
	return m
}

func (m *member) stop() {
	m.cancel()
	<-m.done
	m.tr.Close()
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func serving(epoch uint64, main, addr string) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseServing, Main: state.Instance{Name: main, BoltAddr: addr}, Leader: "a"}
}

// TestLeasesBarrierAndExpiry: gateways relay only once the leader granted
// a lease; a claim is acked by every live gateway, so its barrier passes
// in milliseconds, not RouteTTL; a gateway that died holding a lease
// delays the next barrier until its lease must have expired; and when the
// leader stops granting, every gateway stops relaying after RouteTTL.
func TestLeasesBarrierAndExpiry(t *testing.T) {
	el := &fakeElector{}
	el.last.Store(time.Now().UnixNano())
	stopRenew := make(chan struct{})
	var renewOnce sync.Once
	go func() {
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopRenew:
				return
			case <-tk.C:
				el.last.Store(time.Now().UnixNano())
			}
		}
	}()
	t.Cleanup(func() { renewOnce.Do(func() { close(stopRenew) }) })

	okProbe := func(context.Context, string) error { return nil }
	a := startMember(t, "a", el, okProbe)
	b := startMember(t, "b", el, okProbe, a.GossipAddr())
	c := startMember(t, "c", el, okProbe, a.GossipAddr())
	all := []*member{a, b, c}
	eventually(t, 10*time.Second, "three members", func() bool { return a.LiveGateways() == 3 && c.LiveGateways() == 3 })

	r1 := serving(1, "mg-1", "127.0.0.1:1")
	for _, m := range all {
		m.ObserveRoute(r1)
	}
	time.Sleep(300 * time.Millisecond)
	for _, m := range all {
		if _, routing := m.proxy.state(); routing {
			t.Fatalf("%s relays without a lease", m.cfg.ID)
		}
	}
	// The predecessor's leases are long gone (prevBound far back).
	a.BecomeLeader(r1, time.Now(), time.Now().Add(-time.Minute))
	for _, m := range all {
		m.ObserveLeader("a")
	}
	for _, m := range all {
		eventually(t, 5*time.Second, m.cfg.ID+" routing epoch 1", func() bool { e, on := m.proxy.state(); return e == 1 && on })
	}
	if api, ok := b.LeaderAPI(); !ok || api != "http://a:9090" {
		t.Fatalf("LeaderAPI from b = %q, %v", api, ok)
	}

	// A fresh process counts its start as a failsafe confirmation (an
	// earlier process of the same replica may have confirmed rounds), so
	// its first promotion waits RouteTTL (over-estimated) after it started.
	time.Sleep(time.Until(a.start.Add(testLease.RouteTTL * 5 / 4)))

	// Claim epoch 2: all three ack at once.
	ctx := t.Context()
	claim := state.Route{Epoch: 2, Phase: state.PhaseFailover, Target: "mg-2", From: "mg-1", Leader: "a"}
	if err := a.Claim(ctx, claim); err != nil {
		t.Fatal(err)
	}
	a.Published(claim)
	start := time.Now()
	if err := a.Await(ctx, 2); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("barrier with three live gateways: %v", took)
	if took > time.Second {
		t.Fatalf("barrier took %v: it waited for lease expiry although every gateway acked", took)
	}
	for _, m := range all {
		if e, on := m.proxy.state(); e != 2 || on {
			t.Fatalf("%s at epoch %d routing %v after the barrier, want 2 and holding", m.cfg.ID, e, on)
		}
	}
	r3 := serving(3, "mg-2", "127.0.0.1:2")
	if err := a.Claim(ctx, r3); err != nil {
		t.Fatal(err)
	}
	a.Published(r3)
	for _, m := range all {
		eventually(t, 5*time.Second, m.cfg.ID+" routing epoch 3", func() bool { e, on := m.proxy.state(); return e == 3 && on })
	}

	// c dies silently while holding a lease on epoch 3: the barrier of
	// epoch 4 waits out its lease.
	c.cancel()
	<-c.done
	c.tr.Close()
	claim4 := state.Route{Epoch: 4, Phase: state.PhaseFailover, Target: "mg-1", From: "mg-2", Leader: "a"}
	if err := a.Claim(ctx, claim4); err != nil {
		t.Fatal(err)
	}
	a.Published(claim4)
	start = time.Now()
	if err := a.Await(ctx, 4); err != nil {
		t.Fatal(err)
	}
	took = time.Since(start)
	t.Logf("barrier with a silent gateway: %v", took)
	if took < 500*time.Millisecond {
		t.Fatalf("barrier took %v although c held a lease of up to %v and never acked", took, testLease.RouteTTL)
	}
	r5 := serving(5, "mg-1", "127.0.0.1:1")
	if err := a.Claim(ctx, r5); err != nil {
		t.Fatal(err)
	}
	a.Published(r5)
	for _, m := range []*member{a, b} {
		eventually(t, 5*time.Second, m.cfg.ID+" routing epoch 5", func() bool { e, on := m.proxy.state(); return e == 5 && on })
	}

	// The leader is deposed and nobody grants: b stops relaying within
	// RouteTTL (plus a renewal interval and slack).
	a.Deposed()
	deposed := time.Now()
	eventually(t, testLease.RouteTTL+2*time.Second, "b stops relaying", func() bool { _, on := b.proxy.state(); return !on })
	t.Logf("b stopped relaying %v after the leader stopped granting", time.Since(deposed))
	if err := a.Claim(ctx, serving(6, "mg-2", "127.0.0.1:2")); err == nil {
		t.Fatal("a deposed leader claimed")
	}
}

// TestQuorumVotes: each gateway's MAIN probe reaches the leader as a vote.
func TestQuorumVotes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A Bolt server stand-in: answers the handshake with version 5.2.
	var up atomic.Bool
	up.Store(true)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 20)
				if _, err := c.Read(buf); err == nil && up.Load() {
					c.Write([]byte{0, 0, 2, 5})
				}
			}()
		}
	}()
	defer ln.Close()
	el := &fakeElector{}
	el.last.Store(time.Now().UnixNano())
	a := startMember(t, "a", el, nil)
	b := startMember(t, "b", el, nil, a.GossipAddr())
	c := startMember(t, "c", el, nil, a.GossipAddr())
	eventually(t, 10*time.Second, "three members", func() bool { return a.LiveGateways() == 3 })
	r := serving(1, "mg-1", ln.Addr().String())
	for _, m := range []*member{a, b, c} {
		m.ObserveRoute(r)
	}
	time.Sleep(500 * time.Millisecond)
	if n := a.OthersDown("mg-1"); n != 0 {
		t.Fatalf("OthersDown = %d while the MAIN answers", n)
	}
	// The MAIN stops answering (as a stopped process: TCP accepted, no reply).
	up.Store(false)
	eventually(t, 5*time.Second, "both others vote down", func() bool { return a.OthersDown("mg-1") == 2 })
	up.Store(true)
	eventually(t, 5*time.Second, "votes withdrawn", func() bool { return a.OthersDown("mg-1") == 0 })
}
