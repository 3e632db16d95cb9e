package memgraph

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
)

// An old MAIN that took writes after its replica was promoted is diverged
// from the new MAIN: REGISTER gives Error 3 and leaves a zombie; the raw
// call shows both, EnsureReplica drops the zombie before and after its
// attempt and returns ErrDiverged.
func TestDivergedOldMain(t *testing.T) {
	old := startNode(t, "127.0.21.1", "")
	b := startNode(t, "127.0.21.2", "")
	ctx := testCtx(t)
	b.demote()
	mustOK(t, old.c.Register(ctx, "b", ModeSync, b.replAddr()))
	for range 3 {
		mustOK(t, old.write("CREATE (n:Item)"))
	}
	waitReplica(t, old.c, "b", readyCaughtUp)

	mustOK(t, b.c.Promote(ctx))
	// The stale MAIN still commits locally (its SYNC replica is gone).
	old.write("CREATE (n:Item)") //nolint:errcheck // SYNC replication error expected
	mustOK(t, old.c.Demote(ctx, old.replPort))

	e := wantKind(t, b.c.Register(ctx, "old", ModeSync, old.replAddr()), ErrDiverged)
	if e.RegisterCode != 3 || e.Message != "Couldn't register replica old. Error: 3" {
		t.Fatalf("error 3: %+v", e)
	}
	if z := replicas(t, b.c)["old"]; !z.Zombie {
		t.Fatalf("no zombie after error 3: %+v", z)
	}

	res, err := b.c.EnsureReplica(ctx, "old", ModeSync, old.replAddr())
	wantKind(t, err, ErrDiverged)
	if IsRetryable(err) || !slices.Equal(res.Dropped, []string{"old", "old"}) || res.Registered {
		t.Fatalf("ensure diverged: %+v, %v", res, err)
	}
	if rows := replicas(t, b.c); len(rows) != 0 {
		t.Fatalf("left after a diverged attempt: %+v", rows)
	}
}

// EnsureReplica converges from every bad starting state to exactly one
// working registration, and leaves nothing behind when the replica is
// unreachable or not a replica.
func TestEnsureReplica(t *testing.T) {
	m := startNode(t, "127.0.22.1", "")
	r1 := startNode(t, "127.0.22.2", "")
	r2 := startNode(t, "127.0.22.3", "")
	other := startNode(t, "127.0.22.4", "") // stays MAIN
	r1.demote()
	r2.demote()
	ghost := net.JoinHostPort("127.0.22.5", strconv.Itoa(freePort(t, "127.0.22.5")))

	register := func(name string, mode SyncMode, addr string) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			mustOK(t, m.c.Register(testCtx(t), name, mode, addr))
		}
	}
	// zombieOfR1 leaves a zombie row with exactly the wanted name, mode
	// and address: r1 is briefly a MAIN, so REGISTER gets Error 5.
	zombieOfR1 := func(t *testing.T) {
		ctx := testCtx(t)
		mustOK(t, r1.c.Promote(ctx))
		wantKind(t, m.c.Register(ctx, "r1", ModeSync, r1.replAddr()), ErrReplicaUnreachable)
		r1.demote()
		if z := replicas(t, m.c)["r1"]; !z.Zombie {
			t.Fatalf("set-up: %+v", z)
		}
	}

	for _, tc := range []struct {
		name    string
		prepare []func(t *testing.T)
		addr    string
		dropped []string
		kind    error // nil: converged
	}{
		{name: "absent", addr: r1.replAddr()},
		{name: "identical", prepare: []func(*testing.T){register("r1", ModeSync, r1.replAddr())}, addr: r1.replAddr()},
		{name: "zombie", prepare: []func(*testing.T){zombieOfR1}, addr: r1.replAddr(), dropped: []string{"r1"}},
		{name: "wrong mode", prepare: []func(*testing.T){register("r1", ModeAsync, r1.replAddr())}, addr: r1.replAddr(), dropped: []string{"r1"}},
		{name: "wrong address", prepare: []func(*testing.T){register("r1", ModeSync, r2.replAddr())}, addr: r1.replAddr(), dropped: []string{"r1"}},
		{name: "address under another name", prepare: []func(*testing.T){register("r9", ModeSync, r1.replAddr())}, addr: r1.replAddr(), dropped: []string{"r9"}},
		{
			name:    "wrong address and address under another name",
			prepare: []func(*testing.T){register("r1", ModeAsync, r2.replAddr()), register("r9", ModeAsync, r1.replAddr())},
			addr:    r1.replAddr(), dropped: []string{"r1", "r9"},
		},
		{name: "unreachable", addr: ghost, dropped: []string{"r1"}, kind: ErrReplicaUnreachable},
		{name: "not a replica", addr: net.JoinHostPort(other.host, strconv.Itoa(other.replPort)), dropped: []string{"r1"}, kind: ErrReplicaUnreachable},
		{name: "unreachable after a live registration", prepare: []func(*testing.T){register("r1", ModeSync, r1.replAddr())},
			addr: ghost, dropped: []string{"r1", "r1"}, kind: ErrReplicaUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			for _, rows := range replicas(t, m.c) {
				mustOK(t, m.c.Drop(ctx, rows.Name))
			}
			for _, p := range tc.prepare {
				p(t)
			}
			res, err := m.c.EnsureReplica(ctx, "r1", ModeSync, tc.addr)
			slices.Sort(res.Dropped)
			if tc.kind != nil {
				e := wantKind(t, err, tc.kind)
				if e.RegisterCode != 5 || res.Registered || !slices.Equal(res.Dropped, tc.dropped) {
					t.Fatalf("result %+v, error %+v", res, e)
				}
				if rows := replicas(t, m.c); len(rows) != 0 {
					t.Fatalf("left behind: %+v", rows)
				}
				return
			}
			mustOK(t, err)
			wantRegistered := tc.name != "identical"
			if res.Registered != wantRegistered || !slices.Equal(res.Dropped, tc.dropped) || res.Changed() != wantRegistered {
				t.Fatalf("result %+v, want registered %v and dropped %v", res, wantRegistered, tc.dropped)
			}
			rows := replicas(t, m.c)
			if len(rows) != 1 {
				t.Fatalf("rows: %+v", rows)
			}
			got := waitReplica(t, m.c, "r1", readyCaughtUp)
			if got.SyncMode != ModeSync || got.SocketAddress != r1.replAddr() {
				t.Fatalf("row: %+v", got)
			}
			// Converged: a second call changes nothing.
			res, err = m.c.EnsureReplica(ctx, "r1", ModeSync, tc.addr)
			if err != nil || res.Changed() {
				t.Fatalf("second call: %+v, %v", res, err)
			}
		})
	}
}

