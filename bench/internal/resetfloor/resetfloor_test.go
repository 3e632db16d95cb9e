//go:build linux

package resetfloor

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
)

// TestHoldAndReset: connections that complete the handshake and the ping
// are held (and only those), and Reset resets every one of them: each
// client reads ECONNRESET, none EOF.
func TestHoldAndReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(16, 5*time.Second)
	go s.Serve(ln)

	const n = 40
	var clients []net.Conn
	for range n {
		c, err := boltwire.Dial(ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ping := []byte("0123456789abcdef")
		if _, err := c.Write(ping); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, len(ping))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(back); err != nil || string(back) != string(ping) {
			t.Fatalf("ping: %q, %v", back, err)
		}
		clients = append(clients, c)
	}
	// Not Bolt: closed, never held.
	bad, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	bad.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	defer bad.Close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		held, failed := s.Held()
		if held == n && failed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held %d (want %d), failed %d (want 1)", held, n, failed)
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, took := s.Reset(3)
	if got != n {
		t.Fatalf("Reset reset %d, want %d", got, n)
	}
	if took <= 0 {
		t.Errorf("Reset took %v", took)
	}
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("client %d: %v, want ECONNRESET", i, err)
		}
	}
	if held, _ := s.Held(); held != 0 {
		t.Errorf("%d still held after Reset", held)
	}
	if got, _ := s.Reset(2); got != 0 {
		t.Errorf("a second Reset reset %d", got)
	}
}
