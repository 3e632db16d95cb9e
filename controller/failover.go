package controller

import (
	"cmp"
	"fmt"
	"slices"
)

// serving handles phase serving: replica care while the MAIN answers,
// switchover on request, failover once it is down.
func (d *decider) serving() {
	r := d.s.Route
	m := d.by[r.Main]
	switch {
	case m == nil:
		d.alert("main-missing", fmt.Sprintf("route main %s is not among the observed instances", r.Main))
	case m.Reachable && m.Role == RoleMain:
		d.observeView(m, r.Epoch)
		if d.switchover(m) {
			return
		}
		d.care(m, r.Epoch)
	case m.Reachable && m.Role == RoleReplica:
		// Demoted behind the controller's back: it refuses writes. It held
		// every acknowledged write when it was demoted, so it is the target.
		d.alert("main-is-replica", fmt.Sprintf("route main %s reports role replica; promoting it again", m.Name))
		d.claim(ClaimFailover{
			Epoch: r.Epoch + 1, Target: m.Name, From: m.Name,
			Cause:    fmt.Sprintf("route main %s reports role replica", m.Name),
			Replicas: d.servingReplicas(),
		})
	case m.Reachable:
		// Role not read yet: wait for the next probe.
	default:
		d.mainDown(m)
	}
}

// mainDown decides whether to fail over from the unreachable MAIN m
// (DESIGN steps 1-2).
func (d *decider) mainDown(m *Instance) {
	r := d.s.Route
	if !d.downFor(m, d.cfg.FailoverAfter) {
		return
	}
	if !d.quorumDown(m) {
		d.alert("main-unreachable-from-leader", fmt.Sprintf(
			"main %s does not answer the leader, but only %d of %d gateways report it unreachable: no failover",
			m.Name, m.GatewaysDown, d.s.LiveGateways))
		return
	}
	cands := d.candidates(d.servingView(), m.Name)
	if len(cands) == 0 {
		d.alert("no-eligible-replica", fmt.Sprintf(
			"main %s is down and no replica is eligible (a %s replica last reported caught up, reachable, not diverged): no failover, still probing",
			m.Name, d.cfg.SyncMode))
		return
	}
	t := cands[0]
	if req := d.s.Switchover; req != nil {
		for _, c := range cands {
			if c.name == req.Target {
				t = c
			}
		}
	}
	d.claim(ClaimFailover{
		Epoch: r.Epoch + 1, Target: t.name, From: m.Name,
		Cause: fmt.Sprintf("main %s unreachable for %v, %d of %d gateways agree; %s replica %s chosen",
			m.Name, d.since(m.FirstFailure), m.GatewaysDown, max(d.s.LiveGateways, 1), t.mode, t.name),
		Replicas: d.servingReplicas(),
	})
}

// switchover handles a pending request while the MAIN m answers. It
// reports whether it claimed the failover epoch (then nothing else may be
// done this tick).
func (d *decider) switchover(m *Instance) bool {
	req := d.s.Switchover
	if req == nil {
		return false
	}
	r := d.s.Route
	t := d.by[req.Target]
	end := func(ok bool, reason string) {
		d.add(EndSwitchover{Epoch: r.Epoch, Target: req.Target, OK: ok, Reason: reason})
	}
	switch {
	case req.Target == m.Name:
		end(true, fmt.Sprintf("%s is the MAIN (epoch %d)", m.Name, r.Epoch))
		return false
	case t == nil || !t.Known:
		end(false, fmt.Sprintf("%s is not a known instance", req.Target))
		return false
	case d.isDiverged(t.Name):
		end(false, fmt.Sprintf("%s has diverged from the MAIN", t.Name))
		return false
	}
	d.prefer = t.Name
	row := rowOf(m, t.Name)
	if !t.Reachable || t.Role != RoleReplica || row == nil || row.Zombie ||
		row.Mode != d.cfg.SyncMode || row.Status != StatusReady || row.Behind != 0 {
		// Not yet: care() moves the sync role to the target; wait until it
		// is caught up so that the write pause after the cut is short.
		return false
	}
	d.claim(ClaimFailover{
		Epoch: r.Epoch + 1, Target: t.Name, From: m.Name, Planned: true,
		Cause:    fmt.Sprintf("switchover from %s to %s requested", m.Name, t.Name),
		Replicas: d.servingReplicas(),
	})
	return true
}

// claim emits a ClaimFailover and continues with the steps it allows at
// once (the barrier wait and, for a failover, the promotion).
func (d *decider) claim(c ClaimFailover) {
	if d.claimed {
		return // one claim per tick
	}
	d.claimed = true
	d.add(c)
	d.st.PhaseEpoch, d.st.PhaseSince = c.Epoch, d.s.Now
	d.failover(Route{
		Epoch: c.Epoch, Phase: PhaseFailover, Target: c.Target, From: c.From,
		Planned: c.Planned, Replicas: c.Replicas,
	})
}

