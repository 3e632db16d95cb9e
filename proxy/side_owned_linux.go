//go:build linux

package proxy

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"github.com/memgraph-gateway/memgraph-gateway/internal/sockdup"
)

// Loop-owned sockets (evloop_linux.go): the side keeps a duplicate of the
// socket's descriptor in ofd and its net.Conn is closed, so Go's netpoller
// forgets it. Every use of ofd outside the loop holds omu, as does the
// loop's close, so no descriptor is used once closed.

// plainTCP reports whether the side is a TCP socket read and written as is
// (no TLS), which an event loop can own.
func (s *side) plainTCP() bool {
	return s.tcp != nil && s.conn == net.Conn(s.tcp) && s.ctl != nil
}

// dupFd duplicates the socket's descriptor (close-on-exec).
func (s *side) dupFd() (int, error) {
	fd, err := sockdup.Dup(s.ctl)
	if err != nil {
		return -1, fmt.Errorf("proxy: %w", err)
	}
	return fd, nil
}

// own hands the socket to an event loop: from now on it is ofd, and the
// net.Conn (its original descriptor) is closed.
func (s *side) own(fd int) {
	s.omu.Lock()
	s.ofd, s.owned = fd, true
	s.omu.Unlock()
	_ = s.base.Close()
}

// closeOwned closes the owned descriptor, with a reset when abort is set
// (unless the socket was reset already).
func (s *side) closeOwned(abort bool) {
	s.omu.Lock()
	defer s.omu.Unlock()
	if s.ofd < 0 {
		return
	}
	if abort && !s.wasReset.Load() {
		l := syscall.Linger{Onoff: 1, Linger: 0}
		_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(s.ofd), syscall.SOL_SOCKET, syscall.SO_LINGER,
			uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
	}
	_ = syscall.Close(s.ofd)
	s.ofd = -1
}
