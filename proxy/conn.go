package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// conn is one client connection, from admission to its end. Its goroutine
// (serve) runs the stages in order: handshake, route (hold, dial), relay.
type conn struct {
	p        *Proxy
	role     Role
	accepted time.Time
	client   *side
	remote   netip.AddrPort // the client: from the socket, or from the PROXY header
	ip       *ipEntry       // per-IP admission to release; nil when none

	pre  [preambleLen]byte // the client's Bolt preamble
	rest []byte            // client bytes read past the PROXY header and the preamble

	// cut is set when the proxy closes the connection (new epoch, Drain,
	// Close): no write may start any more, and its goroutines abort instead
	// of half-closing. writing[0] (towards the backend) and writing[1]
	// (towards the client) are raised around every write; see pipe.write.
	cut     atomic.Bool
	writing [2]atomic.Bool

	// Guarded by the registry shard lock (and published by cut).
	gate    chan struct{} // closed when the cut that marked the connection is done
	shard   uint32
	epoch   uint64 // route epoch it relays under; 0 before relaying
	backend *side

	// loop is the event loop that owns the relay, once handed off.
	loop atomic.Pointer[evloop]

	// span is the connection-setup span (Config.Tracer); nil without one.
	span trace.Span
}

// serve runs the connection's stages; it owns c and closes it.
func (c *conn) serve() {
	if c.stages() {
		c.finish()
		c.p.wg.Done()
	}
}

// stages runs the handshake, the connect and the relay. It reports whether
// the connection ended here (false: an event loop owns it now and ends it).
func (c *conn) stages() bool {
	if c.p.cfg.Tracer != nil {
		_, c.span = c.p.cfg.Tracer.Start(context.Background(), "proxy.connect",
			trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(c.accepted),
			trace.WithAttributes(attribute.String("listener", string(c.role)), attribute.String("client", c.remote.String())))
	}
	if r, err := c.handshake(); err != nil {
		c.reject(r, err)
		return true
	}
	b, r, err := c.connect()
	if err != nil {
		c.reject(r, err)
		return true
	}
	if c.span != nil {
		c.span.End()
	}
	return c.relay(b)
}

// event adds an event to the setup span, if any.
func (c *conn) event(name string, attrs ...attribute.KeyValue) {
	if c.span != nil {
		c.span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}

// traceID is the setup span's trace id for log lines ("" without one).
func (c *conn) traceID() string {
	if c.span == nil || !c.span.SpanContext().IsSampled() {
		return ""
	}
	return c.span.SpanContext().TraceID().String()
}

// reject counts, logs and closes a connection that will not be relayed.
func (c *conn) reject(r reason, err error) {
	if c.p.stopping() && r != reasonDialError {
		r = reasonDraining
	}
	c.p.m.reject(r)
	c.p.logReject(r, c.remote.String(), c.traceID(), err)
	if c.span != nil {
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, r.String())
		c.span.End()
	}
	switch r {
	case reasonPerIP, reasonRate:
		c.client.abort() // floods: no TIME_WAIT, no goodbye
	default:
		c.client.close()
	}
}

// finish closes the client (again, harmlessly, when a stage already did) and
// releases what admission took.
func (c *conn) finish() {
	c.client.close()
	c.p.reg.remove(c)
	c.p.ips.release(c.ip)
	c.p.m.nActive.Add(-1)
	c.p.m.roles[c.role].active.Dec()
	c.p.open.Add(-1)
}

// fenceWriters completes the fence of a connection marked cut (see
// registry.cut): a write in flight, which may block for as long as the peer
// does not read, is ended by shutting its socket down.
func (c *conn) fenceWriters(x victim) {
	if x.backend != nil && c.writing[0].Load() {
		x.backend.cut()
	}
	if c.writing[1].Load() {
		x.client.cut()
	}
}

// handshakeReason classifies a handshake-stage error.
func handshakeReason(err error, otherwise reason) reason {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return reasonHandshakeTimeout
	}
	return otherwise
}
