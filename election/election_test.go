package election_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/election"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// candidate is one gateway replica in a test: an elector, its store, and
// a record of its terms.
type candidate struct {
	id    string
	el    election.Elector
	store state.Store // writes carry el.Fence
	// frozen returns a store carrying the candidate's current fence forever,
	// over a connection of its own: a deposed leader whose local checks
	// are wrong, so that only the backend can refuse it.
	frozen func(t *testing.T) state.Store
	kill   func() // crash: cut the candidate off the backend
	*termLog

	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
}

// termRecord is when the leader's work of one term started, saw its
// context cancelled and returned, and when OnStoppedLeading ran.
type termRecord struct {
	started, cancelled, returned, stopped time.Time
}

// termLog records a candidate's terms through its callbacks.
type termLog struct {
	id    string
	mu    sync.Mutex
	terms []*termRecord
}

func (c *termLog) work(ctx context.Context) {
	r := &termRecord{started: time.Now()}
	c.mu.Lock()
	c.terms = append(c.terms, r)
	c.mu.Unlock()
	<-ctx.Done()
	now := time.Now()
	c.mu.Lock()
	r.cancelled = now
	c.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // cleanup: the elector must wait for it
	now = time.Now()
	c.mu.Lock()
	r.returned = now
	c.mu.Unlock()
}

func (c *termLog) stopped() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.terms) == 0 {
		c.terms = append(c.terms, &termRecord{})
	}
	r := c.terms[len(c.terms)-1]
	if !r.stopped.IsZero() {
		panic(c.id + ": OnStoppedLeading ran twice for one term")
	}
	r.stopped = now
}

// lastTerm returns a copy of the last term's record.
func (c *termLog) lastTerm() termRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.terms) == 0 {
		return termRecord{}
	}
	return *c.terms[len(c.terms)-1]
}

// config returns cfg with the log's callbacks.
func (c *termLog) config(cfg election.Config) election.Config {
	cfg.OnStartedLeading, cfg.OnStoppedLeading = c.work, c.stopped
	return cfg
}

// cluster is the candidates of one test, watched by a monitor that fails
// the test if two of them ever lead at once.
type cluster struct {
	t        *testing.T
	b        backend
	cfg      election.Config
	mu       sync.Mutex
	cands    []*candidate // the live ones
	started  []*candidate // all
	next     int
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	// intruding is set while a test takes leadership behind the leader's
	// back (backend.intrude) and until the leader noticed: a successor may
	// win before the victim sees its key gone, which is what the test
	// measures, so the monitor allows two leaders only then.
	intruding atomic.Bool
}

func newCluster(t *testing.T, b backend, cfg election.Config, n int) *cluster {
	cl := &cluster{t: t, b: b, cfg: cfg, stop: make(chan struct{})}
	for range n {
		cl.add()
	}
	cl.wg.Go(cl.monitor)
	return cl
}

// stopAll stops the monitor and every candidate, removed ones included,
// and waits for their Run to return. It runs once, at cleanup, before the
// candidates' clients are closed.
func (cl *cluster) stopAll() {
	cl.stopOnce.Do(func() {
		close(cl.stop)
		cl.wg.Wait()
		cl.mu.Lock()
		cands := slices.Clone(cl.started)
		cl.mu.Unlock()
		for _, c := range cands {
			c.cancel()
		}
		for _, c := range cands {
			select {
			case <-c.done:
			case <-time.After(15 * time.Second):
				cl.t.Errorf("%s: Run did not return after its context was cancelled", c.id)
			}
		}
	})
}

// add starts a new candidate.
func (cl *cluster) add() *candidate {
	cl.mu.Lock()
	id := fmt.Sprintf("gw-%d", cl.next)
	cl.next++
	cl.mu.Unlock()
	log := &termLog{id: id}
	c := cl.b.newCandidate(cl.t, id, log.config(cl.cfg))
	c.termLog = log
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		if err := c.el.Run(ctx); err != nil {
			cl.t.Errorf("%s: Run: %v", id, err)
		}
	}()
	cl.mu.Lock()
	cl.cands = append(cl.cands, c)
	cl.started = append(cl.started, c)
	cl.mu.Unlock()
	// Registered after the candidate's clients: runs before they close.
	cl.t.Cleanup(cl.stopAll)
	return c
}

