package proxy

// This file fixes the proxy's public surface so that the gateway binary can be
// written against it while the relay is built. The proxy's author owns it and
// may extend it; changing a signature here means changing its callers too.

import (
	"context"
	"crypto/tls"
	"errors"
	"go.opentelemetry.io/otel/trace"
	"net"
	"time"
)

// Backend is one Memgraph instance's Bolt endpoint.
type Backend struct {
	Name string `json:"name"`
	Addr string `json:"boltAddr"` // host:port
}

// Replica is a replica instance as the read-only listener sees it.
type Replica struct {
	Backend
	Ready bool  `json:"ready"`
	Lag   int64 `json:"lag"` // Memgraph's "behind": 0 caught up, negative when lagging
}

// Phase of a route.
type Phase string

const (
	// PhaseServing routes to Main.
	PhaseServing Phase = "serving"
	// PhaseFailover has no main: new connections are held, old ones cut.
	PhaseFailover Phase = "failover"
)

// Route is what the proxy routes by. It is only ever changed through
// Proxy.SetRoute; a route is accepted only if its Epoch is higher than the
// one held (equal: ignored).
type Route struct {
	Epoch    uint64    `json:"epoch"`
	Phase    Phase     `json:"phase"`
	Main     Backend   `json:"main"`
	Replicas []Replica `json:"replicas,omitempty"`
}

// Role of a listener.
type Role string

const (
	// RoleReadWrite listeners relay to the MAIN.
	RoleReadWrite Role = "read-write"
	// RoleReadOnly listeners relay to ready replicas within the lag bound.
	RoleReadOnly Role = "read-only"
)

// Config of a Proxy. Zero durations and counts take the documented default;
// negative means "off" where the field says so. Validate reports bad values.
type Config struct {
	MaxConnections      int           // all listeners together; default 1000
	MaxConnectionsPerIP int           // default 0 = unlimited
	ConnRatePerIP       float64       // new connections per second per source IP; 0 = unlimited
	ConnBurstPerIP      int           // token bucket burst; default max(1, ConnRatePerIP)
	IPv6PrefixLength    int           // the per-IP limits count IPv6 clients per prefix of this length; default 64; 128: each address
	HandshakeTimeout    time.Duration // from accept to the end of the 20-byte Bolt preamble, PROXY header and TLS handshake included; default 10s
	DialTimeout         time.Duration // backend dial; default 30s
	KeepAlive           time.Duration // TCP keepalive on both sides; default 60s; negative: off
	HoldTimeout         time.Duration // how long a connection waits for a serving route; default 10s; negative: never hold (reject "no-route")
	MaxHeld             int           // connections held at once; default MaxConnections
	MaxReplicaLag       int64         // read-only listener: skip replicas with behind < -MaxReplicaLag; default 0 = must be caught up
	ReadFromMain        bool          // read-only listener may use the MAIN when no replica qualifies
	TLS                 *tls.Config   // client-side TLS termination (GetCertificate allows reload); nil = plain
	BackendTLS          *tls.Config   // TLS to Memgraph; nil = plain
	ProxyProtocol       bool          // expect a PROXY protocol v1/v2 header from the load balancer (stripped)
	HalfCloseTimeout    time.Duration // after one side ends its stream, how long the other may stay silent before both close; default 30s; negative: no limit
	// EventLoops is the number of epoll loops that relay plain-TCP
	// connections on Linux (TLS and other platforms use two goroutines per
	// connection). Default 0: one per GOMAXPROCS; negative: no loops.
	EventLoops int
	// Dial overrides the backend dialer (tests); nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnDialError, when set, is called (on the connection's goroutine; it
	// must not block) each time a backend dial fails: the binary turns it
	// into an immediate probe of that instance by the leader.
	OnDialError func(b Backend, err error)
	// Tracer, when set, gets one span per connection setup ("proxy.connect":
	// handshake, hold, dial, with a "proxy.dial" child), ended when
	// relaying starts or the connection is refused; a refusal's log line
	// carries its trace id. nil: no spans, no cost.
	Tracer trace.Tracer

	// stallLoop (tests): the first event loop's goroutine waits for it to
	// close before it starts, so that only the other loops serve it.
	stallLoop chan struct{}
	// cutJobStart (tests), when set, is called by each loop as it starts
	// its share of a cut's resets, with the loop's index.
	cutJobStart func(loop int)
}

// ErrClosed is returned by Serve after Close or Drain.
var ErrClosed = errors.New("proxy: closed")

// Stats is a snapshot of connection counts.
type Stats struct {
	Active   int            `json:"active"`   // client connections open on the gateway, in any stage
	Held     int            `json:"held"`     // of Active: waiting for a serving route
	Relayed  int            `json:"relayed"`  // of Active: connected to a backend and relaying
	Total    uint64         `json:"total"`    // client connections accepted, rejected ones included
	Rejected map[string]int `json:"rejected"` // by reason (only reasons seen)
	Cut      uint64         `json:"cut"`      // relayed connections cut by a newer epoch or a forced close
	Epoch    uint64         `json:"epoch"`
	LastCut  *CutStats      `json:"last_cut,omitempty"` // the latest cut that touched a connection
}

// CutStats describes one cut (a route change, routing turned off, a forced
// close): the connections it touched, and how long after it began every
// one was fenced (no byte to the old backend from then on) and every client
// was told (reset, or shut down at a forced close).
type CutStats struct {
	Connections int       `json:"connections"`
	FenceMs     float64   `json:"fence_ms"`
	NotifyMs    float64   `json:"notify_ms"`
	Began       time.Time `json:"began"` // when it began: the route was installed
	At          time.Time `json:"at"`    // when every client was told
}
