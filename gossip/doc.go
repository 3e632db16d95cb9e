// Package gossip is the gateways' membership and messaging over
// hashicorp/memberlist: route announcements, route-lease messages,
// heartbeats and anti-entropy. memberlist owns the I/O and the failure
// detection; this package plugs into it through two small adapters
// (delegate, eventDelegate) that hand everything to one dispatcher
// goroutine.
//
// Usage:
//
//	tr, err := gossip.New(gossip.Config{
//		Name:       podName,                               // = election identity
//		Join:       []string{"gw-gossip.ns.svc:7946"},     // headless Service
//		SecretKeys: [][]byte{keyFromSecret},               // required
//		OnRoute:    func(u gossip.RouteUpdate) { routes <- u },
//		OnLease:    func(m gossip.LeaseMessage) { leaseMsgs <- m },
//		Registerer: prometheus.DefaultRegisterer,
//	})
//	defer tr.Leave(0)
//	tr.AnnounceRoute(r)           // leader, after each store write
//	tr.SendLease(m)               // routelease messages with To set
//	tr.SetView(gossip.View{...})  // this gateway's epoch and view of the MAIN
//	tr.Members()                  // members, state, last heartbeat each
//
// OnRoute and OnLease run on the dispatcher goroutine and must not block;
// hand the value to the goroutine that owns the routelease machines.
//
// # Wire format
//
// One type byte, then JSON. The type list is append-only; a receiver
// ignores types it does not know; a field's zero value means what an older
// sender that lacks it means. Types: route announcement (route, origin,
// origin's send time), route-lease message (routelease.Message),
// heartbeat (name, process start, sequence, epoch, leader seen, MAIN and
// whether it is reachable from here, leaving), push/pull state (the route
// and every heartbeat). Messages are bounded (256 KiB; a broadcast fits a
// UDP packet: a route too large for one is broadcast without its replicas,
// which push/pull still carries), validated (state.Route.Validate, name
// lengths) and dropped, counted, when not.
//
// # Guarantees
//
//   - Authenticity against outsiders: with SecretKeys (required unless
//     Insecure) every packet is encrypted and authenticated with
//     memberlist's keyring (AES-GCM), incoming and outgoing: a process
//     without a key can neither join nor inject a route or a lease
//     message (tested). Keys rotate by listing the new one second, then
//     first.
//   - A route reaches every connected member: the origin broadcasts it,
//     every member re-broadcasts it on first receipt (memberlist only
//     sends a queued broadcast from the member that queued it, a few
//     times), a newer epoch replaces an older one in every queue, and
//     push/pull (every 5 s, and on every join) carries the route of the
//     highest epoch to members that missed the broadcasts or joined late.
//     OnRoute sees each member's epochs strictly increasing.
//   - memberlist is never blocked: received messages go to a bounded inbox
//     and are dropped (memgraph_gateway_gossip_dropped_messages_total)
//     when it is full; reliable sends run in the background, bounded.
//   - Tuned failure detection: a killed member is declared failed in about
//     2-2.5 s (probe 500 ms, timeout 200 ms, suspicion ×2); a restarted
//     pod that keeps its name and gets a new address is accepted once the
//     old one has been dead for DeadNodeReclaimTime (1 s); members rejoin
//     Config.Join every second while alone or just started, and every
//     RejoinInterval after (members forgotten during a long partition
//     meet again).
//
// # Non-guarantees
//
//   - No ordering and no delivery guarantee per message: broadcasts are
//     UDP; SendLease is TCP but fails silently (counted) when the member
//     is gone or slow. The route-lease protocol is built for that: it
//     retries, and decides only on what did arrive.
//   - Members holding the key are trusted: any of them can announce any
//     route. The epoch rule (state.Merge) and the store, not gossip, make
//     a stale route harmless.
//   - Member failure is a suspicion, not a fact: a "failed" member may be
//     partitioned. Members keeps failed members until they come back,
//     leave gracefully, or Forget is called.
//   - The propagation histogram (memgraph_gateway_gossip_propagation_seconds)
//     compares two wall clocks; skew shows up in it (negative delays count
//     as 0).
package gossip
