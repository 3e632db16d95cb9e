package state

import (
	"context"
	"errors"
	"os"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
)

// TestEtcdFollowCompacted: a watch from a compacted revision reports
// ErrCompacted (so that Watch reloads) instead of hanging or skipping.
func TestEtcdFollowCompacted(t *testing.T) {
	dir := t.TempDir()
	e, err := etcdtest.StartEtcd(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	defer e.Close()
	c, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	sess, _ := concurrency.NewSession(c)
	defer sess.Close()
	el := concurrency.NewElection(sess, "/e")
	if err := el.Campaign(ctx, "gw-a"); err != nil {
		t.Fatal(err)
	}
	s, _ := NewEtcd(c, EtcdOptions{Key: "/r", Fence: Fixed(EtcdFence{Key: el.Key(), Rev: el.Rev()})})
	v, err := s.CompareAndSwap(ctx, 0, Route{Epoch: 1, Phase: PhaseFailover})
	if err != nil {
		t.Fatal(err)
	}
	first := int64(v)
	for i := range 3 {
		if v, err = s.CompareAndSwap(ctx, v, Route{Epoch: uint64(i + 2), Phase: PhaseFailover}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Compact(ctx, int64(v)); err != nil {
		t.Fatal(err)
	}
	var got []Change
	err = s.follow(context.WithoutCancel(ctx), first, func(c Change) { got = append(got, c) })
	if !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("follow = %v, want ErrCompacted", err)
	}
	if len(got) != 0 {
		t.Fatalf("follow delivered %+v from a compacted history", got)
	}
}
