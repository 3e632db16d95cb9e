package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/ptr"

	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/state/statetest"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// kubeEnv is a namespace of the shared control plane and a client acting
// as the gateway's ServiceAccount (deploy/rbac/role.yaml only), so a
// missing permission fails the test.
type kubeEnv struct {
	ns  string
	cs  kubernetes.Interface
	cfg *rest.Config // the ServiceAccount's; copy it before changing it
}

func newKubeEnv(t *testing.T) kubeEnv {
	t.Helper()
	return newKubeEnvOn(t, kube.Shared(t))
}

// newKubeEnvOn is newKubeEnv on control plane c.
func newKubeEnvOn(t *testing.T, c *kube.Cluster) kubeEnv {
	t.Helper()
	ns := c.TestNamespace(t)
	sa, err := c.ServiceAccount(t.Context(), ns, "memgraph-gateway")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sa.Client()
	if err != nil {
		t.Fatal(err)
	}
	return kubeEnv{ns: ns, cs: cs, cfg: sa.Config}
}

// kubeBackend elects by writing the Lease's holder as a client-go
// candidate taking over would: holderIdentity set, leaseTransitions + 1.
type kubeBackend struct {
	env  kubeEnv
	name string
}

var leaseSeq atomic.Int64

func newKubeBackend(env kubeEnv) *kubeBackend {
	return &kubeBackend{env: env, name: fmt.Sprintf("gw-%d", leaseSeq.Add(1))}
}

func (b *kubeBackend) leases() interface {
	Get(context.Context, string, metav1.GetOptions) (*coordinationv1.Lease, error)
	Create(context.Context, *coordinationv1.Lease, metav1.CreateOptions) (*coordinationv1.Lease, error)
	Update(context.Context, *coordinationv1.Lease, metav1.UpdateOptions) (*coordinationv1.Lease, error)
} {
	return b.env.cs.CoordinationV1().Leases(b.env.ns)
}

func (b *kubeBackend) Elect(t *testing.T, candidate string) state.Store {
	t.Helper()
	ctx := t.Context()
	var transitions int32
	for {
		lease, err := b.leases().Get(ctx, b.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			lease = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: b.name, Namespace: b.env.ns},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity:       ptr.To(candidate),
					LeaseDurationSeconds: ptr.To[int32](15),
					LeaseTransitions:     ptr.To[int32](0),
					AcquireTime:          &metav1.MicroTime{Time: time.Now()},
					RenewTime:            &metav1.MicroTime{Time: time.Now()},
				},
			}
			if _, err = b.leases().Create(ctx, lease, metav1.CreateOptions{}); err == nil {
				break
			}
		} else if err == nil {
			transitions = ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1
			lease.Spec.HolderIdentity = ptr.To(candidate)
			lease.Spec.LeaseTransitions = ptr.To(transitions)
			lease.Spec.AcquireTime = &metav1.MicroTime{Time: time.Now()}
			if _, err = b.leases().Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
				break
			}
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("elect %s: %v", candidate, err)
		}
	}
	return b.store(t, state.Fixed(state.LeaseFence{Holder: candidate, Transitions: transitions}))
}

func (b *kubeBackend) store(t *testing.T, fence state.FenceFunc[state.LeaseFence]) *state.Kubernetes {
	s, err := state.NewKubernetes(state.KubernetesOptions{
		Client: b.env.cs.CoordinationV1(), Namespace: b.env.ns, Name: b.name, Fence: fence,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *kubeBackend) Reader(t *testing.T) state.Store { return b.store(t, nil) }

func TestKubernetesStore(t *testing.T) {
	t.Parallel()
	env := newKubeEnv(t)
	statetest.Run(t, statetest.Options{Rounds: 100}, func(t *testing.T) statetest.Backend { return newKubeBackend(env) })
}

// TestKubernetesRenewalsKeepRoute checks, against the real API server,
// what the Kubernetes store's doc says of client-go's LeaseLock: a renewal
// based on a read older than the route write is refused (409), and the
// renewal after a fresh read carries the route annotations.
func TestKubernetesRenewalsKeepRoute(t *testing.T) {
	t.Parallel()
	env := newKubeEnv(t)
	b := newKubeBackend(env)
	ctx := t.Context()
	lock := &rl.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: env.ns, Name: b.name},
		Client:     env.cs.CoordinationV1(),
		LockConfig: rl.ResourceLockConfig{Identity: "gw-a"},
	}
	record := func() rl.LeaderElectionRecord {
		now := metav1.Now()
		return rl.LeaderElectionRecord{HolderIdentity: "gw-a", LeaseDurationSeconds: 4, AcquireTime: now, RenewTime: now}
	}
	if err := lock.Create(ctx, record()); err != nil {
		t.Fatal(err)
	}
	s := b.store(t, state.Fixed(state.LeaseFence{Holder: "gw-a"}))
	want := statetest.Serving(1, "mg-0")
	v, err := s.CompareAndSwap(ctx, 0, want)
	if err != nil {
		t.Fatal(err)
	}
	// The lock's object predates the route: its renewal must fail.
	if err := lock.Update(ctx, record()); !apierrors.IsConflict(err) {
		t.Fatalf("renewal from a stale read = %v, want a conflict", err)
	}
	for range 3 { // client-go's slow path: read, then renew
		if _, _, err := lock.Get(ctx); err != nil {
			t.Fatal(err)
		}
		if err := lock.Update(ctx, record()); err != nil {
			t.Fatal(err)
		}
		if err := lock.Update(ctx, record()); err != nil { // fast path
			t.Fatal(err)
		}
	}
	got, gotV, err := s.Load(ctx)
	if err != nil || gotV != v || got.Main != want.Main {
		t.Fatalf("after renewals: %+v @%d, %v; want %+v @%d", got, gotV, err, want, v)
	}
	// And the store retries past renewals: write while the lock renews.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if _, _, err := lock.Get(ctx); err == nil {
				_ = lock.Update(ctx, record())
			}
			// Renewals come every retry period (500 ms by default), not
			// back to back: an unpaced loop can win every race on a
			// loaded machine and starve the store's bounded retries.
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for i := range 10 {
		if v, err = s.CompareAndSwap(ctx, v, statetest.Serving(uint64(i+2), "mg-1")); err != nil {
			t.Fatalf("CompareAndSwap during renewals: %v", err)
		}
	}
	<-done
}

