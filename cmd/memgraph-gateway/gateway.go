package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/proxy"
)

// relay is the part of *proxy.Proxy the gateway reads and routes; tests
// substitute a fake.
type relay interface {
	SetRoute(proxy.Route) bool
	InstallRoute(r proxy.Route, routing bool) bool
	SetRouting(epoch uint64, on bool) bool
	Routing() bool
	Route() proxy.Route
	Stats() proxy.Stats
}

var _ relay = (*proxy.Proxy)(nil)

// listener is one Bolt listener and whether its Serve loop runs.
type listener struct {
	role    proxy.Role
	ln      net.Listener
	serving atomic.Bool
}

// gateway is this process as the HTTP API sees it (api.StatusProvider), and
// the one place routes enter the proxy (applyRoute).
//
// Readiness: ready when the proxy is enabled, not draining, at least one
// Bolt listener serves, and a route is installed whose phase is serving, or
// failover after this gateway has served a MAIN. The failover exception is
// deliberate: during a failover every gateway holds new connections until the
// new MAIN is published (seconds), and failing /readyz on all of them at once
// would make load balancers refuse clients that the gateways would have held.
// A gateway that never had a MAIN stays unready.
type gateway struct {
	id      string
	started time.Time
	log     *zap.Logger
	relay   relay       // nil when GATEWAY_ENABLED=false
	bolt    []*listener // fixed before the API serves

	draining atomic.Bool
	served   atomic.Bool // a serving route was installed once
	// waiting, when set, is why the gateway cannot be ready yet although
	// its listeners exist (the first read of the route store).
	waiting atomic.Pointer[string]

	control *controlPlane // nil without election and discovery; set before the API serves

	routeMu      sync.Mutex // serializes applyRoute, so old and new in its log line are exact
	routeUpdates *prometheus.CounterVec
}

// Route sources, the source label of memgraph_gateway_route_updates_total
// (sourceStore is in controlplane.go).
const (
	sourceStatic = "static"
	sourceFile   = "file"
	sourceLease  = "lease" // through the route agent (gossip and store)
)

func newGateway(id string, log *zap.Logger, r relay, reg prometheus.Registerer) (*gateway, error) {
	g := &gateway{
		id:      id,
		started: time.Now(),
		log:     log,
		relay:   r,
		routeUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memgraph_gateway_route_updates_total",
			Help: "Routes offered to the proxy by a route source (static, file, store), by result: applied, ignored (epoch not higher), invalid (refused before the proxy).",
		}, []string{"source", "result"}),
	}
	if err := reg.Register(g.routeUpdates); err != nil {
		return nil, fmt.Errorf("register route metrics: %w", err)
	}
	return g, nil
}

// applyRoute offers r to the proxy and logs the outcome: one info line per
// accepted change, with epoch, old and new MAIN, and cause.
func (g *gateway) applyRoute(r proxy.Route, source, cause string) bool {
	return g.installRoute(r, true, source, cause)
}

// installRoute is applyRoute with the routing state: routing false installs
// the epoch (cutting older connections) but holds new connections until
// setRouting turns relaying on (the route lease).
func (g *gateway) installRoute(r proxy.Route, routing bool, source, cause string) bool {
	g.routeMu.Lock()
	defer g.routeMu.Unlock()
	old := g.relay.Route()
	if !g.relay.InstallRoute(r, routing) {
		g.routeUpdates.WithLabelValues(source, "ignored").Inc()
		if sameRoute(old, r) {
			g.log.Debug("route unchanged", zap.Uint64("epoch", r.Epoch), zap.String("cause", cause))
		} else {
			g.log.Warn("route ignored: its epoch is not higher than the current one; raise the epoch to apply it",
				zap.Uint64("epoch", r.Epoch), zap.Uint64("current_epoch", old.Epoch), zap.String("cause", cause))
		}
		return false
	}
	g.routeUpdates.WithLabelValues(source, "applied").Inc()
	if r.Phase == proxy.PhaseServing && routing {
		g.served.Store(true)
	}
	fields := []zap.Field{zap.Uint64("epoch", r.Epoch), zap.Uint64("old_epoch", old.Epoch),
		zap.String("phase", string(r.Phase)),
		zap.String("old_main", backendString(old.Main)), zap.String("new_main", backendString(r.Main)),
		zap.Int("replicas", len(r.Replicas)), zap.String("cause", cause)}
	if !routing {
		fields = append(fields, zap.String("relaying", "after the leader grants a route lease"))
	}
	g.log.Info("route changed", fields...)
	return true
}

