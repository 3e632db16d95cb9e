//go:build linux

package proxy

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"go.uber.org/zap"
)

// Event-loop relay. Once a plain-TCP connection is relaying, both of its
// sockets leave Go's netpoller for one of a few epoll loops (Config.
// EventLoops, one per GOMAXPROCS by default), as in HAProxy or nginx: a loop
// goroutine waits in epoll_wait and, for each ready socket, reads into the
// loop's one buffer and writes to the peer socket at once. A round trip then
// costs two reads, two writes and a share of an epoll_wait, with no goroutine
// woken, parked or handed between threads, and an idle connection holds no
// goroutine and no buffer: a few hundred bytes of Go memory.
//
// Invariants:
//   - A loop's state and sockets are handled only under its proc lock: by
//     its own goroutine, or by another loop's that helps it while it is
//     parked (helpOthers). Only that holder reads, writes and closes a
//     loop-owned socket. Other goroutines (the cut, fenceWriters, Drain)
//     only reset or shut it down, under side.mu, which the holder also
//     takes to close it: a descriptor is never used after it was closed
//     (and possibly reused).
//   - A loop parks without a timer unless it has timed work (reads queued,
//     cut connections to reap, half-close deadlines): an idle gateway does
//     not wake up.
//   - Every write goes through enterWrite, exactly as in the goroutine relay:
//     the epoch fence is the same.
//   - Sockets are registered edge-triggered (EPOLLIN|EPOLLOUT|EPOLLRDHUP|
//     EPOLLET) once and never modified. A direction whose peer still has
//     unsent bytes (pending) is not read; its readiness is remembered
//     (canRead) and the read resumes once the peer has taken the bytes.
//   - A short read ends the reading unless the event also reported a peer
//     half-close or an error (then reading goes on to EOF): Linux signals
//     every new arrival of data or FIN with a new edge, so no extra read is
//     needed to learn that the socket is empty.
//   - A cut connection is left alone until its gate opens (the cut resets
//     the clients first); the cut then kicks every loop, which closes the
//     cut connections' sockets.

// maxReadsPerEvent bounds how many full buffers one socket may relay before
// the loop serves the others (fairness under bulk transfers).
const maxReadsPerEvent = 8

// loopSet is the proxy's event loops, started on first use.
type loopSet struct {
	mu    sync.Mutex
	tried bool
	ready atomic.Pointer[[]*evloop] // set once started
	next  atomic.Uint32
}

// evloop is one epoll loop and the connections it owns.
type evloop struct {
	p      *Proxy
	epfd   int
	wakefd int // eventfd: new connections, cuts, stop
	// epf is epfd in Go's netpoller (an epoll descriptor is readable while
	// it has events): an idle loop parks its goroutine there instead of
	// blocking a thread in epoll_wait.
	epf      *os.File
	epr      syscall.RawConn
	deadline time.Time // epf's read deadline (zero: none)
	// stepFn is step as the function passed to epr.Read; stepCalls counts
	// its calls in one Read (more than one: it parked in between).
	// stepErr is an epoll_wait failure, stopNow a stop request: step
	// returns true for either.
	stepFn    func(fd uintptr) bool
	stepCalls int
	stepErr   error
	stopNow   bool
	// parks counts the loop's returns from a park (tests).
	parks atomic.Int64
	// parked is set while the loop's goroutine is parked (or about to),
	// lastEvents is when the loop last had events (unix ns; set by
	// whoever handled them), and parkedAt is when the loop's goroutine
	// last parked: see kickPoller.
	parked     atomic.Bool
	lastEvents atomic.Int64
	parkedAt   int64

	// proc is held by the goroutine handling the loop's events and state
	// (everything below "Owned by the proc holder"): the loop's own
	// goroutine, except while it is parked, or another loop helping it.
	proc sync.Mutex
	dead bool // the loop ended and closed its descriptors (under proc)

	mu      sync.Mutex
	inbox   []*relayConn
	jobs    []func() // run by the proc holder (post)
	kicked  bool     // a cut's gate opened: scan for cut connections
	stop    bool
	stopped chan struct{}

	// Owned by the loop's goroutine.
	events, help []syscall.EpollEvent // epoll_wait buffers: its own, helping

	// Owned by the proc holder.
	buf    []byte
	byFd   []*relayEnd // indexed by descriptor
	conns  map[*relayConn]struct{}
	again  []*relayEnd  // sockets with more to read (maxReadsPerEvent)
	reap   []*relayConn // cut connections to close, a batch per round
	halfHC map[*relayConn]struct{}
	nextHC time.Time // earliest half-close deadline among halfHC
	// lastHelp is when this loop last looked at the others (helpOthers).
	lastHelp time.Time
}

