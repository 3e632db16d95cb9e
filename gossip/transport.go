package gossip

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Errors of Transport's methods.
var (
	ErrClosed        = errors.New("gossip: transport closed")
	ErrUnknownMember = errors.New("gossip: no such member")
)

// tcpTimeout bounds memberlist's TCP exchanges (push/pull, reliable sends,
// fallback probes): a dead member must not hold a sender for long.
const tcpTimeout = 2 * time.Second

// startupRejoin is how long after start a member keeps joining every
// second.
const startupRejoin = 10 * time.Second

// maxSendsInFlight bounds concurrent reliable sends.
const maxSendsInFlight = 64

// RouteUpdate is a route of a higher epoch than any seen before.
type RouteUpdate struct {
	Route state.Route
	// Origin is the member that announced it first (the leader).
	Origin string
	// Delay is the propagation delay from the origin's announcement to
	// this receipt, by the two wall clocks (0 when unknown or negative).
	Delay time.Duration
	// FromState: learnt by push/pull (anti-entropy), not by broadcast.
	FromState bool
}

// LeaseMessage is a route-lease message received from another member (or
// from this one, sent to itself).
type LeaseMessage = routelease.Message

// MemberState is what memberlist says of a member.
type MemberState string

const (
	MemberAlive   MemberState = "alive"
	MemberSuspect MemberState = "suspect"
	// MemberFailed: declared dead by failure detection and not back. It
	// may be partitioned rather than gone.
	MemberFailed MemberState = "failed"
)

// Member is a gateway in the gossip cluster with what it last said of
// itself.
type Member struct {
	Name  string
	Addr  string // host:port of its gossip
	State MemberState
	Local bool // this member
	// Heartbeat is its last heartbeat (zero if none yet); HeartbeatAge
	// how long ago it arrived.
	Heartbeat    Heartbeat
	HeartbeatAge time.Duration
}

// View is what this member says of itself in its heartbeats.
type View struct {
	Epoch         uint64
	Leader        string
	Main          string
	MainReachable bool
	API           string
}

type inboundKind uint8

const (
	inMsg   inboundKind = iota // NotifyMsg: a broadcast or a reliable message
	inState                    // MergeRemoteState
	inLocal                    // a lease message this member sent to itself
)

type inbound struct {
	kind  inboundKind
	buf   []byte
	lease routelease.Message
}

type hbEntry struct {
	hb     Heartbeat
	recvAt time.Time
}

