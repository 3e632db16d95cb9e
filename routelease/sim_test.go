package routelease

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// This file is a deterministic simulation of the whole route-lease
// protocol: gateway replicas (each running a Gateway, a Leader, a
// client-go-like elector and a failover controller), a linearizable store
// holding the election record and the route, and a network that delays,
// drops, duplicates, reorders and partitions. Every node has its own clock
// whose rate is off real time by up to Config.ClockDrift. Nothing reads the
// real clock: one seed gives one run, always the same.
//
// The checks, after every event:
//   - safety: at no instant do two gateways route to different MAINs, and
//     once the MAIN of epoch e has been promoted no gateway routes on an
//     epoch below e;
//   - each gateway process adopts strictly increasing epochs;
// and at the end, after every fault has healed: every gateway holds a
// lease on the store's serving route (liveness).

var simBase = time.Unix(1_000_000, 0)

// simParams shapes one run. pick draws them from the seed.
type simParams struct {
	nodes      int
	chaos      time.Duration // faults and failovers happen before this
	heal       time.Duration // then everything is healed for this long
	drop       float64       // per message
	dup        float64       // per message
	longDelayP float64       // per message: delay up to maxLongDelay
	failoverP  float64       // per controller step while serving
	eagerP     float64       // per term: fail over at once after winning
	faultEvery time.Duration // mean time between faults
	overlap    float64       // 0: faults pile up; 1: the next starts after the last healed
}

const maxLongDelay = 2 * time.Second

func pickParams(r *rand.Rand) simParams {
	return simParams{
		nodes:      3 + r.IntN(3),
		chaos:      time.Duration(30+r.IntN(30)) * time.Second,
		heal:       30 * time.Second,
		drop:       []float64{0, 0.01, 0.05, 0.2}[r.IntN(4)],
		dup:        []float64{0, 0.02, 0.1}[r.IntN(3)],
		longDelayP: []float64{0, 0.02, 0.1, 0.3}[r.IntN(4)],
		failoverP:  []float64{0.02, 0.05, 0.15}[r.IntN(3)],
		eagerP:     []float64{0, 0.3, 0.8}[r.IntN(3)],
		faultEvery: time.Duration(1+r.IntN(4)) * time.Second,
		overlap:    []float64{0, 0.5, 1, 1}[r.IntN(4)],
	}
}

// ---- events ----

type evKind uint8

const (
	evWake evKind = iota
	evDeliver
	evFault
)