// relayConn is a relayed connection owned by a loop.
type relayConn struct {
	c        *conn
	ends     [2]relayEnd // client, backend
	deadline time.Time   // half-close deadline (zero: none)
	done     bool
	// queuedReap: in loop.reap, closed in a later batch.
	queuedReap bool
}

// relayEnd is one socket of a relayConn.
type relayEnd struct {
	rc      *relayConn
	s       *side
	fd      int
	peer    *relayEnd
	writing *atomic.Bool // raised around writes to this socket
	bytes   func(float64)

	canRead  bool    // readiness not yet consumed
	hup      bool    // a half-close or error was reported: read to the end
	readDone bool    // EOF read: the direction from this socket ended
	pending  []byte  // bytes read from the peer, not yet written here
	pendBuf  *buffer // backing of pending
	queued   bool    // in loop.again
}

// handoff moves a relaying connection's sockets to an event loop and reports
// whether it did; then the loop ends the connection (c.finish, wg.Done). It
// declines (false, nothing changed) when the loops are off or cannot start,
// or when either side is not plain TCP; the caller relays with goroutines.
func (c *conn) handoff(b *side) bool {
	p := c.p
	if p.cfg.EventLoops < 0 || !c.client.plainTCP() || !b.plainTCP() {
		return false
	}
	l := p.loopsFor()
	if l == nil {
		return false
	}
	cfd, err := c.client.dupFd()
	if err != nil {
		return false
	}
	bfd, err := b.dupFd()
	if err != nil {
		_ = syscall.Close(cfd)
		return false
	}
	c.client.own(cfd)
	b.own(bfd)
	rc := &relayConn{c: c}
	rc.ends[0] = relayEnd{rc: rc, s: c.client, fd: cfd, writing: &c.writing[1], bytes: p.m.bytesUp.Add}
	rc.ends[1] = relayEnd{rc: rc, s: b, fd: bfd, writing: &c.writing[0], bytes: p.m.bytesDown.Add}
	rc.ends[0].peer, rc.ends[1].peer = &rc.ends[1], &rc.ends[0]
	c.loop.Store(l)
	l.add(rc)
	return true
}

// loopsFor returns the loop for a new connection, starting the loops on
// first use; nil if they cannot run.
func (p *Proxy) loopsFor() *evloop {
	loops := p.loops.ready.Load()
	if loops == nil {
		loops = p.startLoops()
		if loops == nil {
			return nil
		}
	}
	ls := *loops
	return ls[p.loops.next.Add(1)%uint32(len(ls))]
}

func (p *Proxy) startLoops() *[]*evloop {
	ls := &p.loops
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.tried {
		return ls.ready.Load()
	}
	ls.tried = true
	n := p.cfg.EventLoops
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	var loops []*evloop
	for i := range n {
		var stall chan struct{}
		if i == 0 {
			stall = p.cfg.stallLoop
		}
		l, err := newEvloop(p, stall)
		if err != nil {
			for _, l := range loops {
				l.shutdown()
			}
			p.log.Warn("event loops unavailable: relaying with goroutines", zap.Error(err))
			return nil
		}
		loops = append(loops, l)
	}
	ls.ready.Store(&loops)
	return &loops
}

// startedLoops returns the loops if they were started.
func (p *Proxy) startedLoops() []*evloop {
	if l := p.loops.ready.Load(); l != nil {
		return *l
	}
	return nil
}

