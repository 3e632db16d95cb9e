// Package statetest is a conformance suite every state.Store
// implementation must pass.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Backend gives the suite a fresh, empty record and control over who
// leads it.
type Backend interface {
	// Elect makes candidate the leader for a new term, deposing whoever
	// led, through the backend's own election mechanism. It returns a Store
	// whose writes carry that term's claim (and keep carrying it after the
	// term is over, so the backend's own fencing is what the suite tests).
	Elect(t *testing.T, candidate string) state.Store
	// Reader returns a Store with no claim at all.
	Reader(t *testing.T) state.Store
}

// Options tune the suite.
type Options struct {
	// Rounds of the concurrent-claims test (default 100).
	Rounds int
}

// Run runs the conformance suite; newBackend is called once per subtest.
func Run(t *testing.T, opts Options, newBackend func(t *testing.T) Backend) {
	if opts.Rounds == 0 {
		opts.Rounds = 100
	}
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newBackend(t)) })
	t.Run("CompareAndSwap", func(t *testing.T) { testCompareAndSwap(t, newBackend(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, newBackend(t)) })
	t.Run("Fencing", func(t *testing.T) { testFencing(t, newBackend(t)) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrentClaims(t, newBackend(t), opts.Rounds) })
	t.Run("Watch", func(t *testing.T) { testWatch(t, newBackend(t)) })
}

// Serving is a serving route of epoch with main as MAIN.
func Serving(epoch uint64, main string) state.Route {
	return state.Route{
		Epoch:    epoch,
		Phase:    state.PhaseServing,
		Main:     state.Instance{Name: main, BoltAddr: main + ".memgraph.ns.svc:7687"},
		Replicas: []state.ReplicaState{{Name: "mg-r", BoltAddr: "mg-r.memgraph.ns.svc:7687", Mode: state.ModeSync, Ready: true}},
		Leader:   "gw-0",
		Updated:  time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
	}
}

