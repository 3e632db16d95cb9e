package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// maxStaleRetries bounds how often a connection re-routes because the route
// changed while it was dialing.
const maxStaleRetries = 4

// connect chooses the backend from the current route, holding the connection
// while there is none, dials it, registers the connection under the route's
// epoch and forwards the preamble. A route change during the dial makes it
// start over: the client has seen nothing yet, so the switch is invisible.
func (c *conn) connect() (*side, reason, error) {
	p := c.p
	var (
		holding  bool
		deadline <-chan time.Time
	)
	defer func() {
		if holding {
			p.releaseHold()
		}
	}()
	var (
		cur     *routeTable // the table the candidates come from
		start   uint64      // its round-robin draw
		next    int         // the next candidate to try
		stale   int         // route changes during a dial
		lastErr error       // the last failed dial of cur
	)
	for {
		t := p.table.Load()
		if t != cur {
			cur, start, next, lastErr = t, p.rr.Add(1)-1, 0, nil
		}
		b, ok := t.candidate(c.role, p.cfg.ReadFromMain, start, next)
		if !ok && lastErr != nil {
			return nil, reasonDialError, lastErr // every candidate failed
		}
		if !ok {
			if p.cfg.HoldTimeout < 0 {
				return nil, reasonNoRoute, fmt.Errorf("proxy: no %s backend at route epoch %d (phase %q)", c.role, t.route.Epoch, t.route.Phase)
			}
			if deadline == nil {
				timer := time.NewTimer(p.cfg.HoldTimeout)
				defer timer.Stop()
				deadline = timer.C
			}
			if !holding {
				if !p.acquireHold() {
					return nil, reasonHoldFull, fmt.Errorf("proxy: %d connections already held (MaxHeld)", p.cfg.MaxHeld)
				}
				holding = true
				c.event("held", attribute.Int64("epoch", int64(t.route.Epoch)), attribute.String("phase", string(t.route.Phase)))
			}
			select {
			case <-t.changed:
				continue
			case <-deadline:
				return nil, reasonHoldTimeout, fmt.Errorf("proxy: no %s backend within the hold timeout %v (epoch %d, phase %q)",
					c.role, p.cfg.HoldTimeout, t.route.Epoch, t.route.Phase)
			case <-p.stopCtx.Done():
				return nil, reasonDraining, errDraining
			}
		}
		if holding {
			p.releaseHold()
			holding = false
			c.event("released", attribute.Int64("epoch", int64(t.route.Epoch)))
			if clientGone(c.client) {
				return nil, reasonClientLeft, errors.New("proxy: client left while held")
			}
		}
		bs, err := c.tracedDial(b)
		if err != nil {
			if p.cfg.OnDialError != nil {
				p.cfg.OnDialError(b, err)
			}
			// A read-only connection tries the next replica (then the
			// MAIN if allowed): the client has seen nothing yet.
			next++
			if _, more := t.candidate(c.role, p.cfg.ReadFromMain, start, next); more {
				lastErr = err
				c.event("dial failed, trying the next backend", attribute.String("backend", b.Name))
				p.log.Debug("dial failed, trying the next backend", zap.String("backend", b.Name), zap.Error(err))
				continue
			}
			return nil, reasonDialError, err
		}
		if err := p.reg.promote(c, t, bs); err != nil {
			bs.abort()
			if errors.Is(err, errStale) && stale < maxStaleRetries {
				stale++
				continue
			}
			if errors.Is(err, errDraining) {
				return nil, reasonDraining, err
			}
			return nil, reasonNoRoute, err
		}
		if c.span != nil {
			c.span.SetAttributes(attribute.Int64("epoch", int64(t.route.Epoch)), attribute.String("backend", b.Name))
		}
		if err := c.sendPreamble(bs); err != nil {
			bs.abort()
			return nil, reasonDialError, fmt.Errorf("proxy: send preamble to %s (%s): %w", b.Name, b.Addr, err)
		}
		return bs, 0, nil
	}
}

