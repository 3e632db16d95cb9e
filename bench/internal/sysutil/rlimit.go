// Package sysutil raises the open-file limit: every benchmark process runs
// with its soft RLIMIT_NOFILE raised to the hard limit (20,000 on the
// project's machines), which is the budget the idle-connection test probes.
package sysutil

import "syscall"

// RaiseNoFile sets the soft open-file limit to the hard limit and returns
// the resulting soft and hard limits.
func RaiseNoFile() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, lim.Max, err
		}
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	return lim.Cur, lim.Max, nil
}
