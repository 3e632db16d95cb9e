// Package proxy is memgraph-gateway's data path: it accepts Bolt client
// connections and relays each one, byte for byte, to the Memgraph instance
// the current route names, switching when the route changes.
//
// Usage:
//
//	p, err := proxy.New(cfg, log, prometheus.DefaultRegisterer)
//	p.SetRoute(route)                    // from the store / gossip, any time
//	go p.Serve(rwListener, proxy.RoleReadWrite)
//	go p.Serve(roListener, proxy.RoleReadOnly)
//	...
//	p.Drain(ctx)                         // on shutdown; Close for at once
//
// # Stages of a connection
//
// Accept: the global MaxConnections limit, and the per-IP count and rate
// limits when the socket's address is the client's (an IPv6 client counts
// by its IPv6PrefixLength prefix, /64 by default, since a host usually owns
// a whole /64), are applied in the
// accept loop before a goroutine or a buffer is spent; refusals are reset
// (no TIME_WAIT). Then, on the connection's goroutine and within
// HandshakeTimeout of accept: the PROXY protocol v1/v2 header if configured
// (parsed by proxy/internal/proxyproto, bounded, stripped and never
// forwarded; the per-IP limits then use its source address), TLS termination
// if configured, and exactly the 20-byte Bolt preamble, refused as soon as a
// byte differs from the magic 60 60 B0 17.
//
// Route: read-write connections go to the route's MAIN; read-only ones are
// spread round-robin over ready replicas whose lag is within MaxReplicaLag,
// and use the MAIN only with ReadFromMain. With no backend (no route yet,
// phase failover, or no eligible replica) the connection is held, up to
// MaxHeld of them for at most HoldTimeout, and released by the next
// SetRoute or UpdateReplicas that gives it a backend. A read-only
// connection whose dial fails tries the next eligible replica, then the MAIN
// if ReadFromMain allows, before it is refused: the client has seen nothing
// yet (each failure still goes to OnDialError). The backend is dialed
// (DialTimeout, keepalive, optional TLS), the connection is registered under
// the route's epoch, and the preamble is forwarded. If the epoch changed
// during the dial the connection starts over: the client has seen nothing.
//
// Relay, on Linux, for plain TCP on both sides: once registered, the
// connection's two sockets leave Go's netpoller for one of EventLoops epoll
// loops (one per GOMAXPROCS by default; evloop_linux.go), as HAProxy and
// nginx relay: the loop goroutine waits in epoll_wait and, for each ready
// socket, reads into the loop's one 32 KiB buffer and writes to the peer
// socket at once, with raw non-blocking system calls. A round trip costs two
// reads, two writes and a share of an epoll_wait; no goroutine is woken,
// parked or handed between threads, which is where two goroutines per
// connection spent their CPU at high concurrency (1.5x HAProxy's CPU per
// round trip at 64 connections; the loops are at HAProxy's). An idle
// connection holds no goroutine, no buffer and no pipe: 2 descriptors and
// about 2 KiB of memory. Sockets are registered edge-triggered once; bytes a
// peer does not take are kept (a pooled buffer) and the other socket is not
// read until they are written, so a slow reader applies TCP backpressure
// instead of growing memory. A short read ends the reading without a second
// read to see EAGAIN: Linux signals every arrival of data or FIN with a new
// edge. A loop serves at most 8 full buffers from one socket before the
// others (fairness under bulk transfers). A loop with nothing to do parks
// in Go's netpoller on its epoll descriptor, without a timer, so an idle
// gateway does not wake up at all; it parks right after a batch, within
// one long syscall.RawConn.Read, so a wake-up costs one epoll_wait of the
// loop's own (Go's netpoller keeps the readiness that arrives meanwhile;
// see evloop.run). Go's scheduler keeps at most one thread
// in the netpoller and none once that one runs a loop that keeps finding
// events, so a parked loop's events could go unseen (measured: 20 ms in a
// trace, 100-280 ms stalls at the clients); instead, every 200 µs a running
// loop serves the ready sockets of the loops that are not running (each
// loop's state is under a lock that the helper takes with TryLock; see
// evloop.helpOthers). And a loop that wakes from a real park while another
// busy loop is parked starts an empty goroutine, so that the runtime wakes
// an idle thread, which then waits in the netpoller for the other loop
// (evloop.kickPoller): its events get their own thread instead of waiting
// for this one.
//
// Relay otherwise (TLS on either side, another platform, or EventLoops -1):
// two goroutines per connection, one per direction. On plain TCP a direction
// runs inside one syscall.RawConn.Read for its whole life: the callback takes
// a pooled 32 KiB buffer, reads and writes until a non-blocking read
// returns EAGAIN, then returns the buffer and parks in the netpoller, so an
// idle connection holds no buffer (two parked goroutines, about 12 KiB). TLS
// sides use Read and Write and hold one buffer for the connection's life.
// Splicing while a bulk transfer flows was measured and left out: the
// buffered copy costs the same CPU per byte as splice and needs no pipe.
//
// Either way each write is guarded by the epoch fence (two atomic stores and
// a load, below) and counted in the byte metrics. A clean end of one
// direction is passed on as a half-close (FIN, after close_notify on TLS);
// the other direction then has HalfCloseTimeout of silence before both
// close. An error closes both.
//
// # Guarantees and invariants
//
//   - No backend is dialed before a client has sent a valid 20-byte Bolt
//     preamble, and none for a client refused by a limit.
//   - Routing (the route lease): InstallRoute(r, false) installs an epoch
//     without relaying under it (new connections are held, nothing is
//     dialed) until SetRouting(epoch, true); SetRouting(epoch, false) fences
//     and cuts every relayed connection as a new epoch would and holds new
//     ones, at the same epoch. A connection is registered only if the table
//     it chose its backend from is still current (its generation changes
//     with every route and routing change), so none relays after
//     SetRouting(epoch, false) returned.
//   - No connection survives a newer epoch. SetRoute accepts only a higher
//     epoch (equal or lower: ignored, false). Before it returns, every
//     connection relayed under an older epoch, whatever the new route's main
//     or phase, is fenced: it cannot write another byte to its backend or its
//     client, and the caller may ack the epoch. The fence makes no system
//     call for idle connections (about 0.2 µs each: 9,000 in under 2 ms
//     here): each relay write raises a per-direction writing flag, then
//     checks the connection's cut flag; the cut sets the cut flag, then reads
//     the writing flags (sequentially consistent atomics: one of the two
//     sees the other), and shuts down the socket of any write in flight,
//     which also ends a write blocked on a peer that does not read. Then, on
//     a background worker that Close and Drain wait for, the client sockets
//     of the cut connections are reset first, all of them: the event loops
//     reset the loop-owned connections' clients, each in a job (so the
//     readiness the resets raise does not wake it thousands of times),
//     starting with its own and then taking the others' that are left, and
//     GOMAXPROCS workers reset the goroutine-relayed ones. connect(2) with
//     AF_UNSPEC sends the RST without closing the descriptor (about 13 µs of
//     CPU each here, most of it the kernel's loopback delivery to the peer),
//     so the clients learn of the cut after 9,000 such calls, not after
//     18,000 closes. Only then
//     are the sockets closed, the backend's with a reset: the loops close
//     theirs in batches of 256 with events served in between (cleanup must
//     not take the CPU from clients reconnecting under the new epoch), and
//     relay goroutines, woken with a past read deadline, close theirs.
//     Nothing waits for a goroutine to let go of a descriptor, as Go's Close
//     does, which would serialise a mass cut. Measured with 9,000 idle
//     connections through the event loops on the shared 2-core machine,
//     load generator included: every client saw its reset 89-167 ms after
//     the route change (bench/README.md). A
//     connection that registers while a route change is installing sees the
//     new epoch and starts over; this is checked under the registry lock
//     that the cut scans, so none slips between the two.
//   - An idle plain-TCP relayed connection holds no buffer and no pipe (and,
//     in an event loop, no goroutine).
//   - Only its loop reads, writes or closes a loop-owned socket; others
//     (cut, Drain) only reset or shut it down, under a lock the loop's close
//     also takes, so no descriptor is used after it was closed and reused.
//   - Every refusal is counted by reason (metrics and Stats) and logged at
//     debug level; warnings are rate-limited per reason (one per 10 s, with
//     the count suppressed), never one line per connection.
//   - Whoever starts a goroutine stops it: Close and Drain return after every
//     connection goroutine ended; Serve returns when its listener closes.
//
// # What it does not do
//
// It does not parse Bolt past the preamble (no L7 routing, no read/write
// detection from queries: the listener decides), does not move a read-write
// connection off the MAIN when its dial fails (only the controller decides
// where writes go), does not buffer or replay client messages across
// a failover (a cut connection is closed; drivers retry), does not talk to
// the store, gossip or Kubernetes (it only receives routes), does not reload
// certificates itself (use tls.Config.GetCertificate).
package proxy
