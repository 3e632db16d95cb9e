package state

import (
	"context"
	"errors"
	"time"
)

// Errors of the state package. Test them with errors.Is: backends wrap them
// with detail.
var (
	// ErrConflict: the record changed since the version the caller read.
	// Reload, decide again, retry.
	ErrConflict = errors.New("state: route changed since it was read")
	// ErrNotLeader: the backend refused the write because the caller does
	// not hold leadership (now, or at all). The caller has lost: it must
	// stop acting as leader.
	ErrNotLeader = errors.New("state: not the leader")
	// ErrInvalid: the route fails Validate, or may not follow the stored
	// one (CheckNext).
	ErrInvalid = errors.New("state: invalid route")
	// ErrCorrupt: the stored record cannot be decoded or is not valid. It
	// was not written by a gateway; an operator must repair or delete it.
	ErrCorrupt = errors.New("state: stored route is corrupt")
)

// Version identifies one write of the record in its store: etcd's mod
// revision of the key, a write counter for the Kubernetes and memory
// stores. It only means something to the store that returned it. The zero
// Version means "no record".
type Version uint64

// Change is the record at one version. The zero Change means the record is
// absent.
type Change struct {
	Route   Route
	Version Version
}

// Store holds the durable route record. Implementations are safe for
// concurrent use.
type Store interface {
	// Load returns the current record and its version: the zero Route and
	// the zero Version when there is none.
	Load(ctx context.Context) (Route, Version, error)

	// CompareAndSwap replaces the record by next if it is still at
	// version prev (zero: still absent) and the caller still holds
	// leadership, as the backend itself checks in the same atomic step.
	// It returns the new version. Errors: ErrNotLeader when the caller
	// does not hold leadership (checked first), ErrConflict when the
	// record is no longer at prev, ErrInvalid when next fails CheckNext
	// against the stored record, or an error of the backend (the write may
	// or may not have happened then: Load to find out).
	CompareAndSwap(ctx context.Context, prev Version, next Route) (Version, error)

	// Watch calls fn, in the calling goroutine, with the current record
	// first (the zero Change when absent) and then with every later
	// change in version order, and returns nil once ctx is done. It
	// reconnects by itself after transient failures. When the backend
	// has discarded the history it would need (etcd compaction, an
	// expired Kubernetes resourceVersion), it reloads and delivers the
	// current record: versions in between that no longer exist are
	// skipped, never delivered out of order. fn is never called twice in a
	// row with the same Version. It returns an error only when watching
	// cannot go on (the client was closed). fn must not block for long:
	// the watch waits for it.
	Watch(ctx context.Context, fn func(Change)) error
}

// FenceFunc returns the leadership claim the caller's writes carry, as its
// elector currently holds it, and false when the caller is not leading. A
// store checks the claim against the backend in the same atomic step as
// the write; the local "false" only saves a round trip.
type FenceFunc[F any] func() (F, bool)

// claim calls f; a nil FenceFunc claims nothing (the caller does not lead).
func (f FenceFunc[F]) claim() (F, bool) {
	if f == nil {
		var zero F
		return zero, false
	}
	return f()
}

// Fixed returns a FenceFunc that always claims f: for tests and tools.
func Fixed[F any](f F) FenceFunc[F] {
	return func() (F, bool) { return f, true }
}

// EtcdFence is the claim of an etcd leader: its election key
// (concurrency.Election.Key) and that key's create revision
// (concurrency.Election.Rev). Once the key is gone — resigned, or its
// session's lease expired — or was re-created, the claim is void.
type EtcdFence struct {
	Key string
	Rev int64
}

// LeaseFence is the claim of a Kubernetes Lease holder: the Lease's
// spec.holderIdentity and spec.leaseTransitions as they were when this
// holder acquired it. The claim is void once another candidate took the
// Lease over (holder changes) or the holder released it, even if it later
// acquires it again (transitions change).
type LeaseFence struct {
	Holder      string
	Transitions int32
}

// retryDelay is how long watchers wait before reconnecting after an
// error: short, since the backends have their own backoff too.
const retryDelay = 200 * time.Millisecond

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// onceEach wraps a Watch callback so that a version is delivered once even
// when a store sees it twice (the read that starts a watch, then the
// watch's first event; a reconnect re-reading the record).
func onceEach(fn func(Change)) func(Change) {
	delivered, last := false, Version(0)
	return func(c Change) {
		if delivered && c.Version == last {
			return
		}
		delivered, last = true, c.Version
		fn(c)
	}
}
