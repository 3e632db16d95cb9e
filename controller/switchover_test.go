package controller

import (
	"testing"
	"time"
)

func TestSwitchover(t *testing.T) {
	route := serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeAsync, true))
	bothSync := serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeStrictSync, true))
	rec := inFailover(6, "c", "a", true, rr("b", ModeAsync, true), rr("c", ModeStrictSync, true))
	runScenarios(t, []scenario{
		{
			name:  "ASYNC target: it joins the sync role first, the old sync replica keeps it meanwhile",
			route: route, target: "c",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeAsync, StatusReady, 50, 0))),
				inst("b"), inst("c"),
			},
			want: []string{
				"record e5 main=a [b:STRICT_SYNC:ready c:STRICT_SYNC]",
				"drop e5 on=a c", "register e5 on=a c STRICT_SYNC",
			},
		},
		{
			name:  "target synchronous, ready, behind 0: planned claim and barrier, nothing else",
			route: bothSync, target: "c",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReady, 50, 0))),
				inst("b"), inst("c"),
			},
			want: []string{"claim e6 target=c from=a planned", "barrier e6"},
		},
		{
			name:  "target synchronous but recovering: wait, the old sync replica keeps the role",
			route: serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeStrictSync, false)), target: "c",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusRecovery, 41, -9))),
				inst("b"), inst("c"),
			},
			want: nil,
		},
		{
			name:  "target caught up but commits in flight: the old sync replica leaves the role, claim waits",
			route: bothSync, target: "c",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReplicating, 50, -1))),
				inst("b"), inst("c"),
			},
			want: []string{
				"record e5 main=a [b:ASYNC c:STRICT_SYNC:ready]",
				"drop e5 on=a b", "register e5 on=a b ASYNC",
			},
		},
		{
			name:  "target unreachable: wait",
			route: serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeAsync, false)), target: "c",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeAsync, StatusInvalid, 40, -10))),
				inst("b"), inst("c", down(time.Second)),
			},
			want: nil,
		},
		{
			name:  "target is the MAIN: done",
			route: route, target: "a",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeAsync, StatusReady, 50, 0))),
				inst("b"), inst("c"),
			},
			want: []string{"switchover-done a"},
		},
		{
			name:  "unknown target: refused",
			route: route, target: "x",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeAsync, StatusReady, 50, 0))),
				inst("b"), inst("c"),
			},
			want: []string{"switchover-failed x"},
		},
		{
			name:  "diverged target: refused",
			route: serving(5, "a", rr("b", ModeStrictSync, true)), target: "c",
			state: State{Diverged: map[string]Divergence{"c": {Reported: true}}},
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0))), inst("b"), inst("c")},
			want:  []string{"switchover-failed c"},
		},
		{
			name:  "planned: barrier first, the old MAIN still MAIN",
			route: rec, target: "c",
			insts: []Instance{
				inst("a", asMain(row("b", ModeAsync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReady, 50, 0))),
				inst("b"), inst("c"),
			},
			want: []string{"barrier e6"},
		},
		{
			name:  "planned, after the barrier, target caught up: old MAIN demoted first, then target promoted",
			route: rec, target: "c", barrier: 6,
			insts: []Instance{
				inst("a", asMain(row("b", ModeAsync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReady, 50, 0))),
				inst("b"), inst("c"),
			},
			want: []string{"demote e6 a fence", "promote e6 c"},
		},
		{
			name:  "planned, after the barrier, target still receiving the last writes: wait",
			route: rec, target: "c", barrier: 6,
			insts: []Instance{
				inst("a", asMain(row("b", ModeAsync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReplicating, 49, -1))),
				inst("b"), inst("c"),
			},
			want: nil,
		},
		{
			name:  "planned, target never caught up within the timeout: the old MAIN serves again",
			route: rec, target: "c", barrier: 6,
			state: State{PhaseEpoch: 6, PhaseSince: now.Add(-11 * time.Second)},
			insts: []Instance{
				inst("a", asMain(row("b", ModeAsync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReplicating, 49, -1))),
				inst("b"), inst("c"),
			},
			want: []string{
				"alert switchover-aborted",
				"publish e7 main=a [b:ASYNC:ready c:STRICT_SYNC:ready]",
				"switchover-failed c",
			},
		},
		{
			name:  "planned, a new leader restarts the timeout from when it first saw the record",
			route: rec, target: "c", barrier: 6,
			insts: []Instance{
				inst("a", asMain(row("b", ModeAsync, StatusReady, 50, 0), row("c", ModeStrictSync, StatusReplicating, 49, -1))),
				inst("b"), inst("c"),
			},
			want: nil,
			check: func(t *testing.T, st State, _ []Action) {
				if st.PhaseEpoch != 6 || !st.PhaseSince.Equal(now) {
					t.Errorf("phase start not recorded: %d %v", st.PhaseEpoch, st.PhaseSince)
				}
			},
		},
		{
			name:  "planned, old MAIN already demoted (leader stopped mid-batch): promote",
			route: rec, target: "c", barrier: 6,
			insts: []Instance{inst("a"), inst("b"), inst("c")},
			want:  []string{"promote e6 c"},
		},
		{
			name:  "planned, old MAIN died meanwhile: the target was caught up, promote",
			route: rec, target: "c",
			insts: []Instance{inst("a", down(time.Second)), inst("b"), inst("c")},
			want:  []string{"barrier e6", "promote e6 c"},
		},
		{
			name:  "planned, target promoted: publish and register the old MAIN back",
			route: rec, target: "c",
			insts: []Instance{inst("a"), inst("b"), inst("c", asMain())},
			want: []string{
				"publish e7 main=c [a:ASYNC b:ASYNC]",
				"register e7 on=c a ASYNC", "register e7 on=c b ASYNC",
			},
		},
		{
			name:   "serving the target: request answered",
			route:  serving(7, "c", rr("a", ModeAsync, false), rr("b", ModeAsync, false)),
			target: "c",
			insts: []Instance{
				inst("a"), inst("b"),
				inst("c", asMain(row("a", ModeAsync, StatusRecovery, 1, -5), row("b", ModeAsync, StatusRecovery, 1, -5))),
			},
			want: []string{"alert no-sync-replica", "switchover-done c"},
		},
	})
}
