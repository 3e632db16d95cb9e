package discovery

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
)

// DefaultBoltPort is Memgraph's Bolt port, where clients and the gateway
// connect.
const DefaultBoltPort = 7687

// DefaultReplicationPort is the port of Memgraph's replication server on a
// replica (SET REPLICATION ROLE TO REPLICA WITH PORT 10000).
const DefaultReplicationPort = 10000

// ErrRunning: Run was called a second time on the same source.
var ErrRunning = errors.New("discovery: Run was already called on this source; create a new source to run again")

// Instance is one Memgraph instance as discovery sees it.
type Instance struct {
	// Name is the instance's stable name: the pod's name, or the name in
	// the static list. The controller registers it under this name.
	Name string
	// BoltAddr is host:port of its Bolt server, for the gateway's probes
	// and proxying: the pod's IP and the Bolt port. It changes when the pod
	// restarts; empty while the pod has no IP.
	BoltAddr string
	// ReplicationAddr is host:port of its replication server, stable
	// across restarts, for REGISTER REPLICA: the pod's DNS name through the
	// headless Service (<pod>.<service>.<namespace>.svc.<domain>:<port>),
	// or the static address.
	ReplicationAddr string
	// Ready: Kubernetes reports the pod Ready, it has an IP and it is not
	// terminating (the rule of EndpointSlices). Always true for a static
	// instance. Information only: the controller's probes decide health.
	Ready bool
	// Terminating: the pod is being deleted (metadata.deletionTimestamp is
	// set). Once it is gone, the instance is no longer listed.
	Terminating bool
	// UID is the pod's UID, which changes when a pod of the same name is
	// recreated (a StatefulSet replacing it). Empty for a static instance.
	UID string
	// Labels are the pod's labels; nil for a static instance.
	Labels map[string]string
}

// Source lists the Memgraph instances and tells when the list changes.
// Its methods are safe for concurrent use.
type Source interface {
	// Run keeps the list up to date until ctx is done, then returns nil.
	// It may be called once; a second call returns ErrRunning. After Run
	// returns, Snapshot keeps the last list.
	Run(ctx context.Context) error
	// Snapshot returns the instances sorted by name, as a copy the caller
	// owns. It is empty until Synced is closed.
	Snapshot() []Instance
	// Changes receives a value, without the source ever blocking, after
	// the snapshot changed; changes made while a value is pending are
	// coalesced into it. The same channel is returned on every call; it
	// has one receiver and is never closed.
	Changes() <-chan struct{}
	// Synced is closed once the first complete list is in the snapshot.
	Synced() <-chan struct{}
}

// WaitSynced waits until src is synced or ctx is done, and returns
// ctx.Err() in the second case.
func WaitSynced(ctx context.Context, src Source) error {
	select {
	case <-src.Synced():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Find returns the instance called name in a snapshot (sorted by name).
func Find(snapshot []Instance, name string) (Instance, bool) {
	i, ok := slices.BinarySearchFunc(snapshot, name, func(in Instance, name string) int {
		return strings.Compare(in.Name, name)
	})
	if !ok {
		return Instance{}, false
	}
	return snapshot[i], true
}

// equal reports whether in and o describe the same instance in the same
// state (nil and empty Labels are equal).
func (in Instance) equal(o Instance) bool {
	return in.Name == o.Name && in.BoltAddr == o.BoltAddr && in.ReplicationAddr == o.ReplicationAddr &&
		in.Ready == o.Ready && in.Terminating == o.Terminating && in.UID == o.UID &&
		maps.Equal(in.Labels, o.Labels)
}

// clone returns a copy of in that shares no map with it.
func (in Instance) clone() Instance {
	in.Labels = maps.Clone(in.Labels)
	return in
}

// feed holds a source's published snapshot and its two signals. The zero
// value is not usable; see newFeed.
type feed struct {
	mu       sync.Mutex
	snapshot []Instance // sorted by name; never modified once stored
	synced   bool

	changes  chan struct{} // capacity 1: one pending notification at most
	syncedCh chan struct{} // closed by the first publish with synced
}

func newFeed() *feed {
	return &feed{changes: make(chan struct{}, 1), syncedCh: make(chan struct{})}
}

// Snapshot returns a copy of the published snapshot, sorted by name,
// sharing nothing with the source; see Source.
func (f *feed) Snapshot() []Instance {
	f.mu.Lock()
	snap := f.snapshot
	f.mu.Unlock()
	out := make([]Instance, len(snap))
	for i, in := range snap {
		out[i] = in.clone()
	}
	return out
}

// Changes receives a value after the snapshot changed; see Source.
func (f *feed) Changes() <-chan struct{} { return f.changes }

// Synced is closed once the first complete list is published; see Source.
func (f *feed) Synced() <-chan struct{} { return f.syncedCh }

// publish stores instances as the snapshot and marks the feed synced. It
// takes ownership of instances, sorts them, and notifies unless nothing
// changed. Names must be unique.
func (f *feed) publish(instances []Instance) {
	slices.SortFunc(instances, func(a, b Instance) int { return strings.Compare(a.Name, b.Name) })
	f.mu.Lock()
	first := !f.synced
	changed := first || !slices.EqualFunc(f.snapshot, instances, Instance.equal)
	if changed {
		f.snapshot = instances
		f.synced = true
	}
	f.mu.Unlock()
	if changed {
		f.notify()
	}
	if first {
		// After notify: whoever sees Synced closed finds the first
		// notification pending.
		close(f.syncedCh)
	}
}

// notify leaves a notification pending, unless one already is.
func (f *feed) notify() {
	select {
	case f.changes <- struct{}{}:
	default:
	}
}
