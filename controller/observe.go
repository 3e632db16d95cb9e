package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
)

// observer probes every discovered instance in the background, one
// goroutine per instance, every probe interval: SHOW REPLICATION ROLE,
// SHOW REPLICAS on a MAIN, the data counters (Client.HasData: SHOW
// STORAGE INFO, ON CURRENT DATABASE on 3.11+). Building a Snapshot only
// reads the latest results, so observing never waits on a dead instance's
// timeout. It also owns the memgraph clients, which the executor borrows.
//
// The observer's own view is the leader's vote: GatewaysDown is 1 for every
// instance the leader cannot reach. With LoopConfig.Quorum (gossip) the
// loop adds the other live gateways' votes (applyQuorum); without it the
// failover quorum is the leader's view alone.
type observer struct {
	interval  time.Duration
	newClient func(name, addr string) (*memgraph.Client, error)
	log       *zap.Logger

	mu      sync.Mutex
	probers map[string]*prober // running, by instance name
	health  map[string]*health // by instance name; kept when the prober stops
	// lastAddr is the last known Bolt and replication address of every
	// instance ever discovered, for route members discovery lost.
	lastAddr map[string]discovery.Instance
	// goneSince is when an instance was first seen deleted or terminating
	// in the current run of such observations.
	goneSince map[string]time.Time
}

type prober struct {
	name   string
	addr   string
	client *memgraph.Client
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}
}

// health is what the probes of one instance found.
type health struct {
	probed       bool // at least one probe finished
	lastStarted  time.Time
	reachable    bool
	firstFailure time.Time
	role         Role
	data         DataState
	replicasOK   bool
	replicas     []ReplicaRow
	lastErr      error
}

func newObserver(interval time.Duration, newClient func(name, addr string) (*memgraph.Client, error), log *zap.Logger) *observer {
	return &observer{
		interval:  interval,
		newClient: newClient,
		log:       log,
		probers:   make(map[string]*prober),
		health:    make(map[string]*health),
		lastAddr:  make(map[string]discovery.Instance),
		goneSince: make(map[string]time.Time),
	}
}

