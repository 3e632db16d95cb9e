//go:build linux

package proxy

import (
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