// kickLoops makes every loop close its cut connections whose gate is open.
func (p *Proxy) kickLoops() {
	for _, l := range p.startedLoops() {
		l.mu.Lock()
		l.kicked = true
		l.mu.Unlock()
		l.wake()
	}
}

// stopLoops ends the loops; every connection must have ended. Loops are
// not started any more.
func (p *Proxy) stopLoops() {
	p.loops.mu.Lock()
	p.loops.tried = true
	p.loops.mu.Unlock()
	for _, l := range p.startedLoops() {
		l.shutdown()
	}
}

func newEvloop(p *Proxy, stall chan struct{}) (*evloop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("proxy: epoll_create1: %w", err)
	}
	wfd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("proxy: eventfd: %w", e)
	}
	l := &evloop{p: p, epfd: epfd, wakefd: int(wfd), stopped: make(chan struct{}),
		buf: make([]byte, bufSize), conns: map[*relayConn]struct{}{}, halfHC: map[*relayConn]struct{}{}}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wakefd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.wakefd)
		return nil, fmt.Errorf("proxy: epoll_ctl eventfd: %w", err)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(epfd), syscall.F_SETFL, syscall.O_NONBLOCK); e != 0 {
		syscall.Close(epfd)
		syscall.Close(l.wakefd)
		return nil, fmt.Errorf("proxy: epoll descriptor non-blocking: %w", e)
	}
	l.epf = os.NewFile(uintptr(epfd), "epoll")
	rc, err := l.epf.SyscallConn()
	if err != nil {
		_ = l.epf.Close()
		syscall.Close(l.wakefd)
		return nil, fmt.Errorf("proxy: epoll descriptor: %w", err)
	}
	l.epr = rc
	l.stepFn = l.step
	go l.run(stall)
	return l, nil
}

// epollWaitNow collects ready events without blocking.
func epollWaitNow(epfd int, events []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// setDeadline arms epf's read deadline for a park of up to timeout ms
// (-1: no limit). A deadline still ahead and not later than needed is
// kept: moving the netpoller's timer on every park would interrupt its
// epoll_wait each time (at one connection, every message); waking up to a
// millisecond early costs one empty round.
func (l *evloop) setDeadline(timeout int) {
	switch {
	case timeout > 0:
		now := time.Now()
		want := now.Add(time.Duration(timeout) * time.Millisecond)
		if l.deadline.IsZero() || !l.deadline.After(now) || want.Before(l.deadline) {
			_ = l.epf.SetReadDeadline(want)
			l.deadline = want
		}
	case !l.deadline.IsZero():
		_ = l.epf.SetReadDeadline(time.Time{})
		l.deadline = time.Time{}
	}
}

func (l *evloop) add(rc *relayConn) {
	l.mu.Lock()
	l.inbox = append(l.inbox, rc)
	l.mu.Unlock()
	l.wake()
}

func (l *evloop) wake() {
	one := uint64(1)
	_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(l.wakefd), uintptr(unsafe.Pointer(&one)), 8)
}

func (l *evloop) shutdown() {
	l.mu.Lock()
	first := !l.stop
	l.stop = true
	l.mu.Unlock()
	if first {
		l.wake()
	}
	<-l.stopped
}