// sync starts a prober for every discovered instance with a Bolt address
// (a new one when the address changed) and stops the probers of the
// instances no longer listed.
func (o *observer) sync(ctx context.Context, insts []discovery.Instance) {
	listed := make(map[string]bool, len(insts))
	var stop []*prober
	o.mu.Lock()
	for _, in := range insts {
		listed[in.Name] = true
		if in.BoltAddr != "" {
			o.lastAddr[in.Name] = in
		} else if prev, ok := o.lastAddr[in.Name]; ok {
			prev.ReplicationAddr = in.ReplicationAddr
			o.lastAddr[in.Name] = prev
		}
		p := o.probers[in.Name]
		if p != nil && p.addr == in.BoltAddr {
			continue
		}
		if p != nil {
			stop = append(stop, p)
			delete(o.probers, in.Name)
		}
		if in.BoltAddr == "" {
			continue
		}
		c, err := o.newClient(in.Name, in.BoltAddr)
		if err != nil {
			o.log.Error("memgraph client", zap.String("instance", in.Name), zap.Error(err))
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		p = &prober{name: in.Name, addr: in.BoltAddr, client: c, cancel: cancel,
			done: make(chan struct{}), kick: make(chan struct{}, 1)}
		o.probers[in.Name] = p
		go o.runProber(pctx, p)
	}
	for name, p := range o.probers {
		if !listed[name] {
			stop = append(stop, p)
			delete(o.probers, name)
		}
	}
	o.mu.Unlock()
	for _, p := range stop {
		p.stop()
	}
}

func (p *prober) stop() {
	p.cancel()
	<-p.done
	p.client.Close()
}

// close stops every prober and closes its client.
func (o *observer) close() {
	o.mu.Lock()
	ps := make([]*prober, 0, len(o.probers))
	for _, p := range o.probers {
		ps = append(ps, p)
	}
	clear(o.probers)
	o.mu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// client returns the client of the named instance, nil when it has none.
func (o *observer) client(name string) *memgraph.Client {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.probers[name]; p != nil {
		return p.client
	}
	return nil
}

// boltAddr is the last known Bolt address of the named instance.
func (o *observer) boltAddr(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastAddr[name].BoltAddr
}

// kick asks every prober to probe now.
func (o *observer) kick() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range o.probers {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// fresh reports whether every running prober has finished a probe that
// started at or after t.
func (o *observer) fresh(t time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name := range o.probers {
		h := o.health[name]
		if h != nil && h.probed && !h.reachable {
			// Its last probe failed already: waiting for another (a hung
			// instance's probe runs to its timeout) would only delay the
			// next decision, not change it.
			continue
		}
		if h == nil || !h.probed || h.lastStarted.Before(t) {
			return false
		}
	}
	return true
}

// waitFresh kicks every prober and waits until each finished a probe
// started after now, or at most bound; instances whose last probe failed
// are not waited for (a hung instance's probe runs to its timeout, and its
// older result is a failure already).
func (o *observer) waitFresh(ctx context.Context, bound time.Duration) {
	start := time.Now()
	o.kick()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !o.fresh(start) {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

func (o *observer) runProber(ctx context.Context, p *prober) {
	defer close(p.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
		o.probe(ctx, p)
		t.Reset(o.interval)
	}
}

// probe reads one instance's role, replicas (MAIN only) and data, and
// records the result. Each call is bounded by the client's Timeout.
func (o *observer) probe(ctx context.Context, p *prober) {
	started := time.Now()
	var res health
	role, err := p.client.Role(ctx)
	if ctx.Err() != nil {
		return // stopping: a cancelled probe says nothing about the instance
	}
	if err == nil {
		res.reachable = true
		res.role = RoleReplica
		if role == memgraph.RoleMain {
			res.role = RoleMain
			if rows, err := p.client.Replicas(ctx); err == nil {
				res.replicasOK = true
				res.replicas = replicaRows(rows)
			} else {
				res.lastErr = err
			}
		}
		if has, err := p.client.HasData(ctx); err == nil {
			res.data = dataState(has)
		} else if res.lastErr == nil {
			res.lastErr = err
		}
	} else {
		res.lastErr = err
	}
	if ctx.Err() != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.health[p.name]
	if h == nil {
		h = &health{}
		o.health[p.name] = h
	}
	wasReachable, first := h.reachable, h.firstFailure
	*h = res
	h.probed = true
	h.lastStarted = started
	switch {
	case res.reachable:
		h.firstFailure = time.Time{}
	case wasReachable || first.IsZero():
		h.firstFailure = started
		o.log.Info("instance unreachable", zap.String("instance", p.name), zap.Error(err))
	default:
		h.firstFailure = first
	}
	if res.reachable && !wasReachable && !first.IsZero() {
		o.log.Info("instance reachable again", zap.String("instance", p.name))
	}
}

// instances builds the Snapshot's instances at now: every discovered
// instance, plus the route's Main, Target and From when discovery lost
// them (Known false, unreachable since they were first seen gone). A
// deleted or terminating pod counts as a failed probe.
func (o *observer) instances(now time.Time, disc []discovery.Instance, r Route) []Instance {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Instance, 0, len(disc)+3)
	listed := make(map[string]bool, len(disc))
	for _, d := range disc {
		listed[d.Name] = true
		in := Instance{Name: d.Name, BoltAddr: d.BoltAddr, ReplAddr: d.ReplicationAddr, Known: true, PodReady: d.Ready}
		if in.BoltAddr == "" {
			in.BoltAddr = o.lastAddr[d.Name].BoltAddr
		}
		if h := o.health[d.Name]; h != nil && h.probed && d.BoltAddr != "" {
			in.Reachable = h.reachable
			in.FirstFailure = h.firstFailure
			if h.reachable {
				in.Role, in.Data = h.role, h.data
				in.ReplicasKnown, in.Replicas = h.replicasOK, h.replicas
			}
		}
		if d.Terminating || d.BoltAddr == "" {
			o.markGone(d.Name, now, &in)
		} else {
			delete(o.goneSince, d.Name)
		}
		if !in.Reachable {
			in.GatewaysDown = 1
		}
		out = append(out, in)
	}
	for _, name := range []string{r.Main, r.Target, r.From} {
		if name == "" || listed[name] {
			continue
		}
		listed[name] = true
		last := o.lastAddr[name]
		in := Instance{Name: name, BoltAddr: last.BoltAddr, ReplAddr: last.ReplicationAddr, GatewaysDown: 1}
		o.markGone(name, now, &in)
		out = append(out, in)
	}
	// Forget the gone-times of instances discovery lists again and that
	// no longer matter.
	for name := range o.goneSince {
		if !listed[name] {
			delete(o.goneSince, name)
		}
	}
	return out
}

// markGone makes in unreachable since it was first seen gone (or since
// its probes started failing, if earlier). The caller holds o.mu.
func (o *observer) markGone(name string, now time.Time, in *Instance) {
	since, ok := o.goneSince[name]
	if !ok {
		since = now
		o.goneSince[name] = since
	}
	if h := o.health[name]; h != nil && !h.reachable && !h.firstFailure.IsZero() && h.firstFailure.Before(since) {
		since = h.firstFailure
	}
	in.Reachable = false
	in.FirstFailure = since
	in.Role, in.Data, in.ReplicasKnown, in.Replicas = RoleUnknown, DataUnknown, false, nil
}

// replicaRows maps SHOW REPLICAS rows to the controller's (modes upper
// case, as in REGISTER REPLICA).
func replicaRows(rows []memgraph.ReplicaInfo) []ReplicaRow {
	out := make([]ReplicaRow, len(rows))
	for i, r := range rows {
		out[i] = ReplicaRow{
			Name:   r.Name,
			Addr:   r.SocketAddress,
			Mode:   Mode(strings.ToUpper(string(r.SyncMode))),
			Status: Status(strings.ToLower(string(r.Status))),
			Behind: r.Behind,
			TS:     r.TS,
			Zombie: r.Zombie,
		}
	}
	return out
}

// dataState maps memgraph.Client.HasData (vertex_count and edge_count of
// the release's form of SHOW STORAGE INFO) to the controller's state.
func dataState(has bool) DataState {
	if has {
		return DataPresent
	}
	return DataEmpty
}

// controllerError maps a memgraph error to the controller's kinds
// (executor.go): diverged, unreachable (ErrUnavailable and REGISTER's
// Error 5), contention, fenced (the client's guard). Others stay plain.
func controllerError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memgraph.ErrDiverged):
		return errors.Join(ErrDiverged, err)
	case errors.Is(err, memgraph.ErrUnavailable), errors.Is(err, memgraph.ErrReplicaUnreachable):
		return errors.Join(ErrUnreachable, err)
	case errors.Is(err, memgraph.ErrContention):
		return errors.Join(ErrContention, err)
	case errors.Is(err, memgraph.ErrFenced):
		return errors.Join(ErrFenced, err)
	}
	return err
}
