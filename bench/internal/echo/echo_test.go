package echo

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
)

func start(t *testing.T) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(time.Second)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if err != ErrClosed {
				t.Errorf("Serve returned %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return s, ln.Addr().String()
}

func TestHandshakeAndEcho(t *testing.T) {
	_, addr := start(t)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := boltwire.ClientHandshake(c, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v != boltwire.Version52 {
		t.Fatalf("version %x, want %x", v, boltwire.Version52)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Small, then a message larger than the grown buffer, sent while read.
	for _, size := range []int{1, 64, 16 << 10, 300 << 10} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i*7 + size)
		}
		errc := make(chan error, 1)
		go func() { _, err := c.Write(msg); errc <- err }()
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("size %d: read: %v", size, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("size %d: write: %v", size, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("size %d: echo differs", size)
		}
	}
}

func TestBadPreambleClosed(t *testing.T) {
	s, addr := start(t)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatalf("read %d bytes from a non-Bolt connection, want close", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().BadHandshake != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Stats().BadHandshake; got != 1 {
		t.Errorf("BadHandshake = %d, want 1", got)
	}
}

func TestManyConnectionsAndClose(t *testing.T) {
	s, addr := start(t)
	const n = 200
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := boltwire.Dial(addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if got := s.Stats().Active; got != n {
		t.Fatalf("Active = %d, want %d", got, n)
	}
	s.Close()
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open after Close")
		}
	}
	if got := s.Stats().Active; got != 0 {
		t.Errorf("Active after Close = %d", got)
	}
}