// When the registrations change between EnsureReplica's read and its
// REGISTER (Error 1 or 2), it reads again and converges. The change is made
// from the Guard hook, which runs just before each state-changing query.
func TestEnsureReplicaRaces(t *testing.T) {
	m := startNode(t, "127.0.23.1", "")
	r1 := startNode(t, "127.0.23.2", "")
	r1.demote()

	for _, tc := range []struct {
		name       string
		meanwhile  func(ctx context.Context, c *Client) error
		registered bool
		dropped    []string
	}{
		{name: "error 1, other mode", meanwhile: func(ctx context.Context, c *Client) error {
			return c.Register(ctx, "r1", ModeAsync, r1.replAddr())
		}, registered: true, dropped: []string{"r1"}},
		{name: "error 1, same registration", meanwhile: func(ctx context.Context, c *Client) error {
			return c.Register(ctx, "r1", ModeSync, r1.replAddr())
		}},
		{name: "error 2", meanwhile: func(ctx context.Context, c *Client) error {
			return c.Register(ctx, "r9", ModeAsync, r1.replAddr())
		}, registered: true, dropped: []string{"r9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			for _, rows := range replicas(t, m.c) {
				mustOK(t, m.c.Drop(ctx, rows.Name))
			}
			calls := 0
			var raceErr error
			c := newClient(t, Config{Name: "guarded", Addr: m.cfg.BoltAddress, Guard: func(ctx context.Context) error {
				calls++
				if calls == 1 {
					raceErr = tc.meanwhile(ctx, m.c)
				}
				return nil
			}})
			res, err := c.EnsureReplica(ctx, "r1", ModeSync, r1.replAddr())
			mustOK(t, raceErr)
			mustOK(t, err)
			if res.Registered != tc.registered || !slices.Equal(res.Dropped, tc.dropped) {
				t.Fatalf("result %+v", res)
			}
			got := waitReplica(t, m.c, "r1", readyCaughtUp)
			if len(replicas(t, m.c)) != 1 || got.SyncMode != ModeSync || got.SocketAddress != r1.replAddr() {
				t.Fatalf("rows: %+v", replicas(t, m.c))
			}
		})
	}
}
