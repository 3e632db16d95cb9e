package mgsim

import (
	"testing"
	"time"
)

// The branching-point rule of ReplicationStorageClient::UpdateReplicaState.
func TestDivergenceRule(t *testing.T) {
	main := mainView{ldt: 50, epoch: "e3", history: []epochEntry{{"e1", 10}, {"e2", 30}}}
	for _, tc := range []struct {
		name    string
		replica replicaView
		want    bool
	}{
		{"same epoch", replicaView{epoch: "e3", ldt: 70}, false},
		{"fresh replica", replicaView{epoch: "x", ldt: 0}, false},
		{"older epoch, at its end", replicaView{epoch: "e2", ldt: 30}, false},
		{"older epoch, before its end", replicaView{epoch: "e1", ldt: 5}, false},
		{"older epoch, past what main had", replicaView{epoch: "e2", ldt: 31}, true},
		{"unknown epoch", replicaView{epoch: "other", ldt: 1}, true},
	} {
		if got := main.diverged(tc.replica); got != tc.want {
			t.Errorf("%s: diverged %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Epoch history bookkeeping on promotion and on following a new MAIN, and
// the epoch a replica reports.
func TestEpochHistory(t *testing.T) {
	g := newGraph(10)
	first := g.epoch
	g.newEpoch() // promotion with no commit yet
	if len(g.history) != 1 || g.history[0] != (epochEntry{first, 0}) {
		t.Fatalf("history %v", g.history)
	}
	second := g.epoch
	if err := g.applyReplicated(txnRecord{TS: 5, Epoch: second, Ops: []op{{Kind: "c", ID: 0}}}); err != nil {
		t.Fatal(err)
	}
	g.newEpoch()
	if g.ts <= 5 {
		t.Fatalf("timestamp %d not past ldt 5", g.ts)
	}
	if v := g.heartbeatView(); v.epoch != second || v.ldt != 5 {
		t.Fatalf("a promoted instance without new commits reports %+v, want epoch %s", v, second)
	}
	g.newEpoch() // same ldt: the history does not grow
	if len(g.history) != 2 {
		t.Fatalf("history %v", g.history)
	}
	g.mu.Lock()
	changed := g.adoptEpochLocked("mainE")
	g.mu.Unlock()
	if !changed || g.epoch != "mainE" {
		t.Fatal("adopt")
	}
}

// MVCC: snapshot reads, invisible uncommitted writes, no trace of aborts,
// write-write conflicts, reclamation of deleted nodes.
func TestGraphTransactions(t *testing.T) {
	g := newGraph(10)
	commit := func(t1 *txn) { g.commitLocal(t1, g.record(t1, g.allocTS())) }

	w := g.begin()
	n := w.create([]string{"A"}, map[string]any{"k": int64(1)})
	r := g.begin()
	if len(r.scan("")) != 0 || len(w.scan("A")) != 1 {
		t.Fatal("uncommitted create visible to another transaction, or invisible to its own")
	}
	commit(w)
	if len(r.scan("")) != 0 {
		t.Fatal("snapshot broken: a later commit is visible")
	}
	g.abort(r)
	check := func() []*nodeRec {
		c := g.begin()
		defer g.abort(c)
		return c.scan("")
	}
	if got := check(); len(got) != 1 || got[0] != n {
		t.Fatal("committed node not visible to a new transaction")
	}

	a := g.begin()
	a.create(nil, nil)
	g.abort(a)
	if len(check()) != 1 || len(g.nodes) != 1 {
		t.Fatal("an aborted create left a trace")
	}

	d1, d2 := g.begin(), g.begin()
	if err := d1.remove(n); err != nil {
		t.Fatal(err)
	}
	if err := d2.remove(n); err != errSerialization {
		t.Fatalf("second deleter: %v", err)
	}
	g.abort(d2)
	old := g.begin() // still sees n after the delete commits
	commit(d1)
	if g.liveCount() != 0 || len(check()) != 0 {
		t.Fatal("deleted node still counted or visible")
	}
	if len(old.scan("")) != 1 || len(g.nodes) != 1 {
		t.Fatal("a deleted node was reclaimed while a transaction can still see it")
	}
	g.abort(old)
	if len(g.nodes) != 0 {
		t.Fatalf("deleted node not reclaimed: %d", len(g.nodes))
	}
}

// The recovery log keeps the last logLimit transactions; older replicas
// need a snapshot.
func TestRecoveryLog(t *testing.T) {
	g := newGraph(3)
	for ts := uint64(2); ts <= 10; ts += 2 {
		if err := g.applyReplicated(txnRecord{TS: ts}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := g.txnsSince(2); ok {
		t.Fatal("log reaches back past its limit")
	}
	recs, ok := g.txnsSince(4)
	if !ok || len(recs) != 3 || recs[0].TS != 6 {
		t.Fatalf("txnsSince(4): %v %v", recs, ok)
	}
	if recs, ok := g.txnsSince(10); !ok || len(recs) != 0 {
		t.Fatalf("txnsSince(10): %v", recs)
	}
}

func TestReplicationErrorTexts(t *testing.T) {
	p312, p39 := mustProfile(t, "3.12.0"), mustProfile(t, "3.9.0")
	one := []replicaFailure{{"r1", modeSync, reasonNotInSync}}
	for _, tc := range []struct {
		p         profile
		failures  []replicaFailure
		committed bool
		want      string
	}{
		{p39, one, true, "Replication Exception: At least one SYNC replica has not confirmed committing last transaction. Check the status of the replicas using 'SHOW REPLICAS' query."},
		{p39, one, false, "Replication Exception: At least one STRICT_SYNC replica has not confirmed committing last transaction. Transaction will be aborted on all instances. Check the status of the replicas using 'SHOW REPLICAS' query."},
		{p312, one, true, "Replication Exception: Failed to replicate to SYNC replica 'r1': replica is not reachable or not in sync with the main. Replica will be recovered automatically. Transaction is still committed on the main instance and other alive replicas. Check the status of the replicas using 'SHOW REPLICAS' query."},
		{p312, []replicaFailure{{"a", modeSync, reasonDiverged}, {"b", modeSync, reasonDiverged}, {"c", modeSync, reasonRPC}}, true,
			"Replication Exception: Failed to replicate to SYNC replicas 'a' and 'b': replicas have diverged from main. Failed to replicate to SYNC replica 'c': RPC communication error. Replicas will be recovered automatically. Transaction is still committed on the main instance and other alive replicas. Check the status of the replicas using 'SHOW REPLICAS' query."},
		{p312, []replicaFailure{{"a", modeStrictSync, reasonTimeout}}, false,
			"Replication Exception: Failed to replicate to STRICT_SYNC replica 'a': RPC timeout while replicating. Replica will be recovered automatically. Transaction was aborted on all instances. Main reached an RPC timeout while replicating to [a]. One possible reason for this error is that the replica is down and in that case make sure to recover it. If all of your replicas are up and running normally, then please try setting a smaller parameter value for 'deltas_batch_progress_size' using 'SET COORDINATOR SETTING' query on the coordinator. Check the status of the replicas using 'SHOW REPLICAS' query."},
		{p312, []replicaFailure{{"a", modeSync, reasonNotInSync}, {"b", modeSync, reasonNotInSync}, {"c", modeSync, reasonNotInSync}}, true,
			"Replication Exception: Failed to replicate to SYNC replicas 'a', 'b' and 'c': replicas are not reachable or not in sync with the main. Replicas will be recovered automatically. Transaction is still committed on the main instance and other alive replicas. Check the status of the replicas using 'SHOW REPLICAS' query."},
	} {
		if got := tc.p.replicationErrorText(tc.failures, tc.committed); got != tc.want {
			t.Errorf("\n got  %s\n want %s", got, tc.want)
		}
	}
}

func TestProfiles(t *testing.T) {
	for _, bad := range []string{"2.18.0", "3.13.0", "3.x.0", "3.1", "4.0.0"} {
		if _, err := newProfile(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, tc := range []struct {
		v                                          string
		strict, bolt44, detailed, transient, codes bool
	}{
		{"3.0.0", false, false, false, true, false},
		{"3.5.0", true, false, false, true, true},
		{"3.6.1", true, false, false, true, true},
		{"3.7.2", true, false, false, true, true},
		{"3.8.0", true, false, false, false, true},
		{"3.9.0", true, false, false, false, true},
		{"3.10.0", true, false, true, false, true},
		{"3.12.0", true, true, true, false, true},
	} {
		p := mustProfile(t, tc.v)
		if p.strictSync != tc.strict || p.bolt44 != tc.bolt44 || p.detailedReplicationErrors != tc.detailed ||
			p.transientReplicationErrorOnPull != tc.transient || p.registerErrorCodes != tc.codes {
			t.Errorf("%s: %+v", tc.v, p)
		}
	}
}

// Defaults are Memgraph's: 1 s replica check, its RPC timeouts, restore on.
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig("/data")
	if c.ReplicaCheckInterval != time.Second || !c.RestoreStateOnStartup || c.Version != "3.12.0" || c.BoltAddress != "127.0.0.1:7687" {
		t.Fatalf("%+v", c)
	}
	d := DefaultRPCTimeouts()
	if d.Connect != 5*time.Second || d.SwapMainUUID != 10*time.Second || d.Heartbeat != 10*time.Second ||
		d.PrepareCommit != 30*time.Second || d.FinalizeCommit != 10*time.Second || d.AsyncLock != 50*time.Millisecond {
		t.Fatalf("%+v", d)
	}
	v, _, _, err := Config{DataDir: "/d"}.validate()
	if err != nil || v.ReplicaCheckInterval != time.Second || v.Timeouts != d {
		t.Fatalf("zero config: %+v %v", v, err)
	}
	for _, bad := range []Config{{}, {DataDir: "/d", BoltAddress: "nohost"}, {DataDir: "/d", Version: "9"}, {DataDir: "/d", Password: "x"}} {
		if _, _, _, err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
