package routelease

import (
	"errors"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

var t0 = time.Unix(2_000_000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

func serving(epoch uint64, main string) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseServing,
		Main: state.Instance{Name: main, BoltAddr: main + ":7687"}, Leader: "L"}
}

func failover(epoch uint64) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseFailover, Leader: "L"}
}

func only(t *testing.T, out Output, typ MsgType) Message {
	t.Helper()
	var found []Message
	for _, m := range out.Messages {
		if m.Type == typ {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %v, got %v", typ, out.Messages)
	}
	return found[0]
}

func hasEvent(out Output, typ EventType) bool {
	for _, e := range out.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"ttl shorter than a leader change", Config{RouteTTL: 4 * time.Second}, false},
		{"ttl leaves no renewal", Config{RouteTTL: 5 * time.Second}, false},
		{"ttl with faster renewals", Config{RouteTTL: 5 * time.Second, RenewInterval: 400 * time.Millisecond}, true},
		{"renew deadline not under lease", Config{RenewDeadline: 4 * time.Second}, false},
		{"drift too large", Config{ClockDrift: 0.5}, false},
		{"negative", Config{RenewInterval: -time.Second}, false},
	} {
		err := tc.c.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v does not wrap ErrConfig", tc.name, err)
		}
	}
}

func TestOverestimateCoversDrift(t *testing.T) {
	c := DefaultConfig()
	d := c.RouteTTL
	// The gateway's clock is slow by ClockDrift: its d lasts d/(1-ρ) of
	// real time. The leader's clock is fast: it counts (1+ρ) per second.
	realEnd := float64(d) / (1 - c.ClockDrift)
	leaderCounts := float64(c.overestimate(d)-c.ExpirySlack) / (1 + c.ClockDrift)
	if leaderCounts < realEnd {
		t.Fatalf("overestimate(%v) lasts %v real seconds at worst, the lease %v", d, leaderCounts, realEnd)
	}
}

// The lease runs from when the request was sent, however late the answer.
func TestGatewayLeaseFromSendTime(t *testing.T) {
	g := NewGateway("g1", 7, t0, DefaultConfig())
	g.ObserveLeader(at(0), "L")
	out := g.ObserveRoute(at(0), serving(3, "m1"))
	if !hasEvent(out, EventRoute) {
		t.Fatalf("no EventRoute: %+v", out)
	}
	req := only(t, out, MsgLeaseRequest)
	if req.To != "L" || req.Epoch != 3 || req.Session != 7 {
		t.Fatalf("request %v", req)
	}
	grant := Message{Type: MsgLeaseGrant, From: "L", To: "g1", Epoch: 3, Session: 7, Seq: req.Seq}
	out = g.Step(at(2*time.Second), grant)
	if !hasEvent(out, EventLeaseGranted) {
		t.Fatalf("no EventLeaseGranted: %+v", out)
	}
	if got, want := g.LeaseExpiry(), at(DefaultRouteTTL); !got.Equal(want) {
		t.Fatalf("expiry %v, want %v (sent + route-ttl)", got.Sub(t0), want.Sub(t0))
	}
	// A duplicate answer does not extend it.
	g.Step(at(3*time.Second), grant)
	if got := g.LeaseExpiry(); !got.Equal(at(DefaultRouteTTL)) {
		t.Fatalf("duplicate grant moved the expiry to %v", got.Sub(t0))
	}
	if !g.Routing(at(DefaultRouteTTL - 1)) {
		t.Fatal("not routing before expiry")
	}
	out = g.Tick(at(DefaultRouteTTL))
	if !hasEvent(out, EventLeaseExpired) || g.Routing(at(DefaultRouteTTL)) {
		t.Fatalf("lease did not expire at its end: %+v", out)
	}
}

func TestGatewayRefusesSupersededAndForeignGrants(t *testing.T) {
	g := NewGateway("g1", 7, t0, DefaultConfig())
	g.ObserveLeader(at(0), "L")
	req := only(t, g.ObserveRoute(at(0), serving(3, "m1")), MsgLeaseRequest)
	// A grant for an earlier process of the same gateway.
	g.Step(at(10*time.Millisecond), Message{Type: MsgLeaseGrant, Epoch: 3, Session: 8, Seq: req.Seq})
	if g.Routing(at(20 * time.Millisecond)) {
		t.Fatal("accepted a grant of another session")
	}
	// The gateway learns epoch 4 (failover): it cuts, acks, and refuses
	// the late grant for epoch 3.
	out := g.ObserveRoute(at(30*time.Millisecond), failover(4))
	if ack := only(t, out, MsgAck); ack.Epoch != 4 || ack.To != "L" {
		t.Fatalf("ack %v", ack)
	}
	g.Step(at(40*time.Millisecond), Message{Type: MsgLeaseGrant, Epoch: 3, Session: 7, Seq: req.Seq})
	if g.Routing(at(50 * time.Millisecond)) {
		t.Fatal("accepted a grant for a superseded epoch")
	}
	// Lower and equal epochs are ignored.
	if out := g.ObserveRoute(at(60*time.Millisecond), serving(3, "m1")); !out.empty() {
		t.Fatalf("older route changed something: %+v", out)
	}
	if g.Route().Epoch != 4 {
		t.Fatalf("epoch went back to %d", g.Route().Epoch)
	}
}

