package controller

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// now is the Snapshot time of every scenario.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type opt func(*Instance)

// inst is a reachable, known REPLICA holding data; options change it.
func inst(name string, opts ...opt) Instance {
	in := Instance{
		Name: name, BoltAddr: name + ":7687", ReplAddr: name + ".mg.svc:10000",
		Known: true, PodReady: true, Reachable: true, Role: RoleReplica, Data: DataPresent,
	}
	for _, o := range opts {
		o(&in)
	}
	return in
}

// asMain: role MAIN with these SHOW REPLICAS rows.
func asMain(rows ...ReplicaRow) opt {
	return func(in *Instance) {
		in.Role = RoleMain
		in.ReplicasKnown = true
		in.Replicas = rows
	}
}

// down: unreachable for ago, and unreachable from every gateway.
func down(ago time.Duration) opt {
	return func(in *Instance) {
		in.Reachable = false
		in.FirstFailure = now.Add(-ago)
		in.Role, in.Data, in.ReplicasKnown, in.Replicas = RoleUnknown, DataUnknown, false, nil
		in.GatewaysDown = 3
	}
}

// gwDown: n gateways (leader included) report it unreachable.
func gwDown(n int) opt { return func(in *Instance) { in.GatewaysDown = n } }

func empty() opt      { return func(in *Instance) { in.Data = DataEmpty } }
func unknownPod() opt { return func(in *Instance) { in.Known = false } }
func noRole() opt     { return func(in *Instance) { in.Role = RoleUnknown } }
func noRows() opt     { return func(in *Instance) { in.ReplicasKnown, in.Replicas = false, nil } }

// row is a SHOW REPLICAS row at the instance's stable address.
func row(name string, mode Mode, status Status, ts, behind int64) ReplicaRow {
	return ReplicaRow{Name: name, Addr: name + ".mg.svc:10000", Mode: mode, Status: status, TS: ts, Behind: behind}
}

func zombie(name string) ReplicaRow {
	return ReplicaRow{Name: name, Addr: name + ".mg.svc:10000", Mode: ModeAsync, Zombie: true}
}

func serving(epoch uint64, mainName string, reps ...RouteReplica) Route {
	return Route{Epoch: epoch, Phase: PhaseServing, Main: mainName, Replicas: reps}
}

func inFailover(epoch uint64, target, from string, planned bool, reps ...RouteReplica) Route {
	return Route{Epoch: epoch, Phase: PhaseFailover, Target: target, From: from, Planned: planned, Replicas: reps}
}

func rr(name string, mode Mode, ready bool) RouteReplica {
	return RouteReplica{Name: name, BoltAddr: name + ":7687", Mode: mode, Ready: ready}
}

// scenario is one row of a decision table.
type scenario struct {
	name     string
	cfg      Config
	state    State
	route    Route
	insts    []Instance
	live     int // live gateways; 0 means 3
	barrier  uint64
	target   string // pending switchover request
	outcomes []Outcome
	want     []string // the batch, as Action.String()
	check    func(t *testing.T, st State, acts []Action)
}

func (sc scenario) snapshot() Snapshot {
	s := Snapshot{
		Now: now, Route: sc.route, Config: sc.cfg, Instances: sc.insts,
		LiveGateways: sc.live, BarrierEpoch: sc.barrier, Outcomes: sc.outcomes,
	}
	if s.LiveGateways == 0 {
		s.LiveGateways = 3
	}
	if sc.target != "" {
		s.Switchover = &SwitchoverRequest{Target: sc.target}
	}
	return s
}

func runScenarios(t *testing.T, cases []scenario) {
	t.Helper()
	for _, sc := range cases {
		t.Run(sc.name, func(t *testing.T) {
			snap := sc.snapshot()
			before := deepCopySnapshot(snap)
			st, acts := Decide(sc.state, snap)
			if got := actionStrings(acts); !reflect.DeepEqual(got, sc.want) {
				t.Errorf("actions:\n got  %s\n want %s", fmtList(got), fmtList(sc.want))
			}
			if !reflect.DeepEqual(before, snap) {
				t.Errorf("Decide modified its snapshot")
			}
			checkBatch(t, snap, acts)
			if sc.check != nil {
				sc.check(t, st, acts)
			}
		})
	}
}

func actionStrings(acts []Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, a.String())
	}
	return out
}

func fmtList(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return "\n    " + strings.Join(l, "\n    ")
}

func deepCopySnapshot(s Snapshot) Snapshot {
	c := s
	c.Instances = nil
	for _, in := range s.Instances {
		in.Replicas = append([]ReplicaRow(nil), in.Replicas...)
		c.Instances = append(c.Instances, in)
	}
	c.Route.Replicas = append([]RouteReplica(nil), s.Route.Replicas...)
	return c
}

// checkBatch asserts the safety rules every batch must keep, whatever the
// scenario: at most one store write (each is a CAS on the record read);
// at most one instance promoted, only in phase failover of its claim
// epoch, and only the target; a published MAIN is observed MAIN (or is
// promoted earlier in the same batch: never, by construction); every
// action's epoch is the record's or the one the batch moves to.
func checkBatch(t *testing.T, s Snapshot, acts []Action) {
	t.Helper()
	r := s.Route
	stores := 0
	var claim *ClaimFailover
	promoted := ""
	epoch := r.Epoch
	for _, a := range acts {
		switch a := a.(type) {
		case ClaimFailover:
			stores++
			if a.Epoch != r.Epoch+1 {
				t.Errorf("%v: claim epoch is not record epoch+1 (%d)", a, r.Epoch)
			}
			claim = &a
			epoch = a.Epoch
		case Publish:
			stores++
			if a.Epoch != r.Epoch+1 {
				t.Errorf("%v: publish epoch is not record epoch+1 (%d)", a, r.Epoch)
			}
			var in *Instance
			for i := range s.Instances {
				if s.Instances[i].Name == a.Main {
					in = &s.Instances[i]
				}
			}
			if in == nil || !in.Reachable || in.Role != RoleMain {
				t.Errorf("%v: published main not observed MAIN", a)
			}
			if r.Epoch > 0 && r.Phase == PhaseServing {
				t.Errorf("%v: publish from phase serving", a)
			}
			epoch = a.Epoch
		case RecordReplicas:
			stores++
			if a.Epoch != r.Epoch || r.Phase != PhaseServing || a.Main != r.Main {
				t.Errorf("%v: record does not match the serving record", a)
			}
		case Promote:
			if promoted != "" && promoted != a.Instance {
				t.Errorf("two instances promoted in one batch: %s, %s", promoted, a.Instance)
			}
			promoted = a.Instance
			switch {
			case claim != nil:
				if a.Epoch != claim.Epoch || a.Instance != claim.Target {
					t.Errorf("%v: not the target of %v", a, *claim)
				}
			case r.Phase == PhaseFailover:
				if a.Epoch != r.Epoch || a.Instance != r.Target {
					t.Errorf("%v: not the target of the record %+v", a, r)
				}
			default:
				t.Errorf("%v: promotion outside phase failover", a)
			}
		}
		if e := a.ActionEpoch(); e != epoch && e != r.Epoch {
			t.Errorf("%v: epoch %d, want %d or %d", a, e, r.Epoch, epoch)
		}
	}
	if stores > 1 {
		t.Errorf("%d store writes in one batch: %v", stores, actionStrings(acts))
	}
}
