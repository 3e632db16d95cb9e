package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesUntilSignal(t *testing.T) {
	var out syncBuffer
	stop := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--data-dir", t.TempDir(), "--bolt-address", "127.0.0.1:0", "--version", "3.6.1",
			"--replica-check-frequency", "100ms", "--log-format", "console"}, &out, io.Discard, stop)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(out.String(), "mgsim ready 127.0.0.1:") {
		if time.Now().After(deadline) {
			t.Fatalf("no ready line; stdout %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 1 {
		t.Fatalf("stdout has %d lines: %q", lines, out.String())
	}
	stop <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "--data-dir is required"},
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"--data-dir", t.TempDir(), "extra"}, 2, "unexpected arguments"},
		{[]string{"--data-dir", t.TempDir(), "--log-level", "loud"}, 2, "unknown level"},
		{[]string{"--data-dir", t.TempDir(), "--version", "2.0.0", "--bolt-address", "127.0.0.1:0"}, 1, "not emulated"},
	} {
		var errOut bytes.Buffer
		if code := run(tc.args, io.Discard, &errOut, make(chan os.Signal)); code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%v: code %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
	}
}
