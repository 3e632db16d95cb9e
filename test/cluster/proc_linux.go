package cluster

import "syscall"

// sysProcAttr makes the kernel kill a child when the process that started
// it dies (a test binary killed by its timeout, a Ctrl-C'd benchmark), so
// that no instance or gateway outlives its cluster.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
