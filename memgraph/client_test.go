package memgraph

import (
	"net"
	"strconv"
	"testing"
)

// Role, and the idempotence of Promote and Demote: the ambiguous refusals
// of SET REPLICATION ROLE are settled by reading the role.
func TestRolesPromoteDemote(t *testing.T) {
	n := startNode(t, "127.0.20.1", "")
	c, ctx := n.c, testCtx(t)
	mustOK(t, c.Ping(ctx))
	if r, err := c.Role(ctx); err != nil || r != RoleMain {
		t.Fatalf("fresh instance: %q, %v; want main", r, err)
	}
	e := wantKind(t, c.SetMain(ctx), ErrAlreadyMain)
	if e.Message != "Couldn't set replication role to main!" || e.Code != codeClient {
		t.Errorf("raw failure: %s %q", e.Code, e.Message)
	}
	mustOK(t, c.Promote(ctx))

	e = wantKind(t, c.SetReplica(ctx, 65536), ErrPortInvalid)
	if e.Message != "Port number invalid!" {
		t.Errorf("raw failure: %q", e.Message)
	}
	wantKind(t, c.SetReplica(ctx, -1), ErrPortInvalid)

	mustOK(t, c.Demote(ctx, n.replPort))
	if r, err := c.Role(ctx); err != nil || r != RoleReplica {
		t.Fatalf("after demote: %q, %v", r, err)
	}
	e = wantKind(t, c.SetReplica(ctx, n.replPort), ErrAlreadyReplica)
	if e.Message != "Couldn't set role to replica!" || IsRetryable(e) {
		t.Errorf("already replica: %v (retryable %v)", e, IsRetryable(e))
	}
	mustOK(t, c.Demote(ctx, n.replPort+1)) // another port: still a replica, still fine
	mustOK(t, c.Promote(ctx))
	mustOK(t, c.Promote(ctx))
	if r, err := c.Role(ctx); err != nil || r != RoleMain {
		t.Fatalf("after promote: %q, %v", r, err)
	}
	info, err := c.StorageInfo(ctx)
	if err != nil || len(info) == 0 {
		t.Fatalf("storage info: %v, %v", info, err)
	}
	if _, ok := info["memory_res"].(string); !ok {
		t.Errorf("storage info: %v", info)
	}
}

