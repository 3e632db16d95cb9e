package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process started by the runner.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr ("" when piped)
	done chan struct{}
	err  error // valid after done
}

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// logTail returns the last n lines of the process's log file.
func (p *proc) logTail(n int) string {
	if p.log == "" {
		return ""
	}
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runner starts child processes and guarantees they are all stopped by
// stopAll, which main defers and also calls on a signal or the watchdog.
type runner struct {
	dir   string
	mu    sync.Mutex
	procs []*proc
}

func sysProcAttr() *syscall.SysProcAttr {
	// If the runner dies without cleaning up (SIGKILL), the kernel kills
	// the children too.
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// start runs a long-lived child with stdout and stderr going to
// <dir>/<name>.log.
func (r *runner) start(name string, args ...string) (*proc, error) {
	return r.startEnv(name, nil, args...)
}

// startEnv is start with extra environment variables ("K=V") for the child.
func (r *runner) startEnv(name string, env []string, args ...string) (*proc, error) {
	logPath := fmt.Sprintf("%s/%s.log", r.dir, name)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	if err := r.launch(p); err != nil {
		f.Close()
		return nil, err
	}
	go func() { <-p.done; f.Close() }()
	return p, nil
}

// startPiped runs a child whose stdin and stdout the caller talks to; its
// stderr goes to <dir>/<name>.log. Lines of stdout arrive on the channel,
// which is closed at EOF.
func (r *runner) startPiped(name string, args ...string) (*proc, io.WriteCloser, <-chan string, error) {
	logPath := fmt.Sprintf("%s/%s.log", r.dir, name)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	// An os.Pipe rather than StdoutPipe: Wait does not close our read end,
	// so no line written just before the child exits is lost.
	pr, pw, err := os.Pipe()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	cmd.Stdout = pw
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	lines := make(chan string, 16)
	err = r.launch(p)
	pw.Close()
	if err != nil {
		pr.Close()
		f.Close()
		return nil, nil, nil, err
	}
	go func() {
		defer close(lines)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	go func() { <-p.done; f.Close() }()
	return p, stdin, lines, nil
}

func (r *runner) launch(p *proc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	r.procs = append(r.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

// output runs a short-lived child to completion (bounded by timeout) and
// returns its stdout; stderr is returned inside the error on failure.
func (r *runner) output(timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			msg = "timed out after " + timeout.String() + "; " + msg
		}
		return out, fmt.Errorf("%s: %v: %s", args[0], err, msg)
	}
	return out, nil
}

// stop ends one process: SIGTERM, then SIGKILL after grace.
func (r *runner) stop(p *proc, grace time.Duration) {
	if !p.alive() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// stopAll stops every process still running, by pid, in parallel.
func (r *runner) stopAll() {
	r.mu.Lock()
	ps := append([]*proc(nil), r.procs...)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop(p, 3*time.Second) }()
	}
	wg.Wait()
}
