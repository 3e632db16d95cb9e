package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one child process the cluster started: an instance, a
// gateway, HAProxy, or an extra one (StartInstanceAt). It can be killed,
// paused, resumed and started again with the same arguments. Its stdout
// and stderr go to one log file, appended across restarts.
type Process struct {
	Name    string
	LogPath string

	bin    string
	args   []string
	ready  string            // stdout line prefix that means "serving"; "" none
	onLine func(line string) // every stderr line, in order; may be nil

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed once the current run was waited for
	exitErr error
	paused  bool
	starts  int
}

// Running reports whether the process runs (paused counts as running).
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

func (p *Process) runningLocked() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Paused reports whether the process was stopped with SIGSTOP and not
// continued since.
func (p *Process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused && p.runningLocked()
}

// Pid is the current run's process id, 0 when it does not run.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// start runs the process (again) and, when p.ready is set, waits until it
// prints that line on stdout, it exits, or within passes.
func (p *Process) start(within time.Duration) error {
	p.mu.Lock()
	if p.runningLocked() {
		p.mu.Unlock()
		return fmt.Errorf("%s already runs", p.Name)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: log file: %w", p.Name, err)
	}
	p.starts++
	fmt.Fprintf(logf, "=== start %d of %s: %s %s\n", p.starts, p.Name, p.bin, strings.Join(p.args, " "))
	readyCh := make(chan struct{})
	var readyOnce sync.Once
	stdout := &lineWriter{out: logf, fn: func(line string) {
		if p.ready != "" && strings.HasPrefix(line, p.ready) {
			readyOnce.Do(func() { close(readyCh) })
		}
	}}
	stderr := &lineWriter{out: logf, fn: p.onLine}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exitErr, p.paused = cmd, done, nil, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		fmt.Fprintf(logf, "=== %s exited: %v\n", p.Name, err)
		logf.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
	if p.ready == "" {
		return nil
	}
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-readyCh:
		return nil
	case <-done:
		return fmt.Errorf("%s exited before it printed %q (%v); log %s:\n%s", p.Name, p.ready, p.exitError(), p.LogPath, tail(p.LogPath, 20))
	case <-t.C:
		_ = p.Kill()
		return fmt.Errorf("%s did not print %q within %v; log %s:\n%s", p.Name, p.ready, within, p.LogPath, tail(p.LogPath, 20))
	}
}

func (p *Process) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// signal sends sig to the current run; an error when it does not run.
func (p *Process) signal(sig syscall.Signal) (chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return nil, fmt.Errorf("%s does not run", p.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return p.done, nil // exited, not yet waited for: done closes soon
		}
		return nil, fmt.Errorf("%s: %v: %w", p.Name, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return p.done, nil
}

// Kill sends SIGKILL (a crash) and waits until the process is gone. A
// process that does not run is no error.
func (p *Process) Kill() error {
	done, err := p.signal(syscall.SIGKILL)
	if err != nil {
		if !p.Running() {
			return nil
		}
		return err
	}
	return waitDone(p.Name, done, 10*time.Second)
}

// Terminate sends SIGTERM (a clean shutdown) and waits up to within, then
// kills.
func (p *Process) Terminate(within time.Duration) error {
	done, err := p.signal(syscall.SIGTERM)
	if err != nil {
		if !p.Running() {
			return nil
		}
		return err
	}
	if waitDone(p.Name, done, within) != nil {
		return p.Kill()
	}
	return nil
}

// Pause sends SIGSTOP: the process keeps its sockets, the kernel keeps
// accepting connections for it, and it answers nothing.
func (p *Process) Pause() error {
	_, err := p.signal(syscall.SIGSTOP)
	return err
}

// Resume sends SIGCONT.
func (p *Process) Resume() error {
	_, err := p.signal(syscall.SIGCONT)
	return err
}

func waitDone(name string, done chan struct{}, within time.Duration) error {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s still runs %v after the signal", name, within)
	}
}

// lineWriter copies a child's output to out and calls fn with each whole
// line (without the newline). exec.Cmd calls Write from one goroutine per
// stream.
type lineWriter struct {
	out io.Writer
	fn  func(string)
	buf []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	_, _ = w.out.Write(b)
	if w.fn == nil {
		return len(b), nil
	}
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

// flush hands a last line without a newline to fn.
func (w *lineWriter) flush() {
	if w.fn != nil && len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
