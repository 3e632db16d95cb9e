//go:build !linux

package kube

import (
	"os"
	"syscall"
)

// Without a parent-death signal, a control plane outlives a test binary
// that is killed before Stop runs.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func lockDir(string) (*os.File, error) { return nil, nil }

func removeStaleDirs(string) {}
