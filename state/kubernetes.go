package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

// Annotations of the election Lease that hold the route record.
const (
	// AnnotationRoute holds the route JSON (Encode).
	AnnotationRoute = "memgraph-gateway.io/route"
	// AnnotationVersion holds the record's write counter, the Version:
	// 1 for the first write, +1 for every write. It is written in the same
	// update as AnnotationRoute.
	AnnotationVersion = "memgraph-gateway.io/route-version"
)

// kubernetesCASAttempts bounds the re-reads of one CompareAndSwap: a
// conflict on resourceVersion is usually a lease renewal (every retry
// period), not a change of the route.
const kubernetesCASAttempts = 8

// KubernetesOptions configure a Kubernetes store.
type KubernetesOptions struct {
	// Client reaches the Lease API (clientset.CoordinationV1()).
	Client coordinationv1client.LeasesGetter
	// Namespace and Name of the election Lease (the elector's).
	Namespace string
	Name      string
	// Fence returns the holder identity and lease transitions of the
	// caller's current term (election.Kubernetes.Fence). Nil: a read-only
	// store, every write is refused.
	Fence FenceFunc[LeaseFence]
	// Logger gets what Watch survives. Default: no logging.
	Logger *zap.Logger
}

// Kubernetes keeps the route record in two annotations of the election
// Lease itself (AnnotationRoute, AnnotationVersion).
//
// CompareAndSwap reads the Lease, checks that spec.holderIdentity and
// spec.leaseTransitions are the caller's fence and that the record is
// still at prev, then updates the Lease with the resourceVersion it read.
// The API server refuses that update (409 Conflict) if the Lease changed in
// between, so the write happens only if, at the instant it is applied,
// the caller is still the recorded holder of the same term: a deposed
// leader's write is refused by the API server, however late it arrives. A
// conflict caused by a renewal is retried with a fresh read.
//
// Why client-go's renewals keep the annotations (read in client-go
// v0.37.2, tools/leaderelection/resourcelock/leaselock.go): LeaseLock
// keeps the last Lease it read or wrote (ll.lease). Get stores the object
// the API returned, annotations included; Create and Update store the
// object the API returned; Update copies the new spec (and its own labels)
// into that object and sends the whole object with its resourceVersion.
// It never touches metadata.annotations. So a renewal either carries the
// annotations it last read, or, when our write bumped the resourceVersion
// since, fails with 409 Conflict; the elector then falls back to Get and
// Update (leaderelection.go, tryAcquireOrRenew "slow path"), which carries
// the new annotations. Release (tryRelease) also does Get then Update.
// Create is only used when the Lease does not exist. A renewal can
// therefore never write back an older route. (A route write costs the
// leader one extra, failed renewal round trip.)
//
// The Lease is created by the elector (client-go, on first campaign) with
// no owner reference and no Helm labels, so uninstalling the chart leaves it
// and the route in place. Deleting the Lease by hand deletes the record.
type Kubernetes struct {
	client    coordinationv1client.LeaseInterface
	namespace string
	name      string
	fence     FenceFunc[LeaseFence]
	log       *zap.Logger
}

// NewKubernetes returns a store on the Lease. It does not contact the API.
func NewKubernetes(opts KubernetesOptions) (*Kubernetes, error) {
	if opts.Client == nil {
		return nil, errors.New("state: kubernetes store without a client")
	}
	if opts.Namespace == "" || opts.Name == "" {
		return nil, errors.New("state: kubernetes store needs the Lease's namespace and name")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Kubernetes{
		client:    opts.Client.Leases(opts.Namespace),
		namespace: opts.Namespace,
		name:      opts.Name,
		fence:     opts.Fence,
		log:       opts.Logger,
	}, nil
}

func (s *Kubernetes) String() string { return "lease " + s.namespace + "/" + s.name }

func (s *Kubernetes) Load(ctx context.Context) (Route, Version, error) {
	lease, err := s.client.Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Route{}, 0, nil
	}
	if err != nil {
		return Route{}, 0, fmt.Errorf("state: load %s: %w", s, err)
	}
	c, err := s.change(lease)
	if err != nil {
		return Route{}, 0, err
	}
	return c.Route, c.Version, nil
}

