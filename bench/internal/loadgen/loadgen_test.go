package loadgen

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/echo"
)

func echoServer(t *testing.T) (*echo.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := echo.New(time.Second)
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s, ln.Addr().String()
}

func TestRequestResponseCount(t *testing.T) {
	_, addr := echoServer(t)
	r, err := RequestResponse(RROptions{Addr: addr, Conns: 4, Size: 1024, Count: 2000, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 2000 || r.Timed != 2000 || r.Errors != 0 {
		t.Fatalf("ops %d timed %d errors %d, want 2000/2000/0", r.Ops, r.Timed, r.Errors)
	}
	if !(r.MinUs > 0 && r.MinUs <= r.P50Us && r.P50Us <= r.P90Us && r.P90Us <= r.P99Us && r.P99Us <= r.MaxUs) {
		t.Errorf("percentiles out of order: %+v", r)
	}
	if r.OpsPerSec <= 0 {
		t.Errorf("ops/s = %v", r.OpsPerSec)
	}
}

func TestRequestResponseDuration(t *testing.T) {
	_, addr := echoServer(t)
	start := time.Now()
	r, err := RequestResponse(RROptions{Addr: addr, Conns: 2, Size: 64, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("run took %v", el)
	}
	if r.Ops == 0 || r.Seconds <= 0 || r.Seconds > 3 {
		t.Errorf("ops %d seconds %v", r.Ops, r.Seconds)
	}
}

func TestRequestResponseNoTarget(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := RequestResponse(RROptions{Addr: addr, Conns: 1, Size: 64, Duration: time.Second, DialTimeout: time.Second}); err == nil {
		t.Fatal("want an error for a closed port")
	}
}

func TestBulk(t *testing.T) {
	_, addr := echoServer(t)
	r, err := Bulk(BulkOptions{Addr: addr, Conns: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.BytesSent == 0 || r.BytesEchoed != r.BytesSent || r.MBPerSec <= 0 {
		t.Fatalf("bulk: %+v", r)
	}
}

// openIdle opens o.N idle connections and fails the test unless all opened.
func openIdle(t *testing.T, o IdleOptions) *Idle {
	t.Helper()
	idle, open := OpenIdle(o)
	if open.Opened != o.N || open.Failed != 0 {
		t.Fatalf("open: %+v", open)
	}
	return idle
}

func TestIdleCut(t *testing.T) {
	s, addr := echoServer(t)
	idle := openIdle(t, IdleOptions{Addr: addr, N: 300, PingSize: 64})
	if idle.Open() != 300 {
		t.Fatalf("open = %d", idle.Open())
	}
	trigger := time.Now()
	go s.Close() // the "cut": the server closes every connection
	r := idle.WaitCut(trigger, 5*time.Second)
	if !r.AllClosed || r.Closed != 300 || r.ClosedBefore != 0 {
		t.Fatalf("cut: %+v", r)
	}
	if r.TimeToAllMs <= 0 || r.TimeToAllMs > 5000 || r.FirstMs > r.P50Ms || r.P50Ms > r.LastMs {
		t.Errorf("times: %+v", r)
	}
	idle.Close()
}

func TestIdleTimeoutReportsOpen(t *testing.T) {
	_, addr := echoServer(t)
	idle := openIdle(t, IdleOptions{Addr: addr, N: 10})
	r := idle.WaitCut(time.Now(), 100*time.Millisecond)
	if r.AllClosed || r.Closed != 0 || r.Held != 10 {
		t.Fatalf("nothing was cut, got %+v", r)
	}
	idle.Close()
}

func TestRequestResponseRate(t *testing.T) {
	_, addr := echoServer(t)
	r, err := RequestResponse(RROptions{Addr: addr, Conns: 4, Size: 64, Rate: 2000, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 2000/s for 0.5 s: about 1000 round trips, never more (fewer when
	// a loaded machine makes the round trips slower than the schedule).
	if r.Ops < 300 || r.Ops > 1050 || r.Rate != 2000 {
		t.Fatalf("paced run: ops %d rate %v (want ~1000 at 2000/s)", r.Ops, r.Rate)
	}
}

// handshakeServer accepts Bolt handshakes and hands each accepted
// connection to conns, so a test can end them its own way.
func handshakeServer(t *testing.T) (string, <-chan *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan *net.TCPConn, 1024)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var pre [boltwire.PreambleLen]byte
			if _, err := io.ReadFull(c, pre[:]); err != nil {
				c.Close()
				continue
			}
			c.Write(boltwire.Version52[:])
			conns <- c.(*net.TCPConn)
		}
	}()
	return ln.Addr().String(), conns
}

// TestIdleCutTellsResetsEOFAndData: the watcher counts a reset as a reset,
// an orderly close as EOF, and bytes sent before the end as unexpected
// data; connections ended before the trigger are not counted in the cut.
func TestIdleCutTellsResetsEOFAndData(t *testing.T) {
	addr, accepted := handshakeServer(t)
	const n = 40
	idle := openIdle(t, IdleOptions{Addr: addr, N: n})
	var server []*net.TCPConn
	for range n {
		select {
		case c := <-accepted:
			server = append(server, c)
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not see every connection")
		}
	}
	server[0].Close() // before the trigger
	deadline := time.Now().Add(5 * time.Second)
	for idle.Open() != n-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	trigger := time.Now()
	for i, c := range server[1:] {
		switch {
		case i%2 == 0:
			c.SetLinger(0) // close with a reset
			c.Close()
		case i%3 == 0:
			c.Write([]byte("x")) // a stray byte, then EOF
			c.Close()
		default:
			c.Close()
		}
	}
	r := idle.WaitCut(trigger, 5*time.Second)
	if r.ClosedBefore != 1 || r.Closed != n-1 || r.AllClosed { // AllClosed: only when none ended before
		t.Fatalf("cut: %+v", r)
	}
	resets := 0
	for i := range n - 1 {
		if i%2 == 0 {
			resets++
		}
	}
	if r.ReadErrResets != resets {
		t.Errorf("resets = %d, want %d", r.ReadErrResets, resets)
	}
	if r.GotDataBefore == 0 {
		t.Errorf("the stray bytes were not counted: %+v", r)
	}
	idle.Close()
}

// TestIdleCloseEndsWatching: Close ends every connection this side and
// returns; none of them counts as a reset.
func TestIdleCloseEndsWatching(t *testing.T) {
	addr, _ := handshakeServer(t)
	idle := openIdle(t, IdleOptions{Addr: addr, N: 20})
	done := make(chan struct{})
	go func() { idle.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return")
	}
	if idle.Open() != 0 {
		t.Fatalf("open after Close = %d", idle.Open())
	}
	for i := range idle.reset {
		if idle.reset[i].Load() {
			t.Fatalf("connection %d counted as reset after Close", i)
		}
	}
}
