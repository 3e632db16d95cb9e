package proxy

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipTableMin is the smallest per-IP table; the table holds at least four
// times MaxConnections entries so that live entries never fill it.
const (
	ipTableMin   = 16384
	ipSweepEvery = time.Minute
)

// ipLimiter enforces the per-source-IP connection count and connection rate.
// Its table is bounded: an entry with no open connection is dropped once its
// token bucket is full again (it then carries no information), lazily, at
// most every ipSweepEvery or when the table is full; when full and nothing
// has rested, idle entries are dropped anyway (a flood from that many
// addresses defeats a per-IP rate limit regardless). Entries with open
// connections are never dropped and number at most MaxConnections.
type ipLimiter struct {
	v6bits     int // IPv6 clients are counted per prefix of this length
	maxPerIP   int
	limit      rate.Limit
	burst      int
	maxEntries int

	mu        sync.Mutex
	table     map[netip.Addr]*ipEntry
	lastSweep time.Time
}

type ipEntry struct {
	addr   netip.Addr
	active int           // guarded by ipLimiter.mu
	bucket *rate.Limiter // nil without a rate limit
}

func newIPLimiter(cfg Config) *ipLimiter {
	return &ipLimiter{
		v6bits:     cfg.IPv6PrefixLength,
		maxPerIP:   cfg.MaxConnectionsPerIP,
		limit:      rate.Limit(cfg.ConnRatePerIP),
		burst:      cfg.ConnBurstPerIP,
		maxEntries: max(ipTableMin, 4*cfg.MaxConnections),
		table:      map[netip.Addr]*ipEntry{},
	}
}

func (l *ipLimiter) enabled() bool { return l.maxPerIP > 0 || l.limit > 0 }

// admit counts a new connection from ip. It returns the entry to release when
// the connection ends (nil when per-IP limits are off), or the reason to
// refuse it.
func (l *ipLimiter) admit(ip netip.Addr, now time.Time) (*ipEntry, reason, bool) {
	if !l.enabled() || !ip.IsValid() {
		return nil, 0, true
	}
	ip = l.key(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= ipSweepEvery {
		l.sweep(now, false)
	}
	e := l.table[ip]
	if e == nil {
		if len(l.table) >= l.maxEntries {
			l.sweep(now, true)
		}
		e = &ipEntry{addr: ip}
		if l.limit > 0 {
			e.bucket = rate.NewLimiter(l.limit, l.burst)
		}
		l.table[ip] = e
	}
	if l.maxPerIP > 0 && e.active >= l.maxPerIP {
		return nil, reasonPerIP, false
	}
	if e.bucket != nil && !e.bucket.AllowN(now, 1) {
		return nil, reasonRate, false
	}
	e.active++
	return e, 0, true
}

// key is what the limits count ip under: an IPv4 address as is, an IPv6
// address by its first v6bits bits (a host usually controls a whole /64,
// so counting each address alone would let one client multiply its quota
// by 2^64), without its zone.
func (l *ipLimiter) key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if !ip.Is6() || l.v6bits >= 128 || l.v6bits <= 0 {
		return ip
	}
	p, err := ip.Prefix(l.v6bits)
	if err != nil {
		return ip
	}
	return p.Addr()
}

// release ends a connection admitted with e.
func (l *ipLimiter) release(e *ipEntry) {
	if e == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.active--
	if e.active == 0 && e.bucket == nil {
		delete(l.table, e.addr)
	}
}

// sweep drops idle entries whose bucket is full. When force is set and the
// table is still over three quarters full, it drops idle entries regardless.
func (l *ipLimiter) sweep(now time.Time, force bool) {
	l.lastSweep = now
	for ip, e := range l.table {
		if e.active == 0 && (e.bucket == nil || e.bucket.TokensAt(now) >= float64(l.burst)) {
			delete(l.table, ip)
		}
	}
	if !force {
		return
	}
	for ip, e := range l.table {
		if len(l.table) <= l.maxEntries*3/4 {
			break
		}
		if e.active == 0 {
			delete(l.table, ip)
		}
	}
}

func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.table)
}

// netipUnmap returns ap with an IPv4-mapped address unmapped.
func netipUnmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// addrPort returns a connection address as an AddrPort (zero if it has none).
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return netipUnmap(t.AddrPort())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netipUnmap(ap)
}
