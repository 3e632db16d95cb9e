package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Proxy relays Bolt connections to the backend chosen by the current Route.
// All methods are safe for concurrent use.
type Proxy struct {
	cfg    Config
	log    *zap.Logger
	m      *metrics
	ips    *ipLimiter
	reg    *registry
	dialFn func(ctx context.Context, network, addr string) (net.Conn, error)
	bufs   sync.Pool // *buffer
	loops  loopSet   // event loops of relayed plain-TCP connections

	routeMu sync.Mutex // serialises SetRoute and UpdateReplicas
	table   atomic.Pointer[routeTable]
	rr      atomic.Uint64 // read-only round-robin cursor

	open atomic.Int64 // connections counted against MaxConnections

	// Shutdown: stopCtx is cancelled and draining set once Drain or Close
	// begins; mu guards stopped, the listeners and wg.Add.
	stopCtx   context.Context
	stopFn    context.CancelFunc
	draining  atomic.Bool
	mu        sync.Mutex
	stopped   bool
	listeners map[net.Listener]struct{}
	wg        sync.WaitGroup // one per connection goroutine
	bg        sync.WaitGroup // background work: the second phase of cuts

	rejectLogs [numReasons]rateLog
	acceptLog  rateLog
}

// New validates cfg, fills defaults and registers metrics on reg (nil: none).
// A nil log discards logs.
func New(cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:       cfg,
		log:       log,
		m:         m,
		ips:       newIPLimiter(cfg),
		dialFn:    cfg.Dial,
		listeners: map[net.Listener]struct{}{},
	}
	p.bufs.New = func() any { return new(buffer) }
	if p.dialFn == nil {
		d := &net.Dialer{KeepAliveConfig: keepAliveConfig(cfg.KeepAlive)}
		if cfg.KeepAlive < 0 {
			d.KeepAlive = -1
		}
		p.dialFn = d.DialContext
	}
	p.table.Store(&routeTable{routing: true, changed: make(chan struct{})})
	p.reg = newRegistry(&p.table, &p.draining)
	p.reg.kick, p.reg.notifyLoops, p.reg.cutDone = p.kickLoops, p.notifyLoops, p.m.cutDone
	p.stopCtx, p.stopFn = context.WithCancel(context.Background())
	return p, nil
}

// Serve accepts connections on ln for the given role until ln fails, Close or
// Drain is called (then it returns ErrClosed). Each accepted connection is
// served on its own goroutine, which Close and Drain wait for. Serve closes ln
// when the proxy stops.
func (p *Proxy) Serve(ln net.Listener, role Role) error {
	rc, ok := p.m.roles[role]
	if !ok {
		return fmt.Errorf("proxy: unknown listener role %q: use %q or %q", role, RoleReadWrite, RoleReadOnly)
	}
	if !p.addListener(ln) {
		_ = ln.Close()
		return ErrClosed
	}
	defer p.removeListener(ln)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if p.stopping() {
				return ErrClosed
			}
			if !temporaryAcceptError(err) {
				return fmt.Errorf("proxy: accept on %s: %w", ln.Addr(), err)
			}
			// Out of file descriptors or similar: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.logAcceptError(ln.Addr().String(), err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-p.stopCtx.Done():
				t.Stop()
				return ErrClosed
			}
			continue
		}
		backoff = 0
		p.accept(nc, role, rc)
	}
}

// accept applies the limits that cost nothing to read (global count, and the
// per-IP ones when the socket address is the client's), then hands the
// connection to its goroutine.
func (p *Proxy) accept(nc net.Conn, role Role, rc roleCounters) {
	now := time.Now()
	p.m.nTotal.Add(1)
	rc.total.Inc()
	remote := addrPort(nc.RemoteAddr())
	if p.open.Add(1) > int64(p.cfg.MaxConnections) {
		p.open.Add(-1)
		p.rejectEarly(nc, reasonLimit, remote, fmt.Errorf("proxy: %d connections open (MaxConnections)", p.cfg.MaxConnections))
		return
	}
	var ip *ipEntry
	if !p.cfg.ProxyProtocol {
		e, r, ok := p.ips.admit(remote.Addr(), now)
		if !ok {
			p.open.Add(-1)
			p.rejectEarly(nc, r, remote, fmt.Errorf("proxy: %s limit reached for %s", r, remote.Addr()))
			return
		}
		ip = e
	}
	c := &conn{p: p, role: role, accepted: now, client: newSide(nc), remote: remote, ip: ip}
	p.m.nActive.Add(1)
	rc.active.Inc()
	if !p.track(c) {
		c.reject(reasonDraining, errDraining)
		c.finish()
		return
	}
	go c.serve()
}

// rejectEarly refuses a connection in the accept loop, before any goroutine
// or buffer is spent on it; the reset leaves no TIME_WAIT behind.
func (p *Proxy) rejectEarly(nc net.Conn, r reason, remote fmt.Stringer, err error) {
	p.m.reject(r)
	p.logReject(r, remote.String(), "", err)
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

// track registers c and counts its goroutine, unless the proxy is stopping.
func (p *Proxy) track(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.wg.Add(1)
	p.reg.add(c)
	return true
}

func (p *Proxy) stopping() bool { return p.draining.Load() }

func (p *Proxy) addListener(ln net.Listener) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.listeners[ln] = struct{}{}
	return true
}

func (p *Proxy) removeListener(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.listeners, ln)
}

// beginStop stops accepting: it marks the proxy draining, cancels holds and
// dials, and closes every listener. Idempotent.
func (p *Proxy) beginStop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	p.draining.Store(true)
	p.stopFn()
	for ln := range p.listeners {
		_ = ln.Close()
	}
}

// drainPoll is how often Drain checks whether the connections have ended.
const drainPoll = 10 * time.Millisecond

// Drain stops accepting on every listener (Serve returns ErrClosed), closes
// connections that are not relaying yet (handshaking, held, dialing), and
// lets relayed connections end by themselves until ctx is done; then it
// closes the rest. It returns when every connection goroutine has ended: nil
// if all ended in time, else an error wrapping ctx.Err() that says how many
// were closed.
func (p *Proxy) Drain(ctx context.Context) error {
	p.beginStop()
	p.reg.cutPending()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for p.open.Load() > 0 {
		select {
		case <-ctx.Done():
			n := p.reg.cutAll()
			p.m.addCut(n)
			p.bg.Wait()
			p.wg.Wait()
			p.stopLoops()
			p.log.Info("drain deadline: closed the remaining connections", zap.Int("closed", n))
			return fmt.Errorf("proxy: drain: closed %d relayed connections at the deadline: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
	p.bg.Wait()
	p.wg.Wait()
	p.stopLoops()
	return nil
}

// Close closes listeners and every connection at once, and returns when
// every connection goroutine has ended. Idempotent.
func (p *Proxy) Close() error {
	p.beginStop()
	p.m.addCut(p.reg.cutAll())
	p.bg.Wait()
	p.wg.Wait()
	p.stopLoops()
	return nil
}

// inBackground runs f on a goroutine that Close and Drain wait for, or
// inline once the proxy is stopping.
func (p *Proxy) inBackground(f func()) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		f()
		return
	}
	p.bg.Add(1)
	p.mu.Unlock()
	go p.runBackground(f)
}

func (p *Proxy) runBackground(f func()) {
	defer p.bg.Done()
	f()
}

// Stats returns connection counts.
func (p *Proxy) Stats() Stats {
	return p.m.stats(p.table.Load().route.Epoch)
}

// temporaryAcceptError reports whether Accept may succeed if retried later.
func temporaryAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
