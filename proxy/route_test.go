package proxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

func TestHold(t *testing.T) {
	t.Run("released when a serving route arrives", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{HoldTimeout: 10 * time.Second})
		var conns []net.Conn
		for range 3 {
			c := dialRaw(t, tp.addr())
			c.Write(testPreamble)
			conns = append(conns, c)
		}
		eventually(t, 5*time.Second, "3 held", func() bool { return tp.Stats().Held == 3 })
		if be.accepted.Load() != 0 {
			t.Fatal("dialed while holding")
		}
		tp.SetRoute(serving(1, be))
		for _, c := range conns {
			expectVersion(t, c)
			echo(t, c, []byte("after hold"))
		}
		if st := tp.Stats(); st.Held != 0 || st.Relayed != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("closed cleanly after HoldTimeout", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{HoldTimeout: 150 * time.Millisecond})
		tp.SetRoute(Route{Epoch: 1, Phase: PhaseFailover})
		c := dialRaw(t, tp.addr())
		c.Write(testPreamble)
		start := time.Now()
		expectClosed(t, c, 5*time.Second)
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Fatalf("closed after %v, before the hold timeout", d)
		}
		eventually(t, 5*time.Second, "hold-timeout", func() bool { return rejected(tp.Proxy, "hold-timeout") == 1 })
		eventually(t, 5*time.Second, "the conn to end", func() bool { return tp.Stats().Active == 0 })
		if st := tp.Stats(); st.Held != 0 || st.Active != 0 || be.accepted.Load() != 0 {
			t.Fatalf("stats %+v, backend %d", st, be.accepted.Load())
		}
	})
	t.Run("MaxHeld", func(t *testing.T) {
		tp := newTestProxy(t, Config{MaxHeld: 2})
		for range 2 {
			dialRaw(t, tp.addr()).Write(testPreamble)
		}
		eventually(t, 5*time.Second, "2 held", func() bool { return tp.Stats().Held == 2 })
		c := dialRaw(t, tp.addr())
		c.Write(testPreamble)
		expectClosed(t, c, 5*time.Second)
		eventually(t, 5*time.Second, "hold-full", func() bool { return rejected(tp.Proxy, "hold-full") == 1 })
	})
	t.Run("holding off rejects with no-route", func(t *testing.T) {
		tp := newTestProxy(t, Config{HoldTimeout: -1})
		c := dialRaw(t, tp.addr())
		c.Write(testPreamble)
		expectClosed(t, c, 5*time.Second)
		eventually(t, 5*time.Second, "no-route", func() bool { return rejected(tp.Proxy, "no-route") == 1 })
	})
	t.Run("a client that left while held is not dialed", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{})
		c := dialRaw(t, tp.addr())
		c.Write(testPreamble)
		eventually(t, 5*time.Second, "held", func() bool { return tp.Stats().Held == 1 })
		c.Close()
		time.Sleep(20 * time.Millisecond)
		tp.SetRoute(serving(1, be))
		eventually(t, 5*time.Second, "client-left", func() bool { return rejected(tp.Proxy, "client-left") == 1 })
		if be.accepted.Load() != 0 {
			t.Fatal("dialed for a client that had left")
		}
	})
}

func TestEpochs(t *testing.T) { eachRelay(t, testEpochs) }

