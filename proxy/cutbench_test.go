//go:build linux

package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCutManyConnections measures the mass cut at the scale of the design's
// target, with the clients and the backend in a helper process so that the
// gateway process holds only its own 2 descriptors per connection (the
// 20,000-file cap leaves room for about 9,900 relayed connections). It is
// opt-in: MGW_CUT_CONNS=9000 go test -run TestCutManyConnections ./proxy/
// (MGW_CUT_EVENT_LOOPS=-1 for the goroutine relay).
func TestCutManyConnections(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MGW_CUT_CONNS"))
	if n == 0 {
		t.Skip("set MGW_CUT_CONNS (e.g. 9000) to run")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCutHelperProcess$")
	cmd.Env = append(os.Environ(), "MGW_CUT_HELPER=1", "MGW_CUT_CONNS="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("helper ended: %v", lines.Err())
		}
		return lines.Text()
	}
	backendAddr := strings.TrimPrefix(next(), "backend ")

	loops, _ := strconv.Atoi(os.Getenv("MGW_CUT_EVENT_LOOPS")) // -1: goroutine relay
	p, err := New(Config{MaxConnections: n + 10, EventLoops: loops}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go p.Serve(ln, RoleReadWrite)
	p.SetRoute(Route{Epoch: 1, Phase: PhaseServing, Main: Backend{Name: "m1", Addr: backendAddr}})
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	fmt.Fprintf(stdin, "%s\n", ln.Addr())
	if l := next(); l != "ready" {
		t.Fatalf("helper: %s", l)
	}
	eventually(t, 30*time.Second, "all relayed", func() bool { return p.Stats().Relayed == n })
	fds, pipes := fdCount(t)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("%d relayed connections; process holds %d descriptors, %d pipes; Go heap+stacks %.1f KiB per idle connection",
		n, fds, pipes, float64(int64(ms1.HeapInuse+ms1.StackInuse)-int64(ms0.HeapInuse+ms0.StackInuse))/1024/float64(n))

	if f := os.Getenv("MGW_CUT_PROFILE"); f != "" {
		out, _ := os.Create(f)
		pprof.StartCPUProfile(out)
	}
	fmt.Fprintln(stdin, "cut")
	cpu0 := cpuTime()
	start := time.Now()
	p.SetRoute(Route{Epoch: 2, Phase: PhaseFailover})
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	if os.Getenv("MGW_CUT_PROFILE_ALL") == "" {
		pprof.StopCPUProfile()
	}
	eventually(t, 30*time.Second, "gateway side closed", func() bool { return p.Stats().Active == 0 })
	all := time.Since(start)
	allCPU := cpuTime() - cpu0
	pprof.StopCPUProfile()
	t.Logf("SetRoute fenced %d connections (no old-epoch write can start) in %v (%v per connection), using %v of CPU",
		n, took, took/time.Duration(n), cpu)
	t.Logf("gateway sockets and goroutines of the cut connections gone after %v, using %v of CPU in all (wall time is inflated by the machine's load: %s)",
		all, allCPU, loadavg())
	if lc := p.Stats().LastCut; lc != nil {
		t.Logf("every client reset or shut down %.1f ms after the cut began", lc.NotifyMs)
	}
	t.Logf("helper: %s", next())
	if took > 100*time.Millisecond && !raceEnabled {
		t.Errorf("fence took %v, want under 100ms", took)
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return "loadavg " + strings.Join(strings.Fields(string(b))[:3], " ")
}

// TestCutHelperProcess is the helper of TestCutManyConnections: a backend
// that answers the handshake and the clients that connect through the
// gateway. It reports how long after "cut" every socket saw the close.
func TestCutHelperProcess(t *testing.T) {
	if os.Getenv("MGW_CUT_HELPER") != "1" {
		t.Skip("helper process")
	}
	n, _ := strconv.Atoi(os.Getenv("MGW_CUT_CONNS"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var open atomic.Int64
	var lastClose, lastClient atomic.Int64
	watch := func(c net.Conn, client bool) {
		open.Add(1)
		go func() {
			var b [64]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					break
				}
			}
			c.Close()
			now := time.Now().UnixNano()
			lastClose.Store(now)
			if client {
				lastClient.Store(now)
			}
			open.Add(-1)
		}()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				var pre [20]byte
				if _, err := io.ReadFull(c, pre[:]); err != nil {
					c.Close()
					return
				}
				c.Write(testVersion)
				watch(c, false)
			}()
		}
	}()
	fmt.Printf("backend %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	in.Scan()
	gw := in.Text()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				c, err := net.Dial("tcp", gw)
				if err != nil {
					fmt.Println("dial:", err)
					os.Exit(1)
				}
				c.Write(testPreamble)
				var v [4]byte
				if _, err := io.ReadFull(c, v[:]); err != nil {
					fmt.Println("handshake:", err)
					os.Exit(1)
				}
				watch(c, true)
			}
		})
	}
	wg.Wait()
	fmt.Println("ready")
	in.Scan() // "cut"
	start := time.Now()
	for open.Load() > 0 && time.Since(start) < 30*time.Second {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("all %d client sockets saw the close %v after the cut began, all %d client and backend sockets %v (%d still open)\n",
		n, time.Duration(lastClient.Load()-start.UnixNano()), 2*n, time.Duration(lastClose.Load()-start.UnixNano()), open.Load())
	in.Scan()
}
