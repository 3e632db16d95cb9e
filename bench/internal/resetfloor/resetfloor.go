//go:build linux

// Package resetfloor is the benchmark's reference for the gateway's
// route-change cut: a server that does nothing but the cut. It answers the
// load generator's Bolt handshake and ping like the echo backend, then holds
// each connection's socket outside Go's netpoller (a duplicated descriptor,
// the net.Conn closed: what the gateway's event loops hold), and Reset resets
// every held socket with tcpreset.Fd from a few threads, the gateway's cut
// with nothing else. Timed by the same load generator on the same machine,
// it shows how long the kernel alone takes to tell N clients, which the
// gateway's cut cannot beat there (bench/README.md, "What runs", step 5).
//
// Invariants: a descriptor is in held exactly until Reset takes it, and Reset
// closes every descriptor it took; a connection that fails its handshake or
// ping is closed and never held.
package resetfloor

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
	"github.com/memgraph-gateway/memgraph-gateway/internal/sockdup"
	"github.com/memgraph-gateway/memgraph-gateway/internal/tcpreset"
)

// Server holds the connections it accepted until Reset.
type Server struct {
	ping    int
	timeout time.Duration
	mu      sync.Mutex
	held    []int
	failed  int
}

// New returns a server that echoes a ping of exactly ping bytes (0: none)
// after the handshake, each connection within timeout.
func New(ping int, timeout time.Duration) *Server {
	return &Server{ping: ping, timeout: timeout}
}

// Serve accepts connections until ln is closed.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			if err := s.handle(c); err != nil {
				s.mu.Lock()
				s.failed++
				s.mu.Unlock()
			}
		}()
	}
}

// handle answers the handshake and the ping, then holds the socket.
func (s *Server) handle(c net.Conn) error {
	defer c.Close() // the duplicate, if made, keeps the socket
	_ = c.SetDeadline(time.Now().Add(s.timeout))
	var pre [boltwire.PreambleLen]byte
	if _, err := io.ReadFull(c, pre[:]); err != nil {
		return fmt.Errorf("read preamble: %w", err)
	}
	if !boltwire.ValidPreamble(pre[:]) {
		return fmt.Errorf("not a Bolt preamble")
	}
	if _, err := c.Write(boltwire.Version52[:]); err != nil {
		return fmt.Errorf("write version: %w", err)
	}
	if s.ping > 0 {
		buf := make([]byte, s.ping)
		if _, err := io.ReadFull(c, buf); err != nil {
			return fmt.Errorf("read ping: %w", err)
		}
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("echo ping: %w", err)
		}
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return fmt.Errorf("not TCP")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	nfd, err := sockdup.Dup(rc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.held = append(s.held, nfd)
	s.mu.Unlock()
	return nil
}

// Held returns how many connections are held, and how many failed their
// handshake or ping so far.
func (s *Server) Held() (held, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held), s.failed
}

// Reset resets every held connection from workers threads (each a share,
// in order) and closes the descriptors. It returns how many it reset and how
// long the resets took (the closes after them not included: nothing the
// clients see). Connections still in their handshake are left for the next
// Reset: trigger it once Held shows them all.
func (s *Server) Reset(workers int) (n int, took time.Duration) {
	s.mu.Lock()
	fds := s.held
	s.held = nil
	s.mu.Unlock()
	workers = max(1, min(workers, len(fds)))
	ok := make([]int, workers)
	start := time.Now()
	var wg sync.WaitGroup
	per := (len(fds) + workers - 1) / workers
	for w := 0; w*per < len(fds); w++ {
		part := fds[w*per : min((w+1)*per, len(fds))]
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for _, fd := range part {
				if tcpreset.Fd(fd) {
					ok[w]++
				}
			}
		})
	}
	wg.Wait()
	took = time.Since(start)
	for _, fd := range fds {
		syscall.Close(fd)
	}
	for _, k := range ok {
		n += k
	}
	return n, took
}
