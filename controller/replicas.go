package controller

import (
	"cmp"
	"fmt"
	"slices"
)

// care keeps the MAIN m's replicas as they should be (DESIGN "Replica
// management"), at the serving epoch.
func (d *decider) care(m *Instance, epoch uint64) {
	p, ok := d.plan(m, epoch, false)
	if !ok {
		return
	}
	if !d.sameReplicas(p.planned, d.s.Route.Replicas) {
		// First, and critical: a leader that can no longer write the store
		// must not weaken the sync set its successor will trust.
		d.add(RecordReplicas{Epoch: epoch, Main: m.Name, Replicas: p.planned})
	}
	d.add(p.acts...)
}

type planResult struct {
	acts    []Action
	planned []RouteReplica // the replicas once acts succeed, sorted by name
}

// slot is one instance's registration on the MAIN.
type slot struct {
	in       *Instance
	row      *ReplicaRow // the registration kept, nil if none
	drop     string      // registration name to drop, with dropWhy
	dropWhy  string
	register Mode // mode to register with if it ends up unregistered ("" ASYNC)
}

// plan computes the registrations the MAIN m should have and the actions
// that get there:
//
//   - rows naming no instance, the MAIN itself, zombies ({} data_info),
//     diverged replicas and wrong addresses are dropped (diverged ones are
//     reported and never registered again);
//   - exactly one synchronous replica (Config.SyncMode): a sync replica
//     invalid or unreachable for FailoverAfter loses the role; the role
//     goes to the most caught-up ASYNC replica (drop, register as sync) or,
//     while the MAIN holds no data, to the lowest-named replica directly;
//     a replica is never made synchronous while it is behind, since a
//     STRICT_SYNC replica that catches up blocks every write;
//   - extra synchronous replicas go back to ASYNC once the kept one is
//     caught up (a switchover target is preferred for the role);
//   - every other reachable, non-diverged instance is registered ASYNC by
//     its stable address; a MAIN that is not the route's (an old MAIN
//     back, a fresh pod) is demoted first.
//
// With fresh set (the batch that publishes m) rows not read are taken as
// none: a MAIN just promoted has no registrations. Otherwise plan does
// nothing (ok false) until m's SHOW REPLICAS is known.
func (d *decider) plan(m *Instance, epoch uint64, fresh bool) (planResult, bool) {
	if !m.ReplicasKnown && !fresh {
		return planResult{}, false
	}
	port := d.cfg.ReplicationPort
	var acts []Action
	slots := make(map[string]*slot)
	rows := slices.Clone(m.Replicas)
	if !m.ReplicasKnown {
		rows = nil
	}
	slices.SortFunc(rows, func(a, b ReplicaRow) int { return cmp.Compare(a.Name, b.Name) })
	for i := range rows {
		row := &rows[i]
		in := d.by[row.Name]
		if in == nil || in.Name == m.Name {
			why := "not a known instance"
			if in != nil {
				why = "the MAIN itself"
			}
			acts = append(acts, Drop{Epoch: epoch, On: m.Name, Name: row.Name, Reason: why})
			continue
		}
		s := &slot{in: in}
		slots[in.Name] = s
		switch want := replAddr(in, port); {
		case row.Zombie:
			s.drop, s.dropWhy = row.Name, "zombie registration (data_info {})"
		case row.Status == StatusDiverged:
			d.markDiverged(in.Name, fmt.Sprintf("SHOW REPLICAS on %s reports it diverged", m.Name))
			s.drop, s.dropWhy = row.Name, "diverged"
		case want != "" && row.Addr != want:
			s.drop, s.dropWhy = row.Name, fmt.Sprintf("registered at %s, expected %s", row.Addr, want)
		default:
			s.row = row
			if row.Status.caughtUp() {
				delete(d.st.Diverged, in.Name) // Memgraph replicates to it: a stale flag
			}
		}
	}

	d.planSync(m, slots, fresh)

	var planned []RouteReplica
	for _, in := range d.insts {
		if in.Name == m.Name {
			continue
		}
		s := slots[in.Name]
		if s != nil && s.drop != "" {
			acts = append(acts, Drop{Epoch: epoch, On: m.Name, Name: s.drop, Reason: s.dropWhy})
			s.row = nil
		}
		if s != nil && s.row != nil {
			planned = append(planned, RouteReplica{Name: in.Name, BoltAddr: in.BoltAddr, Mode: s.row.Mode,
				Ready: s.row.Status.caughtUp(), Lag: s.row.Behind})
			continue
		}
		if !d.registrable(in) {
			// A MAIN outside the route takes writes from whoever reaches it
			// directly: demote it even when it may not be registered
			// (diverged); demoting keeps its data.
			if in.Known && in.Reachable && in.Role == RoleMain && d.isDiverged(in.Name) {
				acts = append(acts, Demote{Epoch: epoch, Instance: in.Name, Port: port})
			}
			continue
		}
		mode := ModeAsync
		if s != nil && s.register != "" {
			mode = s.register
		}
		if in.Role == RoleMain {
			acts = append(acts, Demote{Epoch: epoch, Instance: in.Name, Port: port})
		}
		acts = append(acts, Register{Epoch: epoch, On: m.Name, Instance: in.Name, Mode: mode, Addr: replAddr(in, port)})
		planned = append(planned, RouteReplica{Name: in.Name, BoltAddr: in.BoltAddr, Mode: mode})
	}
	for _, in := range d.insts {
		if in.Name != m.Name && in.Known && in.Reachable && in.ReplAddr == "" {
			d.alert("replica-address-missing", fmt.Sprintf("%s has no replication address; it cannot be registered", in.Name))
		}
	}

	// What is dropped or re-registered is not eligible any more, from now
	// on: a failover decided before the next observation must not pick it.
	if v := &d.st.View; v.Main == m.Name {
		v.Entries = slices.DeleteFunc(v.Entries, func(e ViewEntry) bool {
			s := slots[e.Instance]
			return s != nil && s.drop != ""
		})
	}
	return planResult{acts: acts, planned: planned}, true
}

