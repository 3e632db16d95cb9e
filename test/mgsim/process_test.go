package mgsim

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildMgsim builds cmd/mgsim once per test binary run.
func buildMgsim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mgsim")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mgsim")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mgsim: %v\n%s", err, out)
	}
	return bin
}

// mgsimProcess starts the binary and waits for its ready line.
func mgsimProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout) //nolint:errcheck // drain until exit
	}()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "mgsim ready ")
		if !ok || !found {
			t.Fatalf("unexpected first line %q", line)
		}
		return cmd, addr
	case <-time.After(testWait):
		t.Fatal("mgsim did not get ready")
	}
	return nil, ""
}

// The real process: SIGKILL, restart on the same data directory, every
// acknowledged write is there; role and replicas too; SIGTERM exits 0.
func TestProcessKill9(t *testing.T) {
	bin := buildMgsim(t)
	dataMain, dataRep := t.TempDir(), t.TempDir()
	mainAddr := hostPort("127.0.0.1", freePort(t, "127.0.0.1"))
	repAddr := hostPort("127.0.0.2", freePort(t, "127.0.0.2"))
	replPort := freePort(t, "127.0.0.2")
	common := []string{"--replica-check-frequency", "50ms", "--log-level", "debug", "--version", "3.12.0"}

	mainCmd, addr := mgsimProcess(t, bin, append([]string{"--data-dir", dataMain, "--bolt-address", mainAddr}, common...)...)
	if addr != mainAddr {
		t.Fatalf("ready on %s, want %s", addr, mainAddr)
	}
	repCmd, _ := mgsimProcess(t, bin, append([]string{"--data-dir", dataRep, "--bolt-address", repAddr}, common...)...)
	m, r := newClient(t, mainAddr), newClient(t, repAddr)
	r.demote(replPort)
	m.register("rep", "SYNC", hostPort("127.0.0.2", replPort))
	m.waitReplica("rep", readyCaughtUp)

	const n = 20
	for i := range n {
		if _, err := m.write("CREATE (n:P {i: $i})", map[string]any{"i": int64(i)}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for _, c := range []*exec.Cmd{mainCmd, repCmd} {
		if err := c.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.Wait()
	}

	mainCmd, _ = mgsimProcess(t, bin, append([]string{"--data-dir", dataMain, "--bolt-address", mainAddr}, common...)...)
	repCmd, _ = mgsimProcess(t, bin, append([]string{"--data-dir", dataRep, "--bolt-address", repAddr}, common...)...)
	m, r = newClient(t, mainAddr), newClient(t, repAddr)
	if got := m.count("P"); got != n {
		t.Fatalf("main has %d nodes after kill -9, want %d", got, n)
	}
	if got := r.count("P"); got != n {
		t.Fatalf("replica has %d nodes after kill -9, want %d", got, n)
	}
	if m.role() != "main" || r.role() != "replica" {
		t.Fatalf("roles after restart: %s %s", m.role(), r.role())
	}
	m.waitReplica("rep", readyCaughtUp)
	if _, err := m.write("CREATE (n:P)", nil); err != nil {
		t.Fatal(err)
	}
	if got := r.count("P"); got != n+1 {
		t.Fatalf("replica has %d after restart, want %d", got, n+1)
	}

	for _, c := range []*exec.Cmd{mainCmd, repCmd} {
		if err := c.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	}
}