func testEpochs(t *testing.T, loops int) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{EventLoops: loops})
	if !tp.SetRoute(serving(5, be)) {
		t.Fatal("first route refused")
	}
	old := []net.Conn{dialBolt(t, tp.addr()), dialBolt(t, tp.addr()), dialBolt(t, tp.addr())}

	// Lower and equal epochs are ignored and cut nothing.
	for _, e := range []uint64{0, 4, 5} {
		if tp.SetRoute(serving(e, be)) {
			t.Fatalf("epoch %d accepted over 5", e)
		}
	}
	for _, c := range old {
		echo(t, c, []byte("still here"))
	}
	// Same epoch replica update: nothing cut either.
	if !tp.UpdateReplicas(5, []Replica{{Backend: be.backend(), Ready: true}}) || tp.UpdateReplicas(4, nil) {
		t.Fatal("UpdateReplicas applies only at the current epoch")
	}
	for _, c := range old {
		echo(t, c, []byte("still here"))
	}

	// A higher epoch, same main: every older connection is cut before
	// SetRoute returns, and only those.
	if !tp.SetRoute(serving(6, be)) {
		t.Fatal("epoch 6 refused")
	}
	if st := tp.Stats(); st.Cut != 3 || st.Epoch != 6 {
		t.Fatalf("stats after the cut %+v", st)
	}
	for _, c := range old {
		expectClosed(t, c, 2*time.Second)
	}
	fresh := dialBolt(t, tp.addr())
	echo(t, fresh, []byte("new epoch"))
	if tp.SetRoute(serving(6, be)) {
		t.Fatal("equal epoch accepted")
	}
	echo(t, fresh, []byte("new epoch"))
	if got := tp.Route(); got.Epoch != 6 || got.Main != be.backend() {
		t.Fatalf("Route() = %+v", got)
	}
}

// TestFailoverCutsThenHolds follows failover steps 4 and 7: the failover
// route cuts every connection to the old MAIN and holds new ones, which the
// next serving route releases to the new MAIN.
func TestFailoverCutsThenHolds(t *testing.T) { eachRelay(t, testFailoverCutsThenHolds) }

func testFailoverCutsThenHolds(t *testing.T, loops int) {
	m1, m2 := newFakeBackend(t, "m1"), newFakeBackend(t, "m2")
	tp := newTestProxy(t, Config{EventLoops: loops})
	tp.SetRoute(serving(1, m1))
	old := dialBolt(t, tp.addr())
	eventually(t, 5*time.Second, "m1 conn", func() bool { return m1.open() == 1 })

	tp.SetRoute(Route{Epoch: 2, Phase: PhaseFailover})
	expectClosed(t, old, 2*time.Second)
	eventually(t, 5*time.Second, "m1 side closed", func() bool { return m1.open() == 0 })

	held := dialRaw(t, tp.addr())
	held.Write(testPreamble)
	eventually(t, 5*time.Second, "held", func() bool { return tp.Stats().Held == 1 })

	tp.SetRoute(serving(3, m2))
	expectVersion(t, held)
	echo(t, held, []byte("on m2"))
	if m2.accepted.Load() != 1 || m1.accepted.Load() != 1 {
		t.Fatalf("m1 %d m2 %d accepted", m1.accepted.Load(), m2.accepted.Load())
	}
}

// TestRouting follows the route lease: a route installed without routing
// holds new connections and dials nothing; routing on releases them; routing
// off (the lease expired) cuts every relayed connection and holds new ones
// again, at the same epoch; a new epoch installed with routing starts
// relaying at once.
func TestRouting(t *testing.T) {
	m1, m2 := newFakeBackend(t, "m1"), newFakeBackend(t, "m2")
	tp := newTestProxy(t, Config{HoldTimeout: 10 * time.Second})
	if !tp.InstallRoute(serving(4, m1), false) || tp.Routing() {
		t.Fatal("install without routing")
	}
	held := dialRaw(t, tp.addr())
	held.Write(testPreamble)
	eventually(t, 5*time.Second, "held", func() bool { return tp.Stats().Held == 1 })
	if m1.accepted.Load() != 0 {
		t.Fatal("dialed without routing")
	}
	for _, bad := range []struct {
		epoch uint64
		on    bool
	}{{3, true}, {5, true}, {0, true}, {4, false}} {
		if tp.SetRouting(bad.epoch, bad.on) {
			t.Fatalf("SetRouting(%d, %v) changed something", bad.epoch, bad.on)
		}
	}
	if !tp.SetRouting(4, true) || !tp.Routing() {
		t.Fatal("routing on refused")
	}
	expectVersion(t, held)
	echo(t, held, []byte("leased"))
	other := dialBolt(t, tp.addr())
	echo(t, other, []byte("leased too"))

	// The lease expires: both relayed connections are cut before SetRouting
	// returns, and a new one is held.
	if !tp.SetRouting(4, false) {
		t.Fatal("routing off refused")
	}
	if st := tp.Stats(); st.Cut != 2 || st.Epoch != 4 {
		t.Fatalf("stats after routing off %+v", st)
	}
	expectClosed(t, held, 2*time.Second)
	expectClosed(t, other, 2*time.Second)
	late := dialRaw(t, tp.addr())
	late.Write(testPreamble)
	eventually(t, 5*time.Second, "held again", func() bool { return tp.Stats().Held == 1 })
	if got := m1.accepted.Load(); got != 2 {
		t.Fatalf("m1 accepted %d, want 2 (nothing dialed while routing is off)", got)
	}

	// A new epoch with routing releases it to the new MAIN.
	if !tp.InstallRoute(serving(5, m2), true) {
		t.Fatal("epoch 5 refused")
	}
	expectVersion(t, late)
	echo(t, late, []byte("on m2"))
	if m2.accepted.Load() != 1 {
		t.Fatalf("m2 accepted %d", m2.accepted.Load())
	}
	// Replica updates keep the routing state.
	if !tp.UpdateReplicas(5, []Replica{{Backend: m1.backend(), Ready: true}}) || !tp.Routing() {
		t.Fatal("UpdateReplicas changed routing")
	}
}

