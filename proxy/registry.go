package proxy

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const regShards = 64

// epochCut marks a connection that was cut and is winding down: it is not
// cut or counted again.
const epochCut = ^uint64(0)

var (
	errStale    = errors.New("proxy: route changed while connecting")
	errDraining = errors.New("proxy: draining")
	errFenced   = errors.New("proxy: connection fenced by a newer route epoch")
)

// registry holds every client connection from admission to its end, so that
// a route change, Drain and Close can reach them. A connection's epoch is 0
// until it is promoted to relaying under a route epoch; promotion re-checks
// the current epoch under the shard lock, and SetRoute stores the new table
// before it scans the shards, so a connection is either seen by the scan or
// refuses to relay (it cannot slip between the two).
type registry struct {
	kick func() // after a cut's gate opened: the event loops reap
	// cutDone reports each finished cut: how many connections it touched,
	// when it began, how long until they were fenced and until every peer
	// was told.
	cutDone func(n int, began time.Time, fence, notify time.Duration)
	// notifyLoops starts the loops' share of a cut; wait returns when they
	// are done, with when the last of them finished (zero if none ran).
	notifyLoops func(v []victim, shutdown bool) (rest []victim, wait func() time.Time)
	table       *atomic.Pointer[routeTable]
	draining    *atomic.Bool
	next        atomic.Uint32
	// lastFence is how long the last cut took to fence its connections
	// (collect included), for logs and tests.
	lastFence atomic.Int64
	shards    [regShards]regShard
}

type regShard struct {
	mu    sync.Mutex
	conns map[*conn]struct{}
	_     [48]byte // keep shards on separate cache lines
}

// victim is a connection to cut, captured under its shard lock.
type victim struct {
	c               *conn
	client, backend *side
}

func newRegistry(table *atomic.Pointer[routeTable], draining *atomic.Bool) *registry {
	r := &registry{table: table, draining: draining}
	for i := range r.shards {
		r.shards[i].conns = map[*conn]struct{}{}
	}
	return r
}

