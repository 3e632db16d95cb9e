package memgraph

import (
	"net"
	"strconv"
	"testing"
)

// The same calls against releases with different texts: 3.0.0 (its own
// wordings), 3.4.0 (REGISTER failures without a code, no STRICT_SYNC),
// 3.6.1 and 3.12.0.
func TestVersions(t *testing.T) {
	for i, tc := range []struct {
		version string
		codes   bool // REGISTER errors carry "Error: n", STRICT_SYNC exists (3.5+)
	}{{"3.0.0", false}, {"3.4.0", false}, {"3.6.1", true}, {"3.12.0", true}} {
		v := tc.version
		t.Run(v, func(t *testing.T) {
			host := func(n int) string { return "127.0.24." + strconv.Itoa(10*i+n) }
			m := startNode(t, host(1), v)
			r := startNode(t, host(2), v)
			ctx := testCtx(t)
			r.demote()

			wantKind(t, m.c.SetMain(ctx), ErrAlreadyMain)
			wantKind(t, r.c.SetReplica(ctx, r.replPort), ErrAlreadyReplica)
			wantKind(t, m.c.Drop(ctx, "nobody"), ErrUnknownReplica)
			wantKind(t, m.c.Register(ctx, "bad", ModeSync, "a:b:c"), ErrInvalidAddress)
			wantKind(t, r.c.Register(ctx, "x", ModeSync, "127.0.0.9:1"), ErrNotMain)
			wantKind(t, r.c.Drop(ctx, "x"), ErrNotMain)
			_, err := r.c.Replicas(ctx)
			wantKind(t, err, ErrNotMain)

			ghost := net.JoinHostPort(host(3), strconv.Itoa(freePort(t, host(3))))
			res, err := m.c.EnsureReplica(ctx, "ghost", ModeAsync, ghost)
			want := ErrReplicaUnreachable
			if !tc.codes {
				want = ErrRegisterFailed // "Couldn't register replica ghost."
			}
			e := wantKind(t, err, want)
			if e.Message == "" || len(res.Dropped) != 1 || len(replicas(t, m.c)) != 0 {
				t.Fatalf("unreachable: %+v, %+v, rows %v", res, e, replicas(t, m.c))
			}

			mode := ModeStrictSync
			if !tc.codes {
				e = wantKind(t, m.c.Register(ctx, "r", ModeStrictSync, r.replAddr()), ErrQueryFailed)
				t.Logf("STRICT_SYNC on %s: %s", v, e.Message)
				mode = ModeSync
			}
			if _, err := m.c.EnsureReplica(ctx, "r", mode, r.replAddr()); err != nil {
				t.Fatal(err)
			}
			if got := waitReplica(t, m.c, "r", readyCaughtUp); got.SyncMode != mode {
				t.Fatalf("row: %+v", got)
			}
			mustOK(t, m.write("CREATE (n:Item)"))
			waitReplica(t, m.c, "r", func(ri ReplicaInfo) bool { return readyCaughtUp(ri) && ri.TS > 0 })
			if info, err := m.c.StorageInfo(ctx); err != nil || len(info) == 0 {
				t.Fatalf("storage info: %v, %v", info, err)
			}
		})
	}
}
