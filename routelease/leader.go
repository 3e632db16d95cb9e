package routelease

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Errors of Leader's actions.
var (
	// ErrNotLeading: the action needs a leadership that is certain now.
	ErrNotLeading = errors.New("routelease: leadership is not certain")
	// ErrStaleClaim: the claimed epoch is not above every epoch known.
	ErrStaleClaim = errors.New("routelease: claim does not raise the epoch")
	// ErrBarrier: promotion is not allowed yet (Leader.CanPromote).
	ErrBarrier = errors.New("routelease: barrier not passed")
)

// Term is what the elector and the store tell a leader when it wins.
type Term struct {
	// Route is the route the store holds, read after winning.
	Route state.Route
	// LastRenewal is when the write that won was sent (election's
	// LastRenewal); leadership is certain for RenewDeadline from then.
	LastRenewal time.Time
	// PrevRenewalBound is a time after which the previous holder made no
	// successful renewal (election's PreviousRenewalBound). Zero: unknown,
	// taken as now.
	PrevRenewalBound time.Time
	// LastFailsafeAck is this replica's Gateway.LastFailsafeAck().
	LastFailsafeAck time.Time
}

type grant struct {
	epoch  uint64
	expiry time.Time // by the leader's clock, over-estimated
}

type heldRequest struct {
	m      Message
	recvAt time.Time
}

type failsafeRound struct {
	n     uint64
	start time.Time
	need  map[string]bool
	reqs  map[string]heldRequest
}

// Leader is the leader side of the route lease: it grants leases on the
// serving route while its leadership is certain, remembers them, and
// decides when a promotion is safe (the barrier). One replica keeps one
// Leader for its whole life, across terms, so that it never forgets a
// lease it granted.
//
// Like Gateway it does no I/O and reads no clock, and one goroutine owns
// it. The owner feeds it the elector's news (BecomeLeader, Renewed,
// Deposed), the membership (SetMembers), messages (Step) and time (Tick
// at NextDeadline at the latest), and calls Claim, Published, CanPromote
// and Promote around its store writes.
type Leader struct {
	cfg Config
	id  string

	leading     bool // won and not deposed (certainty is judged by lastRenewal)
	lastRenewal time.Time

	route   state.Route // the route in the store, as last written or read
	serving uint64      // epoch grants are for; 0: none
	claimed uint64      // highest epoch claimed or published

	promoted         uint64
	promoteNotBefore time.Time

	grants  map[string]grant
	acks    map[string]uint64
	members map[string]bool

	fsActive    bool
	fsEnded     bool
	fsRequired  map[string]bool
	fsPending   map[string]heldRequest
	fsRound     *failsafeRound
	fsRounds    uint64
	fsLastStart time.Time

	lastNow time.Time // the latest now of any input
}

// NewLeader returns the leader side for the gateway named id. cfg must be
// valid (Config.Validate).
func NewLeader(id string, cfg Config) *Leader {
	return &Leader{cfg: cfg.withDefaults(), id: id,
		grants: map[string]grant{}, acks: map[string]uint64{}, members: map[string]bool{}}
}

// Leading reports whether the leader won and was not deposed. Its
// leadership is certain only while Certain says so.
func (l *Leader) Leading() bool { return l.leading }

// Certain reports whether leadership is certain at now: leading, and less
// than RenewDeadline since the last successful renewal was sent.
func (l *Leader) Certain(now time.Time) bool {
	return l.leading && now.Sub(l.lastRenewal) < l.cfg.RenewDeadline
}

// Route is the route the leader acts on.
func (l *Leader) Route() state.Route { return l.route }

// Failsafe reports whether the leader is confirming its route by failsafe
// rounds.
func (l *Leader) Failsafe() bool { return l.fsActive }

// Claimed is the highest epoch claimed or published.
func (l *Leader) Claimed() uint64 { return l.claimed }

// Promoted is the claimed epoch whose promotion was allowed in this term
// (0: none).
func (l *Leader) Promoted() uint64 { return l.promoted }

// PromoteNotBefore is the earliest time a promotion may happen in this
// term, whatever the acks: until then, leases granted by a predecessor (or
// by a failsafe leader) may still be running.
func (l *Leader) PromoteNotBefore() time.Time { return l.promoteNotBefore }

