package proxy

import "golang.org/x/sys/unix"

// clientGone reports whether the client closed or reset its socket, with a
// non-blocking peek of one byte that consumes nothing. It is used once, after
// a hold, so that a client that gave up is not connected to a backend.
func clientGone(s *side) bool {
	if s.tcp == nil {
		return false
	}
	rc, err := s.tcp.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	cerr := rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == nil:
			gone = n == 0
		case err == unix.EAGAIN || err == unix.EINTR:
		default:
			gone = true
		}
	})
	return gone || cerr != nil
}
