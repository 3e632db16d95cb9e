package sockdup

import (
	"fmt"
	"syscall"
)

// Dup duplicates the descriptor behind rc (fcntl F_DUPFD_CLOEXEC).
func Dup(rc syscall.RawConn) (int, error) {
	nfd := -1
	var derr error
	err := rc.Control(func(fd uintptr) {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		nfd = int(r)
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return -1, fmt.Errorf("dup socket: %w", err)
	}
	return nfd, nil
}