// BecomeLeader starts a term. The leader grants at once on the store's
// serving route, but it does not promote before the leases a predecessor
// may have granted have expired: PrevRenewalBound + RenewDeadline +
// RouteTTL, and this replica's LastFailsafeAck + RouteTTL, each
// over-estimated for clock rates. It announces the route.
func (l *Leader) BecomeLeader(now time.Time, t Term) Output {
	l.observe(now)
	l.leading = true
	l.lastRenewal = t.LastRenewal
	l.route = t.Route.Clone()
	l.claimed = l.route.Epoch
	l.promoted = 0 // a failover found in the store is finished anew, barrier included
	l.serving = 0
	if l.route.Phase == state.PhaseServing {
		l.serving = l.route.Epoch
	}
	l.resetFailsafe()
	if !l.cfg.brokenNoNewLeaderWait {
		prev := t.PrevRenewalBound
		if prev.IsZero() {
			prev = now
		}
		nb := prev.Add(l.cfg.overestimate(l.cfg.RenewDeadline + l.cfg.RouteTTL))
		if !t.LastFailsafeAck.IsZero() {
			if fs := t.LastFailsafeAck.Add(l.cfg.overestimate(l.cfg.RouteTTL)); fs.After(nb) {
				nb = fs
			}
		}
		if nb.After(l.promoteNotBefore) {
			l.promoteNotBefore = nb
		}
	}
	var out Output
	if l.route.Epoch != 0 {
		r := l.route.Clone()
		out.send(Message{Type: MsgRouteAnnounce, From: l.id, Epoch: r.Epoch, Route: &r})
	}
	return out
}

// Renewed records a successful renewal sent at sentAt. It ends a failsafe:
// normal rules resume.
func (l *Leader) Renewed(now, sentAt time.Time) Output {
	l.observe(now)
	var out Output
	if !l.leading {
		return out
	}
	if sentAt.After(l.lastRenewal) {
		l.lastRenewal = sentAt
	}
	if l.Certain(now) && (l.fsActive || l.fsEnded) {
		if l.fsActive {
			out.emit(Event{Type: EventFailsafeEnded, Epoch: l.serving})
		}
		l.resetFailsafe()
	}
	return out
}

// Deposed ends the term: another holder was observed or a store write
// failed its compare-and-swap. The leader stops granting at once. (A
// renewal that merely timed out is not a deposition: leadership stops
// being certain on its own, and the failsafe may take over.)
func (l *Leader) Deposed(now time.Time) Output {
	l.observe(now)
	var out Output
	if l.fsActive {
		out.emit(Event{Type: EventFailsafeEnded, Epoch: l.serving})
	}
	l.leading = false
	l.serving = 0
	l.resetFailsafe()
	return out
}

func (l *Leader) resetFailsafe() {
	l.fsActive, l.fsEnded = false, false
	l.fsRequired, l.fsPending, l.fsRound = nil, nil, nil
}

// SetMembers tells the leader which gateways may exist: every gateway
// that might hold a lease or become leader. While a failsafe runs the set
// can only grow (a member that went silent may be partitioned, not gone).
// Give every member memberlist knows, including failed ones until the
// orchestrator confirms they are gone.
func (l *Leader) SetMembers(now time.Time, ids []string) {
	l.observe(now)
	l.members = make(map[string]bool, len(ids))
	for _, id := range ids {
		l.members[id] = true
		if l.fsActive {
			l.fsRequired[id] = true
		}
	}
}

// Claim records that the leader is about to write next (epoch above every
// epoch it knows, normally phase failover) to the store. It stops granting
// leases on the serving route at once, before the write, so that the set
// of leases the barrier waits for is closed. Call Published after the
// write succeeds; a failed write means the leader lost (Deposed).
func (l *Leader) Claim(now time.Time, next state.Route) error {
	l.observe(now)
	if !l.Certain(now) {
		return ErrNotLeading
	}
	if next.Epoch <= l.route.Epoch || next.Epoch < l.claimed {
		return fmt.Errorf("%w: epoch %d, already at %d", ErrStaleClaim, next.Epoch, max(l.claimed, l.route.Epoch))
	}
	// next.Epoch == l.claimed: a retry of a write whose outcome is unknown.
	l.claimed = next.Epoch
	l.serving = 0
	l.fsPending, l.fsRound = nil, nil
	return nil
}

// Published records that the store now holds r (the leader's write
// succeeded). A serving route becomes the one leases are granted on. It
// announces r.
func (l *Leader) Published(now time.Time, r state.Route) Output {
	l.observe(now)
	var out Output
	if r.Epoch < l.route.Epoch {
		return out
	}
	l.route = r.Clone()
	if r.Epoch > l.claimed {
		l.claimed = r.Epoch
	}
	l.serving = 0
	if r.Phase == state.PhaseServing && r.Epoch == l.claimed {
		l.serving = r.Epoch
	}
	rr := r.Clone()
	out.send(Message{Type: MsgRouteAnnounce, From: l.id, Epoch: r.Epoch, Route: &rr})
	return out
}