// Transport is a gateway's membership in the gossip cluster. Its methods
// are safe for concurrent use.
type Transport struct {
	cfg   Config
	log   *zap.Logger
	ml    *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	m     *metrics
	inbox chan inbound
	sends chan struct{} // semaphore of reliable sends

	mu     sync.Mutex
	route  *routeMsg // highest epoch seen
	hbs    map[string]hbEntry
	local  Heartbeat
	alive  map[string]bool
	failed map[string]time.Time
	closed bool

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New starts a member: it binds the gossip port, joins cfg.Join (failure
// to join is not an error: this may be the first member; joining is
// retried in the background), and starts the background loops. Close or
// Leave stops it.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gossip: metrics: %w", err)
	}
	t := &Transport{
		cfg:    cfg,
		log:    cfg.Logger.With(zap.String("member", cfg.Name)),
		m:      m,
		inbox:  make(chan inbound, cfg.InboxSize),
		sends:  make(chan struct{}, maxSendsInFlight),
		hbs:    map[string]hbEntry{},
		alive:  map[string]bool{},
		failed: map[string]time.Time{},
		stop:   make(chan struct{}),
		local:  Heartbeat{Name: cfg.Name, Start: time.Now().UnixNano()},
	}
	mc, err := t.memberlistConfig()
	if err != nil {
		return nil, err
	}
	t.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return t.numAlive() },
		RetransmitMult: cfg.RetransmitMult,
	}
	// The dispatcher runs before memberlist starts delivering.
	t.wg.Add(1)
	go t.dispatchLoop()
	ml, err := memberlist.Create(mc)
	if err != nil {
		close(t.stop)
		t.wg.Wait()
		return nil, fmt.Errorf("gossip: start memberlist on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	t.ml = ml
	t.mu.Lock()
	t.hbs[cfg.Name] = hbEntry{hb: t.local, recvAt: time.Now()}
	t.mu.Unlock()
	if len(cfg.Join) > 0 {
		t.join()
	}
	t.wg.Add(2)
	go t.rejoinLoop()
	go t.heartbeatLoop()
	return t, nil
}

func (t *Transport) memberlistConfig() (*memberlist.Config, error) {
	c := t.cfg
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.Name
	mc.BindAddr = c.BindAddr
	mc.BindPort = max(c.BindPort, 0)
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = c.AdvertisePort
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.GossipInterval = c.GossipInterval
	mc.GossipNodes = c.GossipNodes
	mc.RetransmitMult = c.RetransmitMult
	mc.PushPullInterval = c.PushPullInterval
	mc.DeadNodeReclaimTime = c.DeadNodeReclaimTime
	mc.TCPTimeout = tcpTimeout
	mc.Label = c.Label
	mc.Delegate = (*delegate)(t)
	mc.Events = (*eventDelegate)(t)
	mc.LogOutput = logWriter{t.log.Named("memberlist")}
	if len(c.SecretKeys) > 0 {
		kr, err := memberlist.NewKeyring(c.SecretKeys, c.SecretKeys[0])
		if err != nil {
			return nil, fmt.Errorf("gossip: keyring: %w", err)
		}
		mc.Keyring = kr
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	return mc, nil
}

// Name is this member's name.
func (t *Transport) Name() string { return t.cfg.Name }

// Addr is the address other members reach this one at (host:port).
func (t *Transport) Addr() string {
	n := t.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Join joins the members at addrs now, in addition to Config.Join. It
// returns how many were contacted.
func (t *Transport) Join(addrs ...string) (int, error) {
	n, err := t.ml.Join(t.withPorts(addrs))
	if err != nil && n == 0 {
		return 0, fmt.Errorf("gossip: join %v: %w", addrs, err)
	}
	return n, nil
}

func (t *Transport) withPorts(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, strconv.Itoa(t.cfg.BindPort))
		}
		out = append(out, a)
	}
	return out
}

func (t *Transport) join() {
	if n, err := t.ml.Join(t.withPorts(t.cfg.Join)); err != nil && n == 0 {
		t.log.Debug("gossip: join failed", zap.Strings("join", t.cfg.Join), zap.Error(err))
	}
}

// rejoinLoop joins Config.Join every second while alone or just started,
// every RejoinInterval otherwise: members that declared each other dead
// during a long partition would otherwise never meet again, and a
// restarted member whose new address was refused (its old self was not
// dead for DeadNodeReclaimTime yet) is refused until it announces itself
// again.
func (t *Transport) rejoinLoop() {
	defer t.wg.Done()
	if len(t.cfg.Join) == 0 || t.cfg.RejoinInterval < 0 {
		return
	}
	started := time.Now()
	last := started
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		if t.numAlive() > 1 && time.Since(started) > startupRejoin && time.Since(last) < t.cfg.RejoinInterval {
			continue
		}
		last = time.Now()
		t.join()
	}
}

func (t *Transport) heartbeatLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.beat()
		}
	}
}

// beat broadcasts a new heartbeat.
func (t *Transport) beat() {
	t.mu.Lock()
	t.local.Seq++
	hb := t.local
	t.hbs[hb.Name] = hbEntry{hb: hb, recvAt: time.Now()}
	t.mu.Unlock()
	t.queueHeartbeat(hb)
}

// SetView sets what this member's heartbeats say; a change is broadcast at
// once.
func (t *Transport) SetView(v View) {
	t.mu.Lock()
	changed := t.local.Epoch != v.Epoch || t.local.Leader != v.Leader || t.local.Main != v.Main ||
		t.local.MainReachable != v.MainReachable || t.local.API != v.API
	t.local.Epoch, t.local.Leader, t.local.Main, t.local.MainReachable = v.Epoch, v.Leader, v.Main, v.MainReachable
	t.local.API = v.API
	t.mu.Unlock()
	if changed {
		t.beat()
	}
}

