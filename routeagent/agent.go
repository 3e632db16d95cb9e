package routeagent

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/gossip"
	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Defaults of Config.
const (
	DefaultProbeInterval = 500 * time.Millisecond
	DefaultProbeTimeout  = time.Second
	// pollInterval is how often the loop reads the elector's last renewal
	// and the member list.
	pollInterval = 100 * time.Millisecond
	// heartbeatStale: a heartbeat older than this does not count as a
	// vote (it is broadcast every second, and at once on a change).
	heartbeatStale = 5 * time.Second
	// inputQueue bounds the inputs waiting for the loop.
	inputQueue = 1024
	// maxParked bounds the lease requests parked ahead of a publication.
	maxParked = 256
)

// ErrNotLeading is returned by Claim and Await when this replica does not
// lead (any more).
var ErrNotLeading = errors.New("routeagent: not the leader")

// Renewals is the part of the elector the leader side reads: when its last
// successful renewal was sent.
type Renewals interface {
	LastRenewal() time.Time
}

// Config configures an Agent.
type Config struct {
	// ID is this replica's identity (the election identity and the
	// memberlist node name).
	ID string
	// Lease is the route-lease protocol's configuration; it must match the
	// elector's timings.
	Lease routelease.Config
	// Gossip configures the transport; New sets its Name, OnRoute and
	// OnLease.
	Gossip gossip.Config
	// API is this replica's HTTP API base URL, told to the others.
	API string
	// Install adopts a route of a higher epoch (proxy.InstallRoute): older
	// connections are cut; with routing false nothing is relayed yet.
	Install func(r state.Route, routing bool)
	// SetRouting turns relaying under epoch on or off (proxy.SetRouting).
	SetRouting func(epoch uint64, on bool)
	// Probe checks that the MAIN at addr answers (default: a plain Bolt
	// handshake); ProbeInterval and ProbeTimeout time it.
	Probe         func(ctx context.Context, addr string) error
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// Suspect, when set, is told the MAIN's name when this replica's probe
	// of it fails or another replica reports it unreachable (the leader's
	// controller then probes it at once). It must not block.
	Suspect func(instance string)
	// Elector gives the leader side its renewals. Required.
	Elector Renewals
	Log     *zap.Logger
}

// Agent is one replica's route-lease runtime. Create it with New, then Run.
type Agent struct {
	cfg   Config
	log   *zap.Logger
	tr    *gossip.Transport
	gw    *routelease.Gateway
	ld    *routelease.Leader
	in    chan func(now time.Time)
	start time.Time

	// Owned by the loop.
	lastRenewal time.Time
	waiters     []*waiter
	parked      []routelease.Message // lease requests ahead of the leader's route (step)
	viewMain    string
	viewOK      bool

	mu   sync.Mutex
	snap Snapshot
}

// Snapshot is the agent's state for status pages and readiness.
type Snapshot struct {
	Epoch       uint64
	Routing     bool
	LeaseExpiry time.Time
	Leader      string
	Leading     bool
	Main        string
	MainAddr    string
}

type waiter struct {
	epoch uint64
	done  chan error
}

