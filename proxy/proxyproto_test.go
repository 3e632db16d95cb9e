package proxy

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func proxyV1(src string) []byte {
	ap := netip.MustParseAddrPort(src)
	return []byte("PROXY TCP4 " + ap.Addr().String() + " 10.9.9.9 " + strconv.Itoa(int(ap.Port())) + " 7687\r\n")
}

func proxyV2(src string) []byte {
	ap := netip.MustParseAddrPort(src)
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11, 0, 12+7)
	a := ap.Addr().As4()
	b = append(b, a[:]...)
	b = append(b, 10, 9, 9, 9)
	b = binary.BigEndian.AppendUint16(b, ap.Port())
	b = binary.BigEndian.AppendUint16(b, 7687)
	return append(b, 0x04, 0x00, 0x04, 'v', 'p', 'c', 'e') // a TLV, skipped
}

func TestProxyProtocol(t *testing.T) {
	tests := []struct {
		name   string
		header func(src string) []byte
	}{
		{"v1", proxyV1},
		{"v2", proxyV2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newFakeBackend(t, "m1")
			tp := newTestProxy(t, Config{ProxyProtocol: true, MaxConnectionsPerIP: 1})
			tp.SetRoute(serving(1, be))

			// Header and preamble in one write: the header is stripped, the
			// backend sees pure Bolt.
			c1 := dialBolt(t, tp.addr(), tt.header("192.0.2.10:4000")...)
			echo(t, c1, []byte("hello"))
			if got := be.seen(); len(got) != 1 || !bytes.Equal(got[0], testPreamble) {
				t.Fatalf("backend saw %x, want the bare preamble", got)
			}

			// Header alone, then the preamble later.
			c2 := dialRaw(t, tp.addr())
			c2.Write(tt.header("192.0.2.11:4000"))
			time.Sleep(20 * time.Millisecond)
			c2.Write(testPreamble)
			expectVersion(t, c2)

			// Per-IP limits apply to the header's address, not the socket's
			// (all connections here come from 127.0.0.1).
			c3 := dialRaw(t, tp.addr())
			c3.Write(append(tt.header("192.0.2.10:4001"), testPreamble...))
			expectClosed(t, c3, 5*time.Second)
			eventually(t, 5*time.Second, "per-ip rejection", func() bool { return rejected(tp.Proxy, "per-ip") == 1 })
			if n := be.accepted.Load(); n != 2 {
				t.Fatalf("backend accepted %d, want 2", n)
			}
		})
	}
}

func TestProxyProtocolRejects(t *testing.T) {
	tests := []struct {
		name   string
		send   []byte
		reason string
	}{
		{"no header", testPreamble, "proxy-header"},
		{"garbage", []byte("HELLO WORLD\r\n"), "proxy-header"},
		{"v1 bad address", []byte("PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n"), "proxy-header"},
		{"truncated v1", []byte("PROXY TCP4 1.2.3.4"), "handshake-timeout"},
		{"header then not bolt", append(proxyV1("192.0.2.1:1"), "GET / HTTP/1.1\r\n\r\n"...), "not-bolt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newFakeBackend(t, "m1")
			tp := newTestProxy(t, Config{ProxyProtocol: true, HandshakeTimeout: 150 * time.Millisecond})
			tp.SetRoute(serving(1, be))
			c := dialRaw(t, tp.addr())
			c.Write(tt.send)
			expectClosed(t, c, 5*time.Second)
			eventually(t, 5*time.Second, tt.reason, func() bool { return rejected(tp.Proxy, tt.reason) == 1 })
			if n := be.accepted.Load(); n != 0 {
				t.Fatalf("backend accepted %d", n)
			}
		})
	}
}
