package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

func v2(cmd, famProto byte, addr []byte) []byte {
	b := append([]byte(nil), v2Sig...)
	b = append(b, 0x20|cmd, famProto, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(addr)))
	return append(b, addr...)
}

func TestParse(t *testing.T) {
	ip4 := []byte{10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0x1e, 0x07}
	ip6 := make([]byte, 36)
	ip6[15], ip6[31] = 1, 2
	binary.BigEndian.PutUint16(ip6[32:], 5000)
	binary.BigEndian.PutUint16(ip6[34:], 7687)
	withTLV := append(append([]byte(nil), ip4...), 0x04, 0x00, 0x02, 'h', 'i')

	tests := []struct {
		name    string
		in      []byte
		src     string // "" = no address
		n       int    // header length; 0 with wantErr
		wantErr error
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nBOLT"), "192.168.0.1:56324", 47, nil},
		{"v1 tcp6", []byte("PROXY TCP6 ::1 2001:db8::1 1 7687\r\n"), "[::1]:1", 35, nil},
		{"v1 unknown", []byte("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"), "", 31, nil},
		{"v1 unknown bare", []byte("PROXY UNKNOWN\r\n"), "", 15, nil},
		{"v1 partial", []byte("PROXY TCP4 1.2.3."), "", 0, ErrNeedMore},
		{"v1 signature partial", []byte("PRO"), "", 0, ErrNeedMore},
		{"empty", nil, "", 0, ErrNeedMore},
		{"v1 too long", append([]byte("PROXY TCP4 "), make([]byte, 200)...), "", 0, ErrInvalid},
		{"v1 bad proto", []byte("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n"), "", 0, ErrInvalid},
		{"v1 family mismatch", []byte("PROXY TCP4 ::1 ::1 1 2\r\n"), "", 0, ErrInvalid},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), "", 0, ErrInvalid},
		{"v1 port range", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n"), "", 0, ErrInvalid},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n"), "", 0, ErrInvalid},
		{"v1 double space", []byte("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n"), "", 0, ErrInvalid},
		{"v1 extra field", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n"), "", 0, ErrInvalid},
		{"v1 missing field", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), "", 0, ErrInvalid},
		{"v1 bare LF", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"), "", 0, ErrInvalid},
		{"bolt", []byte{0x60, 0x60, 0xb0, 0x17}, "", 0, ErrInvalid},
		{"http", []byte("GET / HTTP/1.1\r\n"), "", 0, ErrInvalid},
		{"v2 tcp4", v2(1, 0x11, ip4), "10.0.0.1:8080", 28, nil},
		{"v2 tcp4 with TLV", v2(1, 0x11, withTLV), "10.0.0.1:8080", 33, nil},
		{"v2 tcp6", v2(1, 0x21, ip6), "[::1]:5000", 52, nil},
		{"v2 local", v2(0, 0x00, nil), "", 16, nil},
		{"v2 local with junk addr", v2(0, 0x11, ip4), "", 28, nil},
		{"v2 unspec", v2(1, 0x00, nil), "", 16, nil},
		{"v2 udp4", v2(1, 0x12, ip4), "", 28, nil},
		{"v2 unix", v2(1, 0x31, make([]byte, 216)), "", 232, nil},
		{"v2 partial fixed", v2(1, 0x11, ip4)[:14], "", 0, ErrNeedMore},
		{"v2 partial addr", v2(1, 0x11, ip4)[:20], "", 0, ErrNeedMore},
		{"v2 short ipv4 block", v2(1, 0x11, ip4[:8]), "", 0, ErrInvalid},
		{"v2 short ipv6 block", v2(1, 0x21, ip6[:20]), "", 0, ErrInvalid},
		{"v2 bad version", append(append([]byte(nil), v2Sig...), 0x11), "", 0, ErrInvalid},
		{"v2 bad command", v2(2, 0x11, ip4), "", 0, ErrInvalid},
		{"v2 bad family", v2(1, 0x41, ip4), "", 0, ErrInvalid},
		{"v2 too long", v2(1, 0x11, make([]byte, 5000)), "", 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := Parse(tt.in, 4096)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if n != tt.n {
				t.Errorf("n = %d, want %d", n, tt.n)
			}
			got := ""
			if h.Source.IsValid() {
				got = h.Source.String()
			}
			if got != tt.src {
				t.Errorf("source = %q, want %q", got, tt.src)
			}
		})
	}
}

func TestParseV1Destination(t *testing.T) {
	h, _, err := Parse([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1000 7687\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddrPort("5.6.7.8:7687"); h.Destination != want || h.Version != 1 {
		t.Fatalf("got %+v", h)
	}
}

// TestParseIncremental feeds every valid header byte by byte: each strict
// prefix must ask for more, the whole must parse.
func TestParseIncremental(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
		v2(1, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}),
	} {
		for i := 0; i < len(in); i++ {
			if _, _, err := Parse(in[:i], 0); !errors.Is(err, ErrNeedMore) {
				t.Fatalf("%q[:%d]: err = %v, want ErrNeedMore", in, i, err)
			}
		}
		if _, n, err := Parse(in, 0); err != nil || n != len(in) {
			t.Fatalf("%q: n=%d err=%v", in, n, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}))
	f.Add(v2(1, 0x21, make([]byte, 40)))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b, 512)
		if err != nil {
			if !errors.Is(err, ErrNeedMore) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) || n > 512 {
			t.Fatalf("n = %d out of range (len %d)", n, len(b))
		}
		if h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d", h.Version)
		}
		// Parsing the header alone gives the same result.
		h2, n2, err := Parse(b[:n], 512)
		if err != nil || n2 != n || h2 != h {
			t.Fatalf("reparse: %+v %d %v vs %+v %d", h2, n2, err, h, n)
		}
	})
}