// planSync decides which replica holds the synchronous role; it marks the
// slots to drop and the mode to register them with.
func (d *decider) planSync(m *Instance, slots map[string]*slot, fresh bool) {
	sync := d.cfg.SyncMode
	var keepers []*slot
	for _, name := range sortedKeys(slots) {
		s := slots[name]
		if s.row == nil || !s.row.Mode.Synchronous() {
			continue
		}
		if d.syncLost(s) {
			s.drop, s.dropWhy = s.row.Name, "synchronous replica lost"
			continue
		}
		keepers = append(keepers, s)
	}
	if len(keepers) > 0 {
		keep := d.bestSync(keepers)
		if keep.row.Status.caughtUp() {
			for _, k := range keepers {
				// The switchover target keeps the role while it catches up:
				// it only joined it caught up as ASYNC, and dropping it back
				// would undo what the switchover waits for.
				if k != keep && k.in.Name != d.prefer {
					k.drop, k.dropWhy = k.row.Name, fmt.Sprintf("extra synchronous replica (%s keeps the role)", keep.in.Name)
				}
			}
			if keep.row.Mode != sync {
				keep.drop, keep.dropWhy, keep.register = keep.row.Name, fmt.Sprintf("registered %s, configured %s", keep.row.Mode, sync), sync
			}
		}
		// A switchover target joins the sync role beside the current one;
		// the current one leaves it once the target is caught up.
		if p := slots[d.prefer]; p != nil && p != keep && p.row != nil && p.drop == "" &&
			!p.row.Mode.Synchronous() && p.row.Status.caughtUp() && p.in.Reachable {
			p.drop, p.dropWhy, p.register = p.row.Name, "switchover target takes the synchronous role", sync
		}
		return
	}
	var fill *slot
	for _, name := range sortedKeys(slots) {
		s := slots[name]
		if s.row == nil || s.drop != "" || s.row.Mode.Synchronous() || !s.row.Status.caughtUp() ||
			!s.in.Reachable || d.isDiverged(s.in.Name) {
			continue
		}
		if fill == nil || s.in.Name == d.prefer ||
			(fill.in.Name != d.prefer && s.row.TS > fill.row.TS) {
			fill = s
		}
	}
	if fill != nil {
		fill.drop, fill.dropWhy, fill.register = fill.row.Name, "caught-up replica takes the synchronous role", sync
		return
	}
	if m.Data == DataEmpty {
		// Nothing to catch up with: register the first one as sync at once.
		for _, in := range d.insts {
			if in.Name == m.Name || !d.registrable(in) {
				continue
			}
			s := slots[in.Name]
			if s == nil {
				s = &slot{in: in}
				slots[in.Name] = s
			}
			if s.row != nil {
				s.drop, s.dropWhy = s.row.Name, "first replica of an empty MAIN takes the synchronous role"
			}
			s.register = sync
			return
		}
	}
	if !fresh {
		d.alert("no-sync-replica", fmt.Sprintf(
			"%s has no caught-up replica to take the %s role: writes are acknowledged by the MAIN alone and no failover is possible until one catches up",
			m.Name, sync))
	}
}

