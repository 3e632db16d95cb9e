package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recorder is an Executor that records calls and fails the ones listed.
type recorder struct {
	calls []string
	fail  map[string]error
}

func (r *recorder) do(a Action) error {
	r.calls = append(r.calls, a.String())
	return r.fail[a.String()]
}

func (r *recorder) ClaimFailover(_ context.Context, a ClaimFailover) error   { return r.do(a) }
func (r *recorder) AwaitBarrier(_ context.Context, a AwaitBarrier) error     { return r.do(a) }
func (r *recorder) Demote(_ context.Context, a Demote) error                 { return r.do(a) }
func (r *recorder) Promote(_ context.Context, a Promote) error               { return r.do(a) }
func (r *recorder) Register(_ context.Context, a Register) error             { return r.do(a) }
func (r *recorder) Drop(_ context.Context, a Drop) error                     { return r.do(a) }
func (r *recorder) Publish(_ context.Context, a Publish) error               { return r.do(a) }
func (r *recorder) RecordReplicas(_ context.Context, a RecordReplicas) error { return r.do(a) }
func (r *recorder) ReportDiverged(_ context.Context, a ReportDiverged) error { return r.do(a) }
func (r *recorder) WipeAndResync(_ context.Context, a WipeAndResync) error   { return r.do(a) }
func (r *recorder) Alert(_ context.Context, a Alert) error                   { return r.do(a) }
func (r *recorder) RefuseAmbiguous(_ context.Context, a RefuseAmbiguous) error {
	return r.do(a)
}
func (r *recorder) EndSwitchover(_ context.Context, a EndSwitchover) error { return r.do(a) }

var _ Executor = (*recorder)(nil)

