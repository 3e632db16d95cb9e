package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/state/statetest"
)

// etcdBackend elects with etcd's concurrency election: Elect revokes the
// previous leader's session (deleting its election key), then campaigns in
// a new session.
type etcdBackend struct {
	client      *clientv3.Client
	key, prefix string
	sess        *concurrency.Session
}

func newEtcdBackend(t *testing.T) *etcdBackend {
	p := uniquePrefix(t)
	return &etcdBackend{client: etcdClient(t), key: p + "/route", prefix: p + "/election"}
}

func (b *etcdBackend) Elect(t *testing.T, candidate string) state.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if b.sess != nil {
		if err := b.sess.Close(); err != nil {
			t.Fatalf("close session: %v", err)
		}
	}
	sess, err := concurrency.NewSession(b.client, concurrency.WithTTL(30))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	b.sess = sess
	el := concurrency.NewElection(sess, b.prefix)
	if err := el.Campaign(ctx, candidate); err != nil {
		t.Fatalf("campaign: %v", err)
	}
	s, err := state.NewEtcd(b.client, state.EtcdOptions{Key: b.key, Fence: state.Fixed(state.EtcdFence{Key: el.Key(), Rev: el.Rev()})})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *etcdBackend) Reader(t *testing.T) state.Store {
	s, err := state.NewEtcd(b.client, state.EtcdOptions{Key: b.key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEtcdStore(t *testing.T) {
	statetest.Run(t, statetest.Options{Rounds: 150}, func(t *testing.T) statetest.Backend { return newEtcdBackend(t) })
}

// TestEtcdExpiredLeader: once a leader's session lease has expired (it
// stopped sending keep-alives: paused, partitioned, dead) and etcd has
// deleted its election key — which is what lets the next candidate win —
// the old leader cannot write, even with the current version.
func TestEtcdExpiredLeader(t *testing.T) {
	t.Parallel()
	b := newEtcdBackend(t)
	ctx := t.Context()
	sess, err := concurrency.NewSession(b.client, concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	el := concurrency.NewElection(sess, b.prefix)
	if err := el.Campaign(ctx, "gw-a"); err != nil {
		t.Fatal(err)
	}
	s, _ := state.NewEtcd(b.client, state.EtcdOptions{Key: b.key, Fence: state.Fixed(state.EtcdFence{Key: el.Key(), Rev: el.Rev()})})
	v, err := s.CompareAndSwap(ctx, 0, statetest.Serving(1, "mg-0"))
	if err != nil {
		t.Fatal(err)
	}
	sess.Orphan() // keep-alives stop; the lease expires
	start := time.Now()
	for {
		resp, err := b.client.Get(ctx, el.Key())
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("election key still there after %v", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("election key deleted %v after the keep-alives stopped", time.Since(start).Round(time.Millisecond))
	if _, err := s.CompareAndSwap(ctx, v, statetest.Failover(2, "gw-a")); !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("CompareAndSwap by the expired leader = %v, want ErrNotLeader", err)
	}
	wantV := v
	if _, gotV, _ := b.Reader(t).Load(ctx); gotV != wantV {
		t.Fatalf("record changed to version %d", gotV)
	}
}

func TestEtcdCorruptRecord(t *testing.T) {
	t.Parallel()
	b := newEtcdBackend(t)
	ctx := t.Context()
	s := b.Elect(t, "gw-a")
	if _, err := b.client.Put(ctx, b.key, `{"epoch":1,"phase":"serving"}`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Reader(t).Load(ctx); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Load = %v, want ErrCorrupt", err)
	}
	resp, _ := b.client.Get(ctx, b.key)
	v := state.Version(resp.Kvs[0].ModRevision)
	if _, err := s.CompareAndSwap(ctx, v, statetest.Serving(2, "mg-0")); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("CompareAndSwap over a corrupt record = %v, want ErrCorrupt", err)
	}
	// Watch skips the corrupt record and goes on with the next good one.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan state.Change, 4)
	done := make(chan error, 1)
	go func() { done <- b.Reader(t).Watch(wctx, func(c state.Change) { got <- c }) }()
	data, _ := state.Encode(statetest.Serving(3, "mg-1"))
	time.Sleep(50 * time.Millisecond)
	if _, err := b.client.Put(ctx, b.key, string(data)); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.Route.Epoch != 3 {
			t.Fatalf("Watch delivered %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch delivered nothing")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch = %v", err)
	}
}

// TestEtcdWatchClientClosed: Watch ends with an error when its client is
// closed, instead of spinning.
func TestEtcdWatchClientClosed(t *testing.T) {
	t.Parallel()
	b := newEtcdBackend(t)
	c := etcdServer.Client(t) // closed below by the test; closing again is harmless
	s, _ := state.NewEtcd(c, state.EtcdOptions{Key: b.key})
	done := make(chan error, 1)
	first := make(chan struct{}, 1)
	go func() {
		done <- s.Watch(t.Context(), func(state.Change) {
			select {
			case first <- struct{}{}:
			default:
			}
		})
	}()
	<-first
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Watch returned nil after its client closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its client closed")
	}
}
