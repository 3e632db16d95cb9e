package controller

import (
	"fmt"
	"testing"
	"time"
)

func TestReplicaCare(t *testing.T) {
	route := serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeAsync, true))
	onlyB := serving(5, "a", rr("b", ModeStrictSync, true))
	syncB := row("b", ModeStrictSync, StatusReady, 50, 0)
	asyncC := row("c", ModeAsync, StatusReady, 50, 0)
	invalidB := func(ago time.Duration) State {
		return State{
			View:         View{Main: "a", Epoch: 5, Entries: []ViewEntry{ve("b", ModeStrictSync, StatusInvalid, 40)}},
			InvalidSince: map[string]time.Time{"b": now.Add(-ago)},
		}
	}
	regFailed := func(inst string, err error) []Outcome {
		return []Outcome{{Action: Register{Epoch: 5, On: "a", Instance: inst, Mode: ModeAsync}, Err: fmt.Errorf("register: %w", err)}}
	}
	runScenarios(t, []scenario{
		{
			name:  "healthy topology: nothing to do",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, asyncC)), inst("b"), inst("c")},
			want:  nil,
			check: func(t *testing.T, st State, _ []Action) {
				if st.View.Main != "a" || st.View.Epoch != 5 || len(st.View.Entries) != 2 || st.View.Entries[0].TS != 50 {
					t.Errorf("view not remembered: %+v", st.View)
				}
			},
		},
		{
			name:  "readiness changed: recorded in the store",
			route: serving(5, "a", rr("b", ModeStrictSync, false), rr("c", ModeAsync, false)),
			insts: []Instance{inst("a", asMain(syncB, asyncC)), inst("b"), inst("c")},
			want:  []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC:ready]"},
		},
		{
			name:  "lag alone is not worth a store write",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, row("c", ModeAsync, StatusReady, 30, -20))), inst("b"), inst("c")},
			want:  nil,
		},
		{
			name:  "missing replica registered ASYNC by its stable address",
			route: onlyB,
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c")},
			want:  []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "register e5 on=a c ASYNC"},
			check: func(t *testing.T, _ State, acts []Action) {
				if r := acts[1].(Register); r.Addr != "c.mg.svc:10000" {
					t.Errorf("registered at %q", r.Addr)
				}
			},
		},
		{
			name:  "address without a port gets the replication port",
			cfg:   Config{ReplicationPort: 10001},
			route: onlyB,
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", func(in *Instance) { in.ReplAddr = "c.mg.svc" })},
			want:  []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "register e5 on=a c ASYNC"},
			check: func(t *testing.T, _ State, acts []Action) {
				if r := acts[1].(Register); r.Addr != "c.mg.svc:10001" {
					t.Errorf("registered at %q", r.Addr)
				}
			},
		},
		{
			name:  "zombie row dropped and registered again",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, zombie("c"))), inst("b"), inst("c")},
			want:  []string{"drop e5 on=a c", "register e5 on=a c ASYNC"},
		},
		{
			name:  "registration at another address dropped and registered again",
			route: route,
			insts: []Instance{
				inst("a", asMain(syncB, ReplicaRow{Name: "c", Addr: "10.0.0.9:10000", Mode: ModeAsync, Status: StatusReady})),
				inst("b"), inst("c"),
			},
			want: []string{"drop e5 on=a c", "register e5 on=a c ASYNC"},
		},
		{
			name:  "registration naming no instance dropped",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, asyncC, row("x", ModeAsync, StatusInvalid, 3, -47))), inst("b"), inst("c")},
			want:  []string{"drop e5 on=a x"},
		},
		{
			name:  "registration of an instance discovery lost for now is kept",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, asyncC)), inst("b"), inst("c", down(time.Minute), unknownPod())},
			want:  nil,
		},
		{
			name:  "sync replica invalid for failover-after: the caught-up ASYNC one takes the role",
			route: route, state: invalidB(2 * time.Second),
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 40, -10), asyncC)), inst("b"), inst("c")},
			want: []string{
				"record e5 main=a [b:ASYNC c:STRICT_SYNC]",
				"drop e5 on=a b", "register e5 on=a b ASYNC",
				"drop e5 on=a c", "register e5 on=a c STRICT_SYNC",
			},
			check: func(t *testing.T, st State, _ []Action) {
				if len(st.View.Entries) != 0 {
					t.Errorf("dropped replicas still in the view: %+v", st.View.Entries)
				}
			},
		},
		{
			name:  "sync replica invalid for less than failover-after: kept, readiness recorded",
			route: route, state: invalidB(time.Second),
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 40, -10), asyncC)), inst("b"), inst("c")},
			want:  []string{"record e5 main=a [b:STRICT_SYNC c:ASYNC:ready]"},
			check: func(t *testing.T, st State, _ []Action) {
				if got := st.InvalidSince["b"]; !got.Equal(now.Add(-time.Second)) {
					t.Errorf("invalid-since moved: %v", got)
				}
			},
		},
		{
			name:  "first invalid observation starts the clock",
			route: route,
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 40, -10), asyncC)), inst("b"), inst("c")},
			want:  []string{"record e5 main=a [b:STRICT_SYNC c:ASYNC:ready]"},
			check: func(t *testing.T, st State, _ []Action) {
				if got := st.InvalidSince["b"]; !got.Equal(now) {
					t.Errorf("invalid-since: %v", got)
				}
			},
		},
		{
			name:  "sync replica unreachable for failover-after: role moves, it is not registered while away",
			route: route,
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 40, -10), asyncC)), inst("b", down(2*time.Second)), inst("c")},
			want: []string{
				"record e5 main=a [c:STRICT_SYNC]",
				"drop e5 on=a b",
				"drop e5 on=a c", "register e5 on=a c STRICT_SYNC",
			},
		},
		{
			name:  "the MAIN reports the sync replica ready: the leader's own failed probes do not matter",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, asyncC)), inst("b", down(time.Minute)), inst("c")},
			want:  nil,
		},
		{
			name:  "sync replica lost and no caught-up replica: dropped so writes go on, alert",
			route: route, state: invalidB(2 * time.Second),
			insts: []Instance{
				inst("a", asMain(row("b", ModeStrictSync, StatusInvalid, 40, -10), row("c", ModeAsync, StatusRecovery, 20, -30))),
				inst("b", down(2*time.Second)), inst("c"),
			},
			want: []string{"alert no-sync-replica", "record e5 main=a [c:ASYNC]", "drop e5 on=a b"},
		},
		{
			name:  "two synchronous replicas: the most caught-up keeps the role",
			route: serving(5, "a", rr("b", ModeStrictSync, true), rr("c", ModeStrictSync, true)),
			insts: []Instance{inst("a", asMain(syncB, row("c", ModeStrictSync, StatusReady, 49, -1))), inst("b"), inst("c")},
			want:  []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "drop e5 on=a c", "register e5 on=a c ASYNC"},
		},
		{
			name:  "second synchronous replica kept while the first one catches up",
			route: serving(5, "a", rr("b", ModeStrictSync, false), rr("c", ModeStrictSync, false)),
			insts: []Instance{inst("a", asMain(row("b", ModeStrictSync, StatusRecovery, 40, -10), row("c", ModeStrictSync, StatusRecovery, 30, -20))), inst("b"), inst("c")},
			want:  nil,
		},
		{
			name:  "sync replica registered SYNC, STRICT_SYNC configured: registered again",
			route: serving(5, "a", rr("b", ModeSync, true), rr("c", ModeAsync, true)),
			insts: []Instance{inst("a", asMain(row("b", ModeSync, StatusReady, 50, 0), asyncC)), inst("b"), inst("c")},
			want:  []string{"record e5 main=a [b:STRICT_SYNC c:ASYNC:ready]", "drop e5 on=a b", "register e5 on=a b STRICT_SYNC"},
		},
		{
			name:  "returning old MAIN demoted and registered ASYNC",
			route: onlyB,
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", asMain(row("b", ModeStrictSync, StatusInvalid, 30, -5)))},
			want:  []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "demote e5 c", "register e5 on=a c ASYNC"},
		},
		{
			name:  "diverged row reported, dropped, never registered again",
			route: onlyB,
			insts: []Instance{inst("a", asMain(syncB, row("c", ModeAsync, StatusDiverged, 60, 10))), inst("b"), inst("c")},
			want:  []string{"diverged c", "drop e5 on=a c"},
			check: func(t *testing.T, st State, _ []Action) {
				if dv, ok := st.Diverged["c"]; !ok || !dv.Reported || dv.Wiping {
					t.Errorf("divergence not remembered: %+v", st.Diverged)
				}
			},
		},
		{
			name:     "REGISTER Error 3 reported by the executor: diverged, not registered again",
			route:    onlyB,
			outcomes: regFailed("c", ErrDiverged),
			insts:    []Instance{inst("a", asMain(syncB)), inst("b"), inst("c")},
			want:     []string{"diverged c"},
		},
		{
			name:     "diverged and wiping allowed: wiped",
			cfg:      Config{AllowWipeDiverged: true},
			route:    onlyB,
			outcomes: regFailed("c", ErrDiverged),
			insts:    []Instance{inst("a", asMain(syncB)), inst("b"), inst("c")},
			want:     []string{"diverged c", "wipe e5 c"},
		},
		{
			name:  "wipe in progress: not repeated",
			cfg:   Config{AllowWipeDiverged: true},
			route: onlyB,
			state: State{Diverged: map[string]Divergence{"c": {Reported: true, Wiping: true}}},
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", down(time.Second))},
			want:  nil,
		},
		{
			name:     "wipe failed: asked again",
			cfg:      Config{AllowWipeDiverged: true},
			route:    onlyB,
			state:    State{Diverged: map[string]Divergence{"c": {Reported: true, Wiping: true}}},
			outcomes: []Outcome{{Action: WipeAndResync{Epoch: 5, Instance: "c"}, Err: ErrUnreachable}},
			insts:    []Instance{inst("a", asMain(syncB)), inst("b"), inst("c")},
			want:     []string{"wipe e5 c"},
		},
		{
			name:     "wipe done: forgotten at once, whatever it holds when it comes back",
			cfg:      Config{AllowWipeDiverged: true},
			route:    onlyB,
			state:    State{Diverged: map[string]Divergence{"c": {Reported: true, Wiping: true}}},
			outcomes: []Outcome{{Action: WipeAndResync{Epoch: 5, Instance: "c"}}},
			insts:    []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", asMain())},
			want:     []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "demote e5 c", "register e5 on=a c ASYNC"},
		},
		{
			name:  "diverged instance answering as MAIN: demoted (it keeps its data), not registered",
			route: onlyB,
			state: State{Diverged: map[string]Divergence{"c": {Reported: true}}},
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", asMain())},
			want:  []string{"demote e5 c"},
		},
		{
			name:  "wiped instance back as an empty MAIN: forgotten, demoted, registered",
			route: onlyB,
			state: State{Diverged: map[string]Divergence{"c": {Reported: true, Wiping: true}}},
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", asMain(), empty())},
			want:  []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "demote e5 c", "register e5 on=a c ASYNC"},
		},
		{
			name:  "a diverged flag contradicted by a replicating row is dropped",
			route: route,
			state: State{Diverged: map[string]Divergence{"c": {Reported: true}}},
			insts: []Instance{inst("a", asMain(syncB, asyncC)), inst("b"), inst("c")},
			want:  nil,
			check: func(t *testing.T, st State, _ []Action) {
				if len(st.Diverged) != 0 {
					t.Errorf("stale flag kept: %+v", st.Diverged)
				}
			},
		},
		{
			name:     "contention is transient: the same registration is asked for again, no alert",
			route:    onlyB,
			outcomes: regFailed("c", ErrContention),
			insts:    []Instance{inst("a", asMain(syncB)), inst("b"), inst("c")},
			want:     []string{"record e5 main=a [b:STRICT_SYNC:ready c:ASYNC]", "register e5 on=a c ASYNC"},
		},
		{
			name:  "empty MAIN without a sync replica: the first replica registered sync at once",
			route: serving(1, "a"),
			insts: []Instance{inst("a", asMain(), empty()), inst("b", empty()), inst("c", empty())},
			want: []string{
				"record e1 main=a [b:STRICT_SYNC c:ASYNC]",
				"register e1 on=a b STRICT_SYNC", "register e1 on=a c ASYNC",
			},
		},
		{
			name:  "MAIN with data and no caught-up replica yet: ASYNC first, alert",
			route: serving(7, "a"),
			insts: []Instance{inst("a", asMain()), inst("b"), inst("c")},
			want: []string{
				"alert no-sync-replica",
				"record e7 main=a [b:ASYNC c:ASYNC]",
				"register e7 on=a b ASYNC", "register e7 on=a c ASYNC",
			},
		},
		{
			name:  "unreachable instance not registered",
			route: onlyB,
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", down(time.Second))},
			want:  nil,
		},
		{
			name:  "SHOW REPLICAS not read this tick: no replica work",
			route: route,
			insts: []Instance{inst("a", asMain(), noRows()), inst("b"), inst("c")},
			want:  nil,
		},
		{
			name:  "instance without a replication address: alert",
			route: onlyB,
			insts: []Instance{inst("a", asMain(syncB)), inst("b"), inst("c", func(in *Instance) { in.ReplAddr = "" })},
			want:  []string{"alert replica-address-missing"},
		},
		{
			name:  "sync replica removed from discovery loses the role",
			route: route,
			insts: []Instance{inst("a", asMain(syncB, asyncC)), inst("b", unknownPod()), inst("c")},
			want: []string{
				"record e5 main=a [c:STRICT_SYNC]",
				"drop e5 on=a b",
				"drop e5 on=a c", "register e5 on=a c STRICT_SYNC",
			},
		},
	})
}
