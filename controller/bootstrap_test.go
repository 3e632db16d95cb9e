package controller

import (
	"testing"
	"time"
)

func TestBootstrap(t *testing.T) {
	freshMain := func(name string, o ...opt) Instance {
		return inst(name, append([]opt{asMain(), empty()}, o...)...)
	}
	runScenarios(t, []scenario{
		{
			name:  "fresh cluster: lowest-named MAIN published, first other one sync, rest async",
			insts: []Instance{freshMain("c"), freshMain("a"), freshMain("b")},
			want: []string{
				"publish e1 main=a [b:STRICT_SYNC c:ASYNC]",
				"demote e1 b",
				"register e1 on=a b STRICT_SYNC",
				"demote e1 c",
				"register e1 on=a c ASYNC",
			},
		},
		{
			name:  "fresh cluster with SyncMode SYNC",
			cfg:   Config{SyncMode: ModeSync},
			insts: []Instance{freshMain("a"), freshMain("b")},
			want:  []string{"publish e1 main=a [b:SYNC]", "demote e1 b", "register e1 on=a b SYNC"},
		},
		{
			name:  "an instance does not answer: wait, never guess",
			insts: []Instance{freshMain("a"), freshMain("b"), freshMain("c", down(time.Minute))},
			want:  []string{"alert bootstrap-waiting"},
		},
		{
			name:  "waiting is reported once",
			state: State{Alerts: map[string]bool{"bootstrap-waiting": true}},
			insts: []Instance{freshMain("a"), freshMain("b", noRows())},
			want:  nil,
			check: func(t *testing.T, st State, _ []Action) {
				if !st.Alerts["bootstrap-waiting"] {
					t.Errorf("alert forgotten while the condition holds: %v", st.Alerts)
				}
			},
		},
		{
			name:  "instances unknown to discovery are not waited for",
			insts: []Instance{freshMain("a"), freshMain("b"), inst("z", down(time.Minute), unknownPod())},
			want:  []string{"publish e1 main=a [b:STRICT_SYNC]", "demote e1 b", "register e1 on=a b STRICT_SYNC"},
		},
		{
			name: "healthy topology adopted as is",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 40, 0), row("c", ModeAsync, StatusReady, 40, 0))),
				inst("b"), inst("c"),
			},
			want: []string{"publish e1 main=a [b:STRICT_SYNC:ready c:ASYNC:ready]"},
		},
		{
			name: "adopted MAIN: an empty unregistered instance is registered",
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusReady, 40, 0))),
				inst("b"), inst("c", empty()),
			},
			want: []string{"publish e1 main=a [b:STRICT_SYNC:ready c:ASYNC]", "register e1 on=a c ASYNC"},
		},
		{
			name:  "adopted MAIN with data, other MAINs empty: they are demoted",
			insts: []Instance{inst("b", asMain()), freshMain("a"), inst("c", empty())},
			want: []string{
				"publish e1 main=b [a:ASYNC c:ASYNC]",
				"demote e1 a", "register e1 on=b a ASYNC", "register e1 on=b c ASYNC",
			},
		},
		{
			name:  "several MAINs hold data: refused",
			insts: []Instance{inst("a", asMain()), inst("b", asMain()), inst("c")},
			want:  []string{"refuse several-mains"},
		},
		{
			name:  "refusal reported once",
			state: State{Alerts: map[string]bool{refuseKey("several-mains"): true}},
			insts: []Instance{inst("a", asMain()), inst("b", asMain())},
			want:  nil,
		},
		{
			name:  "only replicas hold data, the MAIN is empty: refused",
			insts: []Instance{freshMain("a"), inst("b"), inst("c")},
			want:  []string{"refuse no-main-with-data"},
		},
		{
			name:  "a replica with data the MAIN does not list: refused",
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusReady, 9, 0))), inst("b"), inst("c")},
			want:  []string{"refuse stray-replicas"},
		},
		{
			name:  "a diverged row makes the replica a stray",
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusDiverged, 9, 0))), inst("b")},
			want:  []string{"refuse stray-replicas"},
		},
		{
			name:   "operator resolves the ambiguity by naming a MAIN",
			target: "b",
			insts:  []Instance{inst("a", asMain()), inst("b", asMain()), inst("c")},
			want: []string{
				"publish e1 main=b [a:ASYNC c:ASYNC]",
				"demote e1 a", "register e1 on=b a ASYNC",
				"register e1 on=b c ASYNC",
			},
		},
		{
			name:   "operator names a REPLICA: promoted through a claim",
			target: "b",
			insts:  []Instance{freshMain("a"), inst("b"), inst("c")},
			want:   []string{"claim e1 target=b from=", "barrier e1", "promote e1 b"},
		},
		{
			name:   "operator names an unknown instance",
			target: "x",
			insts:  []Instance{inst("a", asMain()), inst("b", asMain())},
			want:   []string{"switchover-failed x"},
		},
		{
			name:  "empty cluster with no MAIN at all: lowest name promoted",
			insts: []Instance{inst("b", empty()), inst("a", empty())},
			want:  []string{"claim e1 target=a from=", "barrier e1", "promote e1 a"},
		},
		{
			name:  "bootstrap claim resumed: the promoted target is published",
			route: inFailover(1, "a", "", false),
			insts: []Instance{inst("a", asMain(), empty()), inst("b", empty())},
			want:  []string{"publish e2 main=a [b:STRICT_SYNC]", "register e2 on=a b STRICT_SYNC"},
		},
		{
			name:  "no instances: nothing",
			insts: nil,
			want:  nil,
		},
	})
}
