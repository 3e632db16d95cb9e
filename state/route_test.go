package state_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

func serving(epoch uint64, main string) state.Route {
	return state.Route{
		Epoch: epoch,
		Phase: state.PhaseServing,
		Main:  state.Instance{Name: main, BoltAddr: main + ".memgraph:7687"},
		Replicas: []state.ReplicaState{
			{Name: "mg-r1", BoltAddr: "mg-r1.memgraph:7687", Mode: state.ModeStrictSync, Ready: true},
			{Name: "mg-r2", BoltAddr: "10.0.0.7:7687", Mode: state.ModeAsync, Ready: false, Lag: -20},
		},
		Leader:  "gw-0",
		Updated: time.Date(2026, 11, 27, 11, 0, 0, 123456789, time.UTC),
	}
}

func failover(epoch uint64) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseFailover, Leader: "gw-0"}
}

func TestValidate(t *testing.T) {
	tooMany := serving(3, "mg-0")
	tooMany.Replicas = nil
	for i := range state.MaxReplicas + 1 {
		tooMany.Replicas = append(tooMany.Replicas, state.ReplicaState{Name: fmt.Sprintf("r%d", i), BoltAddr: "h:1"})
	}
	tests := []struct {
		name   string
		mutate func(*state.Route)
		want   string // substring of the error; "" for valid
	}{
		{"serving", func(*state.Route) {}, ""},
		{"failover without main", func(r *state.Route) { *r = failover(4) }, ""},
		{"failover keeps replicas", func(r *state.Route) { r.Phase, r.Main = state.PhaseFailover, state.Instance{} }, ""},
		{"ipv6 main", func(r *state.Route) { r.Main.BoltAddr = "[fd00::1]:7687" }, ""},
		{"no mode yet", func(r *state.Route) { r.Replicas[0].Mode = "" }, ""},
		{"epoch zero", func(r *state.Route) { r.Epoch = 0 }, "epoch 0"},
		{"serving without main", func(r *state.Route) { r.Main = state.Instance{} }, "without a main"},
		{"serving main without address", func(r *state.Route) { r.Main.BoltAddr = "" }, "not host:port"},
		{"serving main without name", func(r *state.Route) { r.Main.Name = "" }, "empty name"},
		{"failover with main", func(r *state.Route) { r.Phase = state.PhaseFailover }, "failover has no main"},
		{"unknown phase", func(r *state.Route) { r.Phase = "promoting" }, "unknown phase"},
		{"empty phase", func(r *state.Route) { r.Phase = "" }, "unknown phase"},
		{"no port", func(r *state.Route) { r.Main.BoltAddr = "mg-0" }, "not host:port"},
		{"no host", func(r *state.Route) { r.Main.BoltAddr = ":7687" }, "no host"},
		{"port zero", func(r *state.Route) { r.Main.BoltAddr = "mg-0:0" }, "no valid port"},
		{"port too big", func(r *state.Route) { r.Main.BoltAddr = "mg-0:70000" }, "no valid port"},
		{"named port", func(r *state.Route) { r.Main.BoltAddr = "mg-0:bolt" }, "no valid port"},
		{"long name", func(r *state.Route) { r.Main.Name = strings.Repeat("m", state.MaxNameLen+1) }, "name longer"},
		{"long address", func(r *state.Route) { r.Main.BoltAddr = strings.Repeat("m", state.MaxAddrLen) + ":1" }, "address longer"},
		{"long leader", func(r *state.Route) { r.Leader = strings.Repeat("g", state.MaxNameLen+1) }, "leader name"},
		{"replica without name", func(r *state.Route) { r.Replicas[1].Name = "" }, "replica 1: empty name"},
		{"replica bad address", func(r *state.Route) { r.Replicas[0].BoltAddr = "x" }, "replica 0"},
		{"unknown mode", func(r *state.Route) { r.Replicas[0].Mode = "sync" }, "unknown mode"},
		{"replica twice", func(r *state.Route) { r.Replicas[1].Name = "mg-r1" }, "listed twice"},
		{"main as replica", func(r *state.Route) { r.Replicas[1].Name = "mg-0" }, "listed twice"},
		{"too many replicas", func(r *state.Route) { *r = tooMany }, "replicas (at most"},
		{"failover with target", func(r *state.Route) { *r = failover(4); r.Target, r.From = "mg-1", "mg-0" }, ""},
		{"switchover", func(r *state.Route) { *r = failover(4); r.Target, r.From, r.Planned = "mg-1", "mg-0", true }, ""},
		{"switchover without from", func(r *state.Route) { *r = failover(4); r.Target, r.Planned = "mg-1", true }, "planned switchover names"},
		{"target while serving", func(r *state.Route) { r.Target = "mg-1" }, "phase failover only"},
		{"planned while serving", func(r *state.Route) { r.Planned = true }, "phase failover only"},
		{"long target", func(r *state.Route) { *r = failover(4); r.Target = strings.Repeat("t", state.MaxNameLen+1) }, "target or from name longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := serving(3, "mg-0")
			tc.mutate(&r)
			err := r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("Validate = %v, not ErrInvalid", err)
			}
		})
	}
}

