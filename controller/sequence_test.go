package controller

import (
	"reflect"
	"testing"
	"time"
)

// Sequences of ticks, each Decide fed the State the previous one returned:
// properties that only show across ticks.

type tick struct {
	after    time.Duration // since the previous tick
	route    Route
	insts    []Instance
	barrier  uint64
	target   string
	outcomes []Outcome
	want     []string
}

func runTicks(t *testing.T, ticks []tick) State {
	t.Helper()
	var st State
	at := now
	for i, tk := range ticks {
		at = at.Add(tk.after)
		// down(d) means "down for d" at this tick's time.
		insts := make([]Instance, len(tk.insts))
		for j, in := range tk.insts {
			if !in.FirstFailure.IsZero() {
				in.FirstFailure = in.FirstFailure.Add(at.Sub(now))
			}
			insts[j] = in
		}
		s := Snapshot{Now: at, Route: tk.route, Instances: insts, LiveGateways: 3, BarrierEpoch: tk.barrier, Outcomes: tk.outcomes}
		if tk.target != "" {
			s.Switchover = &SwitchoverRequest{Target: tk.target}
		}
		var acts []Action
		st, acts = Decide(st, s)
		if got := actionStrings(acts); !reflect.DeepEqual(got, tk.want) {
			t.Fatalf("tick %d:\n got  %s\n want %s", i, fmtList(got), fmtList(tk.want))
		}
		checkBatch(t, s, acts)
	}
	return st
}

// A sync replica dropped from the role is not eligible any more from the
// moment the drop is decided: if the MAIN dies before it is observed again,
// the failover must not pick the replica that stopped receiving
// synchronous writes (its view entry still says "ready").
func TestDroppedSyncReplicaNotChosenBeforeNextObservation(t *testing.T) {
	route := serving(5, "b", rr("a", ModeStrictSync, true), rr("c", ModeStrictSync, true))
	runTicks(t, []tick{
		{
			// Switchover to c under load: c is replicating, so the claim
			// waits, and a (ready, lower name, same ts) leaves the role.
			route: route, target: "c",
			insts: []Instance{
				inst("a"),
				inst("b", asMain(row("a", ModeStrictSync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReplicating, 50, -1))),
				inst("c"),
			},
			want: []string{"record e5 main=b [a:ASYNC c:STRICT_SYNC:ready]", "drop e5 on=b a", "register e5 on=b a ASYNC"},
		},
		{
			// The MAIN dies before it is observed again. The record says a
			// is ASYNC, but this leader chooses from its own memory, which
			// must say so too.
			after: 2 * time.Second, route: route,
			insts: []Instance{inst("a"), inst("b", down(2*time.Second)), inst("c")},
			want:  []string{"claim e6 target=c from=b", "barrier e6", "promote e6 c"},
		},
	})
}

// The whole failover, tick by tick, with the leader's State carried:
// detect, claim and promote, publish, register, move the sync role.
func TestFailoverSequence(t *testing.T) {
	r5 := serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeAsync, true))
	r6 := inFailover(6, "b", "a", false, rr("b", ModeStrictSync, true), rr("c", ModeAsync, true))
	r7 := serving(7, "b", rr("c", ModeAsync, false))
	healthyA := inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeAsync, StatusReady, 49, -1)))
	st := runTicks(t, []tick{
		{route: r5, insts: []Instance{healthyA, inst("b"), inst("c")}, want: nil},
		{after: time.Second, route: r5, insts: []Instance{inst("a", down(time.Second)), inst("b"), inst("c")}, want: nil},
		{
			after: time.Second, route: r5, insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want: []string{"claim e6 target=b from=a", "barrier e6", "promote e6 b"},
		},
		{
			// The promotion failed (contention): asked again, barrier done.
			route: r6, barrier: 6,
			outcomes: []Outcome{{Action: Promote{Epoch: 6, Instance: "b"}, Err: ErrContention}},
			insts:    []Instance{inst("a", down(3*time.Second)), inst("b"), inst("c")},
			want:     []string{"promote e6 b"},
		},
		{
			route: r6, barrier: 6,
			insts: []Instance{inst("a", down(3*time.Second)), inst("b", asMain()), inst("c")},
			want:  []string{"publish e7 main=b [c:ASYNC]", "register e7 on=b c ASYNC"},
		},
		{
			// c caught up as ASYNC: it takes the sync role.
			route: r7, barrier: 6,
			insts: []Instance{inst("a", down(4*time.Second)), inst("b", asMain(row("c", ModeAsync, StatusReady, 60, 0))), inst("c")},
			want:  []string{"record e7 main=b [c:STRICT_SYNC]", "drop e7 on=b c", "register e7 on=b c STRICT_SYNC"},
		},
		{
			// The old MAIN comes back as MAIN: demoted, registered ASYNC.
			route: serving(7, "b", rr("c", ModeStrictSync, false)), barrier: 6,
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 50, 0))),
				inst("b", asMain(row("c", ModeStrictSync, StatusReady, 61, 0))), inst("c"),
			},
			want: []string{"record e7 main=b [a:ASYNC c:STRICT_SYNC:ready]", "demote e7 a", "register e7 on=b a ASYNC"},
		},
		{
			// It had committed something b never received: Error 3.
			route: serving(7, "b", rr("a", ModeAsync, false), rr("c", ModeStrictSync, true)), barrier: 6,
			outcomes: []Outcome{{Action: Register{Epoch: 7, On: "b", Instance: "a", Mode: ModeAsync}, Err: ErrDiverged}},
			insts: []Instance{
				inst("a"),
				inst("b", asMain(row("c", ModeStrictSync, StatusReady, 62, 0))), inst("c"),
			},
			want: []string{"diverged a", "record e7 main=b [c:STRICT_SYNC:ready]"},
		},
		{
			route: serving(7, "b", rr("c", ModeStrictSync, true)), barrier: 6,
			insts: []Instance{inst("a"), inst("b", asMain(row("c", ModeStrictSync, StatusReady, 63, 0))), inst("c")},
			want:  nil,
		},
	})
	if _, ok := st.Diverged["a"]; !ok {
		t.Errorf("divergence of a forgotten: %+v", st.Diverged)
	}
}

// A leader cut off from the MAIN alone never fails over, however long it
// lasts; the alert is raised once.
func TestLeaderPartitionedFromMainAlone(t *testing.T) {
	r := serving(5, "a", rr("b", ModeStrictSync, true))
	var ticks []tick
	for i := range 20 {
		tk := tick{after: 500 * time.Millisecond, route: r}
		tk.insts = []Instance{inst("a", down(time.Duration(i)*500*time.Millisecond), gwDown(1)), inst("b")}
		if i == 3 {
			tk.want = []string{"alert main-unreachable-from-leader"}
		}
		ticks = append(ticks, tk)
	}
	runTicks(t, ticks)
}
