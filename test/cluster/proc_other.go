//go:build !linux

package cluster

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; Close still
// kills every child.
func sysProcAttr() *syscall.SysProcAttr { return nil }