func (t *Transport) queueHeartbeat(hb Heartbeat) {
	b, err := encode(msgHeartbeat, hb)
	if err != nil {
		t.log.Error("gossip: heartbeat", zap.Error(err))
		return
	}
	t.queue.QueueBroadcast(&broadcast{name: "hb/" + hb.Name, msg: b})
}

// AnnounceRoute makes r this member's route if its epoch is higher than
// any seen, and broadcasts it to every member (who re-broadcast it on
// first receipt, and keep it for push/pull). The leader calls it after
// each store write (routelease's MsgRouteAnnounce). OnRoute is not called
// for it. It reports whether r was new.
func (t *Transport) AnnounceRoute(r state.Route) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, fmt.Errorf("gossip: announce: %w", err)
	}
	m := routeMsg{Route: r.Clone(), Origin: t.cfg.Name, SentAt: time.Now().UnixNano()}
	b, err := encodeRoute(m)
	if err != nil {
		return false, err
	}
	t.mu.Lock()
	if t.route != nil && t.route.Route.Epoch >= r.Epoch {
		t.mu.Unlock()
		return false, nil
	}
	t.route = &m
	t.mu.Unlock()
	t.queue.QueueBroadcast(&broadcast{name: "route", msg: b})
	return true, nil
}

// Route is the route of the highest epoch this member has seen (zero if
// none).
func (t *Transport) Route() state.Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.route == nil {
		return state.Route{}
	}
	return t.route.Route.Clone()
}

// SendLease sends a route-lease message to m.To reliably (memberlist's
// SendReliable: TCP, encrypted). It does not block: the send runs in the
// background, and a failure is counted and logged at debug level (the
// protocol retries on its own). A message to this member is delivered to
// OnLease locally.
func (t *Transport) SendLease(m routelease.Message) error {
	if m.To == "" {
		return fmt.Errorf("gossip: lease message %v has no destination", m)
	}
	m.From = t.cfg.Name
	if m.To == t.cfg.Name {
		select {
		case t.inbox <- inbound{kind: inLocal, lease: m}:
		default:
			t.m.dropped.WithLabelValues(dropInboxFull).Inc()
		}
		return nil
	}
	var node *memberlist.Node
	for _, n := range t.ml.Members() {
		if n.Name == m.To {
			node = n
			break
		}
	}
	if node == nil {
		return fmt.Errorf("%w: %q", ErrUnknownMember, m.To)
	}
	b, err := encode(msgLease, m)
	if err != nil {
		return err
	}
	select {
	case t.sends <- struct{}{}:
	default:
		t.m.dropped.WithLabelValues(dropSendFull).Inc()
		return nil
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.sends
		return ErrClosed
	}
	t.wg.Add(1)
	t.mu.Unlock()
	go t.sendReliable(node, b)
	return nil
}

func (t *Transport) sendReliable(node *memberlist.Node, b []byte) {
	defer t.wg.Done()
	defer func() { <-t.sends }()
	if err := t.ml.SendReliable(node, b); err != nil {
		t.m.dropped.WithLabelValues(dropSendError).Inc()
		t.log.Debug("gossip: reliable send failed", zap.String("to", node.Name), zap.Error(err))
	}
}

