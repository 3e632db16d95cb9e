package election

import (
	"context"
	"fmt"
	"sync"
	"time"

	rl "k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// trackingLock wraps client-go's LeaseLock (it implements
// resourcelock.Interface) to see what client-go's elector cannot tell us:
//
//   - when a renewal succeeded, and when it was sent (LastRenewal);
//   - the holder and transitions of the winning write (the fence);
//   - a read showing that another candidate holds the Lease: the term is
//     lost at once, not only when the renew deadline passes;
//   - when this candidate last read the record it then took over
//     (PreviousRenewalBound). Not when that record was first seen: a
//     holder may rewrite an identical record (client-go's slow path after
//     an ambiguous failure of its optimistic update re-sends the same
//     record), and that rewrite counts as a renewal for the holder while
//     the record looks unchanged to others. The read before a winning
//     write is a safe bound: every write the old holder made was applied
//     before that read, or the winning write (made with that read's
//     resourceVersion) would have been refused with a conflict.
//
// It also refuses one write client-go could make: releasing (holder "") a
// Lease that the last read showed held by another candidate, which
// tryRelease would do if its remembered record is older than its read.
type trackingLock struct {
	inner    *rl.LeaseLock
	identity string
	k        *Kubernetes

	mu     sync.Mutex
	holder string    // holder of the last record read or written
	readAt time.Time // when the last successful read returned
	won    wonWrite  // the write that made this candidate the holder in this round
}

// wonWrite is a successful write of a record holding this candidate.
type wonWrite struct {
	fence     state.LeaseFence
	sentAt    time.Time
	prevBound time.Time
}

var _ rl.Interface = (*trackingLock)(nil)

func (l *trackingLock) Get(ctx context.Context) (*rl.LeaderElectionRecord, []byte, error) {
	rec, raw, err := l.inner.Get(ctx)
	if err != nil {
		return rec, raw, err
	}
	now := time.Now()
	l.mu.Lock()
	l.holder = rec.HolderIdentity
	l.readAt = now
	l.mu.Unlock()
	l.k.setLeader(rec.HolderIdentity)
	if f, ok := l.k.termFence(); ok && (rec.HolderIdentity != f.Holder || int32(rec.LeaderTransitions) != f.Transitions) {
		l.k.lose(fmt.Sprintf("the Lease is now held by %q (transitions %d)", rec.HolderIdentity, rec.LeaderTransitions))
	}
	return rec, raw, nil
}

func (l *trackingLock) Create(ctx context.Context, ler rl.LeaderElectionRecord) error {
	sent := time.Now()
	if err := l.inner.Create(ctx, ler); err != nil {
		return err
	}
	// No record existed: no predecessor in this Lease, but one may have
	// been deleted under a leader: take the latest bound possible.
	l.wrote(ler, sent, time.Now())
	return nil
}

func (l *trackingLock) Update(ctx context.Context, ler rl.LeaderElectionRecord) error {
	l.mu.Lock()
	holder, prevBound := l.holder, l.readAt
	l.mu.Unlock()
	if ler.HolderIdentity != l.identity && holder != l.identity {
		return fmt.Errorf("election: not releasing %s: it is held by %q", l.Describe(), holder)
	}
	sent := time.Now()
	if err := l.inner.Update(ctx, ler); err != nil {
		return err
	}
	l.wrote(ler, sent, prevBound)
	return nil
}

// wrote records a successful write of ler sent at sent.
func (l *trackingLock) wrote(ler rl.LeaderElectionRecord, sent, prevBound time.Time) {
	l.mu.Lock()
	l.holder = ler.HolderIdentity
	mine := ler.HolderIdentity == l.identity
	// A lock serves one round, in which client-go acquires once and then
	// only renews: the first write holding this candidate is the win.
	if mine && l.won.sentAt.IsZero() {
		l.won = wonWrite{
			fence:     state.LeaseFence{Holder: l.identity, Transitions: int32(ler.LeaderTransitions)},
			sentAt:    sent,
			prevBound: prevBound,
		}
	}
	l.mu.Unlock()
	l.k.setLeader(ler.HolderIdentity)
	if mine {
		l.k.renewed(sent)
	}
}

// winning returns the write that made this candidate the holder.
func (l *trackingLock) winning() wonWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.won
}

func (l *trackingLock) RecordEvent(s string) { l.inner.RecordEvent(s) }
func (l *trackingLock) Identity() string     { return l.inner.Identity() }
func (l *trackingLock) Describe() string     { return l.inner.Describe() }
