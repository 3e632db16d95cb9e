package mgsim

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// sockets tracks every replication socket of an instance, so Kill can
// close them all at once, as the death of a process does.
type sockets struct {
	mu     sync.Mutex
	dead   bool
	conns  map[net.Conn]struct{}
	lns    map[net.Listener]struct{}
	cancel context.CancelFunc
	ctx    context.Context
}

func newSockets() *sockets {
	ctx, cancel := context.WithCancel(context.Background())
	return &sockets{conns: make(map[net.Conn]struct{}), lns: make(map[net.Listener]struct{}), ctx: ctx, cancel: cancel}
}

var errSocketsClosed = errors.New("mgsim: instance is down")

// addConn tracks c; after killAll it closes c instead.
func (s *sockets) addConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *sockets) removeConn(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *sockets) addListener(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		l.Close()
		return false
	}
	s.lns[l] = struct{}{}
	return true
}

func (s *sockets) removeListener(l net.Listener) {
	s.mu.Lock()
	delete(s.lns, l)
	s.mu.Unlock()
}

// dial connects with a timeout; cancelling ctx, which derives from the
// context of s, interrupts it, and so does killAll.
func (s *sockets) dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !s.addConn(c) {
		return nil, errSocketsClosed
	}
	return c, nil
}

// killAll closes every tracked socket and refuses new ones.
func (s *sockets) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = true
	s.cancel()
	for l := range s.lns {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	clear(s.lns)
	clear(s.conns)
}
