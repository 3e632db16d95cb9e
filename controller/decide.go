package controller

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Decide is the controller's decision core: from the previous State and
// this tick's Snapshot it returns the next State and the actions to take,
// in order. It is a pure function: no I/O, no clock, no randomness, and
// it does not modify its arguments. It is level-triggered: it compares
// what it observes with what should be and asks for the next steps, so an
// action that failed or was never executed is simply asked for again.
func Decide(prev State, s Snapshot) (State, []Action) {
	d := newDecider(prev, s)
	d.absorb()
	switch {
	case s.Route.Epoch == 0:
		d.bootstrap()
	case s.Route.Phase == PhaseFailover:
		d.failover(s.Route)
	default:
		d.serving()
	}
	return d.finish()
}

type decider struct {
	s     Snapshot
	cfg   Config
	st    State
	insts []*Instance // sorted by name
	by    map[string]*Instance

	raised  []Action // Alert and RefuseAmbiguous raised this tick
	acts    []Action
	claimed bool   // a ClaimFailover was emitted this tick
	prefer  string // a valid switchover target, preferred for the sync role
}

func newDecider(prev State, s Snapshot) *decider {
	d := &decider{
		s:   s,
		cfg: s.Config.withDefaults(),
		st:  prev.clone(),
		by:  make(map[string]*Instance, len(s.Instances)),
	}
	// Instances are copied (Replicas are shared but only read): nothing a
	// decision does can reach back into the caller's snapshot.
	insts := slices.Clone(s.Instances)
	d.insts = make([]*Instance, len(insts))
	for i := range insts {
		d.insts[i] = &insts[i]
	}
	slices.SortFunc(d.insts, func(a, b *Instance) int { return cmp.Compare(a.Name, b.Name) })
	for _, in := range d.insts {
		d.by[in.Name] = in
	}
	return d
}

// absorb folds the previous batch's outcomes and this tick's plain facts
// into the State.
func (d *decider) absorb() {
	for _, o := range d.s.Outcomes {
		if w, ok := o.Action.(WipeAndResync); ok && o.Err == nil {
			// Its data is gone: whatever comes back is a new instance.
			delete(d.st.Diverged, w.Instance)
			continue
		}
		if o.Err == nil {
			continue
		}
		skipped := errors.Is(o.Err, ErrSkipped)
		switch a := o.Action.(type) {
		case Register:
			if errors.Is(o.Err, ErrDiverged) {
				d.markDiverged(a.Instance, fmt.Sprintf("REGISTER REPLICA on %s failed: replica diverged (Error 3)", a.On))
			}
		case WipeAndResync:
			if dv, ok := d.st.Diverged[a.Instance]; ok {
				dv.Wiping = false
				d.st.Diverged[a.Instance] = dv
			}
		case ReportDiverged:
			if dv, ok := d.st.Diverged[a.Instance]; ok && skipped {
				dv.Reported = false
				d.st.Diverged[a.Instance] = dv
			}
		case Alert:
			if skipped {
				delete(d.st.Alerts, a.Key)
			}
		case RefuseAmbiguous:
			if skipped {
				delete(d.st.Alerts, refuseKey(a.Key))
			}
		}
	}
	// An instance that answers as an empty MAIN has been wiped or
	// replaced: whatever diverged is gone.
	for name := range d.st.Diverged {
		if in := d.by[name]; in != nil && in.Reachable && in.Role == RoleMain && in.Data == DataEmpty {
			delete(d.st.Diverged, name)
		}
	}
	if r := d.s.Route; r.Phase == PhaseFailover && d.st.PhaseEpoch != r.Epoch {
		d.st.PhaseEpoch, d.st.PhaseSince = r.Epoch, d.s.Now
	}
}

// finish assembles the batch: reports first (they never fail the batch and
// must not be lost behind a failed step), then the steps, then wipes.
func (d *decider) finish() (State, []Action) {
	var out []Action
	raised := make(map[string]bool, len(d.raised))
	for _, a := range d.raised {
		key := reportKey(a)
		if raised[key] {
			continue
		}
		raised[key] = true
		if !d.st.Alerts[key] {
			out = append(out, a)
		}
	}
	d.st.Alerts = raised
	for _, name := range sortedKeys(d.st.Diverged) {
		dv := d.st.Diverged[name]
		if !dv.Reported {
			out = append(out, ReportDiverged{Epoch: d.s.Route.Epoch, Instance: name, Detail: dv.Detail})
			dv.Reported = true
			d.st.Diverged[name] = dv
		}
	}
	out = append(out, d.acts...)
	r := d.s.Route
	if d.cfg.AllowWipeDiverged && r.Phase == PhaseServing && !d.claimed {
		for _, name := range sortedKeys(d.st.Diverged) {
			dv := d.st.Diverged[name]
			if dv.Wiping || name == r.Main {
				continue
			}
			out = append(out, WipeAndResync{Epoch: r.Epoch, Instance: name})
			dv.Wiping = true
			d.st.Diverged[name] = dv
		}
	}
	return d.st, out
}

func (d *decider) add(a ...Action) { d.acts = append(d.acts, a...) }

func (d *decider) alert(key, reason string) {
	d.raised = append(d.raised, Alert{Epoch: d.s.Route.Epoch, Key: key, Reason: reason})
}

func (d *decider) refuse(key, reason string) {
	d.raised = append(d.raised, RefuseAmbiguous{Epoch: d.s.Route.Epoch, Key: key, Reason: reason})
}

func refuseKey(k string) string { return "refuse:" + k }

func reportKey(a Action) string {
	switch a := a.(type) {
	case Alert:
		return a.Key
	case RefuseAmbiguous:
		return refuseKey(a.Key)
	}
	return a.String()
}

func (d *decider) markDiverged(name, detail string) {
	if _, ok := d.st.Diverged[name]; !ok {
		d.st.Diverged[name] = Divergence{Since: d.s.Now, Detail: detail}
	}
}

func (d *decider) isDiverged(name string) bool {
	_, ok := d.st.Diverged[name]
	return ok
}

// since is how long ago t was; zero t counts as now.
func (d *decider) since(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return d.s.Now.Sub(t)
}

// downFor reports whether in has failed every probe for at least dur.
func (d *decider) downFor(in *Instance, dur time.Duration) bool {
	return !in.Reachable && !in.FirstFailure.IsZero() && d.s.Now.Sub(in.FirstFailure) >= dur
}

// quorumDown reports whether a majority of live gateways, this leader
// included, cannot reach in (DESIGN step 1: the leader alone being cut
// off from the MAIN is no reason to fail over).
func (d *decider) quorumDown(in *Instance) bool {
	live := d.s.LiveGateways
	if live <= 1 {
		return true // the leader is the only gateway: its own view decides
	}
	return 2*min(in.GatewaysDown, live) > live
}

// othersHaveData reports whether an instance other than name answers with
// data.
func (d *decider) othersHaveData(name string) bool {
	for _, in := range d.insts {
		if in.Name != name && in.Reachable && in.Data == DataPresent {
			return true
		}
	}
	return false
}

// wiped reports whether in answers empty while another instance holds
// data: it lost its storage (a new PVC) and is nobody's copy of anything.
func (d *decider) wiped(in *Instance) bool {
	return in.Reachable && in.Data == DataEmpty && d.othersHaveData(in.Name)
}

func rowOf(main *Instance, name string) *ReplicaRow {
	if main == nil || !main.ReplicasKnown {
		return nil
	}
	for i := range main.Replicas {
		if main.Replicas[i].Name == name {
			return &main.Replicas[i]
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func names(ins []*Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Name
	}
	return out
}