// remove forgets c (killed or stopped) so that it no longer counts.
func (cl *cluster) remove(c *candidate) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.cands = slices.DeleteFunc(cl.cands, func(x *candidate) bool { return x == c })
}

func (cl *cluster) all() []*candidate {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.cands)
}

// monitor fails the test whenever two candidates lead at once, killed or
// removed ones included (their IsLeader must turn false by itself).
func (cl *cluster) monitor() {
	seen := map[*candidate]bool{}
	for {
		select {
		case <-cl.stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
		cl.mu.Lock()
		for _, c := range cl.cands {
			seen[c] = true
		}
		cl.mu.Unlock()
		var leaders []string
		for c := range seen {
			if c.el.IsLeader() {
				leaders = append(leaders, c.id)
			}
		}
		if len(leaders) > 1 && !cl.intruding.Load() {
			cl.t.Errorf("two leaders at once: %v", leaders)
			return
		}
	}
}

// waitLeader waits until one of the cluster's candidates leads and its
// work has started, and returns it.
func (cl *cluster) waitLeader(timeout time.Duration) *candidate {
	cl.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, c := range cl.all() {
			if t := c.lastTerm(); c.el.IsLeader() && !t.started.IsZero() && t.stopped.IsZero() {
				return c
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	cl.t.Fatalf("no leader within %v", timeout)
	return nil
}

// waitAgree waits until every candidate reports leader as Leader().
func (cl *cluster) waitAgree(leader string, timeout time.Duration) {
	cl.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var off []string
		for _, c := range cl.all() {
			if got := c.el.Leader(); got != leader {
				off = append(off, c.id+"="+got)
			}
		}
		if len(off) == 0 {
			return
		}
		if time.Now().After(deadline) {
			cl.t.Fatalf("candidates disagree on the leader %s: %v", leader, off)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// advance writes the next route as leader: failover claim or new main.
func advance(t *testing.T, leader *candidate, main string) state.Version {
	t.Helper()
	cur, v, err := leader.store.Load(t.Context())
	if err != nil {
		t.Fatalf("%s: Load: %v", leader.id, err)
	}
	next := state.Route{Epoch: cur.Epoch + 1, Phase: state.PhaseServing, Main: state.Instance{Name: main, BoltAddr: main + ":7687"}, Leader: leader.id, Updated: time.Now()}
	nv, err := leader.store.CompareAndSwap(t.Context(), v, next)
	if err != nil {
		t.Fatalf("%s: CompareAndSwap: %v", leader.id, err)
	}
	return nv
}

type stats []time.Duration

func (s stats) String() string {
	if len(s) == 0 {
		return "none"
	}
	x := append([]time.Duration(nil), s...)
	slices.Sort(x)
	round := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v / median %v / max %v over %d (%v)", round(x[0]), round(x[len(x)/2]), round(x[len(x)-1]), len(x), x)
}

func forBackends(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("etcd", func(t *testing.T) {
		t.Parallel()
		test(t, newEtcdBackend(t))
	})
	t.Run("kubernetes", func(t *testing.T) {
		t.Parallel()
		test(t, newKubeBackend(t))
	})
}

// TestCrash: three candidates; the leader crashes (cut off, nothing
// released), another takes over within LeaseDuration plus a margin, only
// after the crashed leader's work was cancelled, and the crashed leader's
// store writes are refused by the backend.
func TestCrash(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		cfg := election.Config{} // the defaults: 4 s / 3 s / 0.5 s
		const rounds = 3
		bound := election.DefaultLeaseDuration + election.DefaultRetryPeriod*6/5 + 1500*time.Millisecond
		cl := newCluster(t, b, cfg, 3)
		leader := cl.waitLeader(20 * time.Second)
		var took stats
		for round := range rounds {
			v := advance(t, leader, fmt.Sprintf("mg-%d", round))
			stale := leader.frozen(t)
			renewal := leader.el.LastRenewal()
			killed := time.Now()
			leader.kill()
			cl.remove(leader)
			next := cl.waitLeader(bound + time.Second)
			term := next.lastTerm()
			took = append(took, term.started.Sub(killed))
			if d := term.started.Sub(killed); d > bound {
				t.Errorf("round %d: new leader after %v, bound %v", round, d, bound)
			}
			old := leader.lastTerm()
			if old.cancelled.IsZero() || !old.cancelled.Before(term.started) {
				t.Errorf("round %d: %s's work was cancelled at %v, after %s started leading at %v",
					round, leader.id, old.cancelled, next.id, term.started)
			}
			if d := old.cancelled.Sub(renewal); d > election.DefaultRenewDeadline+300*time.Millisecond {
				t.Errorf("round %d: the crashed leader stopped its work %v after its last renewal", round, d)
			}
			if leader.el.IsLeader() {
				t.Errorf("round %d: the crashed leader still says it leads", round)
			}
			// The new leader writes; the old one, still holding the
			// current version before that, is refused by the backend.
			nv := advance(t, next, fmt.Sprintf("mg-new-%d", round))
			if _, err := stale.CompareAndSwap(t.Context(), nv, state.Route{Epoch: 1000, Phase: state.PhaseFailover}); !errors.Is(err, state.ErrNotLeader) {
				t.Fatalf("round %d: deposed leader's write = %v, want ErrNotLeader", round, err)
			}
			if _, err := stale.CompareAndSwap(t.Context(), v, state.Route{Epoch: 1000, Phase: state.PhaseFailover}); !errors.Is(err, state.ErrNotLeader) {
				t.Fatalf("round %d: deposed leader's write at its version = %v, want ErrNotLeader", round, err)
			}
			if _, err := leader.store.CompareAndSwap(t.Context(), nv, state.Route{Epoch: 1000, Phase: state.PhaseFailover}); !errors.Is(err, state.ErrNotLeader) {
				t.Fatalf("round %d: deposed leader's own store = %v, want ErrNotLeader", round, err)
			}
			if bound := next.el.PreviousRenewalBound(); bound.Before(renewal) || bound.After(term.started) {
				t.Errorf("round %d: PreviousRenewalBound %v not between the old leader's last renewal %v and the takeover %v",
					round, bound, renewal, term.started)
			}
			leader = next
			cl.add()
		}
		t.Logf("crash -> new leader (Lease/TTL %v, renew %v, retry %v): %v", election.DefaultLeaseDuration,
			election.DefaultRenewDeadline, election.DefaultRetryPeriod, took)
	})
}

// TestGracefulHandover: the leader's Run context is cancelled (shutdown):
// its work returns before it gives leadership up, and the next leader
// starts at once, not after a lease expiry.
func TestGracefulHandover(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		cfg := election.Config{}
		const rounds = 4
		cl := newCluster(t, b, cfg, 3)
		leader := cl.waitLeader(20 * time.Second)
		cl.waitAgree(leader.id, 5*time.Second)
		var took stats
		for round := range rounds {
			advance(t, leader, fmt.Sprintf("mg-%d", round))
			start := time.Now()
			leader.cancel()
			cl.remove(leader)
			next := cl.waitLeader(5 * time.Second)
			term := next.lastTerm()
			took = append(took, term.started.Sub(start))
			<-leader.done
			old := leader.lastTerm()
			if old.returned.IsZero() || !old.returned.Before(term.started) {
				t.Errorf("round %d: %s's work returned at %v, after %s started at %v", round, leader.id, old.returned, next.id, term.started)
			}
			if old.stopped.Before(old.returned) {
				t.Errorf("round %d: OnStoppedLeading ran before the work returned", round)
			}
			if d := term.started.Sub(start); d > election.DefaultRetryPeriod*6/5+time.Second {
				t.Errorf("round %d: handover took %v", round, d)
			}
			cl.waitAgree(next.id, 5*time.Second)
			advance(t, next, fmt.Sprintf("mg-new-%d", round))
			leader = next
			cl.add()
		}
		t.Logf("graceful handover -> new leader: %v", took)
	})
}

// TestLossDetectedAtOnce: another elector takes the leadership behind the
// leader's back; the leader's work is cancelled at its next renewal (Lease)
// or at once (etcd: its key's deletion is watched), not after the renew
// deadline.
func TestLossDetectedAtOnce(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		cl := newCluster(t, b, election.Config{}, 2)
		leader := cl.waitLeader(20 * time.Second)
		advance(t, leader, "mg-0")
		start := time.Now()
		cl.intruding.Store(true)
		b.intrude(t, leader)
		deadline := start.Add(election.DefaultRetryPeriod*6/5 + 500*time.Millisecond)
		for leader.lastTerm().cancelled.IsZero() {
			if time.Now().After(deadline) {
				t.Fatalf("the leader's work still runs %v after the takeover", time.Since(start))
			}
			time.Sleep(2 * time.Millisecond)
		}
		cl.intruding.Store(false)
		t.Logf("loss noticed %v after the takeover", leader.lastTerm().cancelled.Sub(start).Round(time.Millisecond))
		if leader.el.IsLeader() {
			t.Fatal("IsLeader after the loss")
		}
		if _, err := leader.store.CompareAndSwap(t.Context(), 0, state.Route{Epoch: 1000, Phase: state.PhaseFailover}); !errors.Is(err, state.ErrNotLeader) {
			t.Fatalf("write after the loss = %v, want ErrNotLeader", err)
		}
	})
}