// setRouting turns relaying under epoch on (a route lease was granted) or
// off (it expired: every relayed connection is cut).
func (g *gateway) setRouting(epoch uint64, on bool) {
	if g.relay == nil || !g.relay.SetRouting(epoch, on) {
		return
	}
	if on {
		if r := g.relay.Route(); r.Phase == proxy.PhaseServing {
			g.served.Store(true)
		}
		g.log.Debug("route lease held: relaying", zap.Uint64("epoch", epoch))
	} else {
		g.log.Warn("route lease lost: connections cut, new ones held", zap.Uint64("epoch", epoch))
	}
}

// routeInvalid counts a route a source refused before offering it.
func (g *gateway) routeInvalid(source string) {
	g.routeUpdates.WithLabelValues(source, "invalid").Inc()
}

func sameRoute(a, b proxy.Route) bool {
	return a.Epoch == b.Epoch && a.Phase == b.Phase && a.Main == b.Main && slices.Equal(a.Replicas, b.Replicas)
}

func backendString(b proxy.Backend) string {
	if b.Name == "" && b.Addr == "" {
		return "none"
	}
	return b.Name + "=" + b.Addr
}

// Ready implements api.StatusProvider.
func (g *gateway) Ready() error {
	if g.relay == nil {
		return errors.New("the Bolt proxy is disabled (GATEWAY_ENABLED=false)")
	}
	if g.draining.Load() {
		return errors.New("draining: shutting down")
	}
	if w := g.waiting.Load(); w != nil {
		return errors.New(*w)
	}
	if !slices.ContainsFunc(g.bolt, func(l *listener) bool { return l.serving.Load() }) {
		return errors.New("no Bolt listener is serving")
	}
	r := g.relay.Route()
	switch {
	case r.Epoch == 0:
		return errors.New("no route installed")
	case r.Phase == proxy.PhaseServing && !g.relay.Routing():
		return fmt.Errorf("no route lease on epoch %d: not relaying until the leader grants one", r.Epoch)
	case r.Phase == proxy.PhaseServing:
		return nil
	case r.Phase == proxy.PhaseFailover && g.served.Load():
		return nil // holding connections until the new MAIN is published
	default:
		return fmt.Errorf("route epoch %d is in phase %s and no MAIN was ever served", r.Epoch, r.Phase)
	}
}

// Status implements api.StatusProvider.
func (g *gateway) Status() api.Status {
	st := api.Status{
		ID:        g.id,
		Started:   g.started,
		Draining:  g.draining.Load(),
		Listeners: make([]api.Listener, 0, len(g.bolt)),
		Election:  g.control.electionStatus(),
		Discovery: g.control.discoveryStatus(),
		// The replication controller's view, on the leader (admin.go).
		Controller: g.control.controllerStatus(),
		Gossip:     g.control.gossipStatus(),
	}
	for _, l := range g.bolt {
		st.Listeners = append(st.Listeners, api.Listener{Role: string(l.role), Address: l.ln.Addr().String(), Serving: l.serving.Load()})
	}
	if g.relay == nil {
		return st
	}
	if r := g.relay.Route(); r.Epoch != 0 {
		st.Route = apiRoute(r)
	}
	s := g.relay.Stats()
	st.Connections = &api.Connections{
		Active: s.Active, Held: s.Held, Relayed: s.Relayed, Total: s.Total,
		Rejected: maps.Clone(s.Rejected), Cut: s.Cut,
	}
	if st.Connections.Rejected == nil {
		st.Connections.Rejected = map[string]int{}
	}
	if c := s.LastCut; c != nil {
		st.Connections.LastCut = &api.Cut{Connections: c.Connections, FenceMs: c.FenceMs, NotifyMs: c.NotifyMs, Began: c.Began, At: c.At}
	}
	return st
}

func apiRoute(r proxy.Route) *api.Route {
	out := &api.Route{Epoch: r.Epoch, Phase: string(r.Phase), Replicas: make([]api.Replica, 0, len(r.Replicas))}
	if r.Main != (proxy.Backend{}) {
		out.Main = &api.Backend{Name: r.Main.Name, BoltAddr: r.Main.Addr}
	}
	for _, rep := range r.Replicas {
		out.Replicas = append(out.Replicas, api.Replica{
			Backend: api.Backend{Name: rep.Name, BoltAddr: rep.Addr}, Ready: rep.Ready, Lag: rep.Lag,
		})
	}
	return out
}
