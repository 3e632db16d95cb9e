// Package controller is the leader's decision core: a pure function from
// what the leader observes to the actions that bring the Memgraph cluster
// to where it should be (bootstrap, failover, switchover, replica care).
// It does no I/O: an Executor performs the actions, as etcd-raft leaves
// storage and transport to its caller (STYLE.md, "What to take" 1).
//
// # The loop
//
// The leader runs, under its leadership context, one goroutine:
//
//	var st controller.State // zero for a new leader
//	var outs []controller.Outcome
//	for ctx.Err() == nil {
//		snap := observe(ctx)              // probes, SHOW REPLICAS, store record, gossip, barrier
//		snap.Outcomes = outs
//		var batch []controller.Action
//		st, batch = controller.Decide(st, snap)
//		outs = controller.Run(ctx, executor, batch)
//		if fenced(outs) { return }        // ErrFenced: no longer the leader
//		if len(batch) == 0 { wait(probeInterval) } // else observe again at once
//	}
//
// Decide is level-triggered: it compares what it sees with what should be
// and asks for the next steps; an action that failed, or was skipped, or
// was lost with a crashed leader is simply asked for again on the next
// tick. Every action is idempotent. After a batch that changed something
// the loop observes again immediately, so a failover costs a few probe
// round trips, not a few probe intervals; probes should run in the
// background so that observing never waits on a dead instance's timeout.
//
// # Inputs and outputs
//
// Snapshot: the time; the store record (Route: epoch, phase, main, and in
// phase failover the Target, the MAIN being replaced (From) and whether it
// is a switchover (Planned), plus the recorded replica view); the
// configuration; every instance (known to discovery, pod ready, reachable,
// first failure time, how many gateways report it unreachable, role, data
// present, SHOW REPLICAS rows with mode, status, ts, behind, zombie); the
// number of live gateways; the highest epoch whose barrier completed; a
// pending switchover request; the outcomes of the previous batch.
//
// State: what the leader remembers between ticks: the last complete SHOW
// REPLICAS of the route's MAIN (View: who was caught up, with which ts),
// the instances known diverged, since when each replica row has been
// invalid, the alerts already raised, when this leader first saw the
// current failover epoch.
//
// Actions, and the DESIGN.md step each implements:
//
//	ClaimFailover   Failover 3 (claim e+1, phase failover, no main); Switchover
//	AwaitBarrier    Failover 4-5 (every gateway acked e+1, or its lease expired)
//	Demote          Failover 6 (fence the old MAIN, Fence set); Replica management
//	                (a returning old MAIN, an empty new pod); Switchover (old MAIN first)
//	Promote         Failover 6
//	Register, Drop  Failover 6 (register the others); Replica management
//	Publish         Failover 7 (e+2, serving); bootstrap (epoch 1)
//	RecordReplicas  The route record's replicas (what a successor chooses from)
//	ReportDiverged  Replica management (diverged: reported)
//	WipeAndResync   Replica management (only if enabled)
//	Alert           Failover 2 (no eligible replica), and other conditions
//	RefuseAmbiguous Replica management (bootstrap refuses ambiguous states)
//	EndSwitchover   Planned switchover (answers the request)
//
// Run executes a batch in order: a failed critical action (store writes,
// the barrier, the fence demotion, the promotion) or any ErrFenced ends the
// batch; another failure skips only the later actions about the same
// instance. Reports come first in a batch, so a failed step never loses
// them.
//
// # Requests, status and metrics (RunLoop)
//
// Switchovers (requests.go) is the mailbox of POST /v1/switchover: Submit
// queues one request at a time (a second gets ErrSwitchoverBusy) and
// blocks until Decide ends it with EndSwitchover, or its context ends
// (the request is withdrawn; a claim already made still completes or is
// aborted by SwitchoverTimeout). RunLoop puts the pending request into
// each Snapshot. A tracker (track.go) wraps the loop's executor: it times
// every claim, barrier, demote, promote, publish and the registrations of
// the publishing batch, follows each failover from its claim (or from a
// phase failover found in the store) to its publish, answers the request
// with the epoch, the MAIN, the time taken and that failover's steps, and
// after every tick replaces the StatusBoard (status.go: instances with
// their replica rows as the MAIN reports them, topology, active alerts,
// the last failover) and sets the metrics (metrics.go). A loop that stops
// interrupts the failover it was running, fails the request it held with
// ErrSwitchoverStopped and withdraws its instance series (only the leader
// reports instances). The mailbox, board and registerer outlive the loops
// of successive terms.
//
// # Guarantees
//
// Given a snapshot that is true of the moment it was taken and an Executor
// that keeps its contract (epoch fencing, CAS store writes, idempotence):
//
//   - At most one instance is promoted per claim epoch, and only the
//     claim's Target, only after this leader's barrier for that epoch. A new
//     target needs a new claim epoch; it is chosen only when the previous
//     one is gone (not in discovery, unreachable for FailoverAfter, wiped),
//     so two promotions never overlap in one epoch.
//   - A MAIN is published only if it answered as MAIN this tick, only from
//     phase failover (or at bootstrap), at exactly the record's epoch + 1.
//     Phase failover names no MAIN: nobody routes during it.
//   - A failover happens only when the MAIN failed the leader's probes for
//     FailoverAfter and a majority of live gateways cannot reach it either.
//   - The promoted instance is a synchronous replica (STRICT_SYNC or SYNC)
//     that the MAIN last reported caught up ("ready" or "replicating"),
//     that answers as a REPLICA, is not known diverged and has not lost its
//     data (empty while another instance holds data); or the MAIN being
//     replaced itself, which holds every acknowledged write because nothing
//     was published since it served. With STRICT_SYNC, and with SYNC on
//     Memgraph 3.0-3.12 (where an unconfirmed SYNC commit is an error, not
//     an acknowledgement), such an instance holds every acknowledged write.
//   - Eligibility is pessimistic: a replica dropped from the sync role
//     leaves the leader's view when the drop is decided, and the store
//     record is rewritten (RecordReplicas, critical, first in the batch)
//     before any action that weakens the synchronous set, so neither this
//     leader nor a successor that reads the record chooses a replica that
//     may have stopped receiving synchronous writes. A deposed leader's
//     record write fails, so it cannot take that step.
//   - A diverged instance (status "diverged", or REGISTER Error 3) is
//     reported, its registration dropped, and it is never registered again
//     until it was wiped (WipeAndResync, only with AllowWipeDiverged) or
//     comes back as an empty MAIN. A MAIN outside the route is demoted even
//     when diverged (its data stays), so nothing takes writes beside the
//     route's MAIN.
//   - Transient failures (lock contention, unreachable) are retried by the
//     next tick without alerting. Each alert is emitted once per episode.
//
// # Choices, and why (where this refines DESIGN.md or the first plan)
//
//   - Publish comes before the registrations in the batch that follows a
//     promotion (DESIGN lists registering before publishing). A replica that
//     is unreachable or diverged must not delay the route; and the order
//     costs no safety: until the new MAIN reports a synchronous replica
//     caught up, no failover from it is possible at all.
//   - New registrations are ASYNC; the synchronous role goes to a replica
//     only once it is caught up (drop, register with SyncMode). A
//     STRICT_SYNC replica that is catching up makes every write fail, so
//     registering a lagging replica as the sync one would stop writes for
//     as long as it lags. Exception: while the MAIN holds no data (bootstrap)
//     the first replica is registered synchronous at once. When the sync
//     replica is lost (invalid, or unreachable and not caught up, for
//     FailoverAfter) it is dropped even if no replacement is caught up, so
//     writes continue; an alert says no failover is possible meanwhile.
//   - "replicating" counts as caught up: under write load a caught-up
//     synchronous replica is sampled in that state most of the time, and
//     the commit in flight is not acknowledged before it confirms it.
//   - A switchover first moves the synchronous role to its target (so that
//     the target is always failover-eligible, and a leader that takes over
//     mid-way needs nothing special), claims only once the target is ready
//     with behind 0, checks that again after the barrier (no write reaches
//     the old MAIN through a gateway any more), then demotes the old MAIN
//     and promotes the target in one batch. If the target does not catch up
//     within SwitchoverTimeout the old MAIN, never demoted, is published
//     again.
//   - Resumption: a leader finding phase failover promotes the recorded
//     target if it can (after its own barrier, which waits out its
//     predecessor's leases), publishes it if it is already MAIN, and
//     re-targets only when it is gone: to the MAIN being replaced if it
//     answers (published at once if still MAIN, promoted under a new claim
//     if it was fenced), else to the next eligible replica of the record.
//   - A route MAIN that answers as REPLICA (demoted behind the controller's
//     back) is promoted again through a claim of its own, so that the
//     promotion is fenced like any other.
//   - Bootstrap waits until every known instance answered; adopts a
//     topology only when it is unique (one MAIN holding data, every other
//     data holder its registered, non-diverged replica); and refuses
//     anything else until an operator names the MAIN with a switchover
//     request, which then works like any claim.
//   - RecordReplicas writes only what a failover choice depends on (names,
//     modes, readiness of synchronous replicas): ASYNC readiness flips with
//     every commit a replica is late for, which would be a store write per
//     tick.
//
// # What the store record keeps
//
// In phase failover the Target, the MAIN being replaced (From) and Planned
// (state.Route fields that exist only in that phase and change only with
// the epoch), so that a successor resumes the claim; and the replicas
// (mode, ready, lag) a successor chooses a target from.
//
// # What it does not do
//
// It does not detect a route MAIN that restarted with an empty volume
// while replicas hold data (vertex counts cannot tell that from a user who
// deleted everything); the operator has to switch over. With SyncMode SYNC
// on Memgraph versions where an unconfirmed SYNC commit only warns, a write
// acknowledged while the sync replica was failing exists on the MAIN alone
// and a failover loses it: use STRICT_SYNC. A deposed leader paused
// between its leadership check and a Memgraph query can still run that one
// query (the executor's guard narrows the window; Memgraph has no
// compare-and-swap). Gateway routing, leases and the barrier themselves
// are the route agent's (routeagent, through LoopConfig.Barrier and
// Quorum); Decide trusts BarrierEpoch.
//
// # Tests
//
// Scenario tables per concern (bootstrap, failover, resumption,
// switchover, replica care), multi-tick sequences, a randomized check of
// per-batch safety rules and purity over arbitrary snapshots, and a
// deterministic simulation (sim_test.go): a model cluster whose instances
// hold write-id histories, with crashes, restarts, partitions between
// leader, gateways and instances, lock contention, barrier timeouts,
// unacknowledged stray writes, leader crashes mid-batch and switchover
// requests, checking every step that acknowledged writes survive every
// promotion and publish, that epochs increase, that promotions follow the
// barrier and match the claim, that no needless failover happens and no
// known-diverged instance is registered, and at the end, once faults
// healed, that a serving route with one synchronous replica exists. Run it
// deeper with -sim.seeds, -sim.steps and -sim.first. The mailbox, the
// tracker's records, board and metrics have unit tests of their own; a
// loop test (switchover_loop_test.go) switches over emulated instances
// under continuous writes and checks that no acknowledged write is lost.
package controller