// TestRouteRaceWithDial changes routes while connections are being set up:
// no connection may end up relaying under an epoch older than the current
// one once SetRoute has returned.
func TestRouteRaceWithDial(t *testing.T) {
	m1, m2 := newFakeBackend(t, "m1"), newFakeBackend(t, "m2")
	tp := newTestProxy(t, Config{})
	tp.SetRoute(serving(1, m1))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", tp.addr())
				if err != nil {
					continue
				}
				c.Write(testPreamble)
				c.SetReadDeadline(time.Now().Add(time.Second))
				c.Read(make([]byte, 4))
				c.Close()
			}
		})
	}
	for e := uint64(2); e < 40; e++ {
		be := m1
		if e%2 == 0 {
			be = m2
		}
		tp.SetRoute(serving(e, be))
		if n := tp.Proxy.reg.relayingBelow(e); n != 0 {
			t.Fatalf("%d connections of an older epoch survived epoch %d", n, e)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
}

func TestReadOnly(t *testing.T) {
	main, r1, r2, r3 := newFakeBackend(t, "main"), newFakeBackend(t, "r1"), newFakeBackend(t, "r2"), newFakeBackend(t, "r3")
	rep := func(b *fakeBackend, ready bool, lag int64) Replica {
		return Replica{Backend: b.backend(), Ready: ready, Lag: lag}
	}
	t.Run("only ready replicas within the lag bound, spread", func(t *testing.T) {
		tp := newTestProxy(t, Config{MaxReplicaLag: 10}, RoleReadWrite, RoleReadOnly)
		tp.SetRoute(serving(1, main, rep(r1, true, 0), rep(r2, true, -10), rep(r3, false, 0),
			Replica{Backend: Backend{Name: "lagging", Addr: "127.0.0.1:1"}, Ready: true, Lag: -11}))
		before1, before2 := r1.accepted.Load(), r2.accepted.Load()
		for range 10 {
			echo(t, dialBolt(t, tp.addrs[RoleReadOnly]), []byte("read"))
		}
		d1, d2 := r1.accepted.Load()-before1, r2.accepted.Load()-before2
		if d1 != 5 || d2 != 5 {
			t.Fatalf("r1 got %d, r2 got %d: want 5 each", d1, d2)
		}
		if r3.accepted.Load() != 0 || main.accepted.Load() != 0 {
			t.Fatal("a not-ready replica or the MAIN got read-only traffic")
		}
		echo(t, dialBolt(t, tp.addr()), []byte("write"))
		if main.accepted.Load() != 1 {
			t.Fatal("read-write did not go to the MAIN")
		}
	})
	t.Run("MAIN only with ReadFromMain", func(t *testing.T) {
		tp := newTestProxy(t, Config{ReadFromMain: true}, RoleReadOnly)
		tp.SetRoute(serving(1, main, rep(r1, false, 0)))
		before := main.accepted.Load()
		echo(t, dialBolt(t, tp.addrs[RoleReadOnly]), []byte("read"))
		if main.accepted.Load() != before+1 {
			t.Fatal("ReadFromMain did not use the MAIN")
		}
	})
	t.Run("no replica: held until UpdateReplicas", func(t *testing.T) {
		tp := newTestProxy(t, Config{}, RoleReadOnly)
		tp.SetRoute(serving(7, main, rep(r3, false, 0)))
		c := dialRaw(t, tp.addrs[RoleReadOnly])
		c.Write(testPreamble)
		eventually(t, 5*time.Second, "held", func() bool { return tp.Stats().Held == 1 })
		before := r3.accepted.Load()
		tp.UpdateReplicas(7, []Replica{rep(r3, true, 0)})
		expectVersion(t, c)
		if r3.accepted.Load() != before+1 {
			t.Fatal("not released to the replica that became ready")
		}
	})
}

// TestReadOnlyDialRetry: a read-only connection whose replica refuses the
// dial tries the next one (then the MAIN with ReadFromMain) before the
// client sees anything; a read-write connection never leaves the MAIN.
func TestReadOnlyDialRetry(t *testing.T) {
	main, r1 := newFakeBackend(t, "main"), newFakeBackend(t, "r1")
	dead := func(name string) Replica {
		// A port nothing listens on: the dial is refused at once.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return Replica{Backend: Backend{Name: name, Addr: addr}, Ready: true}
	}
	up := Replica{Backend: r1.backend(), Ready: true}
	tests := []struct {
		name         string
		readFromMain bool
		replicas     []Replica
		wantR1       int64 // read-only connections r1 gets out of 6
		wantMain     int64 // and the MAIN
		wantFailed   int   // refused with dial-error
	}{
		{"a dead replica is skipped", false, []Replica{dead("d1"), up}, 6, 0, 0},
		{"two dead replicas are skipped", false, []Replica{dead("d1"), up, dead("d2")}, 6, 0, 0},
		{"all replicas dead: the MAIN with ReadFromMain", true, []Replica{dead("d1"), dead("d2")}, 0, 6, 0},
		{"all replicas dead: refused", false, []Replica{dead("d1"), dead("d2")}, 0, 0, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dialErrs atomic.Int64
			tp := newTestProxy(t, Config{ReadFromMain: tt.readFromMain, OnDialError: func(Backend, error) { dialErrs.Add(1) }},
				RoleReadWrite, RoleReadOnly)
			tp.SetRoute(serving(1, main, tt.replicas...))
			r1Before, mainBefore := r1.accepted.Load(), main.accepted.Load()
			failed := 0
			for range 6 {
				c := dialRaw(t, tp.addrs[RoleReadOnly])
				c.Write(testPreamble)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var v [4]byte
				if _, err := io.ReadFull(c, v[:]); err != nil {
					failed++
				}
				c.Close()
			}
			if got := r1.accepted.Load() - r1Before; got != tt.wantR1 {
				t.Errorf("r1 got %d read-only connections, want %d", got, tt.wantR1)
			}
			if got := main.accepted.Load() - mainBefore; got != tt.wantMain {
				t.Errorf("the MAIN got %d read-only connections, want %d", got, tt.wantMain)
			}
			if failed != tt.wantFailed {
				t.Errorf("%d connections refused, want %d", failed, tt.wantFailed)
			}
			if got := tp.Stats().Rejected["dial-error"]; got != tt.wantFailed {
				t.Errorf("%d counted as dial errors, want %d", got, tt.wantFailed)
			}
			if dialErrs.Load() == 0 {
				t.Error("OnDialError was not called for the dead replicas")
			}
		})
	}
	t.Run("read-write stays on a dead MAIN", func(t *testing.T) {
		d := dead("deadmain")
		tp := newTestProxy(t, Config{ReadFromMain: true}, RoleReadWrite)
		tp.SetRoute(Route{Epoch: 1, Phase: PhaseServing, Main: d.Backend, Replicas: []Replica{up}})
		before := r1.accepted.Load()
		c := dialRaw(t, tp.addr())
		c.Write(testPreamble)
		expectClosed(t, c, 5*time.Second)
		if r1.accepted.Load() != before {
			t.Fatal("a read-write connection went to a replica")
		}
	})
}

