package bolt

import (
	"io"
	"net"
	"testing"
	"time"
)

// Proposals of real drivers (reference section 3).
var (
	goDriver5284 = [][4]byte{proposal(0, 1, 0xFF), proposal(8, 8, 5), proposal(2, 4, 4), proposal(0, 0, 3)}
	goDriver525  = [][4]byte{proposal(7, 7, 5), proposal(2, 4, 4), proposal(0, 1, 4), proposal(0, 0, 3)}
	driver44     = [][4]byte{proposal(2, 4, 4), proposal(0, 1, 4), proposal(0, 0, 4), proposal(0, 0, 3)}
)

func toArray(p [][4]byte) [16]byte {
	var a [16]byte
	for i, s := range p {
		copy(a[4*i:], s[:])
	}
	return a
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name      string
		proposals [][4]byte
		supported []Version
		want      Version
		ok        bool
	}{
		{"go driver 5.28.4", goDriver5284, DefaultVersions(), Version{5, 2}, true},
		{"go driver 5.28.4 before 3.12", goDriver5284, VersionsBefore312(), Version{5, 2}, true},
		{"go driver 5.25", goDriver525, DefaultVersions(), Version{5, 2}, true},
		{"4.4 driver on 3.12", driver44, DefaultVersions(), Version{4, 4}, true},
		{"4.4 driver before 3.12", driver44, VersionsBefore312(), Version{4, 3}, true},
		{"exact 4.0 matches without range", [][4]byte{proposal(0, 0, 4)}, DefaultVersions(), Version{4, 0}, true},
		{"range reaches 4.0", [][4]byte{proposal(4, 4, 4)}, []Version{{4, 0}}, Version{4, 0}, true},
		{"range clamped at minor", [][4]byte{proposal(200, 1, 4)}, []Version{{4, 0}}, Version{4, 0}, true},
		{"range too short", [][4]byte{proposal(1, 4, 4)}, []Version{{4, 0}, {4, 1}}, Version{}, false},
		{"only 3.0", [][4]byte{proposal(0, 0, 3)}, DefaultVersions(), Version{}, false},
		{"bolt 1 not emulated", [][4]byte{proposal(0, 0, 1)}, DefaultVersions(), Version{}, false},
		{"all zero", nil, DefaultVersions(), Version{}, false},
		{"zero slot ends the search", [][4]byte{proposal(0, 0, 3), proposal(0, 0, 0), proposal(0, 2, 5)}, DefaultVersions(), Version{}, false},
		{"slot with only a range byte ends the search", [][4]byte{proposal(5, 0, 0), proposal(0, 2, 5)}, DefaultVersions(), Version{}, false},
		{"first slot wins", [][4]byte{proposal(0, 1, 4), proposal(0, 2, 5)}, DefaultVersions(), Version{4, 1}, true},
		{"highest minor first", [][4]byte{proposal(3, 4, 4)}, DefaultVersions(), Version{4, 4}, true},
		{"5.2 only via range", [][4]byte{proposal(0, 8, 5)}, DefaultVersions(), Version{}, false},
		{"first byte ignored", [][4]byte{{0xAA, 0, 2, 5}}, DefaultVersions(), Version{5, 2}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Negotiate(toArray(tc.proposals), tc.supported)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Negotiate = %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestHandshakeSocket runs handshakes against a server: the reply bytes,
// or a close without any byte.
func TestHandshakeSocket(t *testing.T) {
	b := newFakeBackend()
	_, addr312 := startServer(t, Config{}, b)
	_, addrOld := startServer(t, Config{Versions: VersionsBefore312()}, b)
	tests := []struct {
		name  string
		addr  string
		bytes []byte
		reply []byte // nil: closed without reply
	}{
		{"go driver 5.28.4", addr312, handshakeBytes(goDriver5284...), []byte{0, 0, 2, 5}},
		{"go driver 5.25", addr312, handshakeBytes(goDriver525...), []byte{0, 0, 2, 5}},
		{"4.4 with 4.4 supported", addr312, handshakeBytes(driver44...), []byte{0, 0, 4, 4}},
		{"4.4 without 4.4 supported", addrOld, handshakeBytes(driver44...), []byte{0, 0, 3, 4}},
		{"no match", addr312, handshakeBytes(proposal(0, 0, 3), proposal(0, 0, 2)), nil},
		{"bad magic", addr312, append([]byte{0x47, 0x45, 0x54, 0x20}, handshakeBytes(goDriver5284...)[4:]...), nil},
		{"bad magic alone", addr312, []byte{0x16, 0x03, 0x01, 0x00}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, tc.addr, tc.bytes)
			if tc.reply == nil {
				c.expectClosed()
				return
			}
			got := make([]byte, 4)
			if _, err := io.ReadFull(c.nc, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(tc.reply) {
				t.Fatalf("reply % X, want % X", got, tc.reply)
			}
		})
	}
	eventually(t, "no Session opened for failed handshakes", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.infos) == 4
	})
	if v := b.infos[0].Version; v != (Version{5, 2}) {
		t.Fatalf("ConnInfo.Version = %s", v)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	_, addr := startServer(t, Config{HandshakeTimeout: 50 * time.Millisecond}, newFakeBackend())
	c := dialRaw(t, addr, handshakeBytes()[:10]) // half a handshake
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

func TestNewServerValidates(t *testing.T) {
	b := newFakeBackend()
	if _, err := NewServer(Config{Versions: []Version{{5, 4}}}, b); err == nil {
		t.Fatal("unimplemented version accepted")
	}
	if _, err := NewServer(Config{Versions: []Version{{1, 0}}}, b); err == nil {
		t.Fatal("Bolt 1.0 accepted")
	}
	if _, err := NewServer(Config{MaxMessageSize: -1}, b); err == nil {
		t.Fatal("negative MaxMessageSize accepted")
	}
	if _, err := NewServer(Config{}, nil); err == nil {
		t.Fatal("nil backend accepted")
	}
	s, err := NewServer(Config{MaxMessageSize: 1000}, b)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Limits.MaxSize != 1000 || s.cfg.ServerName != DefaultServerName ||
		s.cfg.HandshakeTimeout != DefaultHandshakeTimeout || len(s.cfg.Versions) != 5 {
		t.Fatalf("defaults not applied: %+v", s.cfg)
	}
}

// TestServeConnAfterClose checks that a closed server refuses new work.
func TestServeConnAfterClose(t *testing.T) {
	s, err := NewServer(Config{}, newFakeBackend())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer b.Close()
	s.ServeConn(a)
	if _, err := a.Write([]byte{1}); err == nil {
		t.Fatal("ServeConn after Close left the conn open")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != ErrServerClosed {
		t.Fatalf("Serve after Close = %v", err)
	}
}