// run is the loop goroutine. It spends its life in epr.Read(step): step
// handles events while there are any and returns false to park the
// goroutine in Go's netpoller on the epoll descriptor (no thread stays
// blocked in a system call); Read calls it again when the descriptor is
// readable. Read returns when step asks (stop, or epoll_wait failed) or
// when the park's deadline passes (timed work is due), and run calls it
// again.
//
// Why one long Read: Read forgets the descriptor's readiness when it
// begins (Go's pollReset), so a Read per park would have to collect once
// more before parking (an epoll_wait that, at one connection, finds nothing
// on every message). Within one Read the netpoller keeps readiness that
// arrives while step runs, and step parks right after a batch: every event
// that arrives after its epoll_wait raises the descriptor's readiness
// again (the loop's epoll set is watched edge-triggered by Go's, and each
// new event re-arms it), which ends the next park at once.
func (l *evloop) run(stall chan struct{}) {
	if stall != nil {
		<-stall
	}
	l.events = make([]syscall.EpollEvent, 256)
	l.help = make([]syscall.EpollEvent, 256)
	for {
		l.stepCalls, l.stepErr = 0, nil
		err := l.epr.Read(l.stepFn)
		// Read returns nil exactly when step returned true, which it
		// does holding proc.
		switch {
		case err == nil && l.stopNow:
			l.dead = true
			_ = l.epf.Close() // the epoll descriptor
			syscall.Close(l.wakefd)
			l.proc.Unlock()
			close(l.stopped)
			return
		case err == nil:
			err = l.stepErr
			l.proc.Unlock()
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Timed work is due. An expired deadline fails every later
			// Read at once: clear it (step sets the next one).
			l.parks.Add(1)
			_ = l.epf.SetReadDeadline(time.Time{})
			l.deadline = time.Time{}
			continue
		}
		l.p.log.Error("event loop: waiting for events failed", zap.Error(err))
		time.Sleep(10 * time.Millisecond)
	}
}

// step is the loop body (see run): it returns true holding proc when the
// loop must stop or epoll_wait failed, false (proc released) to park.
func (l *evloop) step(uintptr) bool {
	l.stepCalls++
	if l.stepCalls > 1 {
		l.parks.Add(1)
		l.kickPoller()
	}
	l.parked.Store(false)
	// Wait for a loop helping this one (a batch): parking instead, as a
	// first version did, lost the wake-up when the edge that woke this
	// loop was for events that arrived after the helper had collected its
	// batch (a new connection's first bytes then waited for the next event
	// on this loop; the bench saw a handshake time out). Blocking on the
	// mutex also keeps the readiness a helper's cut raises from waking
	// this loop again and again.
	l.proc.Lock()
	for {
		n, err := epollWaitNow(l.epfd, l.events)
		if err != nil && err != syscall.EINTR {
			l.stepErr = err
			return true
		}
		if l.batch(l.events[:n]) {
			l.stopNow = true
			return true
		}
		// One clock read per round serves the three uses below.
		now := time.Now()
		if n > 0 {
			l.lastEvents.Store(now.UnixNano())
		}
		if now.Sub(l.lastHelp) >= helpEvery {
			l.lastHelp = now
			l.proc.Unlock()
			l.helpOthers(l.help)
			l.proc.Lock()
			now = time.Now()
		}
		if n == len(l.events) || len(l.again) > 0 || err != nil {
			continue // more may be ready, or reads are queued
		}
		timeout := -1
		if len(l.reap) > 0 {
			timeout = reapPace
		} else if len(l.halfHC) > 0 {
			timeout = max(1, int(time.Until(l.nextHC)/time.Millisecond)+1)
		}
		l.setDeadline(timeout)
		l.parkedAt = now.UnixNano()
		l.parked.Store(true)
		l.proc.Unlock()
		return false
	}
}

// kickPoller runs as the loop's goroutine wakes from a park. Go's
// scheduler keeps at most one thread in the netpoller, and the one that
// woke this loop is now running it: until it is done, events of another
// parked loop wait (helpOthers serves them, but on this thread, one after
// the other). So when another loop is parked and has been busy lately,
// starting a goroutine makes the runtime wake an idle processor's thread
// (newproc calls wakep), which runs it and, finding nothing else, waits in
// the netpoller: the other loop's next events get a thread of their own.
// Only after a park of at least kickMinPark: a loop that parks and wakes
// back to back has a saturated machine, where another spinning thread only
// takes CPU from the work. Measured (interleaved, 64 B, 64 connections):
// paced at 5,000/s, added p50 +144-148 against +166-168 µs without it
// (HAProxy +157-161) for 25 % more CPU per round trip; closed loop, p50
// +836-952 against +947-1047 µs; one connection unchanged (the other loop
// has no events).
func (l *evloop) kickPoller() {
	now := time.Now().UnixNano()
	for _, o := range l.p.startedLoops() {
		if o != l && kickWanted(now, l.parkedAt, o.parked.Load(), o.lastEvents.Load()) {
			go func() {}()
			return
		}
	}
}

