package proxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRelayBothWays(t *testing.T) { eachRelay(t, testRelayBothWays) }

func testRelayBothWays(t *testing.T, loops int) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{EventLoops: loops})
	tp.SetRoute(serving(1, be))

	tests := []struct {
		name   string
		size   int
		rounds int
	}{
		{"1 byte", 1, 50},
		{"64 bytes", 64, 100},
		{"chunk 65535", 65535 + 2, 5},
		{"1 MiB", 1 << 20, 2},
		{"8 MiB", 8 << 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialBolt(t, tp.addr())
			for i := range tt.rounds {
				echo(t, c, payload(tt.size, uint64(i+tt.size)))
			}
		})
	}
	if got := be.seen(); len(got) != len(tests) || !bytes.Equal(got[0], testPreamble) {
		t.Fatalf("backend saw preambles %x", got)
	}
	if st := tp.Stats(); st.Total != uint64(len(tests)) || len(st.Rejected) != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRelayPipelined writes and reads concurrently on many connections, so
// both directions are busy at once and buffers cycle through the pool.
func TestRelayPipelined(t *testing.T) { eachRelay(t, testRelayPipelined) }

func testRelayPipelined(t *testing.T, loops int) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{EventLoops: loops})
	tp.SetRoute(serving(1, be))
	const conns, size = 8, 512 << 10
	errc := make(chan error, conns)
	for i := range conns {
		c := dialBolt(t, tp.addr())
		go func() {
			msg := payload(size, uint64(i))
			go func() {
				for off := 0; off < len(msg); off += 1000 {
					if _, err := c.Write(msg[off:min(off+1000, len(msg))]); err != nil {
						return
					}
				}
			}()
			got := make([]byte, size)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				errc <- err
				return
			}
			if !bytes.Equal(got, msg) {
				errc <- io.ErrUnexpectedEOF
				return
			}
			errc <- nil
		}()
	}
	for range conns {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestHalfClose(t *testing.T) { eachRelay(t, testHalfClose) }

func testHalfClose(t *testing.T, loops int) {
	t.Run("client FIN reaches the backend, the answer still flows back", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{EventLoops: loops})
		tp.SetRoute(serving(1, be))
		c := dialBolt(t, tp.addr())
		msg := payload(100<<10, 7)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c) // echo, then EOF when the backend closes
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read %d bytes, err %v", len(got), err)
		}
		eventually(t, 5*time.Second, "the relay to end", func() bool { return tp.Stats().Active == 0 })
	})
	t.Run("a silent peer after a half-close is closed after HalfCloseTimeout", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		be.keepOnEOF = true
		tp := newTestProxy(t, Config{EventLoops: loops, HalfCloseTimeout: 100 * time.Millisecond})
		tp.SetRoute(serving(1, be))
		c := dialBolt(t, tp.addr())
		start := time.Now()
		c.(*net.TCPConn).CloseWrite()
		expectClosed(t, c, 5*time.Second)
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("closed after %v, before the half-close timeout", d)
		}
		eventually(t, 5*time.Second, "the relay to end", func() bool { return tp.Stats().Active == 0 })
	})
	t.Run("backend close reaches the client", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{EventLoops: loops})
		tp.SetRoute(serving(1, be))
		c := dialBolt(t, tp.addr())
		eventually(t, 5*time.Second, "backend conn", func() bool { return be.open() == 1 })
		be.close()
		expectClosed(t, c, 5*time.Second)
		c.Close() // as a driver does on EOF
		eventually(t, 5*time.Second, "the relay to end", func() bool { return tp.Stats().Active == 0 })
	})
}
