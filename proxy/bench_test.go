package proxy

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// spliceProxy is the baseline: the plain Go proxy, io.Copy between two
// *net.TCPConn (splice on Linux, two pipes per connection).
func spliceProxy(b *testing.B, backend string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				s, err := net.Dial("tcp", backend)
				if err != nil {
					c.Close()
					return
				}
				go func() { io.Copy(s, c); s.Close() }()
				io.Copy(c, s)
				c.Close()
			})
		}
	})
	return ln.Addr().String()
}

// relayTargets returns the addresses to benchmark against.
func relayTargets(b *testing.B) map[string]string {
	be := newFakeBackend(b, "m1")
	tp := newTestProxy(b, Config{})
	tp.SetRoute(serving(1, be))
	return map[string]string{
		"direct":  be.backend().Addr,
		"gateway": tp.addr(),
		"splice":  spliceProxy(b, be.backend().Addr),
	}
}

// BenchmarkRelayPingPong measures request/response latency through the relay
// at concurrency 1: one write, one echo read per op.
func BenchmarkRelayPingPong(b *testing.B) {
	targets := relayTargets(b)
	for _, size := range []int{64, 16 << 10} {
		for _, name := range []string{"direct", "gateway", "splice"} {
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				c := dialBolt(b, targets[name])
				msg, got := payload(size, 1), make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, got); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
		}
	}
}

// BenchmarkRelayBulk measures throughput: 1 MiB writes streamed through the
// relay and echoed back, both directions busy at once.
func BenchmarkRelayBulk(b *testing.B) {
	targets := relayTargets(b)
	const chunk = 1 << 20
	for _, name := range []string{"direct", "gateway", "splice"} {
		b.Run(name, func(b *testing.B) {
			c := dialBolt(b, targets[name])
			msg := payload(chunk, 2)
			b.SetBytes(2 * chunk) // both directions
			cpu := startCPU()
			done := make(chan error, 1)
			n := b.N
			go func() {
				buf := make([]byte, 64<<10)
				_, err := io.CopyBuffer(io.Discard, io.LimitReader(c, int64(n)*chunk), buf)
				done <- err
			}()
			for range n {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			cpu.report(b)
		})
	}
}

// cpuClock measures the process's CPU time (user+sys): the client, the
// backend and the proxy under test together, so differences between targets
// are the proxy's cost, and other tenants of the machine do not inflate it
// the way they inflate wall time.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{start: cpuTime()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuTime()-c.start)/float64(b.N), "cpu-ns/op")
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
