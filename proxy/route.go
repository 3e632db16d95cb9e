package proxy

import (
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// routeTable is an immutable snapshot of the route, with what the data path
// needs precomputed. A new table replaces it atomically; the old table's
// changed channel is then closed, which wakes the connections that were held
// on it. Taking the decision and the channel from the same snapshot means a
// held connection can never miss a change.
type routeTable struct {
	route Route
	// gen changes with every route and every change of routing; a
	// connection that chose its backend from one table is registered only
	// if the table's gen is still current (UpdateReplicas keeps gen: a new
	// replica list does not invalidate a dial to the MAIN).
	gen      uint64
	routing  bool      // SetRouting: relaying allowed (a route lease is held)
	serving  bool      // phase serving, a MAIN address, and routing
	readable []Backend // replicas the read-only listener may use
	changed  chan struct{}
}

func newRouteTable(r Route, maxLag int64, gen uint64, routing bool) *routeTable {
	r.Replicas = slices.Clone(r.Replicas)
	t := &routeTable{route: r, gen: gen, routing: routing, changed: make(chan struct{})}
	t.serving = routing && r.Phase == PhaseServing && r.Main.Addr != ""
	for _, rep := range r.Replicas {
		if rep.Ready && rep.Addr != "" && rep.Lag >= -maxLag {
			t.readable = append(t.readable, rep.Backend)
		}
	}
	return t
}

// pick chooses the backend for a new connection of the given role. Read-only
// connections are spread round-robin over the readable replicas (rr is the
// shared cursor); the MAIN serves them only when readFromMain allows it.
func (t *routeTable) pick(role Role, readFromMain bool, rr *atomic.Uint64) (Backend, bool) {
	return t.candidate(role, readFromMain, rr.Add(1)-1, 0)
}

// candidate returns the i-th backend to try for a connection of role that
// drew start from the round-robin cursor: for read-only connections the
// readable replicas from start on, then the MAIN if readFromMain allows;
// for read-write ones only the MAIN (i == 0). false: none (left).
func (t *routeTable) candidate(role Role, readFromMain bool, start uint64, i int) (Backend, bool) {
	if !t.serving || i < 0 {
		return Backend{}, false
	}
	if role == RoleReadWrite {
		return t.route.Main, i == 0
	}
	n := len(t.readable)
	if i < n {
		return t.readable[(start+uint64(i))%uint64(n)], true
	}
	if readFromMain && i == n {
		return t.route.Main, true
	}
	return Backend{}, false
}

// SetRoute installs r if its epoch is higher than the current one and reports
// whether it did (an equal or lower epoch is ignored: false). Before it
// returns, every connection relayed under an older epoch is fenced, whatever
// r's main or phase: none of them can write another byte to its backend or
// its client (a write in flight is ended by shutting its socket down). So
// once SetRoute(r) returned true, no byte is relayed on behalf of an older
// epoch, and the caller may ack r's epoch; this takes about a millisecond for
// ten thousand connections. Right after, in the background, their client
// sockets are reset first, then all their sockets closed (Close and Drain
// wait for that). Held connections are
// released if r gives them a backend. Calls are serialised.
func (p *Proxy) SetRoute(r Route) bool { return p.InstallRoute(r, true) }

// InstallRoute is SetRoute with the route's routing state: with routing
// false the route is installed (older epochs cut, as SetRoute) but nothing
// is relayed under it yet: new connections are held as in phase failover
// until SetRouting(r.Epoch, true). A gateway under the route-lease protocol
// installs each new epoch this way and turns routing on when the leader
// grants its lease.
func (p *Proxy) InstallRoute(r Route, routing bool) bool {
	p.routeMu.Lock()
	old := p.table.Load()
	if r.Epoch <= old.route.Epoch {
		p.routeMu.Unlock()
		return false
	}
	start := time.Now()
	t := newRouteTable(r, p.cfg.MaxReplicaLag, old.gen+1, routing)
	p.table.Store(t)
	p.m.epoch.Set(float64(r.Epoch))
	p.m.routeChanges.Inc()
	cut, finish := p.reg.cutOlder(r.Epoch)
	p.m.addCut(cut)
	p.routeMu.Unlock()
	p.inBackground(finish)
	close(old.changed)

	// The caller logs each change once at info level with its cause; this
	// line adds what the proxy cut and how long the fence took.
	p.log.Debug("route installed",
		zap.Uint64("epoch", r.Epoch), zap.Uint64("old_epoch", old.route.Epoch),
		zap.String("phase", string(r.Phase)), zap.Bool("routing", routing),
		zap.String("main", r.Main.Name), zap.String("main_addr", r.Main.Addr),
		zap.String("old_main", old.route.Main.Name),
		zap.Int("readable_replicas", len(t.readable)),
		zap.Int("cut", cut), zap.Duration("fence_took", time.Duration(p.reg.lastFence.Load())),
		zap.Duration("cut_took", time.Since(start)))
	return true
}

// SetRouting turns relaying under the current route on or off without a
// new epoch, and reports whether it changed anything (only when epoch is
// the current epoch and the state differs). Off fences and cuts every
// relayed connection, as a new epoch would, and holds new ones; on releases
// the held connections to the route's backends. A gateway turns routing off
// when its route lease expires (DESIGN.md, "Route lease").
func (p *Proxy) SetRouting(epoch uint64, on bool) bool {
	p.routeMu.Lock()
	old := p.table.Load()
	if epoch == 0 || epoch != old.route.Epoch || old.routing == on {
		p.routeMu.Unlock()
		return false
	}
	t := newRouteTable(old.route, p.cfg.MaxReplicaLag, old.gen+1, on)
	p.table.Store(t)
	cut := 0
	var finish func()
	if !on {
		cut, finish = p.reg.cutOlder(epoch + 1)
		p.m.addCut(cut)
	}
	p.routeMu.Unlock()
	if finish != nil {
		p.inBackground(finish)
	}
	close(old.changed)
	p.log.Debug("routing changed", zap.Uint64("epoch", epoch), zap.Bool("routing", on), zap.Int("cut", cut))
	return true
}

// Routing reports whether the current route may be relayed to (false
// between InstallRoute(r, false) or SetRouting(epoch, false) and
// SetRouting(epoch, true)).
func (p *Proxy) Routing() bool { return p.table.Load().routing }

// UpdateReplicas replaces the replica list of the current route without a new
// epoch, and reports whether it did: only when epoch equals the current
// epoch. Existing connections are kept; new read-only connections use the new
// list, and held ones are woken to try again. It lets the read-only listener
// follow replica readiness and lag, which change without a route change.
func (p *Proxy) UpdateReplicas(epoch uint64, replicas []Replica) bool {
	p.routeMu.Lock()
	old := p.table.Load()
	if epoch != old.route.Epoch || epoch == 0 {
		p.routeMu.Unlock()
		return false
	}
	r := old.route
	r.Replicas = replicas
	p.table.Store(newRouteTable(r, p.cfg.MaxReplicaLag, old.gen, old.routing))
	p.routeMu.Unlock()
	close(old.changed)
	return true
}

// Route returns the current route (zero Route before the first SetRoute).
func (p *Proxy) Route() Route {
	r := p.table.Load().route
	r.Replicas = slices.Clone(r.Replicas)
	return r
}