// TestFenceBlockedWriters: a relay blocked writing to a peer that does not
// read (either direction) must not delay SetRoute, and nothing may be
// written for the old epoch once SetRoute returned.
func TestFenceBlockedWriters(t *testing.T) { eachRelay(t, testFenceBlockedWriters) }

func testFenceBlockedWriters(t *testing.T, loops int) {
	tests := []struct {
		name string
		dir  int // 0: client floods a backend that does not read; 1: backend floods a client that does not read
	}{
		{"towards the backend", 0},
		{"towards the client", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A backend that answers the handshake, then floods or stalls.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			stall := make(chan struct{})
			defer close(stall)
			backendDone := make(chan struct{})
			go func() {
				defer close(backendDone)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				pre := make([]byte, 20)
				if _, err := io.ReadFull(c, pre); err != nil {
					return
				}
				c.Write(testVersion)
				if tt.dir == 1 {
					chunk := make([]byte, 64<<10)
					for {
						if _, err := c.Write(chunk); err != nil {
							return
						}
					}
				}
				<-stall // never reads the flood
			}()
			tp := newTestProxy(t, Config{EventLoops: loops})
			tp.SetRoute(Route{Epoch: 1, Phase: PhaseServing, Main: Backend{Name: "m", Addr: ln.Addr().String()}})
			c := dialBolt(t, tp.addr())
			if tt.dir == 0 {
				go func() {
					chunk := make([]byte, 64<<10)
					for {
						if _, err := c.Write(chunk); err != nil {
							return
						}
					}
				}()
			}
			m := tp.Proxy.m.bytesUp
			if tt.dir == 1 {
				m = tp.Proxy.m.bytesDown
			}
			var relayed *conn
			eventually(t, 10*time.Second, "a relayed connection", func() bool {
				tp.eachConn(func(x *conn) {
					if x.epoch == 1 {
						relayed = x
					}
				})
				return relayed != nil
			})
			// Bytes flow only once the relay runs (in a loop or not).
			eventually(t, 10*time.Second, "bytes relayed", func() bool { return counterValue(m) > 0 })
			owned := relayed.client.isOwned()
			if owned {
				// An event loop never blocks in a write: the flooded
				// direction is stuck once the peer's socket is full and
				// the rest waits in the loop, the source no longer read.
				last := -1.0
				eventually(t, 10*time.Second, "the flood to stall", func() bool {
					v := counterValue(m)
					stalled := v > 0 && v == last
					last = v
					time.Sleep(100 * time.Millisecond)
					return stalled
				})
			} else {
				// Wait until the relay goroutine is stuck in its write.
				eventually(t, 10*time.Second, "a blocked writer", func() bool { return relayed.writing[tt.dir].Load() })
				time.Sleep(50 * time.Millisecond) // well blocked
			}
			start := time.Now()
			tp.SetRoute(Route{Epoch: 2, Phase: PhaseFailover})
			if d := time.Since(start); d > time.Second {
				t.Fatalf("SetRoute took %v with a blocked writer", d)
			}
			// A blocked write was ended by the fence; its goroutine lowers
			// the flag when it runs. From then on, nothing moves.
			eventually(t, 5*time.Second, "the blocked write to end", func() bool { return !relayed.writing[tt.dir].Load() })
			before := counterValue(m)
			time.Sleep(100 * time.Millisecond)
			if after := counterValue(m); after != before {
				t.Fatalf("%v more bytes relayed after the fence", after-before)
			}
			expectClosed(t, c, 5*time.Second)
			if tt.dir == 1 {
				select {
				case <-backendDone: // its flood failed: the gateway closed it
				case <-time.After(5 * time.Second):
					t.Fatal("the backend connection was not closed")
				}
			}
		})
	}
}