func TestCheckNext(t *testing.T) {
	moreReplicas := serving(5, "mg-0")
	moreReplicas.Replicas = moreReplicas.Replicas[:1]
	moreReplicas.Leader = "gw-1"
	tests := []struct {
		name      string
		cur, next state.Route
		ok        bool
	}{
		{"first record", state.Route{}, serving(1, "mg-0"), true},
		{"first record may start high", state.Route{}, failover(9), true},
		{"claim failover", serving(5, "mg-0"), failover(6), true},
		{"publish new main", failover(6), serving(7, "mg-1"), true},
		{"skip epochs", serving(5, "mg-0"), serving(9, "mg-1"), true},
		{"same epoch, replicas change", serving(5, "mg-0"), moreReplicas, true},
		{"same epoch, new main", serving(5, "mg-0"), serving(5, "mg-1"), false},
		{"same epoch, phase change", serving(5, "mg-0"), func() state.Route {
			r := serving(5, "mg-0")
			r.Phase, r.Main = state.PhaseFailover, state.Instance{}
			return r
		}(), false},
		{"epoch goes back", serving(5, "mg-0"), serving(4, "mg-0"), false},
		{"invalid next", serving(5, "mg-0"), state.Route{Epoch: 6}, false},
		{"zero next", serving(5, "mg-0"), state.Route{}, false},
		{"same epoch, new target", withTarget(failover(6), "mg-1"), withTarget(failover(6), "mg-2"), false},
		{"same epoch, same target", withTarget(failover(6), "mg-1"), withTarget(failover(6), "mg-1"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := state.CheckNext(tc.cur, tc.next)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckNext = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("CheckNext = %v, not ErrInvalid", err)
			}
		})
	}
}

func withTarget(r state.Route, target string) state.Route {
	r.Target, r.From = target, "mg-0"
	return r
}

func TestMerge(t *testing.T) {
	sameEpochOther := serving(5, "mg-0")
	sameEpochOther.Replicas = nil
	tests := []struct {
		name           string
		held, received state.Route
		want           state.Route
		changed        bool
	}{
		{"nothing held, valid received", state.Route{}, serving(1, "mg-0"), serving(1, "mg-0"), true},
		{"nothing held, invalid received", state.Route{}, state.Route{Epoch: 1}, state.Route{}, false},
		{"nothing held, zero received", state.Route{}, state.Route{}, state.Route{}, false},
		{"higher epoch wins", serving(5, "mg-0"), failover(6), failover(6), true},
		{"higher epoch wins whole", serving(5, "mg-0"), serving(8, "mg-2"), serving(8, "mg-2"), true},
		{"equal epoch ignored", serving(5, "mg-0"), sameEpochOther, serving(5, "mg-0"), false},
		{"equal epoch, other main ignored", serving(5, "mg-0"), serving(5, "mg-1"), serving(5, "mg-0"), false},
		{"lower epoch ignored", failover(6), serving(5, "mg-0"), failover(6), false},
		{"invalid higher epoch ignored", serving(5, "mg-0"), state.Route{Epoch: 7, Phase: state.PhaseServing}, serving(5, "mg-0"), false},
		{"failover after serving", serving(5, "mg-0"), failover(7), failover(7), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := state.Merge(tc.held, tc.received)
			if changed != tc.changed || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Merge = %+v, %v; want %+v, %v", got, changed, tc.want, tc.changed)
			}
		})
	}
}

