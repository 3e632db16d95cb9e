//go:build linux

package proxy

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestEventLoopsOwnPlainTCP checks that relayed plain-TCP connections move
// to the event loops (no goroutine per connection, sockets owned by a loop)
// and that with EventLoops -1 each keeps its two goroutines.
func TestEventLoopsOwnPlainTCP(t *testing.T) {
	const n = 40
	tests := []struct {
		name          string
		loops         int
		owned         bool
		minGoroutines int // per connection, at least
		maxGoroutines int // per connection, at most
	}{
		{"loops", 0, true, 0, 0},
		{"two loops", 2, true, 0, 0},
		{"goroutines", -1, false, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newFakeBackend(t, "m1")
			tp := newTestProxy(t, Config{EventLoops: tt.loops})
			tp.SetRoute(serving(1, be))
			// One relayed connection first, so the loops have started.
			c0 := dialBolt(t, tp.addr())
			echo(t, c0, []byte("warm"))
			before := runtime.NumGoroutine()
			for i := range n {
				c := dialBolt(t, tp.addr())
				echo(t, c, payload(64, uint64(i)))
			}
			eventually(t, 5*time.Second, "relayed", func() bool { return tp.Stats().Relayed == n+1 })
			grown := runtime.NumGoroutine() - before
			// The fake backend runs one goroutine per connection.
			perConn := float64(grown-n) / n
			if perConn < float64(tt.minGoroutines)-0.1 || perConn > float64(tt.maxGoroutines)+0.1 {
				t.Errorf("%d goroutines more for %d connections (%.2f per connection besides the backend's); want %d to %d",
					grown, n, perConn, tt.minGoroutines, tt.maxGoroutines)
			}
			owned := 0
			for i := range tp.Proxy.reg.shards {
				s := &tp.Proxy.reg.shards[i]
				s.mu.Lock()
				for c := range s.conns {
					if c.client.isOwned() && c.backend.isOwned() {
						owned++
					}
				}
				s.mu.Unlock()
			}
			want := 0
			if tt.owned {
				want = n + 1
			}
			if owned != want {
				t.Errorf("%d connections owned by a loop, want %d", owned, want)
			}
			if got := len(tp.Proxy.startedLoops()); tt.owned && tt.loops > 0 && got != tt.loops {
				t.Errorf("%d loops started, want %d", got, tt.loops)
			}
		})
	}
}

// TestIdleLoopsParkWithoutWakeups checks that loops stop waking up once
// no loop is busy, that traffic still reaches a loop parked that way at
// once, and that while one loop relays the idle one parks with the cap
// (a loop parked without one could miss its events while the others hold
// every processor), also when it was parked without one before.
func TestIdleLoopsParkWithoutWakeups(t *testing.T) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{EventLoops: 2})
	tp.SetRoute(serving(1, be))
	var conns []net.Conn
	for i := range 2 { // one connection per loop
		c := dialBolt(t, tp.addr())
		echo(t, c, payload(64, uint64(i)))
		conns = append(conns, c)
	}
	loops := tp.Proxy.startedLoops()
	if len(loops) != 2 {
		t.Fatalf("%d loops, want 2", len(loops))
	}
	// The loop that relays conns[0] and the other one.
	var busyLoop *evloop
	eventually(t, 5*time.Second, "relayed", func() bool { return tp.Stats().Relayed == 2 })
	for i := range tp.Proxy.reg.shards {
		sh := &tp.Proxy.reg.shards[i]
		sh.mu.Lock()
		for c := range sh.conns {
			if c.client.base.RemoteAddr().String() == conns[0].LocalAddr().String() {
				busyLoop = c.loop.Load()
			}
		}
		sh.mu.Unlock()
	}
	if busyLoop == nil {
		t.Fatal("conns[0] is not owned by a loop")
	}
	idleLoop := loops[0]
	if idleLoop == busyLoop {
		idleLoop = loops[1]
	}
	allDeep := func() bool {
		return loops[0].deep.Load() && loops[1].deep.Load() && tp.Proxy.loops.busy.Load() == 0
	}
	// Idle activeWindow after the last events, then parked without a cap.
	eventually(t, 5*time.Second, "loops parked without a cap", allDeep)

	// Traffic on one loop's connection: relayed at once, the loop turns
	// busy and wakes the other, which parks with the cap from then on.
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			msg := payload(64, uint64(i))
			conns[0].SetDeadline(time.Now().Add(2 * time.Second))
			if _, err = conns[0].Write(msg); err == nil {
				_, err = io.ReadFull(conns[0], make([]byte, len(msg)))
			}
			time.Sleep(200 * time.Microsecond)
		}
		done <- err
	}()
	eventually(t, 5*time.Second, "the relaying loop is not counted busy", func() bool {
		return tp.Proxy.loops.busy.Load() == 1
	})
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if idleLoop.deep.Load() {
			t.Fatal("the idle loop parked without a cap while the other was busy")
		}
		if tp.Proxy.loops.busy.Load() != 1 {
			t.Fatalf("%d loops busy, want 1", tp.Proxy.loops.busy.Load())
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("echo through a loop woken from an uncapped park: %v", err)
	}
	// Both connections still relay after the loops went idle again.
	eventually(t, 5*time.Second, "loops parked without a cap again", allDeep)
	for i, c := range conns {
		start := time.Now()
		echo(t, c, payload(64, uint64(100+i)))
		if d := time.Since(start); d > time.Second {
			t.Errorf("connection %d: echo took %v after an uncapped park", i, d)
		}
	}
}
