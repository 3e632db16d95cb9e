package election

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/go-logr/zapr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// DefaultLeaseName is the name of the election Lease by default.
const DefaultLeaseName = "memgraph-gateway"

// Lease locates the election Lease.
type Lease struct {
	// Client reaches the Lease API (clientset.CoordinationV1()). It needs
	// get, create and update on leases (deploy/rbac/role.yaml).
	Client coordinationv1client.LeasesGetter
	// Namespace of the Lease: the release's namespace.
	Namespace string
	// Name of the Lease. Default DefaultLeaseName.
	Name string
}

// Kubernetes is an Elector on a coordination.k8s.io/v1 Lease, with
// client-go's leaderelection doing the campaign and renewals.
type Kubernetes struct {
	core[state.LeaseFence]
	lease   Lease
	running atomic.Bool
}

var _ Elector = (*Kubernetes)(nil)

// NewKubernetes returns an elector on lease. It does not contact the API.
func NewKubernetes(lease Lease, cfg Config) (*Kubernetes, error) {
	if lease.Client == nil || lease.Namespace == "" {
		return nil, errors.New("election: a Kubernetes elector needs a Lease client and namespace")
	}
	if lease.Name == "" {
		lease.Name = DefaultLeaseName
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Kubernetes{core: newCore[state.LeaseFence](cfg), lease: lease}, nil
}

// Fence returns the holder identity and lease transitions of the current
// term, for state.KubernetesOptions.Fence; false when not leading.
func (k *Kubernetes) Fence() (state.LeaseFence, bool) { return k.core.Fence() }

// termFence is the fence of the current term, lost or not.
func (k *Kubernetes) termFence() (state.LeaseFence, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.term == nil || k.term.lost {
		return state.LeaseFence{}, false
	}
	return k.term.fence, true
}

func (k *Kubernetes) Run(ctx context.Context) error {
	if !k.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer k.running.Store(false)
	ctx = klog.NewContext(ctx, zapr.NewLogger(k.log.Named("leaderelection")))
	for ctx.Err() == nil {
		k.round(ctx)
	}
	return nil
}

// round campaigns once with a fresh client-go elector and lock, leads if
// it wins, and returns once the term is over (or ctx is done).
func (k *Kubernetes) round(ctx context.Context) {
	lost := k.startRound()
	lock := &trackingLock{
		inner: &rl.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: k.lease.Namespace, Name: k.lease.Name},
			Client:     k.lease.Client,
			LockConfig: rl.ResourceLockConfig{Identity: k.cfg.Identity},
		},
		identity: k.cfg.Identity,
		k:        k,
	}
	// client-go's elector runs under its own context: on shutdown the
	// leader's work must stop before client-go releases the Lease, so
	// cancelling ctx must not reach client-go first.
	leCtx, cancelLE := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLE()
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   k.cfg.LeaseDuration,
		RenewDeadline:   k.cfg.RenewDeadline,
		RetryPeriod:     k.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            lock.Describe(),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(termCtx context.Context) {
				won := lock.winning()
				k.begin(termCtx, won.fence, won.prevBound)
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil { // Config.Validate checked what client-go checks
		k.log.DPanic("election: client-go refused the configuration")
		sleep(ctx, k.cfg.RetryPeriod)
		return
	}
	done := make(chan struct{})
	go runLeaderElector(leCtx, le, done)
	tick := time.NewTicker(k.watchdogPeriod())
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-done: // client-go could not renew in time
			break wait
		case <-lost:
			break wait
		case now := <-tick.C:
			k.checkCertain(now)
		}
	}
	k.endRound() // stop the work and wait for it, then
	cancelLE()   // let client-go release the Lease (ReleaseOnCancel)
	<-done
}

// runLeaderElector runs client-go's elector until leCtx is done or it
// stops leading. A named function, for stack dumps.
func runLeaderElector(leCtx context.Context, le *leaderelection.LeaderElector, done chan<- struct{}) {
	defer close(done)
	le.Run(leCtx)
}
