// Package routeagent runs the route-lease protocol of one gateway replica:
// it owns routelease's two state machines (the Gateway side every replica
// runs, the Leader side the elected replica runs), feeds them from gossip
// (routes, lease messages), the route store's watch and the elector, and
// carries out what they ask: send lease messages and route announcements
// over gossip, install routes in the proxy without relaying until a lease
// is granted, turn relaying off when the lease expires.
//
// It also gives the replication controller what it needs from the
// gateways (controller.Barrier and controller.Quorum): a claim stops lease
// grants before the store write, a promotion waits until every gateway
// that may still route to the old epoch acked the claim or its lease
// expired, and a MAIN is down only when the other gateways' probes agree.
// Every replica probes the route's MAIN with a Bolt handshake and says in
// its gossip heartbeat whether it answered, and where its HTTP API is (so
// that admin requests reach the leader).
//
// # Invariants
//
//   - One goroutine (Run) owns both state machines; every input is a
//     closure run on it, so the machines see inputs in one order, with the
//     monotonic time of that moment.
//   - Events are carried out before the messages of the same output: a
//     new epoch is installed in the proxy (older connections fenced)
//     before its ack leaves, so an ack always means "cut".
//   - A route is never relayed before a lease on its epoch was granted:
//     Install is called with routing false, SetRouting(epoch, true) only on
//     EventLeaseGranted, and SetRouting(epoch, false) on EventLeaseExpired.
//   - Messages addressed to this replica (the leader's own gateway) are
//     delivered directly, not through the network.
//
// # Control-plane outage
//
// The elector reports a lost renewal and a lost leadership alike
// (client-go stops leading at the renew deadline). The binary therefore
// deposes the leader side only when another holder is observed (or at
// shutdown); when leadership merely lapsed, the leader side stays leading
// with its certainty expired and confirms the unchanged route by failsafe
// rounds, granting only while every gateway member confirms, until a
// renewal succeeds or another leader appears (routelease rule 6).
package routeagent