// Failover is a failover route of epoch claimed by leader.
func Failover(epoch uint64, leader string) state.Route {
	return state.Route{Epoch: epoch, Phase: state.PhaseFailover, Leader: leader, Updated: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func load(t *testing.T, s state.Store) (state.Route, state.Version) {
	t.Helper()
	r, v, err := s.Load(ctxT(t))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r, v
}

func cas(t *testing.T, s state.Store, prev state.Version, next state.Route) state.Version {
	t.Helper()
	v, err := s.CompareAndSwap(ctxT(t), prev, next)
	if err != nil {
		t.Fatalf("CompareAndSwap(%d, epoch %d): %v", prev, next.Epoch, err)
	}
	if v == 0 || v == prev {
		t.Fatalf("CompareAndSwap(%d) returned version %d", prev, v)
	}
	return v
}

func casFails(t *testing.T, s state.Store, prev state.Version, next state.Route, want error) {
	t.Helper()
	v, err := s.CompareAndSwap(ctxT(t), prev, next)
	if !errors.Is(err, want) {
		t.Fatalf("CompareAndSwap(%d, epoch %d) = %d, %v; want %v", prev, next.Epoch, v, err, want)
	}
}

func same(a, b state.Route) bool {
	return reflect.DeepEqual(a.Clone(), b.Clone()) && a.Updated.Equal(b.Updated)
}

func wantRecord(t *testing.T, s state.Store, r state.Route, v state.Version) {
	t.Helper()
	got, gotV := load(t, s)
	if gotV != v || !same(got, r) {
		t.Fatalf("Load = %+v @%d, want %+v @%d", got, gotV, r, v)
	}
}

func testEmpty(t *testing.T, b Backend) {
	r, v := load(t, b.Reader(t))
	if v != 0 || !r.IsZero() {
		t.Fatalf("empty Load = %+v @%d", r, v)
	}
}

func testCompareAndSwap(t *testing.T, b Backend) {
	s := b.Elect(t, "gw-a")
	v1 := cas(t, s, 0, Serving(1, "mg-0"))
	wantRecord(t, b.Reader(t), Serving(1, "mg-0"), v1)
	casFails(t, s, 0, Serving(2, "mg-1"), state.ErrConflict) // not absent any more
	v2 := cas(t, s, v1, Failover(2, "gw-a"))
	casFails(t, s, v1, Serving(3, "mg-1"), state.ErrConflict) // stale
	// Same epoch, informational fields only.
	f := Failover(2, "gw-a")
	f.Replicas = []state.ReplicaState{{Name: "mg-1", BoltAddr: "mg-1:7687", Mode: state.ModeSync, Ready: true}}
	v3 := cas(t, s, v2, f)
	v4 := cas(t, s, v3, Serving(3, "mg-1"))
	wantRecord(t, b.Reader(t), Serving(3, "mg-1"), v4)
	if !(v1 < v2 && v2 < v3 && v3 < v4) {
		t.Fatalf("versions do not increase: %d %d %d %d", v1, v2, v3, v4)
	}
}

func testInvalid(t *testing.T, b Backend) {
	s := b.Elect(t, "gw-a")
	casFails(t, s, 0, state.Route{Epoch: 1, Phase: state.PhaseServing}, state.ErrInvalid)
	v := cas(t, s, 0, Serving(5, "mg-0"))
	casFails(t, s, v, Serving(4, "mg-0"), state.ErrInvalid)       // epoch back
	casFails(t, s, v, Serving(5, "mg-1"), state.ErrInvalid)       // new main, same epoch
	casFails(t, s, v, Failover(5, "gw-a"), state.ErrInvalid)      // new phase, same epoch
	casFails(t, s, v+1000, Serving(4, "mg-0"), state.ErrConflict) // conflict is checked first
	wantRecord(t, b.Reader(t), Serving(5, "mg-0"), v)
}

func testFencing(t *testing.T, b Backend) {
	a1 := b.Elect(t, "gw-a")
	v := cas(t, a1, 0, Serving(1, "mg-0"))
	casFails(t, b.Reader(t), v, Failover(2, "nobody"), state.ErrNotLeader)

	bb := b.Elect(t, "gw-b") // gw-a is deposed
	// The deposed leader holds the current version, so only fencing can
	// refuse it.
	casFails(t, a1, v, Failover(2, "gw-a"), state.ErrNotLeader)
	casFails(t, a1, 0, Failover(2, "gw-a"), state.ErrNotLeader) // not-leader before conflict
	wantRecord(t, b.Reader(t), Serving(1, "mg-0"), v)
	v = cas(t, bb, v, Failover(2, "gw-b"))

	a2 := b.Elect(t, "gw-a") // a new term of gw-a: the old term's claim stays void
	casFails(t, a1, v, Serving(3, "mg-1"), state.ErrNotLeader)
	casFails(t, bb, v, Serving(3, "mg-1"), state.ErrNotLeader)
	v = cas(t, a2, v, Serving(3, "mg-1"))
	wantRecord(t, b.Reader(t), Serving(3, "mg-1"), v)
}

// testConcurrentClaims: two claimers of epoch e+1 from the same version
// race; exactly one wins, the other gets ErrConflict, and the record is
// the winner's.
func testConcurrentClaims(t *testing.T, b Backend, rounds int) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("%d rounds, seed %d", rounds, seed)
	// Two goroutines of one leader, each with the same claim, as two
	// controllers acting on one observation would be.
	s := b.Elect(t, "gw-a")
	claimers := [2]state.Store{s, s}
	_, v := load(t, b.Reader(t))
	epoch := uint64(1)
	v = cas(t, claimers[0], v, Serving(epoch, "mg-0"))
	for round := range rounds {
		var claims [2]state.Route
		for i := range claims {
			if rng.IntN(2) == 0 {
				claims[i] = Failover(epoch+1, fmt.Sprintf("claimer-%d", i))
			} else {
				claims[i] = Serving(epoch+1, fmt.Sprintf("mg-%d", rng.IntN(5)))
				claims[i].Leader = fmt.Sprintf("claimer-%d", i)
			}
		}
		delays := [2]time.Duration{time.Duration(rng.IntN(300)) * time.Microsecond, time.Duration(rng.IntN(300)) * time.Microsecond}
		var wg sync.WaitGroup
		var versions [2]state.Version
		var errs [2]error
		start := make(chan struct{})
		for i := range claimers {
			wg.Go(func() {
				<-start
				time.Sleep(delays[i])
				versions[i], errs[i] = claimers[i].CompareAndSwap(ctxT(t), v, claims[i])
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both claims of epoch %d won (versions %v)", round, epoch+1, versions)
			case !errors.Is(err, state.ErrConflict):
				t.Fatalf("round %d: claimer %d: %v, want ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no claim won: %v", round, errs)
		}
		wantRecord(t, b.Reader(t), claims[winner], versions[winner])
		epoch++
		v = versions[winner]
	}
}

// testWatch: several watchers see the current record first, then every
// write, in order.
func testWatch(t *testing.T, b Backend) {
	s := b.Elect(t, "gw-a")
	v0 := cas(t, s, 0, Serving(1, "mg-0"))
	type watcher struct {
		mu      sync.Mutex
		changes []state.Change
		err     error
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	watchers := make([]*watcher, 3)
	for i := range watchers {
		w := &watcher{}
		watchers[i] = w
		wg.Go(func() {
			err := b.Reader(t).Watch(ctx, func(c state.Change) {
				w.mu.Lock()
				w.changes = append(w.changes, c)
				w.mu.Unlock()
			})
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		})
	}
	waitFor := func(what string, ok func(w *watcher) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for _, w := range watchers {
			for {
				w.mu.Lock()
				done := ok(w)
				w.mu.Unlock()
				if done {
					break
				}
				if time.Now().After(deadline) {
					cancel()
					wg.Wait()
					t.Fatalf("watchers did not get %s: %+v", what, w.changes)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	waitFor("the initial record", func(w *watcher) bool { return len(w.changes) > 0 })

	want := []state.Change{{Route: Serving(1, "mg-0"), Version: v0}}
	v := v0
	for i := range 20 {
		var r state.Route
		switch i % 3 {
		case 0:
			r = Failover(uint64(i+2), "gw-a")
		case 1:
			r = Serving(uint64(i+2), fmt.Sprintf("mg-%d", i))
		case 2:
			r = Serving(uint64(i+2), fmt.Sprintf("mg-%d", i))
			r.Replicas = nil
		}
		v = cas(t, s, v, r)
		want = append(want, state.Change{Route: r, Version: v})
	}
	waitFor("every write", func(w *watcher) bool { return len(w.changes) > 0 && w.changes[len(w.changes)-1].Version == v })
	cancel()
	wg.Wait()
	for i, w := range watchers {
		if w.err != nil {
			t.Errorf("watcher %d: Watch returned %v after cancel, want nil", i, w.err)
		}
		if len(w.changes) != len(want) {
			t.Fatalf("watcher %d got %d changes, want %d: %+v", i, len(w.changes), len(want), w.changes)
		}
		for j := range want {
			if w.changes[j].Version != want[j].Version || !same(w.changes[j].Route, want[j].Route) {
				t.Fatalf("watcher %d change %d = %+v, want %+v", i, j, w.changes[j], want[j])
			}
		}
	}
}