// New creates the agent and starts its gossip member (joining in the
// background). Run must be called to serve it.
func New(cfg Config) (*Agent, error) {
	if cfg.ID == "" {
		return nil, errors.New("routeagent: an ID is required")
	}
	if cfg.Install == nil || cfg.SetRouting == nil || cfg.Elector == nil {
		return nil, errors.New("routeagent: Install, SetRouting and Elector are required")
	}
	if err := cfg.Lease.Validate(); err != nil {
		return nil, err
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Probe == nil {
		cfg.Probe = BoltProbe(nil)
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("routeagent: session: %w", err)
	}
	now := time.Now()
	a := &Agent{
		cfg:   cfg,
		log:   cfg.Log,
		gw:    routelease.NewGateway(cfg.ID, binary.LittleEndian.Uint64(seed[:])|1, now, cfg.Lease),
		ld:    routelease.NewLeader(cfg.ID, cfg.Lease),
		in:    make(chan func(time.Time), inputQueue),
		start: now,
	}
	gc := cfg.Gossip
	gc.Name = cfg.ID
	gc.OnRoute = func(u gossip.RouteUpdate) {
		r := u.Route
		a.do(func(now time.Time) { a.exec(now, a.gw.ObserveRoute(now, r)) })
	}
	gc.OnLease = func(m gossip.LeaseMessage) {
		a.do(func(now time.Time) { a.exec(now, a.step(now, m)) })
	}
	tr, err := gossip.New(gc)
	if err != nil {
		return nil, err
	}
	a.tr = tr
	tr.SetView(gossip.View{API: cfg.API})
	return a, nil
}

// do queues f for the loop. It blocks when the queue is full: gossip's
// dispatcher then waits, and memberlist's own inbox drops (and counts)
// what does not fit, which the protocol tolerates.
func (a *Agent) do(f func(now time.Time)) { a.in <- f }

// Run serves the agent until ctx ends, then leaves the gossip cluster.
func (a *Agent) Run(ctx context.Context) error {
	defer func() {
		if err := a.tr.Leave(2 * time.Second); err != nil {
			a.log.Debug("gossip leave", zap.Error(err))
		}
	}()
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		a.probeLoop(ctx)
	}()
	defer func() { <-probeDone }()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, w := range a.waiters {
				w.done <- ctx.Err()
			}
			a.waiters = nil
			return nil
		case f := <-a.in:
			f(time.Now())
		case <-timer.C:
			now := time.Now()
			a.exec(now, a.gw.Tick(now))
			a.exec(now, a.ld.Tick(now))
		case <-poll.C:
			a.poll(time.Now())
		}
		now := time.Now()
		a.checkWaiters(now)
		a.publish(now)
		next := earliest(a.gw.NextDeadline(), a.ld.NextDeadline())
		if len(a.waiters) > 0 {
			if _, at, _ := a.ld.CanPromote(now); !at.IsZero() {
				next = earliest(next, at)
			}
		}
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), time.Millisecond)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d)
	}
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// step hands a lease message to the machine it is for.
//
// A lease request for an epoch newer than the leader's route is parked
// until Published tells the leader of that epoch: a gateway may learn a
// route from the store's watch before the leader's own write returns, and
// a denial would make it ask again only a retry period later. Delaying a
// request is safe (the lease still counts from when the gateway sent it).
func (a *Agent) step(now time.Time, m routelease.Message) routelease.Output {
	if m.Type == routelease.MsgLeaseRequest && a.ld.Leading() && m.Epoch > a.ld.Route().Epoch && m.Epoch <= a.ld.Claimed()+1 {
		if len(a.parked) >= maxParked {
			a.parked = a.parked[1:]
		}
		a.parked = append(a.parked, m)
		return routelease.Output{}
	}
	switch m.Type {
	case routelease.MsgLeaseRequest, routelease.MsgAck, routelease.MsgFailsafeAck:
		return a.ld.Step(now, m)
	default:
		return a.gw.Step(now, m)
	}
}

// exec carries out an output: events first, then messages; messages to
// this replica, and announcements (which this replica's gateway side must
// also see), produce outputs of their own, carried out in turn.
func (a *Agent) exec(now time.Time, out routelease.Output) {
	queue := []routelease.Output{out}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		for _, ev := range o.Events {
			a.onEvent(ev)
		}
		for _, m := range o.Messages {
			switch {
			case m.To == "":
				if m.Route == nil {
					continue
				}
				if _, err := a.tr.AnnounceRoute(*m.Route); err != nil {
					a.log.Warn("route announcement refused", zap.Error(err))
				}
				queue = append(queue, a.gw.ObserveRoute(now, *m.Route))
			case m.To == a.cfg.ID:
				queue = append(queue, a.step(now, m))
			default:
				if err := a.tr.SendLease(m); err != nil {
					a.log.Debug("lease message not sent", zap.Stringer("message", m), zap.Error(err))
				}
			}
		}
	}
}

func (a *Agent) onEvent(ev routelease.Event) {
	switch ev.Type {
	case routelease.EventRoute:
		a.cfg.Install(ev.Route, false)
	case routelease.EventLeaseGranted:
		a.cfg.SetRouting(ev.Epoch, true)
	case routelease.EventLeaseExpired:
		a.log.Warn("route lease expired: not relaying until the leader grants a new one",
			zap.Uint64("epoch", ev.Epoch), zap.String("leader", a.gw.Leader()))
		a.cfg.SetRouting(ev.Epoch, false)
	case routelease.EventFailsafeStarted:
		a.log.Warn("route store unreachable: confirming the route by failsafe rounds", zap.Uint64("epoch", ev.Epoch))
	case routelease.EventFailsafeEnded:
		a.log.Info("failsafe ended", zap.Uint64("epoch", ev.Epoch), zap.String("peer", ev.Peer))
	}
}