func (r *registry) add(c *conn) {
	c.shard = r.next.Add(1) % regShards
	s := &r.shards[c.shard]
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (r *registry) remove(c *conn) {
	s := &r.shards[c.shard]
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// promote marks c as relaying to backend under the route table t it chose
// the backend from. It fails with errStale if t is no longer the current
// table (a new epoch, or routing turned off or on), and with errDraining
// once the proxy drains; the caller then closes backend itself.
func (r *registry) promote(c *conn, t *routeTable, backend *side) error {
	s := &r.shards[c.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.draining.Load() {
		return errDraining
	}
	if cur := r.table.Load(); cur.gen != t.gen || cur.route.Epoch != t.route.Epoch {
		return errStale
	}
	c.epoch, c.backend = t.route.Epoch, backend
	return nil
}

// collect marks the connections for which match(epoch) holds as cut,
// behind gate, and returns them with how many were relaying (not cut
// before).
func (r *registry) collect(match func(epoch uint64) bool, gate chan struct{}) ([]victim, int) {
	var out []victim
	relaying := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for c := range s.conns {
			if !match(c.epoch) {
				continue
			}
			if !c.cut.Load() {
				c.gate = gate
				c.cut.Store(true)
			}
			out = append(out, victim{c: c, client: c.client, backend: c.backend})
			if c.epoch != 0 && c.epoch != epochCut {
				c.epoch = epochCut
				relaying++
			}
		}
		s.mu.Unlock()
	}
	return out, relaying
}

// cut cuts the connections for which match(epoch) holds, in two steps.
//
// The fence, before cut returns: collect sets every victim's cut flag, and
// every relay write re-checks that flag between raising and lowering its
// connection's writing flag (pipe.write). So a victim whose writing flags are
// down is fenced already: any later write is refused. A victim with a write
// in flight (possibly blocked on a peer that does not read) has that socket
// shut down, which ends the write and makes the kernel refuse any other. No
// system call is made for idle connections, so fencing ten thousand of them
// takes a few milliseconds, however loaded the machine.
//
// finish, which the caller runs (possibly on another goroutine), tells the
// peers, wakes the victims' goroutines and opens the gate, in the order that
// matters to the clients. Relaying victims (a route change): every client
// socket is reset first, by the event loops for loop-owned connections (each
// its own first, then what is left of the others'; the goroutine running
// finish joins them: see notifyLoops) and by
// GOMAXPROCS workers for the others, working on the raw descriptors (a RST
// without closing the descriptor, see resetRaw: about one
// cheap system call per client, no goroutine woken first), so the last
// client learns of the cut after 9,000 such calls rather than after 18,000
// teardowns; the reset also wakes the goroutine parked on that socket. Then
// the backend sides' goroutines are woken with a past read deadline (no
// system call). The backend sockets are reset when the goroutines close them
// (SO_LINGER 0). With shutdown set (Drain, Close), each victim's client and
// backend sockets are shut down both ways instead, which also stops
// connections still in their handshake, which are then refused normally.
// Woken goroutines wait for the gate, which costs little, so that they do
// not compete with the workers; then they close both sockets. After the
// gate the loops are kicked and close their cut connections' sockets. Nothing here
// waits for those goroutines (Go's Close would: it blocks until the
// descriptor is released).
func (r *registry) cut(match func(epoch uint64) bool, shutdown bool) (n int, finish func()) {
	gate := make(chan struct{})
	start := time.Now()
	v, n := r.collect(match, gate)
	for _, x := range v {
		x.c.fenceWriters(x)
	}
	fence := time.Since(start)
	r.lastFence.Store(int64(fence))
	return n, func() {
		rest, loopsDone := r.notifyLoops(v, shutdown)
		forParallel(rest, func(x victim) { notifyVictim(x, shutdown) })
		if !shutdown {
			for _, x := range rest {
				if x.backend != nil {
					x.backend.wake()
				}
			}
		}
		// The notify time ends with the last reset, not when this
		// goroutine gets a processor back after waiting for the loops
		// (which are then busy with the readiness the resets raised: 4-6
		// ms later in timed cuts of 9,000).
		told := time.Now()
		if end := loopsDone(); end.After(told) {
			told = end
		}
		if r.cutDone != nil {
			r.cutDone(len(v), start, fence, told.Sub(start))
		}
		close(gate)
		r.kick()
	}
}

// cutNow cuts with shutdowns and finishes before returning.
func (r *registry) cutNow(match func(epoch uint64) bool) int {
	n, finish := r.cut(match, true)
	finish()
	return n
}

// cutOlder cuts every relayed connection opened under an epoch below epoch;
// see cut.
func (r *registry) cutOlder(epoch uint64) (int, func()) {
	return r.cut(func(e uint64) bool { return e != 0 && e < epoch }, false)
}

// cutPending cuts the connections that are not relaying yet (handshaking,
// held or dialing).
func (r *registry) cutPending() {
	r.cutNow(func(e uint64) bool { return e == 0 })
}

// cutAll cuts every connection and returns how many were relaying (and not
// cut already).
func (r *registry) cutAll() int {
	return r.cutNow(func(uint64) bool { return true })
}

// relayingBelow counts connections still relaying under an epoch below
// epoch (not cut). Tests use it to check the epoch invariant.
func (r *registry) relayingBelow(epoch uint64) int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for c := range s.conns {
			if c.epoch != 0 && c.epoch != epochCut && c.epoch < epoch {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// cutChunk is the number of connections one cut worker takes at least.
const cutChunk = 256

// forParallel calls f for every victim, split across up to GOMAXPROCS
// workers (the calls are system calls that do not block: more workers than
// Ps would only take turns), and returns when all calls have returned.
func forParallel(v []victim, f func(victim)) {
	workers := min(runtime.GOMAXPROCS(0), (len(v)+cutChunk-1)/cutChunk)
	if workers <= 1 {
		for _, x := range v {
			f(x)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(v) + workers - 1) / workers
	for lo := 0; lo < len(v); lo += per {
		part := v[lo:min(lo+per, len(v))]
		wg.Go(func() {
			for _, x := range part {
				f(x)
			}
		})
	}
	wg.Wait()
}

func (r *registry) len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		n += len(s.conns)
		s.mu.Unlock()
	}
	return n
}

// notifyVictim tells a cut connection's peers: the client is reset (or,
// with shutdown, both sockets are shut down both ways). The loops run it
// for the loop-owned connections, GOMAXPROCS workers for the others.
func notifyVictim(x victim, shutdown bool) {
	if shutdown {
		x.client.cut()
		if x.backend != nil {
			x.backend.cut()
		}
		return
	}
	if !x.client.reset() {
		x.client.wake()
	}
}
