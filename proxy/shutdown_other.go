//go:build !unix

package proxy

import "syscall"

// shutdownRaw is not available here: the caller closes the socket instead.
func shutdownRaw(syscall.RawConn) bool { return false }

// shutdownFd is not available here (no socket is loop-owned either).
func shutdownFd(int) {}
