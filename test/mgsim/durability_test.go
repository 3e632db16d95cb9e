package mgsim

import (
	"os"
	"path/filepath"
	"testing"
)

// Kill (in-process kill -9) then restart on the same data directory loses
// no acknowledged write, with or without WAL compaction into snapshots.
func TestKillRestartKeepsData(t *testing.T) {
	for _, every := range []int{1000, 3} {
		n := startNode(t, "127.0.0.1", "3.12.0")
		n.kill()
		n.cfg.SnapshotEvery = every
		n.restart()
		for i := range 10 {
			if _, err := n.c.write("CREATE (n:K {i: $i})", map[string]any{"i": int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := n.c.write("MATCH (n:K) WHERE n.i = 3 DETACH DELETE n", nil); err != nil {
			t.Fatal(err)
		}
		n.kill()
		n.restart()
		if got := n.c.count("K"); got != 9 {
			t.Fatalf("SnapshotEvery %d: %d nodes after restart, want 9", every, got)
		}
		recs, err := n.c.read("MATCH (n:K) WHERE n.i = 9 RETURN n.i", nil)
		if err != nil || len(recs) != 1 {
			t.Fatalf("read after restart: %v %v", recs, err)
		}
		// Ids continue after the recovered ones.
		recs, err = n.c.write("CREATE (n:K) RETURN n", nil)
		if err != nil {
			t.Fatal(err)
		}
		if id := recs[0].Values[0].(interface{ GetId() int64 }); id.GetId() != 10 {
			t.Fatalf("new node id %d, want 10", id.GetId())
		}
	}
}

// A torn record at the end of the WAL (a crash in the middle of a write)
// is cut off; everything before it is kept.
func TestTornWALTail(t *testing.T) {
	n := startNode(t, "127.0.0.1", "3.12.0")
	for range 3 {
		if _, err := n.c.write("CREATE (n:K)", nil); err != nil {
			t.Fatal(err)
		}
	}
	n.kill()
	f, err := os.OpenFile(filepath.Join(n.cfg.DataDir, "storage", "wal.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, '{', '"'}) // header of a 256-byte record, then 2 bytes
	f.Close()
	n.restart()
	if got := n.c.count("K"); got != 3 {
		t.Fatalf("%d nodes, want 3", got)
	}
	if _, err := n.c.write("CREATE (n:K)", nil); err != nil {
		t.Fatal(err)
	}
	n.kill()
	n.restart()
	if got := n.c.count("K"); got != 4 {
		t.Fatalf("%d nodes after the second restart, want 4", got)
	}
}

// A MAIN restarted with restore on comes back MAIN with its replicas and
// replicates to them; a REPLICA comes back REPLICA of the same MAIN (its
// main UUID and port persisted), so it accepts that MAIN's data.
func TestRestartRestoresRoles(t *testing.T) {
	cl := newCluster(t, "3.12.0", "SYNC", "ASYNC")
	if _, err := cl.main.c.write("CREATE (n:R)", nil); err != nil {
		t.Fatal(err)
	}
	cl.main.kill()
	cl.main.restart()
	m := cl.main.c
	if m.role() != "main" {
		t.Fatal("main came back as replica")
	}
	rows := m.showReplicas()
	if len(rows) != 2 || rows["r1"].mode != "sync" || rows["r2"].mode != "async" {
		t.Fatalf("replicas after restart: %+v", rows)
	}
	m.waitReplica("r1", readyCaughtUp)
	if _, err := m.write("CREATE (n:R)", nil); err != nil {
		t.Fatalf("write after main restart: %v", err)
	}
	if got := cl.r1.c.count("R"); got != 2 {
		t.Fatalf("r1 has %d, want 2", got)
	}

	cl.r2.kill()
	cl.r2.restart()
	if cl.r2.c.role() != "replica" {
		t.Fatal("replica came back as main")
	}
	m.waitReplica("r2", readyCaughtUp)
	if _, err := m.write("CREATE (n:R)", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "r2 after restart", func() bool { return cl.r2.c.count("R") == 3 })

	// A graceful Close persists the same way.
	cl.r1.in.Close()
	cl.r1.restart()
	if cl.r1.c.role() != "replica" {
		t.Fatal("closed replica came back as main")
	}
	m.waitReplica("r1", readyCaughtUp)
}

// With --replication-restore-state-on-startup=false an instance comes back
// MAIN with no replicas, but with its data.
func TestRestartWithoutRestore(t *testing.T) {
	cl := newCluster(t, "3.12.0", "SYNC", "ASYNC")
	if _, err := cl.main.c.write("CREATE (n:R)", nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{cl.main, cl.r1} {
		n.kill()
		n.cfg.RestoreStateOnStartup = false
		n.restart()
		if n.c.role() != "main" {
			t.Fatalf("%s: role %s", n.host, n.c.role())
		}
		if rows := n.c.showReplicas(); len(rows) != 0 {
			t.Fatalf("%s: replicas %v", n.host, rows)
		}
		if got := n.c.count("R"); got != 1 {
			t.Fatalf("%s: %d nodes", n.host, got)
		}
	}
	// Nothing was persisted in that mode: with restore on again, the
	// state from before comes back (as Memgraph's kvstore would).
	cl.r1.kill()
	cl.r1.cfg.RestoreStateOnStartup = true
	cl.r1.restart()
	if cl.r1.c.role() != "replica" {
		t.Fatal("state persisted before was lost")
	}
}

// A replica too far behind for MAIN's recovery log gets a snapshot.
func TestRecoveryBySnapshot(t *testing.T) {
	main := startNode(t, "127.0.0.1", "3.12.0")
	main.kill()
	main.cfg.RecoveryLogSize = 2
	main.restart()
	rep := startNode(t, "127.0.0.2", "3.12.0")
	rep.demote()
	main.c.register("r", "ASYNC", rep.replAddr())
	main.c.waitReplica("r", readyCaughtUp)
	rep.kill()
	for range 5 {
		if _, err := main.c.write("CREATE (n:S)", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := main.c.write("MATCH (n:S) WHERE n.x = 1 DETACH DELETE n", nil); err != nil {
		t.Fatal(err)
	}
	rep.restart()
	main.c.waitReplica("r", readyCaughtUp)
	if got := rep.c.count("S"); got != 5 {
		t.Fatalf("replica has %d nodes, want 5", got)
	}
	// And it follows normally afterwards; a restart keeps the snapshot.
	if _, err := main.c.write("CREATE (n:S)", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica", func() bool { return rep.c.count("S") == 6 })
	rep.kill()
	rep.restart()
	if got := rep.c.count("S"); got != 6 {
		t.Fatalf("replica has %d nodes after restart, want 6", got)
	}
}
