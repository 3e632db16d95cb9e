// Package routelease is the route-lease and barrier protocol that keeps
// every gateway from routing to an old MAIN once a new one is promoted
// (DESIGN.md, "Route lease (self-fencing)" and "Control-plane outage").
//
// It is two pure state machines, in the manner of etcd-raft: no I/O, no
// clock, no goroutines. Every input carries now (the process's monotonic
// clock) and returns an Output: messages to send, events to act on.
//
//   - Gateway (every replica): holds the route of the highest epoch seen and
//     a lease on it; asks the leader for leases; acks new epochs.
//   - Leader (every replica, active while it leads): grants leases while
//     its leadership is certain, remembers them, and tells the controller
//     when a promotion is safe (the barrier).
//
// One goroutine owns both machines of a replica and runs the loop:
//
//	for {
//		select {
//		case m := <-leaseMsgs:            // from gossip.Config.OnLease
//			out = gw.Step(now(), m) or ld.Step(now(), m) by m.Type
//		case u := <-routes:               // gossip.Config.OnRoute, store watch
//			out = gw.ObserveRoute(now(), u.Route)
//		case <-timer.C:                   // armed at NextDeadline()
//			out = gw.Tick(now()); out2 = ld.Tick(now())
//		case e := <-electorNews:          // won / renewed / deposed / leader seen
//			out = ld.BecomeLeader(...), ld.Renewed(...), ld.Deposed(...),
//			      gw.ObserveLeader(...)
//		}
//		send out.Messages (gossip.SendLease, or AnnounceRoute when To == "")
//		act on out.Events (proxy: cut older epochs, route, stop and fail /readyz)
//		re-arm the timer at the earliest of gw.NextDeadline(), ld.NextDeadline()
//	}
//
// The controller, in the same goroutine (or by message to it), brackets its
// store writes: Claim before writing {e+1, failover}, Published after the
// write succeeded, CanPromote/Promote before SET REPLICATION ROLE TO MAIN,
// Published again after writing {e+2, serving}.
//
// # The protocol, and why each rule
//
// Notation: route-ttl T, renew deadline RD, lease duration LD, clock-rate
// bound ρ (Config.ClockDrift), k = (1+ρ)/(1-ρ), slack s (Config.ExpirySlack).
// over(d) = d·k + s is how long, by the leader's clock, the leader waits for
// a duration d measured by another node's clock to be over in real time.
//
//  1. A gateway routes only while it holds an unexpired lease on its
//     current serving route; the lease is obtained by a round trip: the
//     gateway sends LeaseRequest{epoch, session, seq} and records when it
//     sent it; a LeaseGrant for that (session, seq) gives the lease
//     sentAt + T by the gateway's own clock. Why: the leader granted after
//     the request left, so the lease can only end earlier in real time
//     than any lease the leader thinks it granted; network delay shortens
//     the lease, never lengthens it. The gateway trusts its own record of
//     sentAt, not the echoed one, and forgets a request once used, so a
//     duplicated or delayed grant cannot extend the lease, and a grant
//     meant for an earlier process of the same name (other session) is
//     ignored.
//  2. The leader answers only for its current serving epoch and only
//     while its leadership is certain (now - lastRenewal < RD, lastRenewal
//     being when its last successful renewal was sent). It records the
//     grant as now + over(T). Why over(T): the gateway's T may last
//     T/(1-ρ) of real time (slow clock) and started before now; the
//     leader's clock may run fast by (1+ρ); s covers the proxy's time to
//     cut connections and late timers. The leader over-estimates, the
//     gateway under-estimates: this inequality (checked by the simulation
//     at every step) is what makes the barrier sound.
//  3. A gateway adopts only higher epochs (state.Merge). On adopting e+1
//     its lease on e is void at once (it cuts connections of older
//     epochs), it acks e+1 to the leader that wrote the route, and it
//     refuses grants for any epoch but its current serving one, so a
//     superseded epoch is never routed again.
//  4. Barrier. Claim stops granting before the store write of {e+1,
//     failover}, so the set of leases to wait for is closed. CanPromote is
//     true once every gateway whose recorded lease on an older epoch has
//     not expired has acked ≥ e+1 (LeaseRequest, Ack and FailsafeAck all
//     count), i.e. it waits for acks or for expiry of the silent ones.
//  5. A new leader cannot know its predecessor's grants, but they were all
//     made before the predecessor's certainty ended: before its last
//     successful renewal + RD, and that renewal happened before
//     PrevRenewalBound (election's: when this candidate first saw the
//     record it later replaced). So the first promotion of a term waits
//     until PrevRenewalBound + over(RD + T). Granting on the unchanged
//     route is allowed at once: it changes nothing about where writes go,
//     which is why killing the leader does not interrupt traffic (T > LD
//     + retry + renew interval, validated).
//  6. Failsafe (store unreachable, DESIGN.md): a leader that was not
//     deposed but whose certainty lapsed keeps confirming the current
//     route, never changing it. Requests are held; a round probes every
//     member of a set fixed when the failsafe started (all known members,
//     plus any requester; it never shrinks) and grants the held requests
//     only when every member confirmed it in that round (Patroni's rule:
//     all, not a majority). A member confirms only if it holds the same
//     epoch and sees no other leader; a member that holds a newer epoch or
//     sees another leader refuses, which ends the failsafe until a renewal
//     succeeds. Why every member: any member may become the next leader;
//     a member confirms only after the round started, hence after each
//     granted request was sent, so every failsafe lease ends before its
//     last confirmation + T; a member that becomes leader therefore waits
//     until its LastFailsafeAck + over(T) before its first promotion
//     (Term.LastFailsafeAck). A process counts its own start as a
//     confirmation, since an earlier process of the same replica may have
//     confirmed rounds just before it died. A majority would not do: the
//     minority side may hold the store and elect a leader that never
//     confirmed (the simulation shows this breaks safety).
//  7. A replica keeps one Leader across terms, so it never forgets a grant
//     it made; a new term re-applies rule 5 and, for a failover found half
//     done in the store, rule 4 anew.
//
// # Guarantees
//
// If every clock's rate is within ClockDrift of real time, the elector's
// certainty is sound (no two replicas certain at once; election's
// LastRenewal and PreviousRenewalBound as documented), every store write
// is a compare-and-swap a deposed leader cannot win, Leader.SetMembers
// lists every replica that could become leader, and the proxy stops
// relaying within ExpirySlack of EventLeaseExpired (or of adopting a new
// epoch), then: once CanPromote allowed the promotion of the MAIN of epoch
// e, no gateway holds a lease on an epoch below e, so no two gateways route
// to two different MAINs. Each gateway's epoch strictly increases.
//
// # Non-guarantees
//
//   - Liveness needs the network: a gateway that cannot reach the leader
//     stops routing after T (self-fencing, by design); a promotion waits
//     for silent gateways' leases (up to over(T) ≈ 6.4 s) and, in a new
//     term, for the predecessor's (up to over(RD+T) ≈ 9.4 s after it was
//     last seen renewing).
//   - It fences gateways, not Memgraph: the controller must still demote
//     the old MAIN when it answers.
//   - A gateway process paused (SIGSTOP, long GC) between checking its
//     lease and relaying bytes could relay after its lease ended; the
//     proxy must check Routing (or the expiry) at relay time, and pauses
//     longer than ExpirySlack are not covered.
//   - The failsafe relies on the member list: a replica unknown to the
//     failsafe leader (started after the leader lost the store, and never
//     a gossip member with it) that wins the election could promote while
//     the failsafe leader still grants. Feed SetMembers with every member
//     memberlist ever saw, failed ones included, until the orchestrator
//     confirms they are gone; a stronger fix is the Patroni one (the
//     leader records the member list in the route record; only listed
//     replicas may lead). DisableFailsafe trades this away with the
//     outage tolerance.
//
// # Verification
//
// sim_test.go is a deterministic simulation (the way Vitess model-checks
// its buffer): replicas each running a Gateway, a Leader, a client-go-like
// elector and a failover controller; a linearizable store; a network with
// delays (up to 2 s), drops, duplicates, reordering, partitions
// (symmetric, one-way, isolation, "leader side loses the store"); crashes
// and restarts; clocks drifting within ClockDrift. Over 1,000 seeds it
// checks at every event that no two gateways route to different MAINs,
// that nothing routes an epoch older than a promoted one, that every
// leader over-estimates the leases it granted, that epochs only grow, and
// after healing that every gateway routes the store's serving route. A
// second test breaks one rule at a time (lease from the grant's arrival,
// no new-leader wait, no clock margin, majority failsafe) and shows the
// simulation catches each. Reproduce a seed with
// go test ./routelease -run 'TestSimulation$' -sim.seed N -v.
package routelease