func TestLeaderGrantsOnlyWhileCertain(t *testing.T) {
	c := DefaultConfig()
	l := NewLeader("L", c)
	l.BecomeLeader(at(0), Term{Route: serving(3, "m1"), LastRenewal: at(0), PrevRenewalBound: at(0)})
	req := Message{Type: MsgLeaseRequest, From: "g1", To: "L", Epoch: 3, Session: 1, Seq: 1}
	if gr := only(t, l.Step(at(time.Second), req), MsgLeaseGrant); gr.Seq != 1 || gr.Epoch != 3 {
		t.Fatalf("grant %v", gr)
	}
	if want := at(time.Second).Add(c.overestimate(c.RouteTTL)); !l.grants["g1"].expiry.Equal(want) {
		t.Fatalf("remembered %v, want %v", l.grants["g1"].expiry.Sub(t0), want.Sub(t0))
	}
	// Wrong epoch: denied with the route.
	deny := only(t, l.Step(at(time.Second), Message{Type: MsgLeaseRequest, From: "g2", Epoch: 2, Seq: 1}), MsgLeaseDeny)
	if deny.Route == nil || deny.Route.Epoch != 3 {
		t.Fatalf("deny %v", deny)
	}
	// Past the renew deadline, with failsafe off: silence.
	c.DisableFailsafe = true
	l2 := NewLeader("L", c)
	l2.BecomeLeader(at(0), Term{Route: serving(3, "m1"), LastRenewal: at(0)})
	if out := l2.Step(at(c.RenewDeadline), req); len(out.Messages) != 0 {
		t.Fatalf("granted past the renew deadline: %v", out.Messages)
	}
}

func TestLeaderBarrier(t *testing.T) {
	c := DefaultConfig()
	l := NewLeader("L", c)
	prev := at(-time.Hour) // the predecessor is long gone
	l.BecomeLeader(at(0), Term{Route: serving(3, "m1"), LastRenewal: at(0), PrevRenewalBound: prev, LastFailsafeAck: prev})
	for _, g := range []string{"g1", "g2"} {
		l.Step(at(100*time.Millisecond), Message{Type: MsgLeaseRequest, From: g, Epoch: 3, Seq: 1})
	}
	l.Renewed(at(time.Second), at(time.Second))
	if err := l.Claim(at(time.Second), failover(4)); err != nil {
		t.Fatal(err)
	}
	// No grants on the old epoch after the claim.
	if out := l.Step(at(time.Second), Message{Type: MsgLeaseRequest, From: "g1", Epoch: 3, Seq: 2}); hasMsg(out, MsgLeaseGrant) {
		t.Fatal("granted after the claim")
	}
	if ok, _, _ := l.CanPromote(at(time.Second)); ok {
		t.Fatal("promotion before the claim was published")
	}
	l.Published(at(time.Second), failover(4))
	ok, retry, waiting := l.CanPromote(at(time.Second))
	if ok || len(waiting) != 2 {
		t.Fatalf("CanPromote = %v %v %v, want waiting for g1 g2", ok, retry, waiting)
	}
	l.Step(at(1100*time.Millisecond), Message{Type: MsgAck, From: "g1", Epoch: 4})
	l.Renewed(at(1200*time.Millisecond), at(1200*time.Millisecond))
	_, retry, waiting = l.CanPromote(at(1200 * time.Millisecond))
	if len(waiting) != 1 || waiting[0] != "g2" {
		t.Fatalf("waiting %v, want g2", waiting)
	}
	if !retry.Equal(at(100 * time.Millisecond).Add(c.overestimate(c.RouteTTL))) {
		t.Fatalf("retry at %v", retry.Sub(t0))
	}
	if err := l.Promote(at(1200 * time.Millisecond)); !errors.Is(err, ErrBarrier) {
		t.Fatalf("Promote = %v, want ErrBarrier", err)
	}
	// g2 stays silent: once its lease must have expired, promote.
	l.Renewed(retry, retry)
	if err := l.Promote(retry); err != nil {
		t.Fatalf("Promote at the silent lease's expiry: %v", err)
	}
}

