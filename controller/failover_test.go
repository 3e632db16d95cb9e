package controller

import (
	"testing"
	"time"
)

// viewOf is a leader State that remembers main's SHOW REPLICAS at epoch.
func viewOf(mainName string, epoch uint64, entries ...ViewEntry) State {
	return State{View: View{Main: mainName, Epoch: epoch, At: now.Add(-time.Second), Entries: entries}}
}

func ve(name string, mode Mode, status Status, ts int64) ViewEntry {
	return ViewEntry{Instance: name, Mode: mode, Status: status, TS: ts}
}

func TestFailoverDetectAndChoose(t *testing.T) {
	route := serving(5, "a", rr("b", ModeStrictSync, false), rr("c", ModeAsync, false))
	healthy := viewOf("a", 5, ve("b", ModeStrictSync, StatusReady, 50), ve("c", ModeAsync, StatusReady, 48))
	claimB := []string{"claim e6 target=b from=a", "barrier e6", "promote e6 b"}
	runScenarios(t, []scenario{
		{
			name:  "MAIN down past failover-after, all gateways agree: sync replica promoted",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  claimB,
			check: func(t *testing.T, st State, acts []Action) {
				c := acts[0].(ClaimFailover)
				if len(c.Replicas) != 2 || !c.Replicas[0].Ready || c.Replicas[0].Name != "b" {
					t.Errorf("claim does not keep the view it chose from: %+v", c.Replicas)
				}
				if st.PhaseEpoch != 6 || !st.PhaseSince.Equal(now) {
					t.Errorf("phase not tracked: %d %v", st.PhaseEpoch, st.PhaseSince)
				}
			},
		},
		{
			name:  "MAIN down for less than failover-after: nothing yet",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(time.Second)), inst("b"), inst("c")},
			want:  nil,
		},
		{
			name:  "unreachable with no failure time: not down yet",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(0), func(in *Instance) { in.FirstFailure = time.Time{} }), inst("b")},
			want:  nil,
		},
		{
			name:  "the leader alone is cut off from the MAIN: no failover",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(10*time.Second), gwDown(1)), inst("b"), inst("c")},
			want:  []string{"alert main-unreachable-from-leader"},
		},
		{
			name:  "two of three gateways agree: failover",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(2*time.Second), gwDown(2)), inst("b"), inst("c")},
			want:  claimB,
		},
		{
			name:  "one of two gateways is no majority",
			state: healthy, route: route, live: 2,
			insts: []Instance{inst("a", down(2*time.Second), gwDown(1)), inst("b"), inst("c")},
			want:  []string{"alert main-unreachable-from-leader"},
		},
		{
			name:  "a lone gateway decides alone",
			state: healthy, route: route, live: 1,
			insts: []Instance{inst("a", down(2*time.Second), gwDown(1)), inst("b"), inst("c")},
			want:  claimB,
		},
		{
			name:  "sync replica invalid in the last view: no eligible replica, alert",
			state: viewOf("a", 5, ve("b", ModeStrictSync, StatusInvalid, 50), ve("c", ModeAsync, StatusReady, 49)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "sync replica recovering in the last view: not eligible",
			state: viewOf("a", 5, ve("b", ModeStrictSync, StatusRecovery, 50)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "ASYNC replicas are never promoted by default",
			state: viewOf("a", 5, ve("c", ModeAsync, StatusReady, 50)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "FailoverToAsync opts in to promoting an ASYNC replica",
			cfg:   Config{FailoverToAsync: true},
			state: viewOf("a", 5, ve("b", ModeStrictSync, StatusInvalid, 40), ve("c", ModeAsync, StatusReady, 50)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  []string{"claim e6 target=c from=a", "barrier e6", "promote e6 c"},
		},
		{
			name:  "replicating counts as caught up (a commit in flight is not acknowledged yet)",
			state: viewOf("a", 5, ve("b", ModeStrictSync, StatusReplicating, 50)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  claimB,
		},
		{
			name:  "SYNC replicas are eligible too",
			state: viewOf("a", 5, ve("b", ModeSync, StatusReady, 50)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b")},
			want:  claimB,
		},
		{
			name:  "new leader without memory: the view recorded in the store",
			route: serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeAsync, true)),
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  claimB,
		},
		{
			name:  "memory of an older epoch is not used",
			state: viewOf("a", 4, ve("b", ModeStrictSync, StatusReady, 50)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name: "known diverged replica never promoted",
			state: func() State {
				s := healthy
				s.Diverged = map[string]Divergence{"b": {Reported: true}}
				return s
			}(),
			route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("c")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "unreachable candidate is not promoted",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b", down(time.Second)), inst("c")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "a candidate that answers as MAIN is not a candidate",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b", asMain()), inst("c")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "candidate wiped since (empty while others hold data)",
			state: healthy, route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b", empty()), inst("c")},
			want:  []string{"alert no-eligible-replica"},
		},
		{
			name:  "highest ts among synchronous replicas",
			state: viewOf("a", 5, ve("b", ModeStrictSync, StatusReady, 50), ve("d", ModeStrictSync, StatusReady, 52)), route: route,
			insts: []Instance{inst("a", down(2*time.Second)), inst("b"), inst("d")},
			want:  []string{"claim e6 target=d from=a", "barrier e6", "promote e6 d"},
		},
		{
			name:  "a pending switchover target is preferred among eligible ones",
			state: viewOf("a", 5, ve("b", ModeStrictSync, StatusReady, 50), ve("d", ModeStrictSync, StatusReady, 52)), route: route,
			target: "b",
			insts:  []Instance{inst("a", down(2*time.Second)), inst("b"), inst("d")},
			want:   claimB,
		},
		{
			name:  "route MAIN reports role replica: it is promoted again through a claim",
			state: healthy, route: route,
			insts: []Instance{inst("a"), inst("b"), inst("c")},
			want:  []string{"alert main-is-replica", "claim e6 target=a from=a", "barrier e6", "promote e6 a"},
		},
		{
			name:  "route MAIN reachable, role not read: wait",
			state: healthy, route: route,
			insts: []Instance{inst("a", noRole()), inst("b"), inst("c")},
			want:  nil,
		},
		{
			name:  "route MAIN missing from the snapshot",
			state: healthy, route: route,
			insts: []Instance{inst("b"), inst("c")},
			want:  []string{"alert main-missing"},
		},
	})
}

func TestFailoverResume(t *testing.T) {
	rec := inFailover(6, "b", "a", false, rr("b", ModeStrictSync, true), rr("c", ModeAsync, true))
	runScenarios(t, []scenario{
		{
			name:  "barrier done, target a REPLICA: promote",
			route: rec, barrier: 6,
			insts: []Instance{inst("a", down(3*time.Second)), inst("b"), inst("c")},
			want:  []string{"promote e6 b"},
		},
		{
			name:  "new leader: barrier first (it waits out its predecessor's leases)",
			route: rec,
			insts: []Instance{inst("a", down(3*time.Second)), inst("b"), inst("c")},
			want:  []string{"barrier e6", "promote e6 b"},
		},
		{
			name:  "old MAIN answers again before the promotion: fenced first",
			route: rec,
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 50, -3))), inst("b"), inst("c")},
			want:  []string{"barrier e6", "demote e6 a fence", "promote e6 b"},
		},
		{
			name:  "target promoted: publish, then demote the old MAIN and register everyone",
			route: rec,
			insts: []Instance{inst("a", asMain()), inst("b", asMain()), inst("c")},
			want: []string{
				"publish e7 main=b [a:ASYNC c:ASYNC]",
				"demote e7 a", "register e7 on=b a ASYNC",
				"register e7 on=b c ASYNC",
			},
			check: func(t *testing.T, st State, _ []Action) {
				if st.View.Main != "b" || st.View.Epoch != 7 || len(st.View.Entries) != 0 {
					t.Errorf("view not reset for the new MAIN: %+v", st.View)
				}
			},
		},
		{
			name:  "target promoted, old MAIN still down",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", asMain()), inst("c")},
			want:  []string{"publish e7 main=b [c:ASYNC]", "register e7 on=b c ASYNC"},
		},
		{
			name:  "target promoted but SHOW REPLICAS not read: a new MAIN has none",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", asMain(), noRows()), inst("c")},
			want:  []string{"publish e7 main=b [c:ASYNC]", "register e7 on=b c ASYNC"},
		},
		{
			name:  "target briefly unreachable: wait, no other promotion",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", down(time.Second)), inst("c")},
			want:  []string{"alert failover-target-unreachable"},
		},
		{
			name:  "target reachable, role not read: wait",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", noRole()), inst("c")},
			want:  nil,
		},
		{
			name:  "target gone, old MAIN answers as MAIN: it serves again",
			route: rec,
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 50, -3), row("c", ModeAsync, StatusReady, 53, 0))),
				inst("b", down(2*time.Second)), inst("c"),
			},
			want: []string{
				"alert failover-target-lost",
				"publish e7 main=a [c:STRICT_SYNC]",
				"drop e7 on=a b",
				"drop e7 on=a c", "register e7 on=a c STRICT_SYNC",
			},
		},
		{
			name:  "target gone, old MAIN fenced (a REPLICA now): promoted back under a new epoch",
			route: rec,
			insts: []Instance{inst("a"), inst("b", down(2*time.Second)), inst("c")},
			want:  []string{"alert failover-target-lost", "claim e7 target=a from=a", "barrier e7", "promote e7 a"},
		},
		{
			name:  "target gone, old MAIN down: the next eligible replica of the record",
			route: inFailover(6, "b", "a", false, rr("b", ModeStrictSync, true), rr("d", ModeStrictSync, true)),
			insts: []Instance{inst("a", down(time.Minute)), inst("b", down(2*time.Second)), inst("d")},
			want:  []string{"claim e7 target=d from=a", "barrier e7", "promote e7 d"},
		},
		{
			name:  "target gone and nobody else eligible: stuck, alert",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", down(2*time.Second)), inst("c")},
			want:  []string{"alert failover-stuck"},
		},
		{
			name:  "target removed from discovery counts as gone",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", unknownPod()), inst("c")},
			want:  []string{"alert failover-stuck"},
		},
		{
			name:  "target answers as an empty MAIN while others hold data: wiped, never published",
			route: rec,
			insts: []Instance{inst("a", down(time.Minute)), inst("b", asMain(), empty()), inst("c")},
			want:  []string{"alert failover-stuck"},
		},
		{
			name:  "re-promotion of the route MAIN itself resumes without fencing it",
			route: inFailover(6, "a", "a", false),
			insts: []Instance{inst("a"), inst("b")},
			want:  []string{"barrier e6", "promote e6 a"},
		},
	})
}
