package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// proc is one child process (etcd or kube-apiserver) with its output in a
// log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	err     error         // from Wait, valid after done
}

// startProc starts path with args, output appended to logPath.
//
// On Linux the child gets SIGKILL when the thread that started it exits
// (PR_SET_PDEATHSIG), so the goroutine that starts it keeps that thread
// locked until the child has exited: then a test binary that dies (timeout
// panic, kill) takes its control plane with it.
func startProc(name, path string, args []string, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(path, args, logf, started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("kube: start %s: %w", name, err)
	}
	return p, nil
}

func (p *proc) run(path string, args []string, logf *os.File, started chan<- error) {
	runtime.LockOSThread()
	// The thread is not unlocked: it ends with this goroutine, after the child.
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	p.cmd = cmd
	started <- nil
	p.err = cmd.Wait()
	close(p.done)
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill kills the process and waits for it. Idempotent.
func (p *proc) kill() {
	if p == nil {
		return
	}
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// exitError describes a process that exited while it should be running,
// with the end of its log.
func (p *proc) exitError() error {
	return fmt.Errorf("kube: %s exited: %v; last lines of %s:\n%s", p.name, p.err, p.logPath, p.logTail(20))
}

func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), n)
}

// addrInUse reports whether the process died because a port was taken
// between freePorts and its listen.
func (p *proc) addrInUse() bool {
	return strings.Contains(p.logTail(50), "address already in use")
}

var errTimeout = errors.New("timed out")

// poll calls f every interval until it returns true or an error, the
// process p exits, ctx ends or timeout passes.
func poll(ctx context.Context, p *proc, timeout, interval time.Duration, f func() (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errTimeout
		case <-tick.C:
		}
	}
}
