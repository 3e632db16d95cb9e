package tcpreset

import (
	"syscall"
	"unsafe"
)

// Supported reports whether Fd can reset on this platform.
const Supported = true

// Fd resets the TCP connection of socket fd and reports whether it did:
// connect(2) with an AF_UNSPEC address dissolves the association (see
// connect(2)), which for an established socket sends a RST, moves it to
// CLOSED and wakes anyone waiting on it. The peer learns at once, the
// descriptor stays valid, and the later close is cheap (no packet, no
// TIME_WAIT). It costs about as much as shutdown(2) and less than a close
// with SO_LINGER 0, which also pays for the descriptor and its epoll
// removal. The call does not block, so it is made as a raw system call.
func Fd(fd int) bool {
	var sa [syscall.SizeofSockaddrInet6]byte // zero: sa_family AF_UNSPEC
	_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa)))
	return e == 0
}