// REGISTER and DROP, their classified errors, the zombie an unreachable
// replica leaves, and the refusals of a REPLICA.
func TestRegisterDropAndErrors(t *testing.T) {
	m := startNode(t, "127.0.20.1", "")
	r := startNode(t, "127.0.20.2", "")
	r.demote()
	ctx := testCtx(t)

	mustOK(t, m.c.Register(ctx, "r1", ModeSync, r.replAddr()))
	got := waitReplica(t, m.c, "r1", readyCaughtUp)
	if got.SocketAddress != r.replAddr() || got.SyncMode != ModeSync || got.Zombie {
		t.Fatalf("row: %+v", got)
	}
	mustOK(t, m.write("CREATE (n:Item)"))
	got = waitReplica(t, m.c, "r1", readyCaughtUp)
	if got.TS == 0 {
		t.Errorf("ts of a replica that committed: %+v", got)
	}

	e := wantKind(t, m.c.Register(ctx, "r1", ModeAsync, "127.0.20.9:1234"), ErrNameExists)
	if e.RegisterCode != 1 || e.Message != "Couldn't register replica r1. Error: 1" {
		t.Errorf("error 1: %+v", e)
	}
	e = wantKind(t, m.c.Register(ctx, "r9", ModeAsync, r.replAddr()), ErrEndpointExists)
	if e.RegisterCode != 2 {
		t.Errorf("error 2: %+v", e)
	}

	ghost := net.JoinHostPort("127.0.20.4", strconv.Itoa(freePort(t, "127.0.20.4")))
	e = wantKind(t, m.c.Register(ctx, "ghost", ModeSync, ghost), ErrReplicaUnreachable)
	if e.RegisterCode != 5 || IsRetryable(e) {
		t.Errorf("error 5: %+v", e)
	}
	if z := replicas(t, m.c)["ghost"]; !z.Zombie || z.SocketAddress != ghost || z.SyncMode != ModeSync || z.Status != "" {
		t.Errorf("zombie after error 5: %+v", z)
	}
	if dropped, err := m.c.DropIfPresent(ctx, "ghost"); err != nil || !dropped {
		t.Fatalf("drop ghost: %v, %v", dropped, err)
	}
	if dropped, err := m.c.DropIfPresent(ctx, "ghost"); err != nil || dropped {
		t.Fatalf("drop ghost again: %v, %v", dropped, err)
	}
	e = wantKind(t, m.c.Drop(ctx, "nobody"), ErrUnknownReplica)
	if e.Message != "Failed to unregister the replica nobody." {
		t.Errorf("unknown drop: %q", e.Message)
	}

	wantKind(t, m.c.Register(ctx, "bad", ModeSync, "a:b:c"), ErrInvalidAddress)
	e = wantKind(t, m.c.Register(ctx, "bad", ModeSync, "host:port"), ErrInvalidAddress)
	if e.Message != "Couldn't parse string" {
		t.Errorf("non-integer port: %+v", e)
	}
	wantKind(t, m.c.Register(ctx, "bad", "QUORUM", "h:1"), ErrInvalidArgument)
	// A name that needs escaping is registered as itself (here a zombie).
	wantKind(t, m.c.Register(ctx, "mg-2`x", ModeAsync, ghost), ErrReplicaUnreachable)
	if _, ok := replicas(t, m.c)["mg-2`x"]; !ok {
		t.Errorf("escaped name: %v", replicas(t, m.c))
	}
	mustOK(t, m.c.Drop(ctx, "mg-2`x"))

	// A REPLICA refuses what needs a MAIN.
	wantKind(t, r.c.Register(ctx, "x", ModeSync, "127.0.20.9:1"), ErrNotMain)
	wantKind(t, r.c.Drop(ctx, "r1"), ErrNotMain)
	_, err := r.c.Replicas(ctx)
	e = wantKind(t, err, ErrNotMain)
	if e.Message != "Show replicas query should only be run on the main instance." {
		t.Errorf("show replicas on a replica: %q", e.Message)
	}
	if info, err := r.c.StorageInfo(ctx); err != nil || len(info) == 0 {
		t.Errorf("storage info on a replica: %v, %v", info, err)
	}

	mustOK(t, m.c.Drop(ctx, "r1"))
	if rows := replicas(t, m.c); len(rows) != 0 {
		t.Fatalf("left: %v", rows)
	}
}

// A replica that dies: MAIN marks it invalid, keeps its last ts, and
// behind goes negative as MAIN commits.
func TestLaggingReplicaNegativeBehind(t *testing.T) {
	m := startNode(t, "127.0.20.1", "")
	r := startNode(t, "127.0.20.2", "")
	r.demote()
	mustOK(t, m.c.Register(testCtx(t), "r", ModeAsync, r.replAddr()))
	mustOK(t, m.write("CREATE (n:Item)"))
	before := waitReplica(t, m.c, "r", func(ri ReplicaInfo) bool { return readyCaughtUp(ri) && ri.TS > 0 })

	r.in.Kill()
	waitReplica(t, m.c, "r", func(ri ReplicaInfo) bool { return ri.Status == StatusInvalid })
	for range 3 {
		mustOK(t, m.write("CREATE (n:Item)"))
	}
	got := waitReplica(t, m.c, "r", func(ri ReplicaInfo) bool { return ri.Behind < 0 })
	if got.Status != StatusInvalid || got.TS != before.TS || got.Zombie {
		t.Fatalf("lagging replica: %+v (before the kill %+v)", got, before)
	}
}

// A read through a pooled connection that predates a restart of the
// instance still succeeds: reads are tried once more on a fresh connection.
func TestReadAfterRestart(t *testing.T) {
	n := startNode(t, "127.0.20.1", "")
	ctx := testCtx(t)
	if _, err := n.c.Role(ctx); err != nil {
		t.Fatal(err)
	}
	n.in.Kill()
	n.start()
	if r, err := n.c.Role(ctx); err != nil || r != RoleMain {
		t.Fatalf("role after restart: %q, %v", r, err)
	}
}