// kickMinPark and kickRecent: see kickPoller.
const (
	kickMinPark = int64(50 * time.Microsecond)
	kickRecent  = int64(time.Millisecond)
)

// kickWanted decides kickPoller for one other loop: this loop woke at now
// from a park that began at parkedAt; the other is parked or not, and last
// had events at otherEvents (unix ns).
func kickWanted(now, parkedAt int64, otherParked bool, otherEvents int64) bool {
	return otherParked && now-parkedAt >= kickMinPark && now-otherEvents < kickRecent
}

// helpEvery bounds how often a running loop looks at the other loops'
// ready events (helpOthers): each look is a system call per loop, which at
// one connection would otherwise come with every message.
const helpEvery = 200 * time.Microsecond

// batch handles ready events and the loop's queued work, with proc held,
// on the loop's goroutine or on another loop's that helps (see helpOthers).
// It reports whether the loop was asked to stop.
func (l *evloop) batch(events []syscall.EpollEvent) (stop bool) {
	for i := range events {
		ev := &events[i]
		if int(ev.Fd) == l.wakefd {
			if l.control() {
				return true
			}
			continue
		}
		if e := l.end(int(ev.Fd)); e != nil {
			l.event(e, ev.Events)
		}
	}
	if len(l.again) > 0 {
		again := l.again
		l.again = nil
		for _, e := range again {
			e.queued = false
			if !e.rc.done {
				l.pump(e)
			}
		}
	}
	if len(l.reap) > 0 {
		l.reapBatch()
	}
	if len(l.halfHC) > 0 && !time.Now().Before(l.nextHC) {
		l.expireHalfClosed()
	}
	return false
}

// helpOthers handles the events waiting on the other loops that are not
// running (TryLock), with events as the buffer.
//
// Why: Go's scheduler has at most one thread blocked in the netpoller.
// When that thread wakes up for a loop's events, it runs that loop and no
// other thread takes its place, so while the loop keeps finding events (it
// never parks) nobody looks at the network: a parked loop's events wait
// until a running goroutine parks or sysmon polls (every 10 ms at best).
// An execution trace at 64 connections showed a loop parked for 20 ms with
// its connections ready while the other ran, and the clients saw stalls of
// 100-250 ms. A loop that has just handled a batch holds a processor, so
// every helpEvery it serves the other loops' ready sockets itself (the
// wake-up caps of session 4 bounded the same wait with timers, at the cost
// of a wake-up per millisecond and a longer tail). It also covers the other
// loop woken but still waiting for a thread. The owner is woken when work
// is left that only it would see (the stop, more reads queued, timers).
func (l *evloop) helpOthers(events []syscall.EpollEvent) {
	for _, o := range l.p.startedLoops() {
		if o == l || !o.proc.TryLock() {
			continue
		}
		if !o.dead {
			n, err := epollWaitNow(o.epfd, events)
			if err == nil && n > 0 {
				o.lastEvents.Store(time.Now().UnixNano())
				nextHC := o.nextHC
				stop := o.batch(events[:n])
				if stop || len(o.again) > 0 || len(o.reap) > 0 || n == len(events) ||
					(len(o.halfHC) > 0 && !o.nextHC.Equal(nextHC)) {
					o.wake()
				}
			}
		}
		o.proc.Unlock()
	}
}

func (l *evloop) end(fd int) *relayEnd {
	if fd < 0 || fd >= len(l.byFd) {
		return nil
	}
	return l.byFd[fd]
}

