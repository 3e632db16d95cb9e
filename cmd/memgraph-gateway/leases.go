package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/gossip"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/routeagent"
	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// With gossip on (GATEWAY_GOSSIP_KEY_FILE or GATEWAY_GOSSIP_INSECURE) the
// gateway routes by route leases (routeagent): every route, from the store
// or from gossip, goes through the agent, which installs each new epoch
// without relaying and turns relaying on when the leader grants a lease.
// Without gossip, routes from the store are installed serving at once and
// the controller's barrier waits RouteTTL after a claim.

// leaderPoll is how often the agent is told who leads: the elector's view
// is in memory, and a gateway without a lease asks a new leader at once.
const leaderPoll = 100 * time.Millisecond

// newAgent builds the route agent of this gateway. api is the HTTP API's
// base URL as other gateways reach it; dial opens the connections of its
// probes of the MAIN as the proxy opens relayed ones (proxy.DialBackend).
func newAgent(cfg config.Config, id, api string, g *gateway, dial func(ctx context.Context, addr string) (net.Conn, error),
	el routeagent.Renewals, suspect func(string), reg prometheus.Registerer, log *zap.Logger) (*routeagent.Agent, error) {
	ip, port, err := cfg.GossipBind()
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_GOSSIP_BIND_ADDRESS: %w", err)
	}
	advIP, advPort := cfg.GossipAdvertise(os.Getenv("POD_IP"))
	gc := gossip.Config{
		BindAddr: ip, BindPort: port, AdvertiseAddr: advIP, AdvertisePort: advPort,
		Join: cfg.GossipJoin, Insecure: cfg.GossipInsecure,
		Registerer: reg, Logger: log.Named("gossip"),
	}
	if port == 0 {
		gc.BindPort = -1 // any free port (tests)
	}
	if cfg.GossipKeyFile != "" {
		if gc.SecretKeys, err = cfg.GossipKeys(); err != nil {
			return nil, err
		}
	}
	// config.Validate checked these timings together (route-ttl against
	// the election's).
	lc := routelease.Config{
		RouteTTL: cfg.RouteTTL, LeaseDuration: cfg.LeaseDuration, RenewDeadline: cfg.RenewDeadline,
		RetryPeriod: cfg.RetryPeriod,
	}
	return routeagent.New(routeagent.Config{
		ID: id, Lease: lc, Gossip: gc, API: api,
		Install: func(r state.Route, routing bool) {
			g.installRoute(proxyRoute(r), routing, sourceLease, "route lease protocol")
		},
		SetRouting:    g.setRouting,
		Probe:         routeagent.BoltProbe(dial),
		ProbeInterval: cfg.ProbeInterval, ProbeTimeout: cfg.ProbeTimeout,
		Elector: el,
		Suspect: suspect,
		Log:     log.Named("lease"),
	})
}

// apiURL is the base URL other gateways reach this one's HTTP API at: the
// advertised gossip IP (or $POD_IP) with the HTTP port.
func apiURL(cfg config.Config, httpAddr net.Addr) string {
	port := 0
	if a, ok := httpAddr.(*net.TCPAddr); ok {
		port = a.Port
	}
	host, _ := cfg.GossipAdvertise(os.Getenv("POD_IP"))
	if host == "" {
		if h, _, err := net.SplitHostPort(cfg.HTTPAddress); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
			host = h
		}
	}
	if host == "" {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// gossipStatus is /status's view of the route lease and the members; nil
// without gossip.
func (cp *controlPlane) gossipStatus() *api.Gossip {
	if cp == nil || cp.agent == nil {
		return nil
	}
	st := cp.agent.State()
	out := &api.Gossip{Routing: st.Routing, LeaseExpiry: wallTime(st.LeaseExpiry), Leader: st.Leader, Members: []api.Member{}}
	for _, m := range cp.agent.Members() {
		out.Members = append(out.Members, api.Member{Name: m.Name, State: m.State, Local: m.Local, Epoch: m.Epoch,
			Main: m.Main, MainReachable: m.MainReachable, HeartbeatAgeSeconds: m.HeartbeatAge.Seconds()})
	}
	return out
}

// wallTime turns a monotonic deadline into wall-clock time for display.
func wallTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Now().Add(time.Until(t)).UTC().Round(time.Millisecond)
}
