package election

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/ptr"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

func fakeLock(t *testing.T, holder string, transitions int32) (*trackingLock, *Kubernetes, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: DefaultLeaseName},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: ptr.To[int32](4),
			LeaseTransitions:     ptr.To(transitions),
		},
	})
	k, err := NewKubernetes(Lease{Client: cs.CoordinationV1(), Namespace: "ns"}, Config{Identity: "gw-a"})
	if err != nil {
		t.Fatal(err)
	}
	return &trackingLock{
		inner: &rl.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: "ns", Name: DefaultLeaseName},
			Client:     cs.CoordinationV1(),
			LockConfig: rl.ResourceLockConfig{Identity: "gw-a"},
		},
		identity: "gw-a",
		k:        k,
	}, k, cs
}

func holderOf(t *testing.T, cs *fake.Clientset) string {
	t.Helper()
	l, err := cs.CoordinationV1().Leases("ns").Get(context.Background(), DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

func TestTrackingLockRelease(t *testing.T) {
	tests := []struct {
		name       string
		holder     string
		wantErr    bool
		wantHolder string
	}{
		{"own lease is released", "gw-a", false, ""},
		{"another's lease is not", "gw-b", true, "gw-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lock, _, cs := fakeLock(t, tc.holder, 3)
			if _, _, err := lock.Get(context.Background()); err != nil {
				t.Fatal(err)
			}
			// What client-go's tryRelease writes.
			err := lock.Update(context.Background(), rl.LeaderElectionRecord{LeaseDurationSeconds: 1, LeaderTransitions: 3})
			if (err != nil) != tc.wantErr {
				t.Fatalf("release = %v, want error %v", err, tc.wantErr)
			}
			if got := holderOf(t, cs); got != tc.wantHolder {
				t.Fatalf("holder %q after release, want %q", got, tc.wantHolder)
			}
		})
	}
}

// TestTrackingLockWin: the first write holding this candidate is the win:
// its transitions are the fence, its send time a renewal; later renewals
// move LastRenewal but not the fence.
func TestTrackingLockWin(t *testing.T) {
	lock, k, _ := fakeLock(t, "gw-b", 6)
	ctx := context.Background()
	seen := time.Now()
	if _, _, err := lock.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if k.Leader() != "gw-b" {
		t.Fatalf("Leader = %q after reading the Lease", k.Leader())
	}
	before := time.Now()
	rec := rl.LeaderElectionRecord{HolderIdentity: "gw-a", LeaseDurationSeconds: 4, LeaderTransitions: 7}
	if err := lock.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	won := lock.winning()
	if won.fence != (state.LeaseFence{Holder: "gw-a", Transitions: 7}) || won.sentAt.Before(before) || won.prevBound.Before(seen) || won.prevBound.After(before) {
		t.Fatalf("win %+v", won)
	}
	if err := lock.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if lock.winning() != won {
		t.Fatal("a renewal changed the win")
	}
	if !k.LastRenewal().After(won.sentAt) {
		t.Fatal("LastRenewal did not move with the renewal")
	}
}

// TestTrackingLockLoses: a read showing another holder, or another term of
// this holder, ends the term at once.
func TestTrackingLockLoses(t *testing.T) {
	tests := []struct {
		name        string
		holder      string
		transitions int32
		lost        bool
	}{
		{"still ours", "gw-a", 2, false},
		{"taken over", "gw-b", 3, true},
		{"released", "", 2, true},
		{"another term of ours", "gw-a", 4, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lock, k, _ := fakeLock(t, tc.holder, tc.transitions)
			lost := k.startRound()
			k.renewed(time.Now())
			k.begin(context.Background(), state.LeaseFence{Holder: "gw-a", Transitions: 2}, time.Time{})
			if _, _, err := lock.Get(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-lost:
				if !tc.lost {
					t.Fatal("lost its term")
				}
			default:
				if tc.lost {
					t.Fatal("kept its term")
				}
			}
			if k.IsLeader() == tc.lost {
				t.Fatalf("IsLeader = %v", k.IsLeader())
			}
			k.endRound()
		})
	}
}