// tracedDial dials b, in a "proxy.dial" child span of the setup span when
// there is one.
func (c *conn) tracedDial(b Backend) (*side, error) {
	if c.span == nil {
		return c.p.dial(b)
	}
	_, span := c.p.cfg.Tracer.Start(trace.ContextWithSpan(context.Background(), c.span), "proxy.dial",
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("backend", b.Name), attribute.String("backend.addr", b.Addr)))
	defer span.End()
	bs, err := c.p.dial(b)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "dial failed")
	}
	return bs, err
}

// sendPreamble forwards the client's preamble, and any bytes it sent after
// it, to the backend in one write.
func (c *conn) sendPreamble(b *side) error {
	msg := c.pre[:]
	if len(c.rest) > 0 {
		msg = append(msg[:len(msg):len(msg)], c.rest...)
		c.rest = nil
	}
	_, err := guardedWrite(c, &c.writing[0], b, msg)
	return err
}

func (p *Proxy) acquireHold() bool {
	if p.m.nHeld.Add(1) > int64(p.cfg.MaxHeld) {
		p.m.nHeld.Add(-1)
		return false
	}
	p.m.held.Inc()
	return true
}

func (p *Proxy) releaseHold() {
	p.m.nHeld.Add(-1)
	p.m.held.Dec()
}

// dial connects to a backend within DialTimeout (cancelled by Drain and
// Close), TLS included, and records the time it took.
func (p *Proxy) dial(b Backend) (*side, error) {
	ctx, cancel := context.WithTimeout(p.stopCtx, p.cfg.DialTimeout)
	defer cancel()
	start := time.Now()
	s, err := p.dialBackend(ctx, b)
	p.m.dial.Observe(time.Since(start).Seconds())
	return s, err
}

func (p *Proxy) dialBackend(ctx context.Context, b Backend) (*side, error) {
	nc, err := p.dialFn(ctx, "tcp", b.Addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: dial %s (%s): %w", b.Name, b.Addr, err)
	}
	s := newSide(nc)
	if p.cfg.Dial != nil && s.tcp != nil {
		setKeepAlive(s.tcp, p.cfg.KeepAlive)
	}
	if p.cfg.BackendTLS != nil {
		tc := tls.Client(nc, p.backendTLS(b.Addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.abort()
			return nil, fmt.Errorf("proxy: tls handshake with %s (%s): %w", b.Name, b.Addr, err)
		}
		s.conn = tc
	}
	return s, nil
}

// DialBackend opens a connection to addr as relayed connections are opened
// (the dialer, keepalive, backend TLS and its server name), for probes of
// a backend; the caller closes it. ctx bounds the dial and the handshake.
func (p *Proxy) DialBackend(ctx context.Context, addr string) (net.Conn, error) {
	s, err := p.dialBackend(ctx, Backend{Name: addr, Addr: addr})
	if err != nil {
		return nil, err
	}
	return s.conn, nil
}

// backendTLS returns the backend TLS config for addr, with ServerName taken
// from addr's host when the config leaves it empty.
func (p *Proxy) backendTLS(addr string) *tls.Config {
	cfg := p.cfg.BackendTLS
	if cfg.ServerName != "" || cfg.InsecureSkipVerify {
		return cfg
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return cfg
	}
	cfg = cfg.Clone()
	cfg.ServerName = host
	return cfg
}

// keepAliveConfig probes after ka of silence, then every quarter of it (at
// least 1s), and gives up after 4 unanswered probes.
func keepAliveConfig(ka time.Duration) net.KeepAliveConfig {
	if ka < 0 {
		return net.KeepAliveConfig{Enable: false}
	}
	return net.KeepAliveConfig{Enable: true, Idle: ka, Interval: max(time.Second, ka/4), Count: 4}
}

func setKeepAlive(c *net.TCPConn, ka time.Duration) {
	if ka < 0 {
		_ = c.SetKeepAlive(false)
		return
	}
	_ = c.SetKeepAliveConfig(keepAliveConfig(ka))
}
