//go:build linux

package proxy

import (
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fdCount counts this process's open descriptors and, among them, pipes.
func fdCount(t testing.TB) (fds, pipes int) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the ReadDir's own descriptor, gone already
		}
		fds++
		if strings.HasPrefix(target, "pipe:") {
			pipes++
		}
	}
	return fds, pipes
}

// TestManyIdleConnections opens thousands of relayed connections, checks
// what an idle one costs the gateway (2 descriptors, no pipe), then cuts them
// all with a route change and checks how long that took.
func TestManyIdleConnections(t *testing.T) {
	n := 3000
	if testing.Short() || raceEnabled {
		n = 1000
	}
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{MaxConnections: n + 10})
	tp.SetRoute(serving(1, be))
	// Warm up: one connection with traffic, so one-off descriptors (epoll,
	// timers) exist before the baseline.
	warm := dialBolt(t, tp.addr())
	echo(t, warm, payload(100<<10, 1))
	warm.Close()
	eventually(t, 5*time.Second, "warm-up conn closed", func() bool { return tp.Stats().Active == 0 && be.open() == 0 })

	fds0, pipes0 := fdCount(t)
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)

	clients := make([]net.Conn, n)
	var wg sync.WaitGroup
	const dialers = 8
	for w := range dialers {
		wg.Go(func() {
			for i := w; i < n; i += dialers {
				clients[i] = dialBolt(t, tp.addr())
				echo(t, clients[i], payload(1000, uint64(i))) // traffic, then idle
			}
		})
	}
	wg.Wait()
	eventually(t, 10*time.Second, "all relayed", func() bool { return tp.Stats().Relayed == n && be.open() == n })

	runtime.GC()
	runtime.GC() // empty the buffer pool's victim cache too
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	fds1, pipes1 := fdCount(t)
	// The test holds 2 descriptors per connection itself: its client and the
	// fake backend's accepted socket.
	gateway := fds1 - fds0 - 2*n
	perConn := float64(gateway) / float64(n)
	t.Logf("%d idle relayed connections: gateway holds %d descriptors (%.2f per connection), %d pipes; "+
		"heap+stacks of the whole test process grew %.1f KiB per connection (clients and backend included)",
		n, gateway, perConn, pipes1-pipes0,
		float64(int64(ms1.HeapInuse+ms1.StackInuse)-int64(ms0.HeapInuse+ms0.StackInuse))/1024/float64(n))
	if perConn < 1.95 || perConn > 2.05 {
		t.Errorf("%.2f descriptors per idle relayed connection, want 2", perConn)
	}
	if pipes1 != pipes0 {
		t.Errorf("%d pipes appeared: idle connections must hold none", pipes1-pipes0)
	}

	// Cut them all with a new epoch.
	start := time.Now()
	tp.SetRoute(serving(2, be))
	took := time.Since(start)
	eventually(t, 10*time.Second, "all closed", func() bool { return tp.Stats().Active == 0 && be.open() == 0 })
	all := time.Since(start)
	t.Logf("SetRoute fenced %d connections in %v; every socket closed on both sides after %v", n, took, all)
	// A regression guard, not the target: the clients and the backend share
	// this process and its 2 cores (and the machine is shared). The target is
	// measured by TestCutManyConnections with the peers in another process.
	limit := 100 * time.Millisecond * time.Duration(n) / 1000
	if raceEnabled {
		limit *= 5
	}
	if took > limit {
		t.Errorf("fencing %d connections took %v, want under %v", n, took, limit)
	}
	if st := tp.Stats(); st.Cut != uint64(n) {
		t.Errorf("cut %d, want %d", st.Cut, n)
	}
	for _, c := range clients[:10] {
		expectClosed(t, c, time.Second)
	}
}
