package mgsim

import (
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// Failover without a controller's fencing: the SYNC replica is promoted
// (new epoch, new main UUID) while the old MAIN still runs, and the ASYNC
// replica is registered on the new MAIN. The old MAIN keeps accepting
// writes (nothing stops a stale MAIN), but the replicas refuse its data:
// the one taken over by the new MAIN answers with another main UUID, so
// the old MAIN sees it invalid. Demoted and registered to the new MAIN, the
// old MAIN, which holds writes the new one never saw, is diverged: Error 3
// and a zombie row.
func TestFailoverFencingAndDivergence(t *testing.T) {
	cl := newCluster(t, "3.12.0", "SYNC", "ASYNC")
	old := cl.main
	for i := range 3 {
		if _, err := old.c.write("CREATE (n:Item {i: $i})", map[string]any{"i": int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "r2", func() bool { return cl.r2.c.count("Item") == 3 })
	old.c.waitReplica("r2", readyCaughtUp)
	epochBefore := cl.r1.in.graph.mainView()

	r1 := cl.r1.c
	_, sum := r1.mustRun("SET REPLICATION ROLE TO MAIN", nil)
	wantNotes(t, sum, note{"INFO", "SetReplica", "Replica role set to MAIN."})
	if r1.role() != "main" {
		t.Fatal("promotion")
	}
	_, _, err := r1.run("SET REPLICATION ROLE TO MAIN", nil)
	wantFailure(t, err, bolt.CodeClientError, "Couldn't set replication role to main!")
	mv := cl.r1.in.graph.mainView()
	if mv.epoch == epochBefore.epoch || len(mv.history) == 0 || mv.history[len(mv.history)-1] != (epochEntry{epochBefore.epoch, epochBefore.ldt}) {
		t.Fatalf("promotion did not start a new epoch: before %+v after %+v", epochBefore, mv)
	}
	if got := r1.showReplicas(); len(got) != 0 {
		t.Fatalf("a promoted replica has registered replicas: %v", got)
	}
	r1.register("r2", "ASYNC", cl.r2.replAddr())
	r1.waitReplica("r2", readyCaughtUp)
	if _, err := r1.write("CREATE (n:Item {i: 10})", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "r2 follows the new main", func() bool { return cl.r2.c.count("Item") == 4 })

	// The stale MAIN accepts a write: committed locally, SYNC error (r1 is
	// a MAIN now, its replication server is gone).
	_, err = old.c.write("CREATE (n:Item {i: 99})", nil)
	if err == nil || !contains(neoErr(t, err).Msg, "Failed to replicate to SYNC replica 'r1'") {
		t.Fatalf("stale main write: %v", err)
	}
	if got := old.c.count("Item"); got != 4 {
		t.Fatalf("stale main has %d items, want 4", got)
	}
	// r2 refused the stale MAIN's data (UUID fencing); the stale MAIN sees
	// it invalid and keeps it so, since its heartbeats are refused too.
	old.c.waitReplica("r2", statusIs("invalid"))
	if got := cl.r2.c.count("Item"); got != 4 {
		t.Fatalf("r2 has %d items, want the new main's 4", got)
	}
	old.c.run("CREATE (n:Item {i: 100})", nil) //nolint:errcheck // SYNC error again
	if s, _, _, _ := old.c.showReplicas()["r2"].info(); s != "invalid" {
		t.Fatalf("r2 seen by the stale main: %s", s)
	}
	// r2 keeps following the new MAIN.
	if _, err := r1.write("CREATE (n:Item {i: 11})", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "r2 still follows the new main", func() bool { return cl.r2.c.count("Item") == 5 })
	r1.waitReplica("r2", readyCaughtUp)

	// Demoting the old MAIN drops its registrations; registered to the new
	// MAIN it is diverged: Error 3, and the entry stays as a zombie.
	old.demote()
	r1.assertRegisterFails("old", "SYNC", old.replAddr(), "Couldn't register replica old. Error: 3")
	zombie := r1.showReplicas()["old"]
	if len(zombie.dataInfo) != 0 || zombie.address != old.replAddr() || zombie.mode != "sync" || zombie.systemInfo != nil {
		t.Fatalf("zombie row: %+v", zombie)
	}
	r1.assertRegisterFails("old", "SYNC", old.replAddr(), "Couldn't register replica old. Error: 1")
	// Writes on the new MAIN are not affected by the zombie.
	if _, err := r1.write("CREATE (n:Item {i: 12})", nil); err != nil {
		t.Fatalf("write with a zombie registered: %v", err)
	}
	_, sum = r1.mustRun("DROP REPLICA old", nil)
	wantNotes(t, sum, note{"INFO", "DropReplica", "Replica old is dropped."})

	// After a restart of the new MAIN the zombie comes back with a storage
	// client (the restore keeps every registration) and shows "diverged";
	// SYNC writes report it.
	r1.assertRegisterFails("old", "SYNC", old.replAddr(), "Couldn't register replica old. Error: 3")
	cl.r1.kill()
	cl.r1.restart()
	r1 = cl.r1.c
	r1.waitReplica("old", statusIs("diverged"))
	_, err = r1.write("CREATE (n:Item {i: 13})", nil)
	wantFailure(t, err, bolt.CodeClientError, "Replication Exception: Failed to replicate to SYNC replica 'old': replica has diverged from main."+
		" Replica will be recovered automatically. Transaction is still committed on the main instance and other alive replicas."+msgCheckReplicas)
	if got := r1.count("Item"); got != 7 {
		t.Fatalf("new main has %d items, want 7", got)
	}
}

// A clean switchover: the old MAIN is demoted before the replica is
// promoted, so it has nothing the new MAIN lacks and registers fine.
func TestSwitchover(t *testing.T) {
	cl := newCluster(t, "3.12.0", "SYNC", "ASYNC")
	old := cl.main
	if _, err := old.c.write("CREATE (n:Item)", nil); err != nil {
		t.Fatal(err)
	}
	old.demote() // allowed with registered replicas; drops them
	if old.c.role() != "replica" {
		t.Fatal("demote")
	}
	_, _, err := old.c.run("SHOW REPLICAS", nil)
	wantFailure(t, err, bolt.CodeClientError, "Show replicas query should only be run on the main instance.")
	_, _, err = old.c.run("SET REPLICATION ROLE TO REPLICA WITH PORT 10000", nil)
	wantFailure(t, err, bolt.CodeClientError, "Couldn't set role to replica!")

	cl.r1.c.mustRun("SET REPLICATION ROLE TO MAIN", nil)
	cl.r1.c.register("old", "SYNC", old.replAddr())
	cl.r1.c.register("r2", "ASYNC", cl.r2.replAddr())
	cl.r1.c.waitReplica("old", readyCaughtUp)
	cl.r1.c.waitReplica("r2", readyCaughtUp)
	if _, err := cl.r1.c.write("CREATE (n:Item)", nil); err != nil {
		t.Fatal(err)
	}
	if got := old.c.count("Item"); got != 2 {
		t.Fatalf("old main has %d items, want 2", got)
	}
	waitFor(t, "r2", func() bool { return cl.r2.c.count("Item") == 2 })
}
