package memgraph

import (
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// While a commit replicates to a SYNC replica it holds MAIN's replication
// lock, and REGISTER, DROP and SET ROLE fail at once: each is classified
// as ErrContention (retryable), including the refusal of SET ROLE TO
// REPLICA, whose text alone would read "already a replica". Once the commit
// finishes, the same calls succeed.
func TestContentionUnderWriteLoad(t *testing.T) {
	m := startNode(t, "127.0.25.1", "", func(cfg *mgsim.Config) {
		cfg.ReplicaCheckInterval = time.Hour // no pings through the stalled proxy
		cfg.Timeouts.PrepareCommit = 20 * time.Second
	})
	r := startNode(t, "127.0.25.2", "")
	r.demote()
	proxy := newStallProxy(t, "127.0.25.3", r.replAddr())
	ctx := testCtx(t)
	mustOK(t, m.c.Register(ctx, "r", ModeSync, proxy.addr()))
	waitReplica(t, m.c, "r", readyCaughtUp)

	proxy.stall()
	done := make(chan error, 1)
	go func() { done <- m.write("CREATE (n:Item)") }()
	waitReplica(t, m.c, "r", func(ri ReplicaInfo) bool { return ri.Status == StatusReplicating })

	e := wantKind(t, m.c.Register(ctx, "other", ModeAsync, "127.0.25.9:1"), ErrContention)
	if e.RegisterCode != 6 || !IsRetryable(e) {
		t.Errorf("register: %+v", e)
	}
	e = wantKind(t, m.c.Drop(ctx, "r"), ErrContention)
	if e.Message != "Failed to unregister replica due to lack of unique access over the cluster state. Please try again later on." {
		t.Errorf("drop: %q", e.Message)
	}
	e = wantKind(t, m.c.SetReplica(ctx, m.replPort), ErrContention)
	if e.Message != "Couldn't set role to replica!" || !IsRetryable(e) {
		t.Errorf("set replica: %+v", e)
	}
	wantKind(t, m.c.Demote(ctx, m.replPort), ErrContention)
	mustOK(t, m.c.Promote(ctx)) // it is MAIN: "already main" is right here
	_, err := m.c.EnsureReplica(ctx, "other", ModeAsync, r.replAddr())
	wantKind(t, err, ErrContention)
	if role, err := m.c.Role(ctx); err != nil || role != RoleMain {
		t.Fatalf("role during contention: %q, %v", role, err)
	}

	proxy.resume()
	select {
	case err := <-done:
		mustOK(t, err)
	case <-time.After(testWait):
		t.Fatal("the stalled commit never finished")
	}
	waitReplica(t, m.c, "r", readyCaughtUp)
	mustOK(t, m.c.Drop(ctx, "r"))
	mustOK(t, m.c.Demote(ctx, m.replPort))
}
