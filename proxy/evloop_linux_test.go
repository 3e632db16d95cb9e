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
			tp.eachConn(func(c *conn) {
				if c.client.isOwned() && c.backend.isOwned() {
					owned++
				}
			})
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

// TestLoopsHelpAndParkWithoutWakeups: a loop whose goroutine does not run
// is served by a loop that does (helpOthers); loops that are idle, or relay
// a message now and then, do not wake up in between (no timers), and
// traffic still reaches a parked loop at once.
func TestLoopsHelpAndParkWithoutWakeups(t *testing.T) {
	be := newFakeBackend(t, "m1")
	stall := make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(stall)
		}
	}
	tp := newTestProxy(t, Config{EventLoops: 2, stallLoop: stall})
	t.Cleanup(release) // runs before the proxy's own cleanup closes it
	tp.SetRoute(serving(1, be))
	ownerOf := func(c net.Conn) (owner *evloop) {
		tp.eachConn(func(pc *conn) {
			if pc.client.base.RemoteAddr().String() == c.LocalAddr().String() {
				owner = pc.loop.Load()
			}
		})
		return owner
	}

	// conns[0] on the running loop, kept busy; then conns[1] on the
	// stalled one (its goroutine has not started): its handshake answer and
	// its messages are relayed by the running loop.
	conns := []net.Conn{dialBolt(t, tp.addr())}
	loops := tp.Proxy.startedLoops()
	if len(loops) != 2 || ownerOf(conns[0]) != loops[1] {
		t.Fatalf("conns[0] on loop %p, want the second of %d", ownerOf(conns[0]), len(loops))
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	busy := conns[0]
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
			busy.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err = busy.Write(msg); err == nil {
				_, err = io.ReadFull(busy, make([]byte, len(msg)))
			}
		}
		busy.SetDeadline(time.Time{})
		done <- err
	}()
	conns = append(conns, dialBolt(t, tp.addr()))
	if ownerOf(conns[1]) != loops[0] {
		t.Fatalf("conns[1] on loop %p, want the stalled %p", ownerOf(conns[1]), loops[0])
	}
	for i := range 20 {
		echo(t, conns[1], payload(1000, uint64(i)))
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("the running loop's connection: %v", err)
	}

	// Both loops running now, then idle: no wake-ups while nothing moves,
	// nor in the idle loop while the other relays a message a millisecond.
	release()
	echo(t, conns[1], payload(64, 7))
	parks := func() (int64, int64) { return loops[0].parks.Load(), loops[1].parks.Load() }
	time.Sleep(50 * time.Millisecond)
	a0, b0 := parks()
	time.Sleep(300 * time.Millisecond)
	if a1, b1 := parks(); a1 != a0 || b1 != b0 {
		t.Errorf("idle loops woke up %d and %d times in 300 ms", a1-a0, b1-b0)
	}
	// conns[0] is loops[1]'s: loops[0] must sleep through its messages.
	a0, _ = parks()
	for i := range 200 {
		start := time.Now()
		echo(t, conns[0], payload(64, uint64(i)))
		if d := time.Since(start); d > time.Second {
			t.Fatalf("echo %d took %v through a loop parked without a timer", i, d)
		}
		time.Sleep(time.Millisecond)
	}
	if a1, _ := parks(); a1-a0 > 2 {
		t.Errorf("the idle loop woke up %d times while the other relayed 200 messages", a1-a0)
	}
	for i, c := range conns {
		echo(t, c, payload(64, uint64(100+i)))
	}
}