// failover drives a failover record to its end (DESIGN steps 4-7); it
// also resumes one a previous leader started.
func (d *decider) failover(r Route) {
	t := d.by[r.Target]
	var f *Instance
	if r.From != "" && r.From != r.Target {
		f = d.by[r.From]
	}
	barrier := d.s.BarrierEpoch >= r.Epoch
	switch {
	case d.usableMain(t):
		// Promoted (by us, or by a predecessor before it stopped).
		d.publishMain(r.Epoch+1, t, failoverCause(r))
	case d.usableReplica(t):
		if r.Planned && f != nil && f.Reachable && f.Role == RoleMain {
			d.plannedStep(r, t, f, barrier)
			return
		}
		if !barrier {
			d.add(AwaitBarrier{Epoch: r.Epoch})
		}
		if f != nil && f.Reachable && f.Role == RoleMain {
			d.add(Demote{Epoch: r.Epoch, Instance: f.Name, Port: d.cfg.ReplicationPort, Fence: true})
		}
		d.add(Promote{Epoch: r.Epoch, Instance: t.Name})
	case d.gone(t):
		d.retarget(r)
	case !t.Reachable:
		d.alert("failover-target-unreachable", fmt.Sprintf(
			"failover target %s does not answer; waiting (another target is chosen after %v)", t.Name, d.cfg.FailoverAfter))
	}
}

// plannedStep is a switchover with the old MAIN f still MAIN: after the
// barrier no write reaches f through a gateway, so once f reports t
// caught up (ready, behind 0) t holds every acknowledged write; demote f
// first, then promote t.
func (d *decider) plannedStep(r Route, t, f *Instance, barrier bool) {
	if !barrier {
		d.add(AwaitBarrier{Epoch: r.Epoch})
		return
	}
	if row := rowOf(f, t.Name); row != nil && !row.Zombie && row.Status == StatusReady && row.Behind == 0 {
		d.add(
			Demote{Epoch: r.Epoch, Instance: f.Name, Port: d.cfg.ReplicationPort, Fence: true},
			Promote{Epoch: r.Epoch, Instance: t.Name},
		)
		return
	}
	if d.since(d.st.PhaseSince) < d.cfg.SwitchoverTimeout {
		return // t is receiving the last writes
	}
	reason := fmt.Sprintf("switchover to %s aborted: not caught up %v after the cut; %s stays MAIN", t.Name, d.since(d.st.PhaseSince), f.Name)
	d.alert("switchover-aborted", reason)
	d.publishMain(r.Epoch+1, f, reason)
	if req := d.s.Switchover; req != nil && req.Target == t.Name {
		d.add(EndSwitchover{Epoch: r.Epoch + 1, Target: t.Name, OK: false, Reason: reason})
	}
}

// retarget handles a failover whose target is gone. The target may have
// been promoted by a leader that stopped mid-way, but it never served: no
// Publish names it at this epoch. A new promotion needs a new epoch.
func (d *decider) retarget(r Route) {
	var f *Instance
	if r.From != "" && r.From != r.Target {
		f = d.by[r.From]
	}
	if f != nil && f.Known && f.Reachable && !d.wiped(f) && !d.isDiverged(f.Name) {
		// The MAIN being replaced holds every acknowledged write: nothing
		// has been published since it served.
		switch f.Role {
		case RoleMain:
			d.alert("failover-target-lost", fmt.Sprintf("failover target %s lost; %s answers again and serves", r.Target, f.Name))
			d.publishMain(r.Epoch+1, f, fmt.Sprintf("failover target %s lost; %s, the MAIN being replaced, answers again", r.Target, f.Name))
			return
		case RoleReplica:
			d.alert("failover-target-lost", fmt.Sprintf("failover target %s lost; promoting %s, the MAIN being replaced, again", r.Target, f.Name))
			d.claim(ClaimFailover{
				Epoch: r.Epoch + 1, Target: f.Name, From: f.Name,
				Cause:    fmt.Sprintf("failover target %s lost; %s, demoted by this failover, holds every acknowledged write", r.Target, f.Name),
				Replicas: r.Replicas,
			})
			return
		}
		return // role not read yet
	}
	cands := d.candidates(routeView(r.Replicas), r.Target, r.From)
	if len(cands) == 0 {
		d.alert("failover-stuck", fmt.Sprintf("failover target %s lost and no other replica is eligible; waiting", r.Target))
		return
	}
	d.claim(ClaimFailover{
		Epoch: r.Epoch + 1, Target: cands[0].name, From: r.From,
		Cause:    fmt.Sprintf("failover target %s lost; %s replica %s chosen", r.Target, cands[0].mode, cands[0].name),
		Replicas: r.Replicas,
	})
}

// publishMain publishes m as MAIN at epoch and continues with the replica
// work its topology needs (demote other MAINs, register the others).
func (d *decider) publishMain(epoch uint64, m *Instance, cause string) {
	p, _ := d.plan(m, epoch, true)
	d.add(Publish{Epoch: epoch, Main: m.Name, MainAddr: m.BoltAddr, Replicas: p.planned, Cause: cause})
	d.add(p.acts...)
	// Nothing the new MAIN reports is known yet: no replica is eligible
	// until it does.
	d.st.View = View{Main: m.Name, Epoch: epoch, At: d.s.Now}
	clear(d.st.InvalidSince)
}

