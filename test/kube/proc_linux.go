package kube

import (
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// lockDir takes an exclusive flock on dir/.lock, held until the returned
// file is closed or the process dies, which marks dir as in use.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// removeStaleDirs removes the temp dirs of control planes whose test binary
// died without Stop (its processes died with it): dirs matching pattern, at
// least a minute old, whose lock nobody holds.
func removeStaleDirs(pattern string) {
	dirs, _ := filepath.Glob(pattern)
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		f, err := lockDir(dir)
		if err != nil {
			continue // in use, or not ours
		}
		os.RemoveAll(dir)
		f.Close()
	}
}