// CanPromote reports whether the route being failed over (the published
// claim) may get its new MAIN now: leadership certain, the term's
// PromoteNotBefore passed, and every gateway that may still hold a lease
// this leader granted on an older epoch has acked the claimed epoch or
// seen that lease expire. When not, it returns when to ask again (zero
// when only an ack or a new leadership can help) and the gateways waited
// for.
func (l *Leader) CanPromote(now time.Time) (ok bool, retryAt time.Time, waiting []string) {
	if !l.Certain(now) || l.route.Epoch != l.claimed || l.route.Phase == state.PhaseServing || l.promoted >= l.claimed {
		return false, time.Time{}, nil
	}
	if now.Before(l.promoteNotBefore) {
		retryAt = l.promoteNotBefore
	}
	for id, g := range l.grants {
		if g.epoch < l.claimed && g.expiry.After(now) && l.acks[id] < l.claimed {
			waiting = append(waiting, id)
			if g.expiry.After(retryAt) {
				retryAt = g.expiry
			}
		}
	}
	slices.Sort(waiting)
	return retryAt.IsZero(), retryAt, waiting
}

// Promote records that the barrier was passed and the new MAIN of the
// claimed epoch may be promoted now. It fails with ErrBarrier (or
// ErrNotLeading) when CanPromote says no.
func (l *Leader) Promote(now time.Time) error {
	l.observe(now)
	if !l.Certain(now) {
		return ErrNotLeading
	}
	if ok, at, waiting := l.CanPromote(now); !ok {
		return fmt.Errorf("%w: epoch %d: waiting for %v until %v", ErrBarrier, l.claimed, waiting, at)
	}
	l.promoted = l.claimed
	return nil
}

// NextDeadline is when Tick (or CanPromote) should be called next at the
// latest; zero when nothing is due. It is always after the latest input's
// now.
func (l *Leader) NextDeadline() time.Time {
	d := l.nextDeadline()
	if !d.After(l.lastNow) {
		// Every deadline met already: nothing due until the next input.
		return time.Time{}
	}
	return d
}

func (l *Leader) nextDeadline() time.Time {
	var d time.Time
	if !l.leading {
		return d
	}
	future := func(t time.Time) time.Time {
		if t.After(l.lastNow) {
			return t
		}
		return time.Time{}
	}
	if l.serving != 0 && !l.fsActive && !l.cfg.DisableFailsafe {
		d = future(l.lastRenewal.Add(l.cfg.RenewDeadline)) // certainty ends: failsafe may start
	}
	if l.fsActive {
		if l.fsRound != nil {
			d = earliest(d, future(l.fsRound.start.Add(l.cfg.roundTimeout())))
		} else if len(l.fsPending) > 0 {
			d = earliest(d, future(l.fsLastStart.Add(l.cfg.FailsafeInterval)))
		}
	}
	if l.route.Epoch == l.claimed && l.route.Phase != state.PhaseServing && l.promoted < l.claimed {
		d = earliest(d, future(l.promoteNotBefore))
		for id, g := range l.grants {
			if g.epoch < l.claimed && l.acks[id] < l.claimed {
				d = earliest(d, future(g.expiry))
			}
		}
	}
	return d
}

// Tick advances time: it forgets expired grants and runs the failsafe.
func (l *Leader) Tick(now time.Time) Output {
	l.observe(now)
	var out Output
	for id, g := range l.grants {
		if !g.expiry.After(now) {
			delete(l.grants, id)
		}
	}
	l.failsafeTick(now, &out)
	return out
}

// Step handles a message addressed to the leader.
func (l *Leader) Step(now time.Time, m Message) Output {
	l.observe(now)
	var out Output
	switch m.Type {
	case MsgLeaseRequest:
		l.ack(m.From, m.Epoch)
		l.onRequest(now, m, &out)
	case MsgAck:
		l.ack(m.From, m.Epoch)
	case MsgFailsafeAck:
		l.ack(m.From, m.Epoch)
		l.onFailsafeAck(now, m, &out)
	}
	return out
}

func (l *Leader) observe(now time.Time) {
	if now.After(l.lastNow) {
		l.lastNow = now
	}
}

func (l *Leader) ack(from string, epoch uint64) {
	if from != "" && epoch > l.acks[from] {
		l.acks[from] = epoch
	}
}