// control handles the eventfd: new connections, kicks, stop. It reports
// whether the loop must end.
func (l *evloop) control() (stop bool) {
	var v uint64
	_, _, _ = syscall.RawSyscall(syscall.SYS_READ, uintptr(l.wakefd), uintptr(unsafe.Pointer(&v)), 8)
	l.mu.Lock()
	inbox, jobs, kicked, stop := l.inbox, l.jobs, l.kicked, l.stop
	l.inbox, l.jobs, l.kicked = nil, nil, false
	l.mu.Unlock()
	for _, rc := range inbox {
		l.register(rc)
	}
	for _, job := range jobs {
		job()
	}
	if kicked {
		for rc := range l.conns {
			if rc.c.cut.Load() && !rc.queuedReap {
				rc.queuedReap = true
				l.reap = append(l.reap, rc)
			}
		}
	}
	return stop
}

// register starts watching a new connection's sockets. Readiness present
// at registration (bytes the client sent meanwhile) is reported at once.
func (l *evloop) register(rc *relayConn) {
	l.conns[rc] = struct{}{}
	for i := range rc.ends {
		e := &rc.ends[i]
		for e.fd >= len(l.byFd) {
			l.byFd = append(l.byFd, make([]*relayEnd, max(1024, len(l.byFd)))...)
		}
		l.byFd[e.fd] = e
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET, Fd: int32(e.fd)}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, e.fd, &ev); err != nil {
			l.p.log.Warn("event loop: epoll_ctl add failed", zap.Error(err))
			l.closeConn(rc, false)
			return
		}
	}
	// A cut may have marked it while it was on its way here; the kick that
	// follows the cut's gate may have come before.
	l.reapIfCut(rc)
}

// epollET is EPOLLET as the uint32 the event mask is.
const epollET = 1 << 31

// event handles readiness of one socket.
func (l *evloop) event(e *relayEnd, ev uint32) {
	rc := e.rc
	if rc.done {
		return
	}
	if rc.c.cut.Load() {
		l.reapIfCut(rc)
		return
	}
	if ev&syscall.EPOLLOUT != 0 && len(e.pending) > 0 {
		if !l.flush(e) {
			return
		}
	}
	if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		e.canRead = true
		if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			e.hup = true
		}
		l.pump(e)
	}
}

// pump relays from e to its peer while e is readable and the peer takes
// the bytes.
func (l *evloop) pump(e *relayEnd) {
	rc := e.rc
	for reads := 0; e.canRead && !e.readDone && len(e.peer.pending) == 0; reads++ {
		if reads == maxReadsPerEvent {
			if !e.queued {
				e.queued = true
				l.again = append(l.again, e)
			}
			return
		}
		n, errno := rawRead(uintptr(e.fd), l.buf)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			e.canRead = false
			return
		case errno != nil:
			l.closeConn(rc, false)
			return
		case n == 0:
			l.readEOF(e)
			return
		}
		e.bytes(float64(n))
		if !rc.deadline.IsZero() {
			rc.deadline = time.Now().Add(l.p.cfg.HalfCloseTimeout)
		}
		if !l.send(e.peer, l.buf[:n]) {
			return
		}
		if n < len(l.buf) && !e.hup {
			e.canRead = false // empty now: the next arrival is a new edge
			return
		}
	}
}

// send writes b to e (the peer of the socket b was read from), keeping what
// the socket does not take as e.pending. It reports false if the connection
// ended (an error, or fenced by a cut).
func (l *evloop) send(e *relayEnd, b []byte) bool {
	w, ok := l.write(e, b)
	if ok && w < len(b) {
		e.pendBuf = l.p.getBuffer()
		e.pending = e.pendBuf[:copy(e.pendBuf[:], b[w:])]
	}
	return ok
}

// flush writes e.pending; once it is all written, reading from the peer
// resumes. It reports false if the connection ended.
func (l *evloop) flush(e *relayEnd) bool {
	w, ok := l.write(e, e.pending)
	if !ok {
		return false
	}
	e.pending = e.pending[w:]
	if len(e.pending) > 0 {
		return true
	}
	l.p.putBuffer(e.pendBuf)
	e.pendBuf, e.pending = nil, nil
	l.pump(e.peer)
	return !e.rc.done
}

