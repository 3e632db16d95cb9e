package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Errors of Switchovers.Submit.
var (
	// ErrSwitchoverBusy: another switchover request is pending; only one
	// is handled at a time.
	ErrSwitchoverBusy = errors.New("controller: another switchover is in progress")
	// ErrSwitchoverStopped: the loop that held the request stopped
	// (leadership lost, shutdown) before it answered. A switchover it
	// had claimed may still be finished by the next leader.
	ErrSwitchoverStopped = errors.New("controller: the replication controller stopped before the switchover ended")
	// ErrNoTarget: Submit was called without a target.
	ErrNoTarget = errors.New("controller: switchover needs a target instance")
)

// SwitchoverResult is how a switchover request ended.
type SwitchoverResult struct {
	// Target is the instance that was asked to become MAIN.
	Target string
	// OK: Target is the MAIN of the serving route at Epoch.
	OK bool
	// Reason says why it ended (Decide's words): "mg-2 is the MAIN
	// (epoch 7)", "mg-9 is not a known instance", "switchover to mg-2
	// aborted: ...".
	Reason string
	// Epoch is the route epoch the answer belongs to.
	Epoch uint64
	// Main is the MAIN when the request ended ("" when the route had
	// none): Target when OK.
	Main string
	// Previous is the MAIN of the route when the loop first saw the
	// request ("" when there was none: a cluster without a route).
	Previous string
	// Took is the time from Submit to the answer, including the wait for
	// the target to catch up.
	Took time.Duration
	// Failover is the claim-to-publish sequence this request ran, nil
	// when none ran (the target was already MAIN, or it was refused
	// before any claim). Its Duration is the write unavailability.
	Failover *FailoverRecord
}

// Switchovers is the mailbox between the admin API and the leader's loop:
// Submit queues a planned switchover and waits for the loop's answer.
// One request at a time: a second concurrent Submit fails with
// ErrSwitchoverBusy. The zero value is ready for use; it is safe for
// concurrent use. One Switchovers outlives the loops of successive
// leadership terms (pass the same one in every LoopConfig); a loop that
// stops fails the request it holds with ErrSwitchoverStopped.
type Switchovers struct {
	mu  sync.Mutex
	seq uint64
	cur *switchoverCall
}

type switchoverCall struct {
	id        uint64
	target    string
	submitted time.Time
	// seen and previous: the loop has put the request in a snapshot, with
	// this route MAIN.
	seen     bool
	previous string

	done chan struct{}
	res  SwitchoverResult
	err  error
}

// PendingSwitchover is a request waiting for its answer.
type PendingSwitchover struct {
	Target    string
	Submitted time.Time
}

// Submit queues a switchover to target and blocks until the loop ends it
// (the result, OK or not, with a nil error) or ctx ends (then the request
// is withdrawn and ctx's error returned, wrapped). Withdrawing does not
// undo a claim already made: a planned failover the loop started finishes
// (or is aborted by SwitchoverTimeout) without the request. Other errors:
// ErrNoTarget, ErrSwitchoverBusy, ErrSwitchoverStopped.
func (s *Switchovers) Submit(ctx context.Context, target string) (SwitchoverResult, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return SwitchoverResult{}, ErrNoTarget
	}
	s.mu.Lock()
	if s.cur != nil {
		busy := s.cur.target
		s.mu.Unlock()
		return SwitchoverResult{Target: target}, fmt.Errorf("%w (to %s)", ErrSwitchoverBusy, busy)
	}
	s.seq++
	c := &switchoverCall{id: s.seq, target: target, submitted: time.Now(), done: make(chan struct{})}
	s.cur = c
	s.mu.Unlock()

	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	if s.cur == c {
		s.cur = nil
	}
	s.mu.Unlock()
	select {
	case <-c.done: // answered meanwhile
		return c.res, c.err
	default:
	}
	return SwitchoverResult{Target: target, Took: time.Since(c.submitted)},
		fmt.Errorf("controller: switchover to %s withdrawn: %w", target, ctx.Err())
}

// Pending returns the request waiting for an answer, if any.
func (s *Switchovers) Pending() (PendingSwitchover, bool) {
	if s == nil {
		return PendingSwitchover{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return PendingSwitchover{}, false
	}
	return PendingSwitchover{Target: s.cur.target, Submitted: s.cur.submitted}, true
}

// take returns the pending request for this tick's snapshot, its id and
// when it was submitted (0 and nil: none); main is the route's MAIN now,
// remembered as the request's Previous the first time the loop sees it.
func (s *Switchovers) take(main string) (uint64, *SwitchoverRequest, time.Time) {
	if s == nil {
		return 0, nil, time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur
	if c == nil {
		return 0, nil, time.Time{}
	}
	if !c.seen {
		c.seen, c.previous = true, main
	}
	return c.id, &SwitchoverRequest{Target: c.target}, c.submitted
}

// complete answers request id, if it is still the pending one, and
// reports whether it did. res.Target, Previous and Took are filled in.
func (s *Switchovers) complete(id uint64, res SwitchoverResult) bool {
	if s == nil || id == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur
	if c == nil || c.id != id {
		return false
	}
	res.Target, res.Previous, res.Took = c.target, c.previous, time.Since(c.submitted)
	c.res = res
	s.cur = nil
	close(c.done)
	return true
}

// abort fails the pending request with err, if the loop has seen it
// (a request submitted while no loop runs waits for the next one).
func (s *Switchovers) abort(err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur
	if c == nil || !c.seen {
		return
	}
	c.res = SwitchoverResult{Target: c.target, Previous: c.previous, Took: time.Since(c.submitted)}
	c.err = err
	s.cur = nil
	close(c.done)
}