// TestMergeOrderIndependent: whatever order routes arrive in, every
// gateway ends holding the highest epoch, and Merge is idempotent.
func TestMergeOrderIndependent(t *testing.T) {
	routes := []state.Route{serving(1, "mg-0"), failover(2), serving(3, "mg-1"), failover(4), serving(5, "mg-2"), {Epoch: 9}}
	perm := func(yield func([]state.Route) bool) {
		var rec func(k int) bool
		rec = func(k int) bool {
			if k == len(routes) {
				return yield(routes)
			}
			for i := k; i < len(routes); i++ {
				routes[k], routes[i] = routes[i], routes[k]
				if !rec(k + 1) {
					return false
				}
				routes[k], routes[i] = routes[i], routes[k]
			}
			return true
		}
		rec(0)
	}
	n := 0
	for order := range perm {
		var held state.Route
		for _, r := range order {
			held, _ = state.Merge(held, r)
			again, changed := state.Merge(held, held)
			if changed || !reflect.DeepEqual(again, held) {
				t.Fatalf("Merge not idempotent on %+v", held)
			}
		}
		if !reflect.DeepEqual(held, serving(5, "mg-2")) {
			t.Fatalf("order %v ended at %+v", order, held)
		}
		n++
	}
	if n != 720 {
		t.Fatalf("%d orders", n)
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, r := range []state.Route{serving(3, "mg-0"), failover(4), {Epoch: 1, Phase: state.PhaseServing, Main: state.Instance{Name: "a", BoltAddr: "a:1"}}} {
		data, err := state.Encode(r)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", r, err)
		}
		got, err := state.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%s): %v", data, err)
		}
		if !reflect.DeepEqual(got, r) || !got.Updated.Equal(r.Updated) {
			t.Fatalf("round trip: %+v, want %+v", got, r)
		}
	}
	data, _ := state.Encode(serving(3, "mg-0"))
	const want = `{"epoch":3,"phase":"serving","main":{"name":"mg-0","boltAddr":"mg-0.memgraph:7687"},` +
		`"replicas":[{"name":"mg-r1","boltAddr":"mg-r1.memgraph:7687","mode":"STRICT_SYNC","ready":true,"lag":0},` +
		`{"name":"mg-r2","boltAddr":"10.0.0.7:7687","mode":"ASYNC","ready":false,"lag":-20}],` +
		`"leader":"gw-0","updated":"2026-11-27T11:00:00.123456789Z"}`
	if string(data) != want {
		t.Fatalf("wire format changed:\n got %s\nwant %s", data, want)
	}

	// The largest valid route fits the bound.
	big := serving(3, strings.Repeat("m", state.MaxNameLen))
	big.Main.BoltAddr = strings.Repeat("h", state.MaxAddrLen-6) + ":65535"
	big.Leader = strings.Repeat("g", state.MaxNameLen)
	big.Replicas = nil
	for i := range state.MaxReplicas {
		name := fmt.Sprintf("%03d%s", i, strings.Repeat("r", state.MaxNameLen-3))
		big.Replicas = append(big.Replicas, state.ReplicaState{Name: name, BoltAddr: big.Main.BoltAddr, Mode: state.ModeStrictSync, Ready: true, Lag: -1 << 62})
	}
	if _, err := state.Encode(big); err != nil {
		t.Fatalf("largest valid route: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	valid, _ := state.Encode(serving(3, "mg-0"))
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not json", []byte("epoch=3")},
		{"truncated", valid[:len(valid)-1]},
		{"wrong type", []byte(`{"epoch":"3"}`)},
		{"negative epoch", []byte(`{"epoch":-3}`)},
		{"invalid route", []byte(`{"epoch":3,"phase":"serving"}`)},
		{"zero route", []byte(`{}`)},
		{"too large", append(append([]byte(`{"leader":"`), strings.Repeat("x", state.MaxEncodedSize)...), `"}`...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := state.Decode(tc.data); !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("Decode = %+v, %v; want ErrCorrupt", r, err)
			}
		})
	}
	// Unknown fields are ignored: a newer writer's record still reads.
	var m map[string]any
	_ = json.Unmarshal(valid, &m)
	m["witness"] = map[string]any{"name": "w"}
	newer, _ := json.Marshal(m)
	if _, err := state.Decode(newer); err != nil {
		t.Fatalf("Decode with an unknown field: %v", err)
	}
	if _, err := state.Encode(state.Route{Epoch: 1}); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("Encode(invalid) = %v, want ErrInvalid", err)
	}
}

func TestClone(t *testing.T) {
	r := serving(3, "mg-0")
	c := r.Clone()
	c.Replicas[0].Ready = false
	if !r.Replicas[0].Ready {
		t.Fatal("Clone shares the replicas")
	}
	if !(state.Route{}).IsZero() || r.IsZero() {
		t.Fatal("IsZero")
	}
}
