package proxy

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/tcpreset"
)

// side is one end of a relayed connection.
type side struct {
	base net.Conn        // the accepted or dialed connection; fixed for the side's life
	tcp  *net.TCPConn    // base as TCP, nil if it is not
	conn net.Conn        // what is read and written: base, or a *tls.Conn over it
	raw  syscall.RawConn // set when the relay reads the socket directly (plain TCP)
	ctl  syscall.RawConn // base's socket for cut; nil if it has none

	// wasReset is set once reset succeeded: the socket is closed on the
	// wire already, so abort need not ask for a reset again.
	wasReset atomic.Bool

	// Set once an event loop owns the socket (evloop_linux.go): ofd is the
	// descriptor (-1 once the loop closed it) and base is closed. omu
	// guards both against the loop's close.
	omu   sync.Mutex
	ofd   int
	owned bool
}

func newSide(c net.Conn) *side {
	s := &side{base: c, conn: c, ofd: -1}
	s.tcp, _ = c.(*net.TCPConn)
	if sc, ok := c.(syscall.Conn); ok {
		s.ctl, _ = sc.SyscallConn()
	}
	return s
}

// cut stops the socket at once from any goroutine without waiting for the
// goroutines using it: shutdown in both directions, so the kernel refuses any
// further write, the peer gets FIN, and readers and writers parked in the
// netpoller wake up (they then see the connection's cut flag and abort it).
// net.Conn.Close cannot be used here: it waits until every goroutine using
// the descriptor has let go of it, which serialises a mass cut on wake-ups.
func (s *side) cut() {
	if s.ownedDo(shutdownFd) {
		return
	}
	if s.ctl == nil || !shutdownRaw(s.ctl) {
		_ = s.base.Close()
	}
}

// reset resets the connection from any goroutine without waiting for the
// goroutines using it and without releasing the descriptor (see resetRaw):
// the peer gets a RST at once, and goroutines parked on the socket wake up
// with an error (they then see the connection's cut flag and abort it). It
// reports false if the socket could not be reset (no socket, or closed
// already); the caller then wakes the goroutines another way.
func (s *side) reset() bool {
	ok := false
	if s.ownedDo(func(fd int) { ok = tcpreset.Fd(fd) }) {
		if ok {
			s.wasReset.Store(true)
		}
		return ok
	}
	if s.ctl == nil || !resetRaw(s.ctl) {
		return false
	}
	s.wasReset.Store(true)
	return true
}

// enableRaw switches reads to readiness callbacks on the socket, if the side
// is plain TCP and the platform supports it.
func (s *side) enableRaw() {
	if !rawRelay || s.tcp == nil || s.conn != net.Conn(s.tcp) {
		return
	}
	if rc, err := s.tcp.SyscallConn(); err == nil {
		s.raw = rc
	}
}

// wake makes a read blocked on the socket (or the next one) return at once
// with a timeout, without a system call: the netpoller's deadline fires. It
// is used to tear down cut relays; the relay never moves its read deadline
// back once the connection is cut (see pipe.extendHalfClose).
// A loop-owned socket needs no wake-up: the cut kicks the loops.
func (s *side) wake() {
	if !s.isOwned() {
		_ = s.base.SetReadDeadline(time.Unix(1, 0))
	}
}

// abort closes the socket with a reset: unsent data is discarded,
// no TIME_WAIT is left, and the peer learns at once. Safe to call from any
// goroutine and more than once; TLS is bypassed (no close_notify that could
// block).
//
// A loop-owned socket is closed by its loop only (closeOwned).
func (s *side) abort() {
	if s.isOwned() {
		return
	}
	if s.tcp != nil && !s.wasReset.Load() {
		_ = s.tcp.SetLinger(0)
	}
	_ = s.base.Close()
}

// close closes the socket normally. TLS is bypassed: its close_notify was
// sent by closeWrite if the stream ended cleanly.
func (s *side) close() {
	if !s.isOwned() {
		_ = s.base.Close()
	}
}

// closeWrite ends the stream towards the peer (FIN, after close_notify for
// TLS) while still reading from it.
func (s *side) closeWrite() {
	if tc, ok := s.conn.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	}
	if s.tcp != nil {
		_ = s.tcp.CloseWrite()
		return
	}
	if cw, ok := s.base.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = s.base.Close()
}

// ownedDo runs f on the loop-owned descriptor and reports whether the side
// is loop-owned; f is not run once the loop closed the descriptor.
func (s *side) ownedDo(f func(fd int)) bool {
	s.omu.Lock()
	defer s.omu.Unlock()
	if !s.owned {
		return false
	}
	if s.ofd >= 0 {
		f(s.ofd)
	}
	return true
}

func (s *side) isOwned() bool { return s.ownedDo(func(int) {}) }
