package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/state/statetest"
)

type memoryBackend struct {
	m     *state.Memory
	terms int
}

func (b *memoryBackend) Elect(t *testing.T, candidate string) state.Store {
	b.terms++
	token := fmt.Sprintf("%s#%d", candidate, b.terms)
	b.m.SetLeader(token)
	return b.m.Store(state.Fixed(token))
}

func (b *memoryBackend) Reader(*testing.T) state.Store { return b.m.Store(nil) }

func TestMemoryStore(t *testing.T) {
	statetest.Run(t, statetest.Options{Rounds: 300}, func(*testing.T) statetest.Backend {
		return &memoryBackend{m: state.NewMemory()}
	})
}

func TestMemoryNoLeader(t *testing.T) {
	m := state.NewMemory()
	for _, tc := range []struct {
		name   string
		leader string
		fence  state.FenceFunc[string]
	}{
		{"no leader, empty token", "", state.Fixed("")},
		{"no leader", "", state.Fixed("gw-a")},
		{"fence says not leading", "gw-a", func() (string, bool) { return "gw-a", false }},
		{"other leader", "gw-b", state.Fixed("gw-a")},
		{"read-only", "gw-a", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.SetLeader(tc.leader)
			_, err := m.Store(tc.fence).CompareAndSwap(context.Background(), 0, statetest.Serving(1, "mg-0"))
			if !errors.Is(err, state.ErrNotLeader) {
				t.Fatalf("CompareAndSwap = %v, want ErrNotLeader", err)
			}
		})
	}
}

func TestMemoryCopies(t *testing.T) {
	m := state.NewMemory()
	m.SetLeader("gw-a")
	s := m.Store(state.Fixed("gw-a"))
	r := statetest.Serving(1, "mg-0")
	v, err := s.CompareAndSwap(context.Background(), 0, r)
	if err != nil {
		t.Fatal(err)
	}
	r.Replicas[0].Ready = false // the caller's slice must not be the stored one
	got, _, _ := s.Load(context.Background())
	if !got.Replicas[0].Ready {
		t.Fatal("the store kept the caller's slice")
	}
	got.Replicas[0].Name = "changed" // nor may a loaded one be
	again, gotV, _ := s.Load(context.Background())
	if again.Replicas[0].Name != "mg-r" || gotV != v {
		t.Fatalf("Load returned the stored slice: %+v", again)
	}
}