// poll feeds the leader side its renewals and members, and the gossip
// heartbeat this replica's view.
func (a *Agent) poll(now time.Time) {
	if a.ld.Leading() {
		if lr := a.cfg.Elector.LastRenewal(); lr.After(a.lastRenewal) {
			a.lastRenewal = lr
			a.exec(now, a.ld.Renewed(now, lr))
		}
	}
	members := a.tr.Members()
	ids := make([]string, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.Name)
		hb := m.Heartbeat
		if a.cfg.Suspect != nil && !m.Local && m.State == gossip.MemberAlive && hb.Main != "" && !hb.MainReachable &&
			m.HeartbeatAge < heartbeatStale {
			a.cfg.Suspect(hb.Main)
		}
	}
	a.ld.SetMembers(now, ids)
}

func (a *Agent) checkWaiters(now time.Time) {
	kept := a.waiters[:0]
	for _, w := range a.waiters {
		switch {
		case !a.ld.Leading():
			w.done <- ErrNotLeading
		case a.ld.Claimed() != w.epoch:
			w.done <- fmt.Errorf("routeagent: epoch %d is not the claim (claimed %d)", w.epoch, a.ld.Claimed())
		case a.ld.Promoted() >= w.epoch:
			w.done <- nil
		default:
			if ok, _, _ := a.ld.CanPromote(now); ok {
				w.done <- a.ld.Promote(now)
				continue
			}
			kept = append(kept, w)
		}
	}
	a.waiters = kept
}

// publish refreshes the snapshot and the gossip view.
func (a *Agent) publish(now time.Time) {
	r := a.gw.Route()
	s := Snapshot{Epoch: r.Epoch, Routing: a.gw.Routing(now), LeaseExpiry: a.gw.LeaseExpiry(),
		Leader: a.gw.Leader(), Leading: a.ld.Leading(), Main: r.Main.Name, MainAddr: r.Main.BoltAddr}
	a.mu.Lock()
	a.snap = s
	main, ok := a.viewMain, a.viewOK
	a.mu.Unlock()
	a.tr.SetView(gossip.View{Epoch: r.Epoch, Leader: s.Leader, Main: main, MainReachable: ok, API: a.cfg.API})
}

// State returns the agent's state as of its last input.
func (a *Agent) State() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.snap
}

// ObserveRoute offers a route read from the store (at start-up or by its
// watch); only a higher epoch is adopted.
func (a *Agent) ObserveRoute(r state.Route) {
	r = r.Clone()
	a.do(func(now time.Time) { a.exec(now, a.gw.ObserveRoute(now, r)) })
}

// ObserveLeader tells who leads (the elector's observation).
func (a *Agent) ObserveLeader(id string) {
	a.do(func(now time.Time) { a.exec(now, a.gw.ObserveLeader(now, id)) })
}

// BecomeLeader starts a term: r is the store's route read after winning,
// lastRenewal and prevBound the elector's LastRenewal and
// PreviousRenewalBound.
func (a *Agent) BecomeLeader(r state.Route, lastRenewal, prevBound time.Time) {
	r = r.Clone()
	a.do(func(now time.Time) {
		a.lastRenewal = lastRenewal
		term := routelease.Term{Route: r, LastRenewal: lastRenewal, PrevRenewalBound: prevBound,
			LastFailsafeAck: a.gw.LastFailsafeAck()}
		a.exec(now, a.ld.BecomeLeader(now, term))
		a.exec(now, a.gw.ObserveLeader(now, a.cfg.ID))
		a.log.Info("route leases: leading", zap.Uint64("epoch", r.Epoch),
			zap.Time("promote_not_before", a.ld.PromoteNotBefore()))
	})
}

// Deposed ends the term: no more grants.
func (a *Agent) Deposed() {
	a.do(func(now time.Time) {
		a.parked = nil
		a.exec(now, a.ld.Deposed(now))
	})
}