func TestRun(t *testing.T) {
	failover := []Action{
		Alert{Key: "x"},
		ClaimFailover{Epoch: 6, Target: "b", From: "a"},
		AwaitBarrier{Epoch: 6},
		Demote{Epoch: 6, Instance: "a", Fence: true},
		Promote{Epoch: 6, Instance: "b"},
	}
	care := []Action{
		RecordReplicas{Epoch: 5, Main: "a"},
		Drop{Epoch: 5, On: "a", Name: "b"},
		Register{Epoch: 5, On: "a", Instance: "b", Mode: ModeAsync},
		Demote{Epoch: 5, Instance: "c"},
		Register{Epoch: 5, On: "a", Instance: "c", Mode: ModeAsync},
		Register{Epoch: 5, On: "a", Instance: "d", Mode: ModeAsync},
	}
	boom := errors.New("boom")
	cases := []struct {
		name    string
		batch   []Action
		fail    map[string]error
		cancel  bool
		calls   []string
		skipped []int
	}{
		{
			name:  "all succeed, in order",
			batch: failover,
			calls: actionStrings(failover),
		},
		{
			name:    "a failed critical step ends the batch",
			batch:   failover,
			fail:    map[string]error{"barrier e6": ErrBarrierTimeout},
			calls:   actionStrings(failover[:3]),
			skipped: []int{3, 4},
		},
		{
			name:    "a failed fence demotion ends the batch: no promotion beside a MAIN that answers",
			batch:   failover,
			fail:    map[string]error{"demote e6 a fence": ErrContention},
			calls:   actionStrings(failover[:4]),
			skipped: []int{4},
		},
		{
			name:    "a failed replica action skips only the same instance's later actions",
			batch:   care,
			fail:    map[string]error{"drop e5 on=a b": ErrContention, "demote e5 c": boom},
			calls:   []string{"record e5 main=a []", "drop e5 on=a b", "demote e5 c", "register e5 on=a d ASYNC"},
			skipped: []int{2, 4},
		},
		{
			name:    "a failed store write ends the batch",
			batch:   care,
			fail:    map[string]error{"record e5 main=a []": fmt.Errorf("cas: %w", ErrFenced)},
			calls:   []string{"record e5 main=a []"},
			skipped: []int{1, 2, 3, 4, 5},
		},
		{
			name:    "fenced anywhere ends the batch",
			batch:   care,
			fail:    map[string]error{"drop e5 on=a b": ErrFenced},
			calls:   []string{"record e5 main=a []", "drop e5 on=a b"},
			skipped: []int{2, 3, 4, 5},
		},
		{
			name:    "cancelled context: nothing runs",
			batch:   care,
			cancel:  true,
			skipped: []int{0, 1, 2, 3, 4, 5},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.cancel {
				cancel()
			}
			rec := &recorder{fail: c.fail}
			outs := Run(ctx, rec, c.batch)
			if !reflect.DeepEqual(rec.calls, c.calls) {
				t.Errorf("calls:\n got  %s\n want %s", fmtList(rec.calls), fmtList(c.calls))
			}
			if len(outs) != len(c.batch) {
				t.Fatalf("%d outcomes for %d actions", len(outs), len(c.batch))
			}
			for i, o := range outs {
				want := c.fail[o.Action.String()]
				if isSkipped := errors.Is(o.Err, ErrSkipped); isSkipped {
					want = ErrSkipped
				}
				if !errors.Is(o.Err, want) && !(o.Err == nil && want == nil) {
					t.Errorf("outcome %d %v: %v", i, o.Action, o.Err)
				}
			}
			var skipped []int
			for i, o := range outs {
				if errors.Is(o.Err, ErrSkipped) {
					skipped = append(skipped, i)
				}
			}
			if !reflect.DeepEqual(skipped, c.skipped) {
				t.Errorf("skipped %v, want %v", skipped, c.skipped)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	bad := Config{FailoverAfter: -1, SyncMode: ModeAsync, ReplicationPort: 70000, SwitchoverTimeout: -time.Second}
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config accepted: %v", err)
	}
	for _, want := range []string{"failover-after", "sync mode", "replication port", "switchover timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if d := (Config{}).withDefaults(); d != DefaultConfig() {
		t.Errorf("zero config defaults to %+v", d)
	}
}

// TestDecideRandomSnapshots checks the per-batch safety rules (checkBatch)
// and purity on random, mostly nonsensical snapshots: whatever it sees,
// Decide never promotes two instances, never promotes outside a claim,
// never publishes an instance it did not observe as MAIN, writes the store
// at most once per batch and never modifies its input.
func TestDecideRandomSnapshots(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "d"}
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		var insts []Instance
		for _, name := range names[:2+rng.IntN(3)] {
			in := inst(name)
			in.Known = rng.IntN(10) > 0
			in.Reachable = rng.IntN(3) > 0
			if !in.Reachable {
				in.FirstFailure = now.Add(-time.Duration(rng.IntN(4000)) * time.Millisecond)
				in.Role = RoleUnknown
			} else {
				in.Role = Role(pick(string(RoleMain), string(RoleReplica), ""))
			}
			in.GatewaysDown = rng.IntN(4)
			in.Data = DataState(pick("", "empty", "present", "present"))
			if in.Role == RoleMain && rng.IntN(4) > 0 {
				in.ReplicasKnown = true
				for _, other := range names {
					if other != name && rng.IntN(2) == 0 {
						r := row(other, Mode(pick("SYNC", "STRICT_SYNC", "ASYNC", "ASYNC")),
							Status(pick("ready", "replicating", "recovery", "invalid", "diverged")), int64(rng.IntN(100)), -int64(rng.IntN(5)))
						r.Zombie = rng.IntN(10) == 0
						in.Replicas = append(in.Replicas, r)
					}
				}
			}
			insts = append(insts, in)
		}
		var route Route
		switch rng.IntN(3) {
		case 1:
			route = serving(uint64(1+rng.IntN(9)), pick(names...), rr(pick(names...), ModeStrictSync, rng.IntN(2) == 0))
		case 2:
			route = inFailover(uint64(1+rng.IntN(9)), pick(names...), pick(append(names, "")...), rng.IntN(2) == 0,
				rr(pick(names...), ModeStrictSync, rng.IntN(2) == 0))
		}
		var st State
		if rng.IntN(2) == 0 {
			st = viewOf(pick(names...), route.Epoch, ve(pick(names...), ModeStrictSync, StatusReady, 9))
			st.Diverged = map[string]Divergence{pick(names...): {}}
		}
		s := Snapshot{
			Now: now, Route: route, Instances: insts, LiveGateways: rng.IntN(4),
			BarrierEpoch: route.Epoch * uint64(rng.IntN(2)),
			Config:       Config{AllowWipeDiverged: rng.IntN(2) == 0, FailoverToAsync: rng.IntN(4) == 0},
		}
		if rng.IntN(4) == 0 {
			s.Switchover = &SwitchoverRequest{Target: pick(names...)}
		}
		before := deepCopySnapshot(s)
		stBefore := st.clone()
		_, acts := Decide(st, s)
		if !reflect.DeepEqual(before, s) {
			t.Fatalf("case %d: Decide modified its snapshot", i)
		}
		if !reflect.DeepEqual(stBefore.View, st.View) || len(stBefore.Diverged) != len(st.Diverged) {
			t.Fatalf("case %d: Decide modified its state", i)
		}
		checkBatch(t, s, acts)
		if t.Failed() {
			t.Fatalf("case %d: snapshot %+v\nactions %v", i, s, actionStrings(acts))
		}
	}
}
