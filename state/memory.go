package state

import (
	"context"
	"fmt"
	"sync"
)

// Memory is an in-memory route record shared by the Stores it hands out:
// for unit tests and simulations of several gateways in one process.
//
// Fencing is emulated with a leader token: SetLeader says which token the
// emulated election currently grants, and a Store's CompareAndSwap is
// refused with ErrNotLeader unless its fence returns that token at the
// moment of the write (checked under the same lock as the version, so it
// is atomic like the real backends).
type Memory struct {
	mu      sync.Mutex
	leader  string
	history []Change      // every write; history[i].Version == i+1
	changed chan struct{} // closed and replaced on every write
}

// NewMemory returns an empty record with no leader.
func NewMemory() *Memory {
	return &Memory{changed: make(chan struct{})}
}

// SetLeader makes token the only one whose writes are accepted; "" refuses
// every write. A deposed leader's token stops working at once.
func (m *Memory) SetLeader(token string) {
	m.mu.Lock()
	m.leader = token
	m.mu.Unlock()
}

// Store returns a Store on the record whose writes carry the token fence
// returns. A nil fence gives a read-only Store.
func (m *Memory) Store(fence FenceFunc[string]) Store {
	return &memoryStore{m: m, fence: fence}
}

// current returns the last write; the caller holds m.mu.
func (m *Memory) current() Change {
	if len(m.history) == 0 {
		return Change{}
	}
	c := m.history[len(m.history)-1]
	c.Route = c.Route.Clone()
	return c
}

type memoryStore struct {
	m     *Memory
	fence FenceFunc[string]
}

func (s *memoryStore) Load(ctx context.Context) (Route, Version, error) {
	if err := ctx.Err(); err != nil {
		return Route{}, 0, fmt.Errorf("state: load: %w", err)
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	c := s.m.current()
	return c.Route, c.Version, nil
}

func (s *memoryStore) CompareAndSwap(ctx context.Context, prev Version, next Route) (Version, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("state: compare-and-swap: %w", err)
	}
	token, ok := s.fence.claim()
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok || token == "" || token != m.leader {
		return 0, fmt.Errorf("%w: token %q, leader %q", ErrNotLeader, token, m.leader)
	}
	cur := m.current()
	if cur.Version != prev {
		return 0, fmt.Errorf("%w: at version %d, not %d", ErrConflict, cur.Version, prev)
	}
	if err := CheckNext(cur.Route, next); err != nil {
		return 0, err
	}
	v := Version(len(m.history) + 1)
	m.history = append(m.history, Change{Route: next.Clone(), Version: v})
	close(m.changed)
	m.changed = make(chan struct{})
	return v, nil
}

func (s *memoryStore) Watch(ctx context.Context, fn func(Change)) error {
	m := s.m
	m.mu.Lock()
	first := m.current()
	next := len(m.history) // index of the first write not delivered
	changed := m.changed
	m.mu.Unlock()
	fn(first)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		m.mu.Lock()
		pending := append([]Change(nil), m.history[next:]...)
		next = len(m.history)
		changed = m.changed
		m.mu.Unlock()
		for _, c := range pending {
			if ctx.Err() != nil {
				return nil
			}
			c.Route = c.Route.Clone()
			fn(c)
		}
	}
}