// TestKubernetesStoreRefuses: no Lease, a released Lease, a corrupt record.
func TestKubernetesStoreRefuses(t *testing.T) {
	t.Parallel()
	env := newKubeEnv(t)
	ctx := t.Context()
	b := newKubeBackend(env)
	s := b.store(t, state.Fixed(state.LeaseFence{Holder: "gw-a"}))
	if _, err := s.CompareAndSwap(ctx, 0, statetest.Serving(1, "mg-0")); !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("CompareAndSwap without a Lease = %v, want ErrNotLeader", err)
	}
	s = b.Elect(t, "gw-a").(*state.Kubernetes)
	if _, err := s.CompareAndSwap(ctx, 0, statetest.Serving(1, "mg-0")); err != nil {
		t.Fatal(err)
	}
	// Released, as client-go does on ReleaseOnCancel: holder "".
	lease, err := b.leases().Get(ctx, b.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity = ptr.To("")
	if _, err := b.leases().Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, 1, statetest.Serving(2, "mg-0")); !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("CompareAndSwap after release = %v, want ErrNotLeader", err)
	}
	for _, tc := range []struct{ name, route, version string }{
		{"bad json", "{", "1"},
		{"invalid route", `{"epoch":1,"phase":"serving"}`, "1"},
		{"no version", string(mustEncode(t, statetest.Serving(1, "mg-0"))), ""},
		{"bad version", string(mustEncode(t, statetest.Serving(1, "mg-0"))), "x"},
		{"too large", strings.Repeat(" ", state.MaxEncodedSize+1), "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lease, err := b.leases().Get(ctx, b.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lease.Annotations[state.AnnotationRoute] = tc.route
			lease.Annotations[state.AnnotationVersion] = tc.version
			if _, err := b.leases().Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Load(ctx); !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("Load = %v, want ErrCorrupt", err)
			}
		})
	}
}

func mustEncode(t *testing.T, r state.Route) []byte {
	data, err := state.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestKubernetesFencingRace races a leader's CompareAndSwap against a
// takeover of its Lease, many times, and checks the Lease's history as the
// API server recorded it (a watch sees every update in order): every route
// write was applied while its writer was the holder, in the writer's term.
// A check of the holder in a read, without the resourceVersion
// precondition on the write, would fail this.
func TestKubernetesFencingRace(t *testing.T) {
	t.Parallel()
	env := newKubeEnv(t)
	b := newKubeBackend(env)
	ctx := t.Context()
	b.Elect(t, "gw-init")
	w, err := b.env.cs.CoordinationV1().Leases(env.ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", b.name).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const rounds = 40
	writes := 0
	v := state.Version(0)
	epoch := uint64(0)
	for round := range rounds {
		me, next := fmt.Sprintf("gw-%d", round), fmt.Sprintf("gw-%d", round+1)
		s := b.Elect(t, me)
		fresh, cur, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		epoch, v = fresh.Epoch, cur
		var wg sync.WaitGroup
		wg.Go(func() { b.Elect(t, next) }) // the takeover
		route := statetest.Failover(epoch+1, me)
		var casErr error
		wg.Go(func() {
			time.Sleep(time.Duration(round%5) * time.Millisecond)
			_, casErr = s.CompareAndSwap(ctx, v, route)
		})
		wg.Wait()
		switch {
		case casErr == nil:
			writes++
		case !errors.Is(casErr, state.ErrNotLeader):
			t.Fatalf("round %d: %v", round, casErr)
		}
	}
	t.Logf("%d of %d racing writes won (the rest were refused: ErrNotLeader)", writes, rounds)
	if writes == 0 || writes == rounds {
		t.Logf("no mix of outcomes: the race was not exercised both ways")
	}
	// Replay the history.
	var prev *coordinationv1.Lease
	seen := 0
	deadline := time.After(20 * time.Second)
	for seen < writes {
		var ev watch.Event
		select {
		case ev = <-w.ResultChan():
		case <-deadline:
			t.Fatalf("saw %d of %d route writes in the history", seen, writes)
		}
		lease, ok := ev.Object.(*coordinationv1.Lease)
		if !ok {
			t.Fatalf("watch: %v", ev.Object)
		}
		if prev != nil && lease.Annotations[state.AnnotationVersion] != prev.Annotations[state.AnnotationVersion] {
			seen++
			r, err := state.Decode([]byte(lease.Annotations[state.AnnotationRoute]))
			if err != nil {
				t.Fatal(err)
			}
			if holder := ptr.Deref(prev.Spec.HolderIdentity, ""); holder != r.Leader {
				t.Fatalf("route of %s applied while %s held the Lease", r.Leader, holder)
			}
			if *lease.Spec.HolderIdentity != r.Leader || *lease.Spec.LeaseTransitions != *prev.Spec.LeaseTransitions {
				t.Fatalf("route write of %s also changed the holder", r.Leader)
			}
		}
		prev = lease
	}
}