// TestRenewalsKeepRoute: the route written by the leader survives many
// renewals (client-go rewrites the Lease every retry period), a watcher
// sees it exactly once, and LastRenewal / CertainUntil advance.
func TestRenewalsKeepRoute(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		cl := newCluster(t, b, election.Config{}, 2)
		leader := cl.waitLeader(20 * time.Second)
		v := advance(t, leader, "mg-0")
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var got []state.Change
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = b.reader(t).Watch(ctx, func(c state.Change) {
				mu.Lock()
				got = append(got, c)
				mu.Unlock()
			})
		})
		first := leader.el.LastRenewal()
		time.Sleep(6 * election.DefaultRetryPeriod)
		last := leader.el.LastRenewal()
		if renewals := last.Sub(first); renewals < 3*election.DefaultRetryPeriod {
			t.Errorf("LastRenewal advanced by %v in %v", renewals, 6*election.DefaultRetryPeriod)
		}
		if until := leader.el.CertainUntil(); !until.After(time.Now()) || until.After(last.Add(election.DefaultRenewDeadline)) {
			t.Errorf("CertainUntil %v, last renewal %v", until, last)
		}
		r, gotV, err := b.reader(t).Load(t.Context())
		if err != nil || gotV != v || r.Main.Name != "mg-0" {
			t.Fatalf("after renewals: %+v @%d, %v; want mg-0 @%d", r, gotV, err, v)
		}
		v2 := advance(t, leader, "mg-1")
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(3 * election.DefaultRetryPeriod) // more renewals: no more deliveries
		cancel()
		wg.Wait()
		if len(got) != 2 || got[0].Version != v || got[1].Version != v2 || got[1].Route.Main.Name != "mg-1" {
			t.Fatalf("watcher got %+v, want versions %d then %d", got, v, v2)
		}
		for _, c := range cl.all() {
			if c != leader && !c.el.CertainUntil().IsZero() {
				t.Errorf("%s: CertainUntil set though not leading", c.id)
			}
		}
	})
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		cl := newCluster(t, b, election.Config{}, 1)
		c := cl.waitLeader(20 * time.Second)
		if err := c.el.Run(t.Context()); !errors.Is(err, election.ErrRunning) {
			t.Fatalf("second Run = %v, want ErrRunning", err)
		}
	})
}
