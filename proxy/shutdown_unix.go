//go:build unix

package proxy

import "syscall"

// shutdownRaw shuts a socket down both ways through its RawConn. The call
// does not block (shutdown only queues a FIN), so it is made as a raw system
// call: the cut worker keeps its P instead of handing it to the goroutines
// the cut is waking up.
func shutdownRaw(rc syscall.RawConn) bool {
	err := rc.Control(func(fd uintptr) { shutdownFd(int(fd)) })
	return err == nil
}

// shutdownFd shuts socket fd down both ways (see shutdownRaw).
func shutdownFd(fd int) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, uintptr(fd), syscall.SHUT_RDWR, 0)
}