// write writes b to e under the epoch fence (enterWrite) until the socket
// is full, and returns how much it took; false when the connection ended:
// fenced by a cut (reaped once its gate opens) or a write error (closed).
func (l *evloop) write(e *relayEnd, b []byte) (int, bool) {
	rc := e.rc
	if !enterWrite(rc.c, e.writing) {
		l.reapIfCut(rc)
		return 0, false
	}
	w, errno := writeAll(e.fd, b)
	e.writing.Store(false)
	if errno != nil && errno != syscall.EAGAIN {
		l.closeConn(rc, false)
		return w, false
	}
	return w, true
}

// writeAll writes b to a non-blocking socket until it is all written, an
// error, or EAGAIN; it returns how much was written.
func writeAll(fd int, b []byte) (int, error) {
	w := 0
	for w < len(b) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[w])), uintptr(len(b)-w), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			w += int(n)
		case syscall.EINTR:
		default:
			return w, e
		}
	}
	return w, nil
}

// readEOF ends the direction from e: its peer gets a FIN. When both
// directions ended, the connection closes; otherwise the remaining one must
// see bytes within HalfCloseTimeout.
func (l *evloop) readEOF(e *relayEnd) {
	rc := e.rc
	e.readDone = true
	if e.peer.readDone {
		l.closeConn(rc, false)
		return
	}
	if !enterWrite(rc.c, e.peer.writing) {
		l.reapIfCut(rc)
		return
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, uintptr(e.peer.fd), syscall.SHUT_WR, 0)
	e.peer.writing.Store(false)
	if hc := l.p.cfg.HalfCloseTimeout; hc >= 0 {
		rc.deadline = time.Now().Add(hc)
		if len(l.halfHC) == 0 || rc.deadline.Before(l.nextHC) {
			l.nextHC = rc.deadline
		}
		l.halfHC[rc] = struct{}{}
	}
}

// expireHalfClosed closes the half-closed connections whose remaining
// direction stayed silent past its deadline.
func (l *evloop) expireHalfClosed() {
	now := time.Now()
	var next time.Time
	for rc := range l.halfHC {
		if !now.Before(rc.deadline) {
			l.closeConn(rc, false)
			continue
		}
		if next.IsZero() || rc.deadline.Before(next) {
			next = rc.deadline
		}
	}
	l.nextHC = next
}

// reapIfCut closes a cut connection once its cut's gate is open (until then
// the cut is still resetting clients: closing sockets now would compete with
// it); the kick after the gate comes back here.
func (l *evloop) reapIfCut(rc *relayConn) {
	if rc.done || !rc.c.cut.Load() {
		return
	}
	select {
	case <-rc.c.gate:
		l.closeConn(rc, true)
	default:
	}
}

// reapBatch and reapPace pace the closing of cut connections after a mass
// cut: every peer was told already (reset or shut down), so closing the
// sockets is only cleanup, which must not take the CPU from the clients
// reconnecting under the new epoch (nor, on a shared machine, from other
// processes): at most reapBatch connections per round, with events served
// and up to reapPace ms of waiting between rounds.
const (
	reapBatch = 256
	reapPace  = 1
)

// reapBatch closes the next batch of queued cut connections.
func (l *evloop) reapBatch() {
	n := min(len(l.reap), reapBatch)
	for _, rc := range l.reap[:n] {
		// A kick queues every cut connection, also those of a cut still
		// in progress (gate not open yet): they are left, and that cut's
		// own kick, which follows its gate, queues them again.
		rc.queuedReap = false
		l.reapIfCut(rc)
	}
	l.reap = l.reap[n:]
	if len(l.reap) == 0 {
		l.reap = nil
	}
}

// closeConn closes both sockets (with a reset when the connection was cut)
// and ends the connection.
func (l *evloop) closeConn(rc *relayConn, abort bool) {
	if rc.done {
		return
	}
	rc.done = true
	delete(l.conns, rc)
	delete(l.halfHC, rc)
	abort = abort || rc.c.cut.Load()
	for i := range rc.ends {
		e := &rc.ends[i]
		if e.fd < len(l.byFd) && l.byFd[e.fd] == e {
			l.byFd[e.fd] = nil
		}
		if e.pendBuf != nil {
			l.p.putBuffer(e.pendBuf)
			e.pendBuf, e.pending = nil, nil
		}
		e.s.closeOwned(abort)
	}
	c := rc.c
	c.p.m.nRelayed.Add(-1)
	c.finish()
	c.p.wg.Done()
}

