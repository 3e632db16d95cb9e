package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestRejectBeforeDial: bad or slow clients are closed without any backend
// connection, and counted by reason.
func TestRejectBeforeDial(t *testing.T) {
	tests := []struct {
		name   string
		send   []byte
		close  bool // close the client after sending
		reason string
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "not-bolt"},
		{"one wrong byte", []byte{0x16}, false, "not-bolt"},
		{"tls hello to a plain listener", []byte{0x16, 0x03, 0x01, 0x02, 0x00}, false, "not-bolt"},
		{"magic then wrong", []byte{0x60, 0x60, 0xB0, 0x18}, false, "not-bolt"},
		{"slow: magic only", []byte{0x60, 0x60, 0xB0, 0x17}, false, "handshake-timeout"},
		{"silent", nil, false, "handshake-timeout"},
		{"left mid-preamble", testPreamble[:10], true, "handshake-error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newFakeBackend(t, "m1")
			tp := newTestProxy(t, Config{HandshakeTimeout: 150 * time.Millisecond})
			tp.SetRoute(serving(1, be))
			c := dialRaw(t, tp.addr())
			start := time.Now()
			if len(tt.send) > 0 {
				if _, err := c.Write(tt.send); err != nil {
					t.Fatal(err)
				}
			}
			if tt.close {
				c.Close()
			} else {
				expectClosed(t, c, 5*time.Second)
				if tt.reason == "not-bolt" && time.Since(start) > 100*time.Millisecond {
					t.Errorf("not-bolt took %v: it should not wait for the timeout", time.Since(start))
				}
			}
			eventually(t, 5*time.Second, tt.reason, func() bool { return rejected(tp.Proxy, tt.reason) == 1 })
			if n := be.accepted.Load(); n != 0 {
				t.Fatalf("backend accepted %d connections", n)
			}
			if st := tp.Stats(); len(st.Rejected) != 1 {
				t.Fatalf("rejected %v, want only %s", st.Rejected, tt.reason)
			}
		})
	}
}

// TestLimitFloods: global, per-IP and rate limits refuse floods before any
// backend is dialed. The admitted connections stay silent (no preamble), so
// the backend must see nothing at all.
func TestLimitFloods(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		admitted int
		reason   string
	}{
		{"global", Config{MaxConnections: 5}, 5, "limit"},
		{"per ip", Config{MaxConnectionsPerIP: 3}, 3, "per-ip"},
		{"rate", Config{ConnRatePerIP: 0.01, ConnBurstPerIP: 4}, 4, "rate"},
	}
	const flood = 50
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newFakeBackend(t, "m1")
			tt.cfg.HandshakeTimeout = 10 * time.Second
			tp := newTestProxy(t, tt.cfg)
			tp.SetRoute(serving(1, be))
			for range tt.admitted {
				dialRaw(t, tp.addr())
			}
			eventually(t, 5*time.Second, "admitted", func() bool { return tp.Stats().Active == tt.admitted })
			for range flood {
				// The reset may even beat connect's return on loopback.
				if c, err := net.Dial("tcp", tp.addr()); err == nil {
					expectClosed(t, c, 5*time.Second)
					c.Close()
				}
			}
			eventually(t, 5*time.Second, "rejections", func() bool { return rejected(tp.Proxy, tt.reason) == flood })
			st := tp.Stats()
			if st.Active != tt.admitted || st.Total != uint64(tt.admitted+flood) {
				t.Fatalf("stats %+v", st)
			}
			if n := be.accepted.Load(); n != 0 {
				t.Fatalf("backend accepted %d connections", n)
			}
		})
	}
}

// TestPerIPSlotsReturn: a closed connection gives its per-IP slot back.
func TestPerIPSlotsReturn(t *testing.T) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{MaxConnectionsPerIP: 1})
	tp.SetRoute(serving(1, be))
	for range 5 {
		c := dialBolt(t, tp.addr())
		echo(t, c, []byte("x"))
		c.Close()
		eventually(t, 5*time.Second, "slot back", func() bool { return tp.Stats().Active == 0 })
	}
	if tp.ips.size() != 0 {
		t.Fatalf("per-IP table keeps %d entries without a rate limit", tp.ips.size())
	}
}

