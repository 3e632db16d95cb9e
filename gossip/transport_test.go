package gossip

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

var testLogger = zap.NewNop()

var (
	keyA = []byte("0123456789abcdef0123456789abcdef")
	keyB = []byte("fedcba9876543210fedcba9876543210")
)

// node is a Transport under test with what it received.
type node struct {
	*Transport
	reg *prometheus.Registry

	mu     sync.Mutex
	routes []RouteUpdate
	seenAt map[uint64]time.Time // first time an epoch >= key was held
	leases chan LeaseMessage
}

func (n *node) epoch() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.routes) == 0 {
		return 0
	}
	return n.routes[len(n.routes)-1].Route.Epoch
}

func startNode(t *testing.T, name string, key []byte, join ...string) *node {
	t.Helper()
	n := &node{reg: prometheus.NewRegistry(), seenAt: map[uint64]time.Time{}, leases: make(chan LeaseMessage, 64)}
	cfg := Config{
		Name: name, BindAddr: "127.0.0.1", BindPort: -1, Join: join,
		Registerer: n.reg,
		Logger:     testLogger,
		OnRoute: func(r RouteUpdate) {
			n.mu.Lock()
			n.routes = append(n.routes, r)
			n.seenAt[r.Route.Epoch] = time.Now()
			n.mu.Unlock()
		},
		OnLease: func(m LeaseMessage) {
			select {
			case n.leases <- m:
			default:
			}
		},
	}
	if key != nil {
		cfg.SecretKeys = [][]byte{key}
	} else {
		cfg.Insecure = true
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	n.Transport = tr
	t.Cleanup(func() { tr.Close() })
	return n
}

func startCluster(t *testing.T, size int) []*node {
	t.Helper()
	nodes := []*node{startNode(t, "g0", keyA)}
	for i := 1; i < size; i++ {
		nodes = append(nodes, startNode(t, fmt.Sprintf("g%d", i), keyA, nodes[0].Addr()))
	}
	waitFor(t, 5*time.Second, "every member sees every other", func() bool {
		for _, n := range nodes {
			if n.NumAlive() != size {
				return false
			}
		}
		return true
	})
	return nodes
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func route(epoch uint64, main string) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseServing,
		Main:     state.Instance{Name: main, BoltAddr: main + ":7687"},
		Replicas: []state.ReplicaState{{Name: "mgr", BoltAddr: "mgr:7687", Mode: state.ModeSync, Ready: true}},
		Leader:   "g0"}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// Five members; routes announced by one reach all, fast.
func TestRoutePropagation(t *testing.T) {
	nodes := startCluster(t, 5)
	var delays []time.Duration
	const rounds = 15
	for i := range rounds {
		epoch := uint64(10 + i)
		sent := time.Now()
		if ok, err := nodes[0].AnnounceRoute(route(epoch, fmt.Sprintf("mg%d", i%3+1))); !ok || err != nil {
			t.Fatalf("announce: %v %v", ok, err)
		}
		waitFor(t, 3*time.Second, fmt.Sprintf("epoch %d reaches every member", epoch), func() bool {
			for _, n := range nodes[1:] {
				if n.epoch() < epoch {
					return false
				}
			}
			return true
		})
		for _, n := range nodes[1:] {
			n.mu.Lock()
			delays = append(delays, n.seenAt[epoch].Sub(sent))
			n.mu.Unlock()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("route propagation to 4 members over %d announcements: p50 %v, p90 %v, max %v",
		rounds, percentile(delays, .5), percentile(delays, .9), percentile(delays, 1))
	if p50 := percentile(delays, .5); p50 > time.Second {
		t.Errorf("p50 propagation %v, want well under a second (tuned gossip: ~100 ms)", p50)
	}
	// Each member reported strictly increasing epochs, with their replicas.
	for _, n := range nodes[1:] {
		n.mu.Lock()
		for i, r := range n.routes {
			if i > 0 && r.Route.Epoch <= n.routes[i-1].Route.Epoch {
				t.Errorf("%s: epoch %d after %d", n.Name(), r.Route.Epoch, n.routes[i-1].Route.Epoch)
			}
			if r.Origin != "g0" || len(r.Route.Replicas) != 1 {
				t.Errorf("%s: route %+v from %q", n.Name(), r.Route, r.Origin)
			}
		}
		n.mu.Unlock()
	}
	// The histogram saw them; the members gauge says 5.
	mfs, err := nodes[1].reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	if h := got["memgraph_gateway_gossip_propagation_seconds"]; h == nil || h.Metric[0].GetHistogram().GetSampleCount() == 0 {
		t.Errorf("propagation histogram empty: %v", h)
	}
	if g := got["memgraph_gateway_gossip_members"]; g == nil || g.Metric[0].GetGauge().GetValue() != 5 {
		t.Errorf("members gauge: %v", g)
	}
	// An older or equal epoch is not news.
	if ok, _ := nodes[2].AnnounceRoute(route(10, "mg1")); ok {
		t.Error("an older epoch was announced")
	}
}

// A member with another key (or none) cannot join, and its routes are
// never accepted.
func TestWrongKeyCannotJoinOrInject(t *testing.T) {
	nodes := startCluster(t, 3)
	intruders := []*node{startNode(t, "x-wrong-key", keyB), startNode(t, "x-no-key", nil)}
	for _, x := range intruders {
		if _, err := x.Join(nodes[0].Addr()); err == nil {
			t.Errorf("%s joined a cluster with another key", x.Name())
		}
		x.AnnounceRoute(route(99, "evil"))
		// Send the route straight at every member, by UDP and by TCP, as
		// a message memberlist would hand to NotifyMsg.
		b, err := encodeRoute(routeMsg{Route: route(99, "evil"), Origin: x.Name()})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			ln := n.ml.LocalNode()
			target := &memberlist.Node{Name: ln.Name, Addr: ln.Addr, Port: ln.Port}
			x.ml.SendBestEffort(target, b)
			x.ml.SendReliable(target, b)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	for _, n := range nodes {
		if n.epoch() != 0 || n.Route().Epoch != 0 {
			t.Errorf("%s accepted an intruder's route (epoch %d)", n.Name(), n.Route().Epoch)
		}
		for _, m := range n.Members() {
			if m.Name[0] == 'x' {
				t.Errorf("%s lists intruder %s", n.Name(), m.Name)
			}
		}
	}
}

// A killed member (no leave) is declared failed by every other within
// about 2.5 s with the tuned timings.
func TestKilledMemberDetected(t *testing.T) {
	nodes := startCluster(t, 5)
	victim := nodes[4]
	killed := time.Now()
	victim.Close()
	var took []time.Duration
	for _, n := range nodes[:4] {
		waitFor(t, 8*time.Second, n.Name()+" declares the victim failed", func() bool {
			for _, m := range n.Members() {
				if m.Name == victim.Name() {
					return m.State == MemberFailed
				}
			}
			return false
		})
		took = append(took, time.Since(killed))
	}
	t.Logf("killed member declared failed by all 4 others after %v (first %v)", percentile(took, 1), percentile(took, 0))
	if max := percentile(took, 1); max > 5*time.Second {
		t.Errorf("detection took %v, want about 2.5 s", max)
	}
	// A graceful leave is not a failure.
	if err := nodes[3].Leave(time.Second); err != nil {
		t.Error(err)
	}
	waitFor(t, 3*time.Second, "the leaver is gone", func() bool {
		for _, m := range nodes[0].Members() {
			if m.Name == nodes[3].Name() {
				return false
			}
		}
		return true
	})
}

// A restarted pod keeps its name but gets a new address: it is accepted
// once the old one is dead (DeadNodeReclaimTime).
func TestRestartedMemberReusesName(t *testing.T) {
	nodes := startCluster(t, 3)
	old := nodes[2]
	oldAddr := old.Addr()
	old.Close()
	waitFor(t, 8*time.Second, "the old g2 is declared failed", func() bool {
		for _, m := range nodes[0].Members() {
			if m.Name == "g2" {
				return m.State == MemberFailed
			}
		}
		return false
	})
	reborn := startNode(t, "g2", keyA, nodes[0].Addr())
	if reborn.Addr() == oldAddr {
		t.Skip("got the same port again")
	}
	waitFor(t, 5*time.Second, "the new g2 is alive at its new address", func() bool {
		for _, m := range nodes[0].Members() {
			if m.Name == "g2" {
				return m.State == MemberAlive && m.Addr == reborn.Addr()
			}
		}
		return false
	})
}

// A member that joins after a route was announced gets it by push/pull.
func TestAntiEntropyDeliversToLateJoiner(t *testing.T) {
	nodes := startCluster(t, 3)
	nodes[0].AnnounceRoute(route(7, "mg2"))
	nodes[1].SetView(View{Epoch: 7, Leader: "g0", Main: "mg2", MainReachable: true})
	waitFor(t, 3*time.Second, "epoch 7 everywhere", func() bool {
		return nodes[1].epoch() == 7 && nodes[2].epoch() == 7
	})
	// Long after the broadcasts are done, a new member joins.
	time.Sleep(time.Second)
	late := startNode(t, "g9", keyA, nodes[2].Addr())
	waitFor(t, 3*time.Second, "the late joiner holds epoch 7", func() bool { return late.epoch() == 7 })
	late.mu.Lock()
	r := late.routes[0]
	late.mu.Unlock()
	if !r.FromState || r.Origin != "g0" || r.Route.Main.Name != "mg2" {
		t.Errorf("late joiner got %+v", r)
	}
	// And it knows g1's heartbeat view (epoch, view of the MAIN).
	waitFor(t, 3*time.Second, "the late joiner knows g1's view", func() bool {
		for _, m := range late.Members() {
			if m.Name == "g1" {
				return m.Heartbeat.Epoch == 7 && m.Heartbeat.MainReachable && m.Heartbeat.Main == "mg2"
			}
		}
		return false
	})
}

// A lease request and its grant make a round trip over the real
// transport, between the routelease state machines.
func TestLeaseRoundTrip(t *testing.T) {
	nodes := startCluster(t, 2)
	leaderT, gwT := nodes[0], nodes[1]
	cfg := routelease.DefaultConfig()
	start := time.Now()
	r := route(3, "mg1")
	leader := routelease.NewLeader("g0", cfg)
	leader.SetMembers(start, []string{"g0", "g1"})
	leader.BecomeLeader(start, routelease.Term{Route: r, LastRenewal: start, PrevRenewalBound: start})
	gw := routelease.NewGateway("g1", 42, start, cfg)
	gw.ObserveLeader(start, "g0")

	send := func(tr *node, out routelease.Output) {
		for _, m := range out.Messages {
			if m.To == "" {
				continue
			}
			if err := tr.SendLease(m); err != nil {
				t.Fatalf("send %v: %v", m, err)
			}
		}
	}
	sent := time.Now()
	send(gwT, gw.ObserveRoute(sent, r)) // adopts, acks, requests
	var rtt time.Duration
	deadline := time.After(3 * time.Second)
	for !gw.Routing(time.Now()) {
		select {
		case m := <-leaderT.leases:
			if m.From != "g1" {
				t.Fatalf("leader got %v", m)
			}
			send(leaderT, leader.Step(time.Now(), m))
		case m := <-gwT.leases:
			out := gw.Step(time.Now(), m)
			send(gwT, out)
			if gw.Routing(time.Now()) {
				rtt = time.Since(sent)
			}
		case <-deadline:
			t.Fatal("no lease within 3 s")
		}
	}
	t.Logf("lease request/grant round trip over memberlist's reliable transport: %v", rtt)
	if exp := gw.LeaseExpiry(); exp.Sub(sent) > cfg.RouteTTL || exp.Sub(sent) < cfg.RouteTTL-time.Millisecond {
		t.Errorf("lease ends %v after the request, want the route-ttl %v", exp.Sub(sent), cfg.RouteTTL)
	}
	// To oneself, locally.
	if err := leaderT.SendLease(routelease.Message{Type: routelease.MsgAck, To: "g0", Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-leaderT.leases:
		if m.From != "g0" || m.Type != routelease.MsgAck {
			t.Errorf("self message %v", m)
		}
	case <-time.After(time.Second):
		t.Error("message to self not delivered")
	}
	if err := leaderT.SendLease(routelease.Message{Type: routelease.MsgAck, To: "nobody"}); err == nil {
		t.Error("send to an unknown member succeeded")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		ok   bool
	}{
		{"keyed", Config{Name: "g0", SecretKeys: [][]byte{keyA}}, true},
		{"insecure on purpose", Config{Name: "g0", Insecure: true}, true},
		{"no key", Config{Name: "g0"}, false},
		{"short key", Config{Name: "g0", SecretKeys: [][]byte{[]byte("short")}}, false},
		{"no name", Config{Insecure: true}, false},
		{"bad bind", Config{Name: "g0", Insecure: true, BindAddr: "localhost"}, false},
		{"timeout over interval", Config{Name: "g0", Insecure: true, ProbeTimeout: time.Second}, false},
	} {
		if err := tc.c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