type simEvent struct {
	at   time.Duration // real time
	seq  uint64
	kind evKind
	node int
	inc  int
	msg  *simMsg
	f    func()
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int)    { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)      { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() (x any)    { x, *q = (*q)[len(*q)-1], (*q)[:len(*q)-1]; return x }
func (q *eventQueue) add(e *simEvent) { heap.Push(q, e) }

// ---- messages ----

type storeOpKind uint8

const (
	opGet storeOpKind = iota
	opAcquire
	opRenew
	opWriteRoute
)

type storeOp struct {
	kind      storeOpKind
	expectVer uint64      // acquire
	route     state.Route // write
	expect    uint64      // write: route epoch expected in the store
	sentAt    time.Time   // sender's clock, echoed
}

type storeReply struct {
	op     storeOp
	ok     bool
	holder string
	ver    uint64
	route  state.Route
}

type simMsg struct {
	from, to int // node index; store is index -1
	fromInc  int // the sender's incarnation
	lease    *Message
	op       *storeOp
	reply    *storeReply
}

// ---- the world ----

type simStore struct {
	holder string
	ver    uint64
	route  state.Route
}

type promotion struct {
	at    time.Duration
	epoch uint64
	main  string
	by    string
}

type sim struct {
	p     simParams
	cfg   Config
	rng   *rand.Rand
	now   time.Duration
	seq   uint64
	q     eventQueue
	nodes []*simNode
	store simStore
	// blocked[a][b]: messages from a to b are lost; index len(nodes) is
	// the store.
	blocked [][]bool
	healed  bool
	// failoverAt: the leader claims at its first step from then on (the
	// MAIN "fails"); 0: none pending.
	failoverAt time.Duration

	maxPromoted uint64
	promotions  []promotion
	curMain     string
	violations  []string
	steps       int
	trace       []string
	traceOn     bool
	debugMsgs   bool

	stats simStats
}

type simStats struct {
	events, promotions, failovers, leaderChanges, failsafeRounds, failsafeGrants, expiries int
}

type simNode struct {
	s     *sim
	idx   int
	id    string
	alive bool
	inc   int
	off   time.Duration
	rate  float64

	gw *Gateway
	ld *Leader

	// elector
	leadingTerm bool
	lastRenewal time.Time
	seenHolder  string
	seenVer     uint64
	seenAt      time.Time
	seenAny     bool
	nextElect   time.Time

	// controller
	nextCtl   time.Time
	writing   bool
	writeDue  time.Time
	newMain   string
	eagerTerm bool

	// leaseFrom: the leader (node, incarnation) whose grant set the
	// current lease's expiry.
	leaseFrom, leaseFromInc int

	wakeAt   time.Duration
	wakeSet  bool
	lastEpoc uint64
}

func newSim(seed uint64, cfg Config) *sim {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := pickParams(r)
	s := &sim{p: p, cfg: cfg.withDefaults(), rng: r}
	n := p.nodes
	s.blocked = make([][]bool, n+1)
	for i := range s.blocked {
		s.blocked[i] = make([]bool, n+1)
	}
	mains := []string{"m1", "m2", "m3"}
	s.curMain = mains[0]
	s.store = simStore{route: state.Route{Epoch: 1, Phase: state.PhaseServing,
		Main: state.Instance{Name: "m1", BoltAddr: "m1:7687"}}}
	for i := range n {
		nd := &simNode{s: s, idx: i, id: fmt.Sprintf("g%d", i)}
		// Clock rates within the bound, often at its edges.
		d := s.cfg.ClockDrift
		switch r.IntN(3) {
		case 0:
			nd.rate = 1 - d
		case 1:
			nd.rate = 1 + d
		default:
			nd.rate = 1 + (r.Float64()*2-1)*d
		}
		nd.off = time.Duration(r.Int64N(int64(time.Hour)))
		s.nodes = append(s.nodes, nd)
	}
	// Every node knows every member from the start (memberlist plus the
	// orchestrator's list): the failsafe's safety depends on it (see
	// Leader.SetMembers).
	for _, nd := range s.nodes {
		nd.start()
	}
	// Faults during the chaos phase (each schedules the next), then heal.
	s.at(time.Duration(1+r.IntN(4))*time.Second, s.fault)
	s.at(p.chaos, s.healAll)
	return s
}

func (s *sim) at(t time.Duration, f func()) {
	s.seq++
	s.q.add(&simEvent{at: t, seq: s.seq, kind: evFault, f: f})
}

func (s *sim) tracef(format string, args ...any) {
	if s.traceOn {
		s.trace = append(s.trace, fmt.Sprintf("%8.3fs ", s.now.Seconds())+fmt.Sprintf(format, args...))
	}
}

func (s *sim) violate(format string, args ...any) {
	msg := fmt.Sprintf("t=%.3fs: ", s.now.Seconds()) + fmt.Sprintf(format, args...)
	s.tracef("VIOLATION %s", msg)
	s.violations = append(s.violations, msg)
}

// run runs the simulation to its end and returns the violations found.
func (s *sim) run() []string {
	end := s.p.chaos + s.p.heal
	for s.q.Len() > 0 && len(s.violations) == 0 {
		if s.q[0].at > end {
			break
		}
		popEv(s)
	}
	s.now = end
	if len(s.violations) == 0 {
		s.checkLiveness()
	}
	return s.violations
}

func popEv(s *sim) *simEvent {
	{
		e := heap.Pop(&s.q).(*simEvent)
		s.now = e.at
		s.stats.events++
		switch e.kind {
		case evFault:
			e.f()
		case evWake:
			nd := s.nodes[e.node]
			if nd.alive && nd.inc == e.inc {
				if nd.wakeSet && nd.wakeAt == e.at {
					nd.wakeSet = false
				}
				nd.tick()
			}
		case evDeliver:
			s.deliver(e.msg)
		}
		s.check()
		return e
	}
}

// ---- network ----

func (s *sim) linkDown(from, to int) bool {
	a, b := from, to
	if a < 0 {
		a = len(s.nodes)
	}
	if b < 0 {
		b = len(s.nodes)
	}
	return s.blocked[a][b]
}

func (s *sim) delay() time.Duration {
	if !s.healed && s.rng.Float64() < s.p.longDelayP {
		return time.Duration(s.rng.Int64N(int64(maxLongDelay)))
	}
	return time.Duration(200_000 + s.rng.Int64N(int64(20*time.Millisecond)))
}

func (s *sim) send(m *simMsg) {
	if m.from == m.to && m.from >= 0 { // local delivery
		s.seq++
		s.q.add(&simEvent{at: s.now, seq: s.seq, kind: evDeliver, msg: m})
		return
	}
	copies := 1
	if !s.healed {
		if s.rng.Float64() < s.p.drop {
			copies = 0
		} else if s.rng.Float64() < s.p.dup {
			copies = 2
		}
	}
	for range copies {
		s.seq++
		s.q.add(&simEvent{at: s.now + s.delay(), seq: s.seq, kind: evDeliver, msg: m})
	}
}

func (s *sim) deliver(m *simMsg) {
	// A partition also cuts messages already in flight.
	if s.linkDown(m.from, m.to) {
		return
	}
	if m.to < 0 {
		s.storeApply(m)
		return
	}
	nd := s.nodes[m.to]
	if !nd.alive {
		return
	}
	nd.receive(m)
}

func (s *sim) storeApply(m *simMsg) {
	op := m.op
	st := &s.store
	holder := s.nodes[m.from].id
	rep := &storeReply{op: *op}
	switch op.kind {
	case opGet:
		rep.ok = true
	case opAcquire:
		if st.ver == op.expectVer {
			if st.holder != holder {
				s.stats.leaderChanges++
			}
			st.holder, st.ver, rep.ok = holder, st.ver+1, true
		}
	case opRenew:
		if st.holder == holder {
			st.ver, rep.ok = st.ver+1, true
		}
	case opWriteRoute:
		if st.holder == holder && st.route.Epoch == op.expect && state.CheckNext(st.route, op.route) == nil {
			st.route, rep.ok = op.route.Clone(), true
		}
	}
	rep.holder, rep.ver, rep.route = st.holder, st.ver, st.route.Clone()
	s.send(&simMsg{from: -1, to: m.from, reply: rep})
}

// ---- faults ----

func (s *sim) fault() {
	n := len(s.nodes)
	r := s.rng
	heal := time.Duration(300+r.IntN(8000)) * time.Millisecond
	if r.IntN(4) == 0 {
		heal = time.Duration(8000+r.IntN(12000)) * time.Millisecond // long enough for a leader change and a barrier
	}
	defer func() {
		next := s.now + time.Duration(s.p.overlap*float64(heal)) +
			time.Duration(float64(s.p.faultEvery)*(0.2+1.6*r.Float64()))
		if next < s.p.chaos {
			s.at(next, s.fault)
		}
	}()
	switch k := r.IntN(12); {
	case k < 3: // partition a group from the rest (and maybe the store)
		group := s.randomGroup()
		storeSide := r.IntN(3) // 0: store with the rest, 1: with the group, 2: alone
		var cut [][2]int
		for i := range n {
			for j := range n {
				if group[i] != group[j] {
					cut = append(cut, [2]int{i, j})
				}
			}
			if (storeSide == 0 && group[i]) || (storeSide == 1 && !group[i]) || storeSide == 2 {
				cut = append(cut, [2]int{i, n}, [2]int{n, i})
			}
		}
		s.tracef("fault: partition %v store-side %d for %v", group, storeSide, heal)
		s.cut(cut, heal)
	case k < 4: // one-way link loss
		a, b := r.IntN(n+1), r.IntN(n)
		if a == b {
			return
		}
		s.tracef("fault: link %d->%d down for %v", a, b, heal)
		s.cut([][2]int{{a, b}}, heal)
	case k < 5: // isolate a node from everyone, and the MAIN fails soon
		i := r.IntN(n)
		var out, in [][2]int
		for j := range n + 1 {
			if j != i {
				out, in = append(out, [2]int{i, j}), append(in, [2]int{j, i})
			}
		}
		heal += 4 * time.Second
		first := time.Duration(0)
		if r.IntN(2) == 0 {
			// Its sending side fails first (answers in flight still
			// arrive), then the rest.
			first = time.Duration(300+r.IntN(1700)) * time.Millisecond
			s.cut(out, first+heal)
			s.at(s.now+first, func() { s.cut(in, heal) })
		} else {
			s.cut(append(out, in...), heal)
		}
		s.failoverAt = s.now + first + time.Duration(r.Int64N(int64(2*time.Second)))
		s.tracef("fault: isolate %s for %v (+%v), failover at %v", s.nodes[i].id, heal, first, s.failoverAt)
	case k < 7 && s.now+20*time.Second < s.p.chaos:
		// The leader's side (a majority) loses the store; the other side
		// keeps it, elects a leader, and the MAIN fails soon after: the
		// failsafe must not let the old side route on.
		var ldr *simNode
		for _, nd := range s.nodes {
			if nd.alive && nd.leadingTerm {
				ldr = nd
			}
		}
		if ldr == nil {
			return
		}
		group := make([]bool, n)
		group[ldr.idx] = true
		for _, j := range r.Perm(n) {
			if cnt := countTrue(group); cnt < n/2+1 || (cnt < n-1 && r.IntN(3) == 0) {
				group[j] = true
			}
		}
		var cut [][2]int
		for i := range n {
			for j := range n {
				if group[i] != group[j] {
					cut = append(cut, [2]int{i, j})
				}
			}
			if group[i] {
				cut = append(cut, [2]int{i, n}, [2]int{n, i})
			}
		}
		heal = time.Duration(20000+r.IntN(15000)) * time.Millisecond
		s.failoverAt = s.now + time.Duration(5000+r.IntN(8000))*time.Millisecond
		s.tracef("fault: leader side %v loses the store for %v, failover at %v", group, heal, s.failoverAt)
		s.cut(cut, heal)
	case k < 8: // crash a node, restart later
		i := r.IntN(n)
		if !s.nodes[i].alive {
			return
		}
		s.tracef("fault: crash %s for %v", s.nodes[i].id, heal)
		s.nodes[i].crash()
		s.at(s.now+heal, func() {
			if !s.nodes[i].alive {
				s.nodes[i].start()
			}
		})
	case k < 9: // crash the leader
		for _, nd := range s.nodes {
			if nd.alive && nd.leadingTerm {
				s.tracef("fault: crash leader %s for %v", nd.id, heal)
				nd.crash()
				s.at(s.now+heal, func() {
					if !nd.alive {
						nd.start()
					}
				})
				break
			}
		}
	default: // store outage, for everyone or a group
		group := s.randomGroup()
		all := r.IntN(2) == 0
		var cut [][2]int
		for i := range n {
			if all || group[i] {
				cut = append(cut, [2]int{i, n}, [2]int{n, i})
			}
		}
		s.tracef("fault: store outage all=%v group=%v for %v", all, group, heal)
		s.cut(cut, heal)
	}
}

func countTrue(b []bool) (n int) {
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func (s *sim) randomGroup() []bool {
	n := len(s.nodes)
	g := make([]bool, n)
	k := 1 + s.rng.IntN(n-1)
	for _, i := range s.rng.Perm(n)[:k] {
		g[i] = true
	}
	return g
}

func (s *sim) cut(links [][2]int, d time.Duration) {
	for _, l := range links {
		s.blocked[l[0]][l[1]] = true
	}
	s.at(s.now+d, func() {
		for _, l := range links {
			s.blocked[l[0]][l[1]] = false
		}
	})
}

func (s *sim) healAll() {
	s.tracef("heal")
	s.healed = true
	for i := range s.blocked {
		clear(s.blocked[i])
	}
	for _, nd := range s.nodes {
		if !nd.alive {
			nd.start()
		}
	}
}

// ---- checks ----

func (s *sim) check() {
	s.steps++
	var main string
	var mainBy string
	for _, nd := range s.nodes {
		if !nd.alive {
			continue
		}
		now := nd.clock()
		if !nd.gw.Routing(now) {
			continue
		}
		r := nd.gw.Route()
		if r.Epoch < s.maxPromoted {
			s.violate("%s routes epoch %d (main %s) after the MAIN of epoch %d was promoted (lease until %v, %v left)",
				nd.id, r.Epoch, r.Main.Name, s.maxPromoted, nd.gw.LeaseExpiry().Sub(simBase), nd.gw.LeaseExpiry().Sub(now))
			return
		}
		if main != "" && r.Main.Name != main {
			s.violate("%s routes to %s while %s routes to %s", nd.id, r.Main.Name, mainBy, main)
			return
		}
		main, mainBy = r.Main.Name, nd.id
		// The inductive invariant behind the barrier: the leader that
		// granted a lease over-estimates it (in real time).
		if l := s.nodes[nd.leaseFrom]; l.alive && l.inc == nd.leaseFromInc {
			g, ok := l.ld.grants[nd.id]
			gwEnd, ldEnd := nd.realAt(nd.gw.LeaseExpiry()), l.realAt(g.expiry)
			if !ok || gwEnd > ldEnd {
				s.violate("%s's lease on epoch %d ends at %v, after the end %v its leader %s remembers",
					nd.id, r.Epoch, gwEnd, ldEnd, l.id)
				return
			}
		}
	}
}

func (s *sim) checkLiveness() {
	st := s.store.route
	if st.Phase != state.PhaseServing {
		s.violate("liveness: store route still %s at epoch %d after %v healed", st.Phase, st.Epoch, s.p.heal)
		return
	}
	for _, nd := range s.nodes {
		now := nd.clock()
		if r := nd.gw.Route(); r.Epoch != st.Epoch || !nd.gw.Routing(now) {
			s.violate("liveness: %s holds epoch %d routing=%v, store has serving epoch %d, after %v healed",
				nd.id, r.Epoch, nd.gw.Routing(now), st.Epoch, s.p.heal)
			return
		}
	}
}

// ---- a node ----

func (nd *simNode) clock() time.Time {
	return simBase.Add(nd.off + time.Duration(float64(nd.s.now)*nd.rate))
}

// realAt converts a time of this node's clock to real time.
func (nd *simNode) realAt(t time.Time) time.Duration {
	return time.Duration(float64(t.Sub(simBase)-nd.off)/nd.rate) + 1
}

func (nd *simNode) start() {
	s := nd.s
	nd.alive = true
	nd.inc++
	now := nd.clock()
	nd.gw = NewGateway(nd.id, s.rng.Uint64(), now, s.cfg)
	nd.ld = NewLeader(nd.id, s.cfg)
	nd.leadingTerm, nd.seenAny, nd.writing = false, false, false
	nd.nextElect = now
	nd.nextCtl = time.Time{}
	nd.lastEpoc = 0
	nd.wakeSet = false
	ids := make([]string, len(s.nodes))
	for i, o := range s.nodes {
		ids[i] = o.id
	}
	nd.ld.SetMembers(now, ids)
	s.tracef("%s starts (inc %d)", nd.id, nd.inc)
	nd.schedule(now)
}

func (nd *simNode) crash() {
	nd.alive = false
	nd.leadingTerm = false
}

func (nd *simNode) schedule(t time.Time) {
	if t.IsZero() {
		return
	}
	at := nd.realAt(t)
	if at < nd.s.now {
		at = nd.s.now
	}
	if nd.wakeSet && nd.wakeAt <= at {
		return
	}
	nd.wakeAt, nd.wakeSet = at, true
	nd.s.seq++
	nd.s.q.add(&simEvent{at: at, seq: nd.s.seq, kind: evWake, node: nd.idx, inc: nd.inc})
}

func (nd *simNode) reschedule() {
	d := earliest(nd.gw.NextDeadline(), nd.ld.NextDeadline())
	d = earliest(d, nd.nextElect)
	if nd.leadingTerm {
		d = earliest(d, nd.nextCtl)
	}
	nd.schedule(d)
}

func (nd *simNode) tick() {
	now := nd.clock()
	nd.handle(nd.gw.Tick(now))
	nd.handle(nd.ld.Tick(now))
	if !now.Before(nd.nextElect) {
		nd.electStep(now)
	}
	if nd.leadingTerm && !nd.nextCtl.IsZero() && !now.Before(nd.nextCtl) {
		nd.controlStep(now)
	}
	nd.reschedule()
}

func (nd *simNode) handle(out Output) {
	s := nd.s
	for _, ev := range out.Events {
		switch ev.Type {
		case EventRoute:
			if ev.Route.Epoch <= nd.lastEpoc || ev.PrevEpoch != nd.lastEpoc {
				s.violate("%s adopted epoch %d after %d (prev reported %d)", nd.id, ev.Route.Epoch, nd.lastEpoc, ev.PrevEpoch)
			}
			nd.lastEpoc = ev.Route.Epoch
			s.tracef("%s adopts epoch %d %s %s", nd.id, ev.Route.Epoch, ev.Route.Phase, ev.Route.Main.Name)
		case EventLeaseGranted:
			s.tracef("%s leased epoch %d until %v", nd.id, ev.Epoch, ev.Expiry.Sub(simBase))
		case EventLeaseExpired:
			s.stats.expiries++
			s.tracef("%s lease on epoch %d expired", nd.id, ev.Epoch)
		case EventFailsafeStarted, EventFailsafeEnded:
			s.tracef("%s %s epoch %d refusal %d by %s", nd.id, ev.Type, ev.Epoch, ev.Refusal, ev.Peer)
		}
	}
	for _, m := range out.Messages {
		switch m.Type {
		case MsgFailsafeProbe:
			s.stats.failsafeRounds++
		case MsgLeaseGrant:
			if !nd.ld.Certain(nd.clock()) {
				s.stats.failsafeGrants++
			}
		}
		if s.debugMsgs {
			s.tracef("%s sends %v", nd.id, m)
		}
		mm := m
		if m.To == "" {
			for _, o := range s.nodes {
				s.send(&simMsg{from: nd.idx, fromInc: nd.inc, to: o.idx, lease: &mm})
			}
			continue
		}
		for _, o := range s.nodes {
			if o.id == m.To {
				s.send(&simMsg{from: nd.idx, fromInc: nd.inc, to: o.idx, lease: &mm})
			}
		}
	}
}

func (nd *simNode) receive(m *simMsg) {
	now := nd.clock()
	switch {
	case m.lease != nil:
		lm := *m.lease
		switch lm.Type {
		case MsgLeaseRequest, MsgAck, MsgFailsafeAck:
			nd.handle(nd.ld.Step(now, lm))
		case MsgRouteAnnounce:
			before := nd.gw.Route().Epoch
			nd.handle(nd.gw.Step(now, lm))
			if nd.gw.Route().Epoch > before {
				// Re-broadcast on first receipt, to two peers.
				for range 2 {
					o := nd.s.nodes[nd.s.rng.IntN(len(nd.s.nodes))]
					if o != nd {
						lm2 := lm
						nd.s.send(&simMsg{from: nd.idx, to: o.idx, lease: &lm2})
					}
				}
			}
		case MsgLeaseGrant:
			before := nd.gw.LeaseExpiry()
			nd.handle(nd.gw.Step(now, lm))
			if nd.gw.LeaseExpiry() != before {
				nd.leaseFrom, nd.leaseFromInc = m.from, m.fromInc
			}
		default:
			nd.handle(nd.gw.Step(now, lm))
		}
	case m.reply != nil:
		nd.onStoreReply(now, m.reply)
	}
	nd.reschedule()
}

// ---- elector (client-go's rules, simplified) ----

func (nd *simNode) electStep(now time.Time) {
	s := nd.s
	nd.nextElect = now.Add(time.Duration(float64(s.cfg.RetryPeriod) * (1 + 0.2*s.rng.Float64())))
	if nd.leadingTerm && now.Sub(nd.lastRenewal) >= s.cfg.RenewDeadline {
		// Renewals timed out: client-go stops leading. Not a deposition:
		// the Leader may go on in failsafe.
		s.tracef("%s: leadership lapsed", nd.id)
		nd.leadingTerm = false
	}
	op := &storeOp{kind: opGet, sentAt: now}
	if nd.leadingTerm {
		op.kind = opRenew
	}
	s.send(&simMsg{from: nd.idx, to: -1, op: op})
}

func (nd *simNode) onStoreReply(now time.Time, r *storeReply) {
	s := nd.s
	latest := !nd.seenAny || r.ver >= nd.seenVer
	if !nd.seenAny || r.ver > nd.seenVer {
		nd.seenHolder, nd.seenVer, nd.seenAt, nd.seenAny = r.holder, r.ver, now, true
	}
	if latest && r.holder != nd.id && nd.ld.Leading() {
		s.tracef("%s deposed (holder %s)", nd.id, r.holder)
		nd.leadingTerm = false
		nd.handle(nd.ld.Deposed(now))
	}
	if latest {
		nd.handle(nd.gw.ObserveLeader(now, r.holder))
	}
	nd.handle(nd.gw.ObserveRoute(now, r.route)) // the store's watch
	if latest && nd.leadingTerm && r.holder == nd.id && r.route.Epoch > nd.ld.Route().Epoch {
		// Our own write, whose answer was lost.
		nd.writing = false
		nd.handle(nd.ld.Published(now, r.route))
	}
	switch r.op.kind {
	case opGet:
		if nd.leadingTerm {
			return
		}
		if r.holder == "" || r.holder == nd.id || now.Sub(nd.seenAt) >= s.cfg.LeaseDuration {
			if r.ver == nd.seenVer {
				s.send(&simMsg{from: nd.idx, to: -1, op: &storeOp{kind: opAcquire, expectVer: r.ver, sentAt: now}})
			}
		}
	case opAcquire:
		if !r.ok || nd.leadingTerm {
			return
		}
		nd.leadingTerm = true
		nd.lastRenewal = r.op.sentAt
		// The record replaced is the one seen at seenAt (the acquire was
		// conditional on its version): its holder renewed before then.
		prev := nd.seenAt
		if nd.seenVer != r.op.expectVer {
			prev = now
		}
		nd.seenHolder, nd.seenVer, nd.seenAt = r.holder, r.ver, now
		s.tracef("%s leads (prev bound %v, failsafe ack %v)", nd.id, prev.Sub(simBase), nd.gw.LastFailsafeAck().Sub(simBase))
		nd.handle(nd.gw.ObserveLeader(now, nd.id))
		nd.handle(nd.ld.BecomeLeader(now, Term{Route: r.route, LastRenewal: r.op.sentAt,
			PrevRenewalBound: prev, LastFailsafeAck: nd.gw.LastFailsafeAck()}))
		nd.nextCtl = now
		nd.writing = false
		nd.eagerTerm = !s.healed && s.rng.Float64() < s.p.eagerP
	case opRenew:
		if !nd.leadingTerm {
			return
		}
		if r.ok {
			if r.op.sentAt.After(nd.lastRenewal) {
				nd.lastRenewal = r.op.sentAt
			}
			nd.handle(nd.ld.Renewed(now, r.op.sentAt))
		} else {
			nd.leadingTerm = false
			nd.handle(nd.ld.Deposed(now))
		}
	case opWriteRoute:
		nd.writing = false
		if !r.ok {
			if nd.ld.Leading() {
				s.tracef("%s route write failed: deposed", nd.id)
				nd.leadingTerm = false
				nd.handle(nd.ld.Deposed(now))
			}
			return
		}
		nd.handle(nd.ld.Published(now, r.op.route))
	}
}

// ---- controller (the leader's failover work) ----

func (nd *simNode) controlStep(now time.Time) {
	s := nd.s
	nd.nextCtl = now.Add(250 * time.Millisecond)
	if nd.writing && !now.Before(nd.writeDue) {
		nd.writing = false // answer lost; renewals bring the store's route back
	}
	if nd.writing || !nd.ld.Certain(now) {
		return
	}
	r := nd.ld.Route()
	switch {
	case nd.ld.Claimed() > r.Epoch:
		// The claim's write got no answer: write it again.
		nd.writeRoute(now, state.Route{Epoch: nd.ld.Claimed(), Phase: state.PhaseFailover, Leader: nd.id}, r.Epoch)
	case r.Phase == state.PhaseFailover && nd.ld.Promoted() == r.Epoch:
		// Promoted, but the serving route's write got no answer.
		nd.writeRoute(now, nd.servingRoute(r.Epoch+1), r.Epoch)
	case r.Phase == state.PhaseFailover:
		ok, at, _ := nd.ld.CanPromote(now)
		if !ok {
			if !at.IsZero() && at.Before(nd.nextCtl) {
				nd.nextCtl = at
			}
			return
		}
		if err := nd.ld.Promote(now); err != nil {
			s.violate("%s: CanPromote but Promote: %v", nd.id, err)
			return
		}
		// Choose a MAIN other than the current one.
		mains := []string{"m1", "m2", "m3"}
		mains = slices.DeleteFunc(mains, func(m string) bool { return m == s.curMain })
		nd.newMain = mains[s.rng.IntN(len(mains))]
		s.promote(nd, r.Epoch, nd.newMain)
		nd.writeRoute(now, nd.servingRoute(r.Epoch+1), r.Epoch)
	case r.Phase == state.PhaseServing && !s.healed && (nd.eagerTerm || s.rng.Float64() < s.p.failoverP ||
		(s.failoverAt != 0 && s.now >= s.failoverAt)):
		nd.eagerTerm, s.failoverAt = false, 0
		next := state.Route{Epoch: r.Epoch + 1, Phase: state.PhaseFailover, Leader: nd.id}
		if err := nd.ld.Claim(now, next); err != nil {
			return
		}
		s.stats.failovers++
		s.tracef("%s claims epoch %d", nd.id, next.Epoch)
		nd.writeRoute(now, next, r.Epoch)
	}
}

func (nd *simNode) servingRoute(epoch uint64) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseServing,
		Main: state.Instance{Name: nd.newMain, BoltAddr: nd.newMain + ":7687"}, Leader: nd.id}
}

func (nd *simNode) writeRoute(now time.Time, r state.Route, expect uint64) {
	nd.writing, nd.writeDue = true, now.Add(3*time.Second)
	nd.s.send(&simMsg{from: nd.idx, to: -1, op: &storeOp{kind: opWriteRoute, route: r, expect: expect, sentAt: now}})
}

func (s *sim) promote(nd *simNode, epoch uint64, main string) {
	s.stats.promotions++
	s.tracef("%s PROMOTES %s for epoch %d", nd.id, main, epoch)
	s.promotions = append(s.promotions, promotion{at: s.now, epoch: epoch, main: main, by: nd.id})
	if epoch > s.maxPromoted {
		s.maxPromoted = epoch
	}
	s.curMain = main
	s.check()
}

func (s *sim) traceTail(n int) string {
	t := s.trace
	if len(t) > n {
		t = t[len(t)-n:]
	}
	return strings.Join(t, "\n")
}