func failoverCause(r Route) string {
	switch {
	case r.From == "":
		return fmt.Sprintf("bootstrap: %s promoted", r.Target)
	case r.From == r.Target:
		return fmt.Sprintf("%s promoted again", r.Target)
	case r.Planned:
		return fmt.Sprintf("switchover from %s to %s", r.From, r.Target)
	}
	return fmt.Sprintf("failover from %s to %s", r.From, r.Target)
}

// usableMain: t answers as a MAIN that still has its data.
func (d *decider) usableMain(t *Instance) bool {
	return t != nil && t.Reachable && t.Role == RoleMain && !d.wiped(t) && !d.isDiverged(t.Name)
}

// usableReplica: t may be promoted now.
func (d *decider) usableReplica(t *Instance) bool {
	return t != nil && t.Known && t.Reachable && t.Role == RoleReplica && !d.wiped(t) && !d.isDiverged(t.Name)
}

// gone: the target will not come back as itself soon, or lost its data.
func (d *decider) gone(t *Instance) bool {
	return t == nil || !t.Known || d.downFor(t, d.cfg.FailoverAfter) || d.wiped(t) || d.isDiverged(t.Name)
}

// candidate is a replica as a view reports it.
type candidate struct {
	name  string
	mode  Mode
	ready bool
	rank  int64 // higher is more caught up (ts, or lag within one source)
}

// servingView is the view failover targets are chosen from in phase
// serving: this leader's memory of the MAIN's last SHOW REPLICAS if it has
// one for this epoch, else the one recorded in the store.
func (d *decider) servingView() []candidate {
	r := d.s.Route
	if v := d.st.View; v.Main != "" && v.Main == r.Main && v.Epoch == r.Epoch {
		out := make([]candidate, 0, len(v.Entries))
		for _, e := range v.Entries {
			out = append(out, candidate{name: e.Instance, mode: e.Mode, ready: e.Status.caughtUp(), rank: e.TS})
		}
		return out
	}
	return routeView(r.Replicas)
}

func routeView(rs []RouteReplica) []candidate {
	out := make([]candidate, 0, len(rs))
	for _, rr := range rs {
		out = append(out, candidate{name: rr.Name, mode: rr.Mode, ready: rr.Ready, rank: rr.Lag})
	}
	return out
}

// servingReplicas is the view to keep in a failover record.
func (d *decider) servingReplicas() []RouteReplica {
	r := d.s.Route
	v := d.st.View
	if v.Main == "" || v.Main != r.Main || v.Epoch != r.Epoch {
		return slices.Clone(r.Replicas)
	}
	out := make([]RouteReplica, 0, len(v.Entries))
	for _, e := range v.Entries {
		rr := RouteReplica{Name: e.Instance, Mode: e.Mode, Ready: e.Status.caughtUp(), Lag: e.Behind}
		if in := d.by[e.Instance]; in != nil {
			rr.BoltAddr = in.BoltAddr
		}
		out = append(out, rr)
	}
	return out
}

// candidates lists the replicas of a view that may be promoted, best
// first (DESIGN step 2): synchronous (unless FailoverToAsync), reported
// caught up by the MAIN, answering now as a REPLICA, never known diverged,
// not wiped since.
func (d *decider) candidates(view []candidate, exclude ...string) []candidate {
	var out []candidate
	for _, c := range view {
		if slices.Contains(exclude, c.name) || !c.ready {
			continue
		}
		if !c.mode.Synchronous() && !(d.cfg.FailoverToAsync && c.mode == ModeAsync) {
			continue
		}
		if in := d.by[c.name]; !d.usableReplica(in) {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b candidate) int {
		if a.mode.Synchronous() != b.mode.Synchronous() {
			if a.mode.Synchronous() {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.rank, a.rank); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	return out
}

// observeView remembers the MAIN's SHOW REPLICAS of this tick.
func (d *decider) observeView(m *Instance, epoch uint64) {
	if !m.ReplicasKnown {
		return
	}
	if d.st.View.Main != m.Name || d.st.View.Epoch != epoch {
		clear(d.st.InvalidSince)
	}
	v := View{Main: m.Name, Epoch: epoch, At: d.s.Now}
	seen := make(map[string]bool)
	for _, row := range m.Replicas {
		if row.Zombie || row.Name == m.Name || d.by[row.Name] == nil {
			continue
		}
		seen[row.Name] = true
		v.Entries = append(v.Entries, ViewEntry{Instance: row.Name, Mode: row.Mode, Status: row.Status, TS: row.TS, Behind: row.Behind})
		if row.Status == StatusInvalid {
			if _, ok := d.st.InvalidSince[row.Name]; !ok {
				d.st.InvalidSince[row.Name] = d.s.Now
			}
		} else {
			delete(d.st.InvalidSince, row.Name)
		}
	}
	for name := range d.st.InvalidSince {
		if !seen[name] {
			delete(d.st.InvalidSince, name)
		}
	}
	slices.SortFunc(v.Entries, func(a, b ViewEntry) int { return cmp.Compare(a.Instance, b.Instance) })
	d.st.View = v
}
