//go:build !linux

package proxy

import "syscall"

// resetRaw falls back to a shutdown in both directions where connect(2) with
// AF_UNSPEC is not known to reset: the peer gets a FIN instead of a RST, and
// the later close (with SO_LINGER 0) resets what is left.
func resetRaw(rc syscall.RawConn) bool { return shutdownRaw(rc) }