func (l *Leader) onRequest(now time.Time, m Message, out *Output) {
	if !l.leading || m.From == "" {
		return
	}
	if l.serving == 0 || m.Epoch != l.serving {
		deny := Message{Type: MsgLeaseDeny, From: l.id, To: m.From, Epoch: l.route.Epoch,
			Session: m.Session, Seq: m.Seq}
		if l.route.Epoch > m.Epoch {
			r := l.route.Clone()
			deny.Route = &r
		}
		out.send(deny)
		return
	}
	if l.Certain(now) {
		l.grant(now, m, out)
		return
	}
	l.failsafeTick(now, out)
	if l.fsActive {
		l.fsRequired[m.From] = true
		l.fsPending[m.From] = heldRequest{m: m, recvAt: now}
		l.failsafeTick(now, out) // a round may start now
	}
}

// grant answers m and remembers the lease, over-estimated: the gateway's
// lease ends RouteTTL by its clock after it sent m, which was before now.
// A gateway's entry keeps the latest expiry of all its grants.
func (l *Leader) grant(now time.Time, m Message, out *Output) {
	g := l.grants[m.From]
	if exp := now.Add(l.cfg.overestimate(l.cfg.RouteTTL)); exp.After(g.expiry) {
		g.expiry = exp
	}
	g.epoch = max(g.epoch, m.Epoch)
	l.grants[m.From] = g
	out.send(Message{Type: MsgLeaseGrant, From: l.id, To: m.From, Epoch: m.Epoch,
		Session: m.Session, Seq: m.Seq, SentAt: m.SentAt})
}

// failsafeTick starts the failsafe when leadership stopped being certain
// without a deposition, abandons a round past its time and starts the
// next one when requests are waiting.
func (l *Leader) failsafeTick(now time.Time, out *Output) {
	on := !l.cfg.DisableFailsafe && l.leading && !l.Certain(now) && !l.fsEnded &&
		l.serving != 0 && l.claimed == l.serving
	if !on {
		return
	}
	if !l.fsActive {
		l.fsActive = true
		l.fsRequired = map[string]bool{l.id: true}
		for id := range l.members {
			l.fsRequired[id] = true
		}
		for id := range l.grants {
			l.fsRequired[id] = true
		}
		l.fsPending = map[string]heldRequest{}
		out.emit(Event{Type: EventFailsafeStarted, Epoch: l.serving})
	}
	if r := l.fsRound; r != nil && !now.Before(r.start.Add(l.cfg.roundTimeout())) {
		l.requeue(r)
		l.fsRound = nil
	}
	if l.fsRound != nil || len(l.fsPending) == 0 || (!l.fsLastStart.IsZero() && now.Before(l.fsLastStart.Add(l.cfg.FailsafeInterval))) {
		return
	}
	l.fsRounds++
	r := &failsafeRound{n: l.fsRounds, start: now, need: map[string]bool{}, reqs: l.fsPending}
	l.fsPending = map[string]heldRequest{}
	l.fsRound, l.fsLastStart = r, now
	ids := make([]string, 0, len(l.fsRequired))
	for id := range l.fsRequired {
		r.need[id] = true
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic output order
	for _, id := range ids {
		out.send(Message{Type: MsgFailsafeProbe, From: l.id, To: id, Epoch: l.serving, Seq: r.n})
	}
}

// requeue puts the requests of an unfinished round back: they were all
// received before any later round starts.
func (l *Leader) requeue(r *failsafeRound) {
	for id, h := range r.reqs {
		if cur, ok := l.fsPending[id]; !ok || cur.m.Seq < h.m.Seq {
			l.fsPending[id] = h
		}
	}
}

func (l *Leader) onFailsafeAck(now time.Time, m Message, out *Output) {
	r := l.fsRound
	if !l.fsActive || r == nil || m.Seq != r.n || !r.need[m.From] {
		return
	}
	switch m.Refuse {
	case RefuseNewerEpoch, RefuseOtherLeader:
		l.fsActive, l.fsEnded = false, true
		l.fsRound, l.fsPending = nil, nil
		out.emit(Event{Type: EventFailsafeEnded, Epoch: l.serving, Refusal: m.Refuse, Peer: m.From})
		return
	case RefuseBehind:
		l.requeue(r)
		l.fsRound = nil
		return
	}
	if m.Epoch != l.serving {
		return
	}
	delete(r.need, m.From)
	if len(r.need) > 0 && !(l.cfg.brokenFailsafeMajority && 2*len(r.need) < len(l.fsRequired)) {
		return
	}
	// Every member confirmed after the round started, hence after each
	// of these requests was sent: grant them.
	l.fsRound = nil
	ids := make([]string, 0, len(r.reqs))
	for id := range r.reqs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if h := r.reqs[id]; h.m.Epoch == l.serving {
			l.grant(now, h.m, out)
		}
	}
}
