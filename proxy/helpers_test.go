package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testPreamble is a Bolt preamble: the magic and four proposals.
var testPreamble = []byte{0x60, 0x60, 0xB0, 0x17, 0, 8, 8, 5, 0, 2, 4, 4, 0, 0, 0, 3, 0, 0, 0, 0}

var testVersion = []byte{0, 0, 2, 5}

// fakeBackend is a minimal Bolt server: it reads the 20-byte preamble, answers
// 00 00 02 05 and echoes everything after. It counts accepted connections and
// records every preamble it saw.
type fakeBackend struct {
	t        testing.TB
	ln       net.Listener
	name     string
	accepted atomic.Int64
	// keepOnEOF: on client EOF keep the socket open (half-close tests).
	keepOnEOF bool

	quit      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	preambles [][]byte
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

func newFakeBackend(t testing.TB, name string) *fakeBackend {
	return newFakeBackendTLS(t, name, nil)
}

func newFakeBackendTLS(t testing.TB, name string, cfg *tls.Config) *fakeBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	b := &fakeBackend{t: t, ln: ln, name: name, conns: map[net.Conn]struct{}{}, quit: make(chan struct{})}
	b.wg.Add(1)
	go b.acceptLoop()
	t.Cleanup(b.close)
	return b
}

func (b *fakeBackend) backend() Backend { return Backend{Name: b.name, Addr: b.ln.Addr().String()} }

func (b *fakeBackend) acceptLoop() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.accepted.Add(1)
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go b.serveConn(c)
	}
}

func (b *fakeBackend) serveConn(c net.Conn) {
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.Close()
	}()
	pre := make([]byte, 20)
	if _, err := io.ReadFull(c, pre); err != nil {
		return
	}
	b.mu.Lock()
	b.preambles = append(b.preambles, pre)
	b.mu.Unlock()
	if !bytes.Equal(pre[:4], testPreamble[:4]) {
		return
	}
	if _, err := c.Write(testVersion); err != nil {
		return
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && b.keepOnEOF {
				b.waitReset(c)
			}
			return
		}
	}
}

// waitReset keeps a half-closed connection open until the peer resets it
// or the backend closes. Reads cannot tell (after a FIN they return EOF even
// once a reset came), so it polls the socket's pending error.
func (b *fakeBackend) waitReset(c net.Conn) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	for {
		soErr := 0
		rc.Control(func(fd uintptr) { soErr = socketError(fd) })
		if soErr != 0 {
			return
		}
		select {
		case <-b.quit:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (b *fakeBackend) open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

func (b *fakeBackend) seen() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.preambles...)
}

func (b *fakeBackend) close() {
	b.closeOnce.Do(func() { close(b.quit) })
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	<-done
}

// testProxy starts a Proxy on a loopback listener per role.
type testProxy struct {
	*Proxy
	promReg *prometheus.Registry
	addrs   map[Role]string
	errs    map[Role]chan error
}

func newTestProxy(t testing.TB, cfg Config, roles ...Role) *testProxy {
	t.Helper()
	if len(roles) == 0 {
		roles = []Role{RoleReadWrite}
	}
	reg := prometheus.NewRegistry()
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt)
	}
	p, err := New(cfg, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: p, promReg: reg, addrs: map[Role]string{}, errs: map[Role]chan error{}}
	for _, role := range roles {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tp.addrs[role] = ln.Addr().String()
		ch := make(chan error, 1)
		tp.errs[role] = ch
		go func() { ch <- p.Serve(ln, role) }()
	}
	t.Cleanup(func() {
		p.Close()
		for role, ch := range tp.errs {
			select {
			case err := <-ch:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Serve(%s) returned %v, want ErrClosed", role, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Serve(%s) did not return after Close", role)
			}
		}
	})
	return tp
}

func (tp *testProxy) addr() string { return tp.addrs[RoleReadWrite] }

// eachConn calls f for every registered connection, under its shard's lock.
func (tp *testProxy) eachConn(f func(c *conn)) {
	for i := range tp.Proxy.reg.shards {
		s := &tp.Proxy.reg.shards[i]
		s.mu.Lock()
		for c := range s.conns {
			f(c)
		}
		s.mu.Unlock()
	}
}

func serving(epoch uint64, main *fakeBackend, replicas ...Replica) Route {
	return Route{Epoch: epoch, Phase: PhaseServing, Main: main.backend(), Replicas: replicas}
}

// dialRaw connects without a handshake.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialBolt connects, sends prefix and the preamble, and checks the version
// answer that comes back through the proxy.
func dialBolt(t testing.TB, addr string, prefix ...byte) net.Conn {
	t.Helper()
	c := dialRaw(t, addr)
	if _, err := c.Write(append(prefix, testPreamble...)); err != nil {
		t.Fatal(err)
	}
	expectVersion(t, c)
	return c
}

func expectVersion(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the version answer: %v", err)
	}
	if !bytes.Equal(got, testVersion) {
		t.Fatalf("version answer %x, want %x", got, testVersion)
	}
	c.SetReadDeadline(time.Time{})
}

// echo sends msg and expects it back.
func echo(t testing.TB, c net.Conn, msg []byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("echo of %d bytes: %v", len(msg), err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes differs", len(msg))
	}
	c.SetReadDeadline(time.Time{})
}

// expectClosed waits until the peer closes c (EOF or reset) within d.
func expectClosed(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
		return
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rejected(p *Proxy, reason string) int { return p.Stats().Rejected[reason] }

// settleGoroutines waits for the goroutine count to fall to at most n.
func settleGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eachRelay runs f with each relay: the event loops (Config.EventLoops 0;
// Linux only, goroutines elsewhere) and goroutines per connection (-1).
func eachRelay(t *testing.T, f func(t *testing.T, loops int)) {
	for _, m := range []struct {
		name  string
		loops int
	}{{"loops", 0}, {"goroutines", -1}} {
		t.Run(m.name, func(t *testing.T) { f(t, m.loops) })
	}
}
