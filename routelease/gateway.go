package routelease

import (
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// maxPending bounds the requests a Gateway remembers; the answer to an
// older one is ignored (a newer request is answered as well).
const maxPending = 8

type pendingRequest struct {
	seq    uint64
	epoch  uint64
	sentAt time.Time
}

// Gateway is the gateway side of the route lease: it holds the route (the
// highest epoch it has seen), its lease on that route, and decides when to
// ask the leader for a lease.
//
// It does no I/O and reads no clock: every input carries now, this
// process's monotonic time. It is not safe for concurrent use: one
// goroutine owns it, feeds it inputs and carries out each Output (send the
// messages, act on the events) before the next input, and calls Tick at
// NextDeadline at the latest.
type Gateway struct {
	cfg     Config
	id      string
	session uint64
	origin  time.Time

	leader string      // observed leader ("" unknown)
	route  state.Route // highest epoch seen

	leaseEpoch uint64
	expiry     time.Time // lease end by our clock; meaningful when leaseEpoch == route.Epoch
	routing    bool      // last state reported by events

	seq      uint64
	pending  []pendingRequest
	nextSend time.Time // when the next LeaseRequest (or Ack) is due; zero: none due

	lastFailsafeAck time.Time
}

// NewGateway returns the gateway side for the gateway named id (its
// memberlist node name). session must differ between processes that use
// the same id (pick it at random); origin is the clock's reading at
// creation, used only to express SentAt as a number. cfg must be valid
// (Config.Validate).
func NewGateway(id string, session uint64, origin time.Time, cfg Config) *Gateway {
	// A process cannot know what an earlier process of the same replica
	// confirmed: count the start as a failsafe ack (see LastFailsafeAck).
	return &Gateway{cfg: cfg.withDefaults(), id: id, session: session, origin: origin, lastFailsafeAck: origin}
}

// ID is the gateway's identity.
func (g *Gateway) ID() string { return g.id }

// Route returns the route held (the highest epoch seen; zero if none).
func (g *Gateway) Route() state.Route { return g.route }

// Leader is the leader the gateway asks for leases ("" unknown).
func (g *Gateway) Leader() string { return g.leader }

// Routing reports whether the gateway may relay to Route().Main at now: it
// holds a lease on the current serving route that has not expired. The
// proxy must check it (or act on EventLeaseExpired at NextDeadline) so
// that nothing is relayed past the expiry.
func (g *Gateway) Routing(now time.Time) bool {
	return g.route.Phase == state.PhaseServing && g.leaseEpoch == g.route.Epoch && g.route.Epoch != 0 &&
		now.Before(g.expiry)
}

// LeaseExpiry is the end of the lease on the current route (zero when none).
func (g *Gateway) LeaseExpiry() time.Time {
	if g.leaseEpoch != g.route.Epoch || g.route.Epoch == 0 {
		return time.Time{}
	}
	return g.expiry
}

// LastFailsafeAck is when this gateway last confirmed a failsafe round of
// a leader, or when it was created if later (an earlier process of this
// replica may have confirmed rounds just before it died). Pass it to
// Leader.BecomeLeader: this replica must not promote before the leases
// those rounds allowed may have expired.
func (g *Gateway) LastFailsafeAck() time.Time { return g.lastFailsafeAck }

// NextDeadline is when Tick must be called next at the latest: the lease's
// expiry or the next request. Zero: nothing is due.
func (g *Gateway) NextDeadline() time.Time {
	d := g.nextSend
	if g.routing {
		d = earliest(d, g.expiry)
	}
	return d
}

// Tick advances time: it reports an expired lease and sends the next lease
// request (or ack) when due.
func (g *Gateway) Tick(now time.Time) Output {
	var out Output
	g.checkExpiry(now, &out)
	if !g.nextSend.IsZero() && !now.Before(g.nextSend) {
		g.sendNext(now, &out)
	}
	return out
}

func (g *Gateway) checkExpiry(now time.Time, out *Output) {
	if g.routing && !g.Routing(now) {
		g.routing = false
		out.emit(Event{Type: EventLeaseExpired, Epoch: g.route.Epoch})
	}
}

// sendNext sends what the gateway owes the leader: a lease request for a
// serving route, an ack for a route in failover.
func (g *Gateway) sendNext(now time.Time, out *Output) {
	g.nextSend = time.Time{}
	if g.route.Epoch == 0 {
		return
	}
	to := g.leader
	if g.route.Phase != state.PhaseServing {
		if g.route.Leader != "" {
			to = g.route.Leader
		}
		if to != "" {
			out.send(Message{Type: MsgAck, From: g.id, To: to, Epoch: g.route.Epoch})
		}
		g.nextSend = now.Add(g.cfg.RetryPeriod)
		return
	}
	if to == "" {
		g.nextSend = now.Add(g.cfg.RetryPeriod)
		return
	}
	g.seq++
	if len(g.pending) == maxPending {
		copy(g.pending, g.pending[1:])
		g.pending = g.pending[:maxPending-1]
	}
	g.pending = append(g.pending, pendingRequest{seq: g.seq, epoch: g.route.Epoch, sentAt: now})
	out.send(Message{Type: MsgLeaseRequest, From: g.id, To: to, Epoch: g.route.Epoch,
		Session: g.session, Seq: g.seq, SentAt: int64(now.Sub(g.origin))})
	// Unanswered requests are retried sooner than renewals.
	g.nextSend = now.Add(g.cfg.RetryPeriod)
}

// ObserveRoute offers a route learnt from gossip, the store, or a leader's
// answer. A route of a higher epoch (valid: state.Merge) is adopted: the
// lease on the older route ends at once (EventRoute: cut older
// connections), the new epoch is acknowledged to the leader and, when
// serving, a lease is requested at once. Anything else is ignored.
func (g *Gateway) ObserveRoute(now time.Time, r state.Route) Output {
	var out Output
	g.checkExpiry(now, &out)
	merged, changed := state.Merge(g.route, r)
	if !changed {
		return out
	}
	prev := g.route.Epoch
	g.route = merged.Clone()
	g.routing = false // the lease was on an older epoch
	g.pending = g.pending[:0]
	out.emit(Event{Type: EventRoute, Route: g.route, Epoch: g.route.Epoch, PrevEpoch: prev})
	// Ack to the leader that wrote the route: it is the one waiting for
	// the barrier. The observed leader gets a lease request next.
	to := g.route.Leader
	if to == "" {
		to = g.leader
	}
	if to != "" {
		out.send(Message{Type: MsgAck, From: g.id, To: to, Epoch: g.route.Epoch})
	}
	if g.route.Phase == state.PhaseServing {
		g.sendNext(now, &out)
	} else {
		g.nextSend = now.Add(g.cfg.RetryPeriod)
	}
	return out
}

// ObserveLeader tells the gateway who leads, as last observed (the
// election record, or a leader's own announcement); id is this gateway's
// own identity while it leads. A change of leader makes a gateway without
// a lease ask the new one at once; it also decides failsafe refusals.
func (g *Gateway) ObserveLeader(now time.Time, id string) Output {
	var out Output
	g.checkExpiry(now, &out)
	if id == g.leader {
		return out
	}
	g.leader = id
	if id != "" && g.route.Phase == state.PhaseServing && g.route.Epoch != 0 && !g.routing {
		g.sendNext(now, &out)
	}
	return out
}

// Step handles a message addressed to this gateway.
func (g *Gateway) Step(now time.Time, m Message) Output {
	var out Output
	g.checkExpiry(now, &out)
	switch m.Type {
	case MsgRouteAnnounce, MsgLeaseDeny:
		if m.Route != nil {
			out.merge(g.ObserveRoute(now, *m.Route))
		}
	case MsgLeaseGrant:
		g.onGrant(now, m, &out)
	case MsgFailsafeProbe:
		out.send(g.onProbe(now, m))
	}
	return out
}

func (g *Gateway) onGrant(now time.Time, m Message, out *Output) {
	// Refuse a grant for any epoch but the serving one held: a superseded
	// epoch must never be routed again.
	if (m.Session != g.session && !g.cfg.brokenLeaseFromReceipt) || m.Epoch != g.route.Epoch || g.route.Phase != state.PhaseServing {
		return
	}
	if g.cfg.brokenLeaseFromReceipt {
		// Broken on purpose: a lease counted from the answer's arrival
		// needs no record of requests, so any grant for the epoch counts.
		if exp := now.Add(g.cfg.RouteTTL); g.leaseEpoch != m.Epoch || exp.After(g.expiry) {
			g.leaseEpoch, g.expiry = m.Epoch, exp
		}
		g.nextSend = now.Add(g.cfg.RenewInterval)
	} else {
		i := -1
		for j, p := range g.pending {
			if p.seq == m.Seq && p.epoch == m.Epoch {
				i = j
				break
			}
		}
		if i < 0 {
			return // unknown or already used (duplicate)
		}
		p := g.pending[i]
		g.pending = append(g.pending[:i], g.pending[i+1:]...)
		// The lease runs from when the request was sent: however late the
		// answer, the leader granted after that moment.
		if exp := p.sentAt.Add(g.cfg.RouteTTL); g.leaseEpoch != m.Epoch || exp.After(g.expiry) {
			g.leaseEpoch, g.expiry = m.Epoch, exp
		}
		if p.seq == g.seq {
			g.nextSend = p.sentAt.Add(g.cfg.RenewInterval)
		}
	}
	if !g.routing && g.Routing(now) {
		g.routing = true
		out.emit(Event{Type: EventLeaseGranted, Route: g.route, Epoch: g.route.Epoch, Expiry: g.expiry})
	}
}

func (g *Gateway) onProbe(now time.Time, m Message) Message {
	ack := Message{Type: MsgFailsafeAck, From: g.id, To: m.From, Epoch: g.route.Epoch, Seq: m.Seq}
	switch {
	case g.route.Epoch > m.Epoch:
		ack.Refuse = RefuseNewerEpoch
	case g.leader != "" && g.leader != m.From:
		ack.Refuse = RefuseOtherLeader
	case g.route.Epoch < m.Epoch:
		ack.Refuse = RefuseBehind
	default:
		g.lastFailsafeAck = now
	}
	return ack
}
