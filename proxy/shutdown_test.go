package proxy

import (
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

func TestDrain(t *testing.T) { eachRelay(t, testDrain) }

func testDrain(t *testing.T, loops int) {
	t.Run("in-flight exchange finishes, then Drain returns", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{EventLoops: loops}, RoleReadWrite, RoleReadOnly)
		tp.SetRoute(serving(1, be))
		busy := dialBolt(t, tp.addr())
		pending := dialRaw(t, tp.addr())           // still handshaking: closed by Drain
		held := dialRaw(t, tp.addrs[RoleReadOnly]) // no replica: held, closed by Drain
		held.Write(testPreamble)
		eventually(t, 5*time.Second, "3 active", func() bool { return tp.Stats().Active == 3 && tp.Stats().Held == 1 })

		drained := make(chan error, 1)
		go func() { drained <- tp.Drain(context.Background()) }()
		for role, ch := range tp.errs {
			select {
			case err := <-ch:
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("Serve(%s) returned %v", role, err)
				}
				ch <- err // for the cleanup check
			case <-time.After(5 * time.Second):
				t.Fatalf("Serve(%s) did not return on Drain", role)
			}
		}
		expectClosed(t, pending, 5*time.Second)
		expectClosed(t, held, 5*time.Second)
		if _, err := net.DialTimeout("tcp", tp.addr(), time.Second); err == nil {
			t.Fatal("still accepting while draining")
		}
		// The relayed connection keeps working while the drain waits.
		for range 3 {
			echo(t, busy, payload(10000, 1))
		}
		select {
		case err := <-drained:
			t.Fatalf("Drain returned %v while a connection was open", err)
		default:
		}
		busy.Close()
		select {
		case err := <-drained:
			if err != nil {
				t.Fatalf("Drain: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Drain did not return after the last connection ended")
		}
		if n := rejected(tp.Proxy, "draining"); n != 2 {
			t.Fatalf("draining rejections %d, want 2 (the handshaking and the held client)", n)
		}
	})
	t.Run("leftovers are closed at the deadline", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{EventLoops: loops})
		tp.SetRoute(serving(1, be))
		idle := []net.Conn{dialBolt(t, tp.addr()), dialBolt(t, tp.addr())}
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := tp.Drain(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Drain = %v, want a deadline error", err)
		}
		if d := time.Since(start); d < 140*time.Millisecond || d > 2*time.Second {
			t.Fatalf("Drain took %v", d)
		}
		for _, c := range idle {
			expectClosed(t, c, time.Second)
		}
		if st := tp.Stats(); st.Active != 0 || st.Cut != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestCloseLeavesNoGoroutines opens connections in every stage, closes the
// proxy and checks that every goroutine it started has ended.
func TestCloseLeavesNoGoroutines(t *testing.T) { eachRelay(t, testCloseLeavesNoGoroutines) }

func testCloseLeavesNoGoroutines(t *testing.T, loops int) {
	be := newFakeBackend(t, "m1")
	be.keepOnEOF = true // the half-closed connection stays half-closed
	baseline := runtime.NumGoroutine()

	tp := newTestProxy(t, Config{EventLoops: loops, ProxyProtocol: false}, RoleReadWrite, RoleReadOnly)
	tp.SetRoute(serving(1, be))
	var clients []net.Conn
	for range 20 {
		clients = append(clients, dialBolt(t, tp.addr())) // relayed
	}
	for range 5 {
		clients = append(clients, dialRaw(t, tp.addr())) // handshaking
	}
	for range 5 { // held: no readable replica
		c := dialRaw(t, tp.addrs[RoleReadOnly])
		c.Write(testPreamble)
		clients = append(clients, c)
	}
	half := dialBolt(t, tp.addr()) // half-closed, waiting
	half.(*net.TCPConn).CloseWrite()
	eventually(t, 5*time.Second, "all stages", func() bool {
		st := tp.Stats()
		return st.Active == 31 && st.Held == 5
	})
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tp.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	for _, c := range clients {
		expectClosed(t, c, time.Second)
		c.Close()
	}
	half.Close()
	for _, ch := range tp.errs {
		err := <-ch
		ch <- err
	}
	eventually(t, 5*time.Second, "backend conns closed", func() bool { return be.open() == 0 })
	// Allow for net/http-free runtime helpers; Serve goroutines are gone.
	settleGoroutines(t, baseline)
	if st := tp.Stats(); st.Active != 0 || st.Held != 0 || st.Relayed != 0 {
		t.Fatalf("stats after Close %+v", st)
	}
}

func TestServeAfterClose(t *testing.T) {
	p, err := New(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(ln, RoleReadWrite); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("Serve after Close left the listener open")
	}
}

func TestServeReturnsWhenListenerCloses(t *testing.T) {
	p, err := New(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(ln, RoleReadWrite) }()
	time.Sleep(10 * time.Millisecond)
	ln.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve = %v, want one wrapping net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if err := p.Serve(ln, "primary"); err == nil {
		t.Fatal("unknown role accepted")
	}
}