// post runs f on the loop goroutine, with the next readiness batch; false
// (f not run) once the loop is stopping.
func (l *evloop) post(f func()) bool {
	l.mu.Lock()
	if l.stop {
		l.mu.Unlock()
		return false
	}
	l.jobs = append(l.jobs, f)
	l.mu.Unlock()
	l.wake()
	return true
}

// notifyLoops hands the victims that a loop owns to the loops, and returns
// the others and a function that waits until the loops are done.
//
// Every loop runs the cut as a job, so that the readiness each reset raises
// on a loop's epoll does not wake it thousands of times meanwhile; the
// resets themselves are shared (cutWork): a loop takes chunks of its own
// connections first, then of the others'. A loop that the scheduler runs
// less, or that starts late, no longer finishes the cut alone: in timed
// cuts of 9,000 connections one loop ended 30-50 ms after the other. The
// goroutine that calls wait takes chunks too until none is left, so the
// resets begin while the loops are still being woken.
func (p *Proxy) notifyLoops(v []victim, shutdown bool) (rest []victim, wait func() time.Time) {
	loops := p.startedLoops()
	if len(loops) == 0 {
		return v, func() time.Time { return time.Time{} }
	}
	w := &cutWork{parts: make([][]victim, len(loops)), next: make([]atomic.Int64, len(loops)), shutdown: shutdown}
	index := make(map[*evloop]int, len(loops))
	for i, l := range loops {
		index[l] = i
	}
	for _, x := range v {
		if i, ok := index[x.c.loop.Load()]; ok {
			w.parts[i] = append(w.parts[i], x)
		} else {
			rest = append(rest, x)
		}
	}
	var wg sync.WaitGroup
	for i, l := range loops {
		if len(w.parts[i]) == 0 {
			continue
		}
		wg.Add(1)
		if !l.post(func() {
			defer wg.Done()
			if p.cfg.cutJobStart != nil {
				p.cfg.cutJobStart(i)
			}
			w.run(i)
		}) {
			// Stopping: its share is left to the loops that run, and to
			// this goroutine (no loop may be running at all).
			wg.Done()
			wg.Go(func() { w.run(i) })
		}
	}
	return rest, func() time.Time {
		// The caller resets too while the loops wake up: they start 2-8
		// ms after the post in timed cuts of 9,000, and this goroutine
		// runs already.
		w.run(0)
		wg.Wait()
		if end := w.lastEnd.Load(); end != 0 {
			return time.Unix(0, end)
		}
		return time.Time{}
	}
}

// cutWork is one cut's resets of loop-owned connections: parts[i] are loop
// i's connections, next[i] the first of them that nobody took yet.
type cutWork struct {
	parts    [][]victim
	next     []atomic.Int64
	shutdown bool
	lastEnd  atomic.Int64 // unix ns when the latest run ended
}

// cutChunkOwned is how many connections a loop takes from a part at a time.
const cutChunkOwned = 64

// run resets chunks of part own until it is taken, then of the other parts
// (any goroutine may reset a loop-owned socket: see side.reset).
func (w *cutWork) run(own int) {
	for k := range w.parts {
		i := (own + k) % len(w.parts)
		part := w.parts[i]
		for {
			lo := int(w.next[i].Add(cutChunkOwned)) - cutChunkOwned
			if lo >= len(part) {
				break
			}
			for _, x := range part[lo:min(lo+cutChunkOwned, len(part))] {
				notifyVictim(x, w.shutdown)
			}
		}
	}
	now := time.Now().UnixNano()
	for {
		last := w.lastEnd.Load()
		if last >= now || w.lastEnd.CompareAndSwap(last, now) {
			return
		}
	}
}
