package controller

import (
	"context"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Barrier is the route-lease side of the leader (routeagent implements
// it): it must hear of every store write so that it stops granting leases
// on a route being replaced before the write, and it decides when the
// barrier of a claim is passed (every gateway acked the claim, or the
// leases of the silent ones have expired; DESIGN.md, Failover step 5).
//
// Without a Barrier (LoopConfig.Barrier nil) the barrier is a plain wait
// of RouteTTL after the claim, which is safe only while gateways route by
// the store alone.
type Barrier interface {
	// Claim is called before writing next, whose epoch is above the
	// record's. An error (leadership not certain) fails the write.
	Claim(ctx context.Context, next state.Route) error
	// Published is called after every successful write of r.
	Published(r state.Route)
	// Await returns nil once a promotion for the claim at epoch may
	// happen, and records that it does; an error when it never can in
	// this term (leadership lost) or ctx ends.
	Await(ctx context.Context, epoch uint64) error
	// NotBefore is the earliest time a promotion can happen in this term
	// whatever the acks (a new leader waits out its predecessor's
	// leases). A planned switchover waits for it before claiming, so that
	// writes are not held for that long.
	NotBefore(ctx context.Context) (time.Time, error)
}

// Quorum is what the live gateways report (through gossip heartbeats),
// for the rule that a MAIN is down only when a majority of live gateways
// cannot reach it either (DESIGN.md, Failover step 1). nil: the leader
// alone decides.
type Quorum interface {
	// LiveGateways counts live gateway members, this leader included
	// (at least 1).
	LiveGateways() int
	// OthersDown counts live gateways other than this leader that report
	// instance unreachable.
	OthersDown(instance string) int
}

// applyQuorum fills Snapshot.LiveGateways and each instance's GatewaysDown
// from q: the leader's own view (its probe) plus the other gateways'.
func applyQuorum(q Quorum, snap *Snapshot) {
	if q == nil {
		snap.LiveGateways = 1
		return
	}
	snap.LiveGateways = max(1, q.LiveGateways())
	for i := range snap.Instances {
		in := &snap.Instances[i]
		self := 0
		if !in.Reachable {
			self = 1
		}
		in.GatewaysDown = self + q.OthersDown(in.Name)
	}
}

// kickOne asks the prober of one instance to probe now (no-op when it is
// not probed or a kick is pending).
func (o *observer) kickOne(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.probers[name]; p != nil {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// followSuspicions probes at once every instance named on suspects (a
// gateway's dial to it failed, or another gateway reports it
// unreachable), so that a dead MAIN's failure is noticed in milliseconds
// instead of at the next probe interval; FailoverAfter still runs from
// the leader's own failed probe.
func (o *observer) followSuspicions(ctx context.Context, suspects <-chan string) {
	if suspects == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-suspects:
			o.kickOne(name)
		}
	}
}