func TestIPLimiterTable(t *testing.T) {
	l := newIPLimiter(Config{MaxConnections: 10, ConnRatePerIP: 10, ConnBurstPerIP: 2}.withDefaults())
	l.maxEntries = 2000 // the default is at least 16384: keep the test quick
	now := time.Unix(1000, 0)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }

	// The bucket: 2 at once, then refused until it refills.
	a := ip(1)
	e1, _, ok1 := l.admit(a, now)
	e2, _, ok2 := l.admit(a, now)
	_, r, ok3 := l.admit(a, now)
	if !ok1 || !ok2 || ok3 || r != reasonRate {
		t.Fatalf("burst: %v %v %v %v", ok1, ok2, ok3, r)
	}
	if _, _, ok := l.admit(a, now.Add(100*time.Millisecond)); !ok {
		t.Fatal("a token should have refilled after 100ms at 10/s")
	}
	l.release(e1)
	l.release(e2)

	// Flood from many addresses: the table stays bounded.
	for i := range 3 * l.maxEntries {
		if e, _, ok := l.admit(ip(i+2), now); ok {
			l.release(e)
		}
		if n := len(l.table); n > l.maxEntries {
			t.Fatalf("table grew to %d (max %d)", n, l.maxEntries)
		}
	}
	// Rested entries expire on the periodic sweep.
	l.admit(ip(99999999), now.Add(2*ipSweepEvery))
	if n := l.size(); n > 2 {
		t.Fatalf("%d entries after expiry, want at most 2 (the live one and the new one)", n)
	}
}

func TestIPLimiterKeepsLiveEntries(t *testing.T) {
	l := newIPLimiter(Config{MaxConnections: 10, MaxConnectionsPerIP: 1}.withDefaults())
	l.maxEntries = 8
	now := time.Now()
	live, _, _ := l.admit(netip.MustParseAddr("192.0.2.1"), now)
	for i := range 100 {
		l.admit(netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", i)), now)
	}
	if _, r, ok := l.admit(netip.MustParseAddr("192.0.2.1"), now); ok || r != reasonPerIP {
		t.Fatal("the live entry was evicted: its per-IP count was lost")
	}
	l.release(live)
}

func TestIPLimiterIPv6Prefix(t *testing.T) {
	tests := []struct {
		name   string
		bits   int
		a, b   string
		shared bool // b counts against a's quota
	}{
		{"same /64 by default", 0, "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"other /64", 0, "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"zone ignored", 0, "fe80::1%eth0", "fe80::2%eth1", true},
		{"each address with 128", 128, "2001:db8:1:2::1", "2001:db8:1:2::2", false},
		{"same /48", 48, "2001:db8:1:2::1", "2001:db8:1:ff::1", true},
		{"IPv4 per address", 0, "192.0.2.1", "192.0.2.2", false},
		{"IPv4-mapped is IPv4", 0, "::ffff:192.0.2.1", "192.0.2.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{MaxConnectionsPerIP: 1, IPv6PrefixLength: tt.bits}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			l := newIPLimiter(cfg.withDefaults())
			now := time.Now()
			if _, _, ok := l.admit(netip.MustParseAddr(tt.a), now); !ok {
				t.Fatal("first connection refused")
			}
			_, r, ok := l.admit(netip.MustParseAddr(tt.b), now)
			if tt.shared && (ok || r != reasonPerIP) {
				t.Errorf("%s admitted beside %s: they must share one quota", tt.b, tt.a)
			}
			if !tt.shared && !ok {
				t.Errorf("%s refused (%v): it must not share %s's quota", tt.b, r, tt.a)
			}
		})
	}
}