// Members lists the members: alive and suspect ones as memberlist knows
// them, failed ones until they come back or leave gracefully, each with
// its last heartbeat. Sorted by name.
func (t *Transport) Members() []Member {
	nodes := t.ml.Members()
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Member, 0, len(nodes)+len(t.failed))
	seen := map[string]bool{}
	for _, n := range nodes {
		st := MemberAlive
		if n.State == memberlist.StateSuspect {
			st = MemberSuspect
		}
		out = append(out, t.member(n.Name, net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))), st, now))
		seen[n.Name] = true
	}
	for name := range t.failed {
		if !seen[name] {
			out = append(out, t.member(name, "", MemberFailed, now))
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

func (t *Transport) member(name, addr string, st MemberState, now time.Time) Member {
	m := Member{Name: name, Addr: addr, State: st, Local: name == t.cfg.Name}
	if e, ok := t.hbs[name]; ok {
		m.Heartbeat, m.HeartbeatAge = e.hb, now.Sub(e.recvAt)
	}
	return m
}

// Forget drops a failed member from Members, once the orchestrator
// confirms it is gone for good (its pod was deleted).
func (t *Transport) Forget(name string) {
	t.mu.Lock()
	delete(t.failed, name)
	delete(t.hbs, name)
	t.mu.Unlock()
}

// NumAlive is the number of alive members, this one included.
func (t *Transport) NumAlive() int { return t.numAlive() }

func (t *Transport) numAlive() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(len(t.alive), 1)
}

// Leave tells the other members that this one leaves (they do not wait
// for failure detection), waits up to timeout for that to spread, then
// closes the transport.
func (t *Transport) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultLeaveTimeout
	}
	t.mu.Lock()
	closed := t.closed
	t.local.Leaving = true
	t.mu.Unlock()
	var err error
	if !closed {
		// Say so in a heartbeat first, so that the others record a leave,
		// not a failure.
		t.beat()
		time.Sleep(min(timeout/2, 4*t.cfg.GossipInterval))
		if err = t.ml.Leave(timeout); err != nil {
			err = fmt.Errorf("gossip: leave: %w", err)
		}
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops the transport at once, without telling anyone (the others
// detect the failure). It waits for the background work to end. It is
// idempotent.
func (t *Transport) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		close(t.stop)
		if e := t.ml.Shutdown(); e != nil {
			err = fmt.Errorf("gossip: shutdown: %w", e)
		}
		t.wg.Wait()
	})
	return err
}

// ---- receiving ----

// enqueue hands a received buffer to the dispatcher; it never blocks.
func (t *Transport) enqueue(in inbound) {
	select {
	case t.inbox <- in:
	default:
		t.m.dropped.WithLabelValues(dropInboxFull).Inc()
	}
}

func (t *Transport) dispatchLoop() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case in := <-t.inbox:
			t.dispatch(in)
		}
	}
}

func (t *Transport) dispatch(in inbound) {
	if in.kind == inLocal {
		if t.cfg.OnLease != nil {
			t.cfg.OnLease(in.lease)
		}
		return
	}
	d, err := decode(in.buf)
	if err != nil {
		t.m.dropped.WithLabelValues(dropMalformed).Inc()
		t.log.Debug("gossip: dropped a message", zap.Error(err))
		return
	}
	switch {
	case d.route != nil:
		t.onRoute(*d.route, false)
	case d.hb != nil:
		t.onHeartbeat(*d.hb, true)
	case d.lease != nil:
		if d.lease.To != t.cfg.Name {
			t.m.dropped.WithLabelValues(dropNotForUs).Inc()
			return
		}
		if t.cfg.OnLease != nil {
			t.cfg.OnLease(*d.lease)
		}
	case d.state != nil:
		// Anti-entropy goes through the same handlers as broadcasts.
		if d.state.Route != nil {
			t.onRoute(*d.state.Route, true)
		}
		for _, hb := range d.state.Heartbeats {
			t.onHeartbeat(hb, false)
		}
	}
}

// onRoute keeps m if it is the highest epoch seen, re-broadcasts it (a
// broadcast is only sent by the member that queued it, so every member
// that learns it helps spread it) and reports it.
func (t *Transport) onRoute(m routeMsg, fromState bool) {
	t.mu.Lock()
	if t.route != nil && t.route.Route.Epoch >= m.Route.Epoch {
		t.mu.Unlock()
		return
	}
	t.route = &m
	t.mu.Unlock()
	var delay time.Duration
	if m.SentAt > 0 {
		delay = max(time.Since(time.Unix(0, m.SentAt)), 0)
		if !fromState {
			t.m.propagation.Observe(delay.Seconds())
		}
	}
	if b, err := encodeRoute(m); err == nil {
		t.queue.QueueBroadcast(&broadcast{name: "route", msg: b})
	}
	t.log.Debug("gossip: route", zap.Uint64("epoch", m.Route.Epoch), zap.String("origin", m.Origin),
		zap.Duration("delay", delay), zap.Bool("antiEntropy", fromState))
	if t.cfg.OnRoute != nil {
		t.cfg.OnRoute(RouteUpdate{Route: m.Route, Origin: m.Origin, Delay: delay, FromState: fromState})
	}
}