// call runs f on the loop and waits for its error, or for ctx.
func (a *Agent) call(ctx context.Context, f func(now time.Time) error) error {
	done := make(chan error, 1)
	select {
	case a.in <- func(now time.Time) { done <- f(now) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Claim implements controller.Barrier.
func (a *Agent) Claim(ctx context.Context, next state.Route) error {
	next = next.Clone()
	return a.call(ctx, func(now time.Time) error {
		if !a.ld.Leading() {
			return ErrNotLeading
		}
		return a.ld.Claim(now, next)
	})
}

// Published implements controller.Barrier.
func (a *Agent) Published(r state.Route) {
	r = r.Clone()
	a.do(func(now time.Time) {
		a.exec(now, a.ld.Published(now, r))
		a.replayParked(now)
	})
}

// replayParked steps the parked lease requests the leader's route has
// caught up with, and keeps the others.
func (a *Agent) replayParked(now time.Time) {
	if len(a.parked) == 0 {
		return
	}
	ready := a.parked[:0:0]
	kept := a.parked[:0]
	for _, m := range a.parked {
		if !a.ld.Leading() || m.Epoch <= a.ld.Route().Epoch {
			ready = append(ready, m)
		} else {
			kept = append(kept, m)
		}
	}
	a.parked = kept
	for _, m := range ready {
		if a.ld.Leading() {
			a.exec(now, a.ld.Step(now, m))
		}
	}
}

// Await implements controller.Barrier.
func (a *Agent) Await(ctx context.Context, epoch uint64) error {
	w := &waiter{epoch: epoch, done: make(chan error, 1)}
	if err := a.call(ctx, func(now time.Time) error {
		a.waiters = append(a.waiters, w)
		if ok, at, waiting := a.ld.CanPromote(now); !ok {
			a.log.Info("barrier: waiting for gateways' acks or lease expiry", zap.Uint64("epoch", epoch),
				zap.Strings("gateways", waiting), zap.Time("until", at))
		}
		return nil
	}); err != nil {
		return err
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		a.do(func(time.Time) {
			for i, x := range a.waiters {
				if x == w {
					a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
					break
				}
			}
		})
		return ctx.Err()
	}
}

// NotBefore implements controller.Barrier: the term's PromoteNotBefore.
func (a *Agent) NotBefore(ctx context.Context) (time.Time, error) {
	var at time.Time
	err := a.call(ctx, func(time.Time) error {
		if !a.ld.Leading() {
			return ErrNotLeading
		}
		at = a.ld.PromoteNotBefore()
		return nil
	})
	return at, err
}

// LiveGateways implements controller.Quorum.
func (a *Agent) LiveGateways() int {
	n := 0
	for _, m := range a.tr.Members() {
		if m.State == gossip.MemberAlive || m.Local {
			n++
		}
	}
	return max(n, 1)
}

// OthersDown implements controller.Quorum: live members other than this
// one whose recent heartbeat says instance did not answer their probe.
func (a *Agent) OthersDown(instance string) int {
	n := 0
	for _, m := range a.tr.Members() {
		if m.Local || m.State != gossip.MemberAlive {
			continue
		}
		hb := m.Heartbeat
		if hb.Main == instance && !hb.MainReachable && m.HeartbeatAge < heartbeatStale {
			n++
		}
	}
	return n
}

// Member is a gateway as /status shows it.
type Member struct {
	Name          string
	State         string
	Epoch         uint64
	Leader        string
	Main          string
	MainReachable bool
	API           string
	HeartbeatAge  time.Duration
	Local         bool
}

// Members lists the gossip members, sorted by name.
func (a *Agent) Members() []Member {
	ms := a.tr.Members()
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{Name: m.Name, State: string(m.State), Epoch: m.Heartbeat.Epoch,
			Leader: m.Heartbeat.Leader, Main: m.Heartbeat.Main, MainReachable: m.Heartbeat.MainReachable,
			API: m.Heartbeat.API, HeartbeatAge: m.HeartbeatAge, Local: m.Local})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LeaderAPI is the HTTP API base URL of the leader this replica observes,
// from its gossip heartbeat.
func (a *Agent) LeaderAPI() (string, bool) {
	leader := a.State().Leader
	if leader == "" {
		return "", false
	}
	for _, m := range a.tr.Members() {
		if m.Name == leader && m.Heartbeat.API != "" && m.State == gossip.MemberAlive {
			return m.Heartbeat.API, true
		}
	}
	return "", false
}

// GossipAddr is where this replica's gossip listens (host:port).
func (a *Agent) GossipAddr() string { return a.tr.Addr() }

// Close stops the gossip member without leaving (Run leaves gracefully;
// Close is for an agent whose Run never started).
func (a *Agent) Close() error { return a.tr.Close() }