func TestNewLeaderWaitsForPredecessorAndFailsafe(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		name      string
		prev, ack time.Time
		want      time.Time
	}{
		{"predecessor's leases", at(0), time.Time{}, at(0).Add(c.overestimate(c.RenewDeadline + c.RouteTTL))},
		{"own failsafe acks", at(-time.Hour), at(5 * time.Second), at(5 * time.Second).Add(c.overestimate(c.RouteTTL))},
		{"unknown predecessor: now", time.Time{}, time.Time{}, at(time.Second).Add(c.overestimate(c.RenewDeadline + c.RouteTTL))},
	} {
		l := NewLeader("L", c)
		l.BecomeLeader(at(time.Second), Term{Route: failover(4), LastRenewal: at(time.Second), PrevRenewalBound: tc.prev, LastFailsafeAck: tc.ack})
		if got := l.PromoteNotBefore(); !got.Equal(tc.want) {
			t.Errorf("%s: not before %v, want %v", tc.name, got.Sub(t0), tc.want.Sub(t0))
		}
		renewAt := tc.want.Add(-time.Millisecond)
		l.Renewed(renewAt, renewAt)
		if ok, _, _ := l.CanPromote(renewAt); ok {
			t.Errorf("%s: may promote before the wait", tc.name)
		}
		l.Renewed(tc.want, tc.want)
		if ok, _, w := l.CanPromote(tc.want); !ok {
			t.Errorf("%s: may not promote after the wait (waiting %v)", tc.name, w)
		}
	}
}

func hasMsg(out Output, typ MsgType) bool {
	for _, m := range out.Messages {
		if m.Type == typ {
			return true
		}
	}
	return false
}

// The failsafe grants only on a round every member confirmed, started
// after the request arrived; a refusal ends it.
func TestFailsafe(t *testing.T) {
	c := DefaultConfig()
	l := NewLeader("L", c)
	l.SetMembers(at(0), []string{"L", "g1", "g2"})
	l.BecomeLeader(at(0), Term{Route: serving(3, "m1"), LastRenewal: at(0), PrevRenewalBound: at(-time.Hour)})
	lost := at(c.RenewDeadline) // the store stopped answering at 0
	req := Message{Type: MsgLeaseRequest, From: "g1", To: "L", Epoch: 3, Session: 1, Seq: 5}
	out := l.Step(lost, req)
	if !hasEvent(out, EventFailsafeStarted) || hasMsg(out, MsgLeaseGrant) {
		t.Fatalf("want failsafe started and no grant yet: %+v", out)
	}
	var probes []Message
	for _, m := range out.Messages {
		if m.Type == MsgFailsafeProbe {
			probes = append(probes, m)
		}
	}
	if len(probes) != 3 {
		t.Fatalf("want probes to all 3 members, got %v", probes)
	}
	// Gateways answer as Gateway does.
	gws := map[string]*Gateway{}
	for _, id := range []string{"L", "g1", "g2"} {
		g := NewGateway(id, 1, at(-time.Hour), c)
		g.ObserveLeader(at(0), "L")
		g.ObserveRoute(at(0), serving(3, "m1"))
		gws[id] = g
	}
	var grants []Message
	for i, p := range probes {
		ack := only(t, gws[p.To].Step(lost.Add(time.Duration(i)*time.Millisecond), p), MsgFailsafeAck)
		if ack.Refuse != RefuseNone {
			t.Fatalf("%s refused: %v", p.To, ack)
		}
		for _, m := range l.Step(lost.Add(10*time.Millisecond), ack).Messages {
			if m.Type == MsgLeaseGrant {
				grants = append(grants, m)
			}
		}
		if i < 2 && len(grants) > 0 {
			t.Fatalf("granted before every member confirmed")
		}
	}
	if len(grants) != 1 || grants[0].To != "g1" || grants[0].Seq != 5 {
		t.Fatalf("grants %v", grants)
	}
	if !gws["g1"].LastFailsafeAck().Equal(lost.Add(time.Millisecond)) {
		t.Fatalf("g1's last failsafe ack %v", gws["g1"].LastFailsafeAck())
	}

	// g2 now sees another leader: it refuses, and that ends the failsafe.
	gws["g2"].ObserveLeader(lost, "N")
	next := lost.Add(time.Second)
	out = l.Step(next, Message{Type: MsgLeaseRequest, From: "g1", Epoch: 3, Session: 1, Seq: 6})
	var p2 Message
	for _, m := range out.Messages {
		if m.Type == MsgFailsafeProbe && m.To == "g2" {
			p2 = m
		}
	}
	ack := only(t, gws["g2"].Step(next, p2), MsgFailsafeAck)
	if ack.Refuse != RefuseOtherLeader {
		t.Fatalf("g2 answered %v, want RefuseOtherLeader", ack)
	}
	if out := l.Step(next, ack); !hasEvent(out, EventFailsafeEnded) || l.Failsafe() {
		t.Fatalf("failsafe did not end: %+v", out)
	}
	if out := l.Step(next.Add(time.Second), Message{Type: MsgLeaseRequest, From: "g1", Epoch: 3, Seq: 7}); len(out.Messages) != 0 {
		t.Fatalf("answered after the failsafe ended: %v", out.Messages)
	}
	// A gateway holding a newer epoch refuses too.
	g := NewGateway("g3", 1, at(0), c)
	g.ObserveRoute(at(0), failover(4))
	if a := only(t, g.Step(at(0), Message{Type: MsgFailsafeProbe, From: "L", Epoch: 3, Seq: 1}), MsgFailsafeAck); a.Refuse != RefuseNewerEpoch {
		t.Fatalf("answer %v, want RefuseNewerEpoch", a)
	}
}