func (t *Transport) onHeartbeat(hb Heartbeat, rebroadcast bool) {
	if hb.Name == t.cfg.Name {
		return // our own, coming back
	}
	t.mu.Lock()
	if old, ok := t.hbs[hb.Name]; ok && !hb.newer(old.hb) {
		t.mu.Unlock()
		return
	}
	t.hbs[hb.Name] = hbEntry{hb: hb, recvAt: time.Now()}
	if hb.Leaving {
		delete(t.failed, hb.Name)
	}
	t.mu.Unlock()
	if rebroadcast {
		t.queueHeartbeat(hb)
	}
}

// localState is this member's push/pull state.
func (t *Transport) localState() []byte {
	t.mu.Lock()
	st := pushState{Route: t.route}
	for _, e := range t.hbs {
		if len(st.Heartbeats) == maxStateMembers {
			break
		}
		st.Heartbeats = append(st.Heartbeats, e.hb)
	}
	t.mu.Unlock()
	b, err := encode(msgState, st)
	if err != nil {
		t.log.Error("gossip: push/pull state", zap.Error(err))
		return nil
	}
	return b
}

// ---- memberlist adapters ----

// delegate is memberlist's Delegate.
type delegate Transport

func (d *delegate) NodeMeta(limit int) []byte { return nil }

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	// memberlist may reuse b after we return.
	(*Transport)(d).enqueue(inbound{kind: inMsg, buf: slices.Clone(b)})
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte { return (*Transport)(d).localState() }

func (d *delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) == 0 {
		return
	}
	(*Transport)(d).enqueue(inbound{kind: inState, buf: slices.Clone(b)})
}

// eventDelegate is memberlist's EventDelegate. memberlist calls it with
// its own locks held: it must not call back into memberlist.
type eventDelegate Transport

func (e *eventDelegate) NotifyJoin(n *memberlist.Node) {
	t := (*Transport)(e)
	t.mu.Lock()
	t.alive[n.Name] = true
	delete(t.failed, n.Name)
	alive := len(t.alive)
	t.mu.Unlock()
	t.m.members.Set(float64(alive))
	t.log.Info("gossip: member joined", zap.String("name", n.Name), zap.String("addr", n.Address()))
}

func (e *eventDelegate) NotifyLeave(n *memberlist.Node) {
	t := (*Transport)(e)
	t.mu.Lock()
	delete(t.alive, n.Name)
	// n.State is not updated by memberlist for this call: a leave is
	// known by the member's last heartbeat.
	left := n.State == memberlist.StateLeft || t.hbs[n.Name].hb.Leaving
	if left {
		delete(t.failed, n.Name)
	} else {
		t.failed[n.Name] = time.Now()
	}
	alive := len(t.alive)
	t.mu.Unlock()
	t.m.members.Set(float64(alive))
	if left {
		t.log.Info("gossip: member left", zap.String("name", n.Name))
	} else {
		t.log.Warn("gossip: member failed", zap.String("name", n.Name), zap.String("addr", n.Address()))
	}
}

func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) {}

// broadcast is a named broadcast: queuing one invalidates the queued one of
// the same name (an older route, an older heartbeat of the same member).
type broadcast struct {
	name string
	msg  []byte
}

func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*broadcast)
	return ok && o.name == b.name
}
func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}

var (
	_ memberlist.Delegate       = (*delegate)(nil)
	_ memberlist.EventDelegate  = (*eventDelegate)(nil)
	_ memberlist.NamedBroadcast = (*broadcast)(nil)
	_ io.Writer                 = logWriter{}
)