// TestLoopWokenWhileHelpedSeesItsEvents: a loop woken up while another
// holds its lock (a helper's batch) must still handle the events that woke
// it once the lock is free. Here the test holds the lock in the helper's
// place and lets it go without touching the events: a loop that parked
// again on finding the lock taken never saw them (no other event came).
func TestLoopWokenWhileHelpedSeesItsEvents(t *testing.T) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{EventLoops: 2})
	tp.SetRoute(serving(1, be))
	c := dialBolt(t, tp.addr())
	echo(t, c, payload(64, 1))
	eventually(t, 5*time.Second, "relayed", func() bool { return tp.Stats().Relayed == 1 })
	var owner *evloop
	tp.eachConn(func(pc *conn) { owner = pc.loop.Load() })
	if owner == nil {
		t.Fatal("the connection is not owned by a loop")
	}
	for round := range 5 {
		time.Sleep(20 * time.Millisecond) // the loops park
		owner.proc.Lock()
		msg := payload(64, uint64(10+round))
		if _, err := c.Write(msg); err != nil {
			owner.proc.Unlock()
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the owner wakes up and finds the lock taken
		owner.proc.Unlock()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("round %d: the message was not relayed after the lock was freed: %v", round, err)
		}
		c.SetReadDeadline(time.Time{})
	}
}

// TestCutSharedAcrossLoops: a cut's resets are shared by the loops and the
// goroutine that runs the cut. One loop's share is held up at its start (a
// loop the scheduler runs late); every client, that loop's included, must
// still be reset while it waits, and the cut must finish once it goes on.
func TestCutSharedAcrossLoops(t *testing.T) {
	be := newFakeBackend(t, "m1")
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	tp := newTestProxy(t, Config{EventLoops: 2, cutJobStart: func(loop int) {
		if loop != 0 {
			return
		}
		held <- struct{}{}
		select {
		case <-hold:
		case <-time.After(20 * time.Second): // never hang the test binary
		}
	}})
	released := false
	release := func() {
		if !released {
			released = true
			close(hold)
		}
	}
	t.Cleanup(release)
	tp.SetRoute(serving(1, be))

	const n = 16
	var conns []net.Conn
	owners := map[*evloop]int{}
	for range n {
		c := dialBolt(t, tp.addr())
		conns = append(conns, c)
	}
	eventually(t, 5*time.Second, "all loop-owned", func() bool {
		clear(owners)
		tp.eachConn(func(pc *conn) {
			if l := pc.loop.Load(); l != nil {
				owners[l]++
			}
		})
		return len(owners) == 2 && owners[tp.Proxy.startedLoops()[0]]+owners[tp.Proxy.startedLoops()[1]] == n
	})
	if owners[tp.Proxy.startedLoops()[0]] == 0 {
		t.Fatal("no connection on the loop whose share is held up")
	}

	tp.SetRoute(serving(2, be))
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the first loop never started its share of the cut")
	}
	// The first loop is held up: the others must reset every client.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("client %d not reset while the first loop's share was held up: %v", i, err)
		}
	}
	release()
	eventually(t, 10*time.Second, "cut connections closed", func() bool { return tp.Proxy.Stats().Active == 0 })
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestKickWanted: another thread is woken for the network only for a
// parked loop that was busy lately, and only after a real park of this
// one (not on a saturated machine, where loops park and wake back to back).
func TestKickWanted(t *testing.T) {
	const now = int64(10 * time.Second)
	us := int64(time.Microsecond)
	for _, tc := range []struct {
		name        string
		parkedAt    int64
		otherParked bool
		otherEvents int64
		want        bool
	}{
		{"other parked, busy 100 µs ago, parked 200 µs", now - 200*us, true, now - 100*us, true},
		{"other parked, busy just now, parked exactly the minimum", now - kickMinPark, true, now, true},
		{"other running", now - 200*us, false, now - 100*us, false},
		{"other quiet for the recent window", now - 200*us, true, now - kickRecent, false},
		{"other never had events", now - 200*us, true, 0, false},
		{"this loop parked briefly (saturated)", now - 10*us, true, now - 100*us, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kickWanted(now, tc.parkedAt, tc.otherParked, tc.otherEvents); got != tc.want {
				t.Errorf("kickWanted = %v, want %v", got, tc.want)
			}
		})
	}
}
