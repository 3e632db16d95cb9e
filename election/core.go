package election

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// core is the state both backends share: the current term, renewal times,
// the observed leader. A backend drives it through one campaign round at a
// time: startRound, then begin when it wins, renewed on each successful
// renewal, lose when it observes a loss, endRound when the round is over.
// F is the backend's fence (state.LeaseFence, state.EtcdFence).
type core[F any] struct {
	cfg Config
	log *zap.Logger

	mu          sync.Mutex
	leader      string    // last observed holder
	lastRenewal time.Time // send time of the last successful renewal or winning write
	prevBound   time.Time // PreviousRenewalBound of the current or last term
	ending      bool      // the round is ending: begin refuses
	term        *term[F]  // the current term; nil between terms and once the round ends
	lost        chan struct{}
}

// term is one period of leadership.
type term[F any] struct {
	fence  F
	cancel context.CancelFunc
	done   chan struct{} // closed when OnStartedLeading returned
	lost   bool          // a loss was observed: no longer leading
}

func newCore[F any](cfg Config) core[F] {
	return core[F]{cfg: cfg, log: cfg.Logger}
}

// startRound prepares a campaign round. It returns a channel closed when
// the round's term is lost (lose).
func (c *core[F]) startRound() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ending, c.term = false, nil
	c.lost = make(chan struct{})
	return c.lost
}

// begin starts a term: the leader's work runs in a new goroutine with a
// context derived from parent. prevBound is the PreviousRenewalBound of the
// term. It returns false, starting nothing, when the round is already
// ending or has had its term.
func (c *core[F]) begin(parent context.Context, fence F, prevBound time.Time) bool {
	c.mu.Lock()
	if c.ending || c.term != nil {
		c.mu.Unlock()
		return false
	}
	ctx, cancel := context.WithCancel(parent)
	t := &term[F]{fence: fence, cancel: cancel, done: make(chan struct{})}
	c.term, c.prevBound, c.leader = t, prevBound, c.cfg.Identity
	c.mu.Unlock()
	c.log.Info("election: started leading", zap.String("identity", c.cfg.Identity))
	go c.work(ctx, t)
	return true
}

// work runs the leader's work of t. A named function, for stack dumps.
func (c *core[F]) work(ctx context.Context, t *term[F]) {
	defer close(t.done)
	if c.cfg.OnStartedLeading != nil {
		c.cfg.OnStartedLeading(ctx)
	}
}

// lose ends leadership at once: IsLeader turns false and the work's
// context is cancelled. The round goes on until endRound.
func (c *core[F]) lose(why string) {
	c.mu.Lock()
	t := c.term
	if t == nil || t.lost {
		c.mu.Unlock()
		return
	}
	t.lost = true
	t.cancel()
	close(c.lost)
	c.mu.Unlock()
	c.log.Warn("election: lost leadership", zap.String("identity", c.cfg.Identity), zap.String("why", why))
}

// endRound stops the term if there is one: it cancels the work, waits for
// it to return, then runs OnStoppedLeading. Afterwards begin refuses
// until the next startRound. It is idempotent.
func (c *core[F]) endRound() {
	c.mu.Lock()
	c.ending = true
	t := c.term
	c.term = nil
	if t != nil {
		t.lost = true
		t.cancel()
	}
	c.mu.Unlock()
	if t == nil {
		return
	}
	<-t.done
	c.mu.Lock()
	if c.leader == c.cfg.Identity {
		c.leader = ""
	}
	c.mu.Unlock()
	if c.cfg.OnStoppedLeading != nil {
		c.cfg.OnStoppedLeading()
	}
	c.log.Info("election: stopped leading", zap.String("identity", c.cfg.Identity))
}

// renewed records a successful renewal (or winning write) sent at at.
func (c *core[F]) renewed(at time.Time) {
	c.mu.Lock()
	if at.After(c.lastRenewal) {
		c.lastRenewal = at
	}
	c.mu.Unlock()
}

// checkCertain ends the term when the last renewal is RenewDeadline old.
func (c *core[F]) checkCertain(now time.Time) {
	c.mu.Lock()
	overdue := c.term != nil && !c.term.lost && !now.Before(c.lastRenewal.Add(c.cfg.RenewDeadline))
	c.mu.Unlock()
	if overdue {
		c.lose("no successful renewal within the renew deadline")
	}
}

// setLeader records the observed holder.
func (c *core[F]) setLeader(id string) {
	c.mu.Lock()
	c.leader = id
	c.mu.Unlock()
}

// leadingLocked: the caller holds c.mu.
func (c *core[F]) leadingLocked(now time.Time) bool {
	return c.term != nil && !c.term.lost && now.Before(c.lastRenewal.Add(c.cfg.RenewDeadline))
}

// Fence returns the current term's fence, and false when not leading.
func (c *core[F]) Fence() (F, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.leadingLocked(time.Now()) {
		var zero F
		return zero, false
	}
	return c.term.fence, true
}

func (c *core[F]) Identity() string { return c.cfg.Identity }

func (c *core[F]) IsLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leadingLocked(time.Now())
}

func (c *core[F]) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

func (c *core[F]) LastRenewal() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastRenewal
}

func (c *core[F]) CertainUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.leadingLocked(time.Now()) {
		return time.Time{}
	}
	return c.lastRenewal.Add(c.cfg.RenewDeadline)
}

func (c *core[F]) PreviousRenewalBound() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prevBound
}

// watchdogPeriod is how often a round checks that its leader renewed
// within the deadline: a fifth of the retry period, at most 100 ms.
func (c *core[F]) watchdogPeriod() time.Duration {
	return min(c.cfg.RetryPeriod/5, 100*time.Millisecond)
}