func (s *Kubernetes) CompareAndSwap(ctx context.Context, prev Version, next Route) (Version, error) {
	f, ok := s.fence.claim()
	if !ok || f.Holder == "" {
		return 0, fmt.Errorf("%w: not holding %s", ErrNotLeader, s)
	}
	data, err := Encode(next)
	if err != nil {
		return 0, err
	}
	for range kubernetesCASAttempts {
		lease, err := s.client.Get(ctx, s.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("%w: %s does not exist", ErrNotLeader, s)
		}
		if err != nil {
			return 0, fmt.Errorf("state: compare-and-swap %s: read: %w", s, err)
		}
		if err := checkLeaseFence(f, lease); err != nil {
			return 0, err
		}
		cur, err := s.change(lease)
		if err != nil {
			return 0, err
		}
		if cur.Version != prev {
			return 0, fmt.Errorf("%w: at version %d, not %d", ErrConflict, cur.Version, prev)
		}
		if err := CheckNext(cur.Route, next); err != nil {
			return 0, err
		}
		v := prev + 1
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[AnnotationRoute] = string(data)
		lease.Annotations[AnnotationVersion] = strconv.FormatUint(uint64(v), 10)
		// lease carries the resourceVersion read above: the API server
		// applies this update only if nothing changed the Lease since.
		_, err = s.client.Update(ctx, lease, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue // a renewal, or a takeover: read again and re-check
		}
		if err != nil {
			return 0, fmt.Errorf("state: compare-and-swap %s: %w", s, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: %s kept changing during %d attempts", ErrConflict, s, kubernetesCASAttempts)
}

func checkLeaseFence(f LeaseFence, lease *coordinationv1.Lease) error {
	holder, transitions := "", int32(0)
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	if lease.Spec.LeaseTransitions != nil {
		transitions = *lease.Spec.LeaseTransitions
	}
	if holder != f.Holder {
		return fmt.Errorf("%w: the lease is held by %q, not %q", ErrNotLeader, holder, f.Holder)
	}
	if transitions != f.Transitions {
		return fmt.Errorf("%w: lease transitions are %d, not %d: another term began", ErrNotLeader, transitions, f.Transitions)
	}
	return nil
}

func (s *Kubernetes) Watch(ctx context.Context, fn func(Change)) error {
	deliver := onceEach(fn)
	selector := fields.OneTermEqualSelector("metadata.name", s.name).String()
	rv := "" // "": list before watching
	for ctx.Err() == nil {
		if rv == "" {
			list, err := s.client.List(ctx, metav1.ListOptions{FieldSelector: selector})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("state: watch: list failed, retrying", zap.Stringer("lease", s), zap.Error(err))
					sleep(ctx, retryDelay)
				}
				continue
			}
			c := Change{}
			for i := range list.Items {
				if c, err = s.change(&list.Items[i]); err != nil {
					s.log.Error("state: watch: skipping a corrupt record", zap.Stringer("lease", s), zap.Error(err))
				}
			}
			if err == nil {
				deliver(c)
			}
			rv = list.ResourceVersion
		}
		var err error
		rv, err = s.follow(ctx, selector, rv, deliver)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("state: watch broke, resuming", zap.Stringer("lease", s), zap.Error(err))
			sleep(ctx, retryDelay)
		}
	}
	return nil
}

// follow delivers the changes of the Lease after resourceVersion rv until
// the watch ends. It returns the resourceVersion to resume from: "" when
// the history is gone and the caller must list again.
func (s *Kubernetes) follow(ctx context.Context, selector, rv string, deliver func(Change)) (string, error) {
	w, err := s.client.Watch(ctx, metav1.ListOptions{
		FieldSelector:       selector,
		ResourceVersion:     rv,
		AllowWatchBookmarks: true,
	})
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return "", err
		}
		return rv, err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, nil // the server ended the watch: resume
			}
			switch ev.Type {
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return "", err
				}
				return rv, err
			case watch.Added, watch.Modified, watch.Deleted, watch.Bookmark:
				lease, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					return "", fmt.Errorf("unexpected %T in the watch", ev.Object)
				}
				rv = lease.ResourceVersion
				switch ev.Type {
				case watch.Bookmark:
				case watch.Deleted:
					deliver(Change{})
				default:
					c, err := s.change(lease)
					if err != nil {
						s.log.Error("state: watch: skipping a corrupt record", zap.Stringer("lease", s), zap.Error(err))
						continue
					}
					deliver(c)
				}
			}
		}
	}
}

// change reads the record from the Lease's annotations.
func (s *Kubernetes) change(lease *coordinationv1.Lease) (Change, error) {
	data, ok := lease.Annotations[AnnotationRoute]
	if !ok {
		return Change{}, nil
	}
	v, err := strconv.ParseUint(lease.Annotations[AnnotationVersion], 10, 64)
	if err != nil || v == 0 {
		return Change{}, fmt.Errorf("%w: %s: annotation %s is %q", ErrCorrupt, s, AnnotationVersion, lease.Annotations[AnnotationVersion])
	}
	r, err := Decode([]byte(data))
	if err != nil {
		return Change{}, fmt.Errorf("%s: %w", s, err)
	}
	return Change{Route: r, Version: Version(v)}, nil
}
