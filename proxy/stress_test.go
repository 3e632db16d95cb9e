package proxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRelayStress runs many clients through both relays at once, with
// random message sizes (backpressure included), pipelined writes, clean
// half-closes and route changes cutting connections at random moments.
// Whatever a client reads must be a prefix of what it wrote (the backend
// echoes): a byte lost, duplicated or reordered fails it. At the end every
// connection must have ended, in the proxy and in its event loops.
func TestRelayStress(t *testing.T) { eachRelay(t, testRelayStress) }

func testRelayStress(t *testing.T, loops int) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{EventLoops: loops, MaxConnections: 500})
	epoch := uint64(1)
	tp.SetRoute(serving(epoch, be))

	const clients, rounds = 24, 12
	stop := make(chan struct{})
	var cutter sync.WaitGroup
	cutter.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(20+r.IntN(60)) * time.Millisecond):
			}
			epoch++
			tp.SetRoute(serving(epoch, be))
		}
	})

	var wg sync.WaitGroup
	var full atomic.Int64
	errc := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for round := range rounds {
				whole, err := stressRound(tp.addr(), r, uint64(i*rounds+round))
				if err != nil {
					errc <- err
					return
				}
				if whole {
					full.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	cutter.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tp.Stats().Active != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if tp.Stats().Active != 0 {
		t.Fatalf("stuck: %+v\n%s", tp.Stats(), tp.Proxy.loopsReport())
	}
	// Not vacuous: some echoes completed, some connections were cut.
	if full.Load() == 0 || tp.Stats().Cut == 0 {
		t.Errorf("%d whole echoes, %d connections cut: the test must see both", full.Load(), tp.Stats().Cut)
	}
	t.Logf("%d of %d rounds echoed everything; %d relayed connections cut by %d route changes",
		full.Load(), clients*rounds, tp.Stats().Cut, epoch-1)
}

// stressRound opens one connection and echoes a random payload through it,
// written in random pieces while reading; sometimes it half-closes and
// reads to the end, sometimes it resets the connection part way. A cut (reset or EOF before the whole echo) is allowed;
// a wrong byte is not.
// It reports whether the whole payload came back.
func stressRound(addr string, r *rand.Rand, seed uint64) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write(testPreamble); err != nil {
		return false, nil // cut before the handshake: fine
	}
	var v [4]byte
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(c, v[:]); err != nil {
		return false, nil // cut or held past a route change: fine
	}
	size := []int{1, 100, 4 << 10, 64 << 10, 300 << 10}[r.IntN(5)]
	msg := payload(size, seed)
	halfClose := r.IntN(3) == 0
	abortAt := -1 // the client resets the connection after reading this much
	if r.IntN(5) == 0 {
		abortAt = r.IntN(size + 1)
	}
	pieces := 1 + r.IntN(8)
	go func() {
		for off, n := 0, 0; off < len(msg); off += n {
			n = min(len(msg)-off, 1+len(msg)/pieces)
			if _, err := c.Write(msg[off : off+n]); err != nil {
				return
			}
		}
		if halfClose {
			c.(*net.TCPConn).CloseWrite()
		}
	}()
	got := make([]byte, 0, size)
	buf := make([]byte, 32<<10)
	for len(got) < size {
		if abortAt >= 0 && len(got) >= abortAt {
			c.(*net.TCPConn).SetLinger(0)
			return false, nil // the deferred Close resets
		}
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if len(got) > size || !bytes.Equal(got, msg[:len(got)]) {
		return false, errors.New("proxy: the echo is not a prefix of what was sent")
	}
	if halfClose && len(got) == size {
		// The backend closes after our FIN: EOF (or a reset if a cut
		// came first), never more bytes.
		n, err := c.Read(buf)
		if n > 0 {
			return false, errors.New("proxy: bytes after the whole echo")
		}
		if err == nil {
			return false, errors.New("proxy: no EOF after a half-close")
		}
	}
	return len(got) == size, nil
}