// syncLost: a synchronous replica the MAIN has not been able to replicate
// to for FailoverAfter (invalid), or that is unreachable and not caught up
// for that long, or that discovery no longer lists.
func (d *decider) syncLost(s *slot) bool {
	if !s.in.Known {
		return true
	}
	if s.row.Status == StatusInvalid {
		if t, ok := d.st.InvalidSince[s.in.Name]; ok && d.since(t) >= d.cfg.FailoverAfter {
			return true
		}
	}
	return !s.row.Status.caughtUp() && d.downFor(s.in, d.cfg.FailoverAfter)
}

// bestSync: the switchover target if caught up, else caught up first,
// highest ts, lowest name.
func (d *decider) bestSync(ks []*slot) *slot {
	return slices.MinFunc(ks, func(a, b *slot) int {
		ap := a.in.Name == d.prefer && a.row.Status.caughtUp()
		bp := b.in.Name == d.prefer && b.row.Status.caughtUp()
		if ap != bp {
			if ap {
				return -1
			}
			return 1
		}
		if ac, bc := a.row.Status.caughtUp(), b.row.Status.caughtUp(); ac != bc {
			if ac {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.row.TS, a.row.TS); c != 0 {
			return c
		}
		return cmp.Compare(a.in.Name, b.in.Name)
	})
}

// registrable: the instance may be registered now.
func (d *decider) registrable(in *Instance) bool {
	return in.Known && in.Reachable && in.ReplAddr != "" && !d.isDiverged(in.Name) &&
		(in.Role == RoleMain || in.Role == RoleReplica)
}

// sameReplicas compares what a successor's failover choice depends on:
// names, modes, and readiness of the replicas that may be promoted
// (synchronous ones, or every one with FailoverToAsync). An ASYNC
// replica's readiness flips with every commit it is late for, and lag
// changes all the time: neither is worth a store write.
func (d *decider) sameReplicas(a, b []RouteReplica) bool {
	if len(a) != len(b) {
		return false
	}
	type key struct {
		name  string
		mode  Mode
		ready bool
	}
	keys := func(rs []RouteReplica) []key {
		out := make([]key, len(rs))
		for i, r := range rs {
			out[i] = key{r.Name, r.Mode, r.Ready && (r.Mode.Synchronous() || d.cfg.FailoverToAsync)}
		}
		slices.SortFunc(out, func(x, y key) int { return cmp.Compare(x.name, y.name) })
		return out
	}
	return slices.Equal(keys(a), keys(b))
}
