// Package echo is the benchmark's backend: a Bolt-shaped TCP server that
// reads the 20-byte client preamble, answers version 5.2 (00 00 02 05) and
// then echoes every byte it receives, so the load generator can time a round
// trip through a proxy without a database in the way.
//
// It is built to be cheap rather than clever: one goroutine per connection
// and a plain read/write loop. It deliberately avoids io.Copy, which would
// splice through a pipe and cost extra file descriptors per connection; a
// connection starts with a small buffer that grows only if a read fills it,
// so ten thousand idle connections stay small and fit in a 20,000-fd process.
package echo

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
)

const (
	smallBuf = 4 << 10
	largeBuf = 64 << 10
)

// Server echoes Bolt-framed connections. The zero value is not usable; call
// New.
type Server struct {
	handshakeTimeout time.Duration

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted     atomic.Uint64
	active       atomic.Int64
	badHandshake atomic.Uint64
}

// Stats are the server's counters.
type Stats struct {
	Accepted     uint64 `json:"accepted"`
	Active       int64  `json:"active"`
	BadHandshake uint64 `json:"bad_handshake"`
}

// New returns a server; handshakeTimeout bounds the read of the preamble
// (0 means 10 s).
func New(handshakeTimeout time.Duration) *Server {
	if handshakeTimeout <= 0 {
		handshakeTimeout = 10 * time.Second
	}
	return &Server{
		handshakeTimeout: handshakeTimeout,
		lns:              make(map[net.Listener]struct{}),
		conns:            make(map[net.Conn]struct{}),
	}
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("echo: server closed")

// Serve accepts connections on ln until ln fails or Close is called.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of fds or similar: back off a little, bounded.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			return ErrClosed
		}
		s.accepted.Add(1)
		s.active.Add(1)
		s.wg.Add(1)
		go s.handle(c)
	}
}

func isTemporary(err error) bool {
	type temporary interface{ Temporary() bool }
	var t temporary
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) handle(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.active.Add(-1)
		s.wg.Done()
	}()
	var pre [boltwire.PreambleLen]byte
	c.SetReadDeadline(time.Now().Add(s.handshakeTimeout))
	if _, err := io.ReadFull(c, pre[:]); err != nil || !boltwire.ValidPreamble(pre[:]) {
		if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
			s.badHandshake.Add(1)
		}
		return
	}
	c.SetReadDeadline(time.Time{})
	if _, err := c.Write(boltwire.Version52[:]); err != nil {
		return
	}
	buf := make([]byte, smallBuf)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			if n == len(buf) && len(buf) < largeBuf {
				buf = make([]byte, largeBuf)
			}
		}
		if err != nil {
			return
		}
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Accepted: s.accepted.Load(), Active: s.active.Load(), BadHandshake: s.badHandshake.Load()}
}

// Close stops every listener, closes every connection and waits for the
// connection goroutines to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
