package mgsim

import (
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// A 3-instance cluster in one process: writes reach both replicas, SHOW
// REPLICAS shows them ready and caught up, replicas refuse writes.
func TestClusterReplicates(t *testing.T) {
	for _, tc := range []struct {
		version, mode string
	}{
		{"3.12.0", "SYNC"},
		{"3.12.0", "STRICT_SYNC"},
		{"3.6.1", "SYNC"},
	} {
		t.Run(tc.version+"/"+tc.mode, func(t *testing.T) {
			cl := newCluster(t, tc.version, tc.mode, "ASYNC")
			m := cl.main.c
			for i := range 5 {
				if _, err := m.write("CREATE (n:Item {i: $i})", map[string]any{"i": int64(i)}); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			if _, _, err := m.run("CREATE (n:Item {i: 5})", nil); err != nil {
				t.Fatalf("auto-commit write: %v", err)
			}
			// SYNC/STRICT_SYNC: on the replica as soon as the write returns.
			if got := cl.r1.c.count("Item"); got != 6 {
				t.Fatalf("sync replica has %d items, want 6", got)
			}
			waitFor(t, "async replica to catch up", func() bool { return cl.r2.c.count("Item") == 6 })

			rows := m.showReplicas()
			if len(rows) != 2 {
				t.Fatalf("SHOW REPLICAS has %d rows", len(rows))
			}
			want := map[string]string{"r1": lower(tc.mode), "r2": "async"}
			for name, mode := range want {
				row := rows[name]
				if row.mode != mode || row.systemInfo != nil {
					t.Errorf("%s: mode %q system_info %v", name, row.mode, row.systemInfo)
				}
			}
			if rows["r1"].address != cl.r1.replAddr() || rows["r2"].address != cl.r2.replAddr() {
				t.Errorf("socket_address: %q %q", rows["r1"].address, rows["r2"].address)
			}
			row := m.waitReplica("r1", readyCaughtUp)
			if _, _, ts, _ := row.info(); ts <= 0 {
				t.Errorf("r1 ts %d, want the replica's last commit timestamp", ts)
			}
			m.waitReplica("r2", readyCaughtUp)

			// Replicas refuse writes at RUN, with the release's text.
			_, err := cl.r1.c.write("CREATE (n:Item)", nil)
			wantFailure(t, err, bolt.CodeClientError, writeOnReplicaText(tc.version))
			_, _, err = cl.r2.c.run("MATCH (n) DETACH DELETE n", nil)
			wantFailure(t, err, bolt.CodeClientError, writeOnReplicaText(tc.version))
			if cl.r1.c.role() != "replica" || m.role() != "main" {
				t.Fatal("roles")
			}
			// Deletes replicate too.
			if _, err := m.write("MATCH (n:Item) WHERE n.i = 0 DETACH DELETE n", nil); err != nil {
				t.Fatal(err)
			}
			if got := cl.r1.c.count("Item"); got != 5 {
				t.Fatalf("after delete the sync replica has %d items", got)
			}
			waitFor(t, "async delete", func() bool { return cl.r2.c.count("Item") == 5 })
		})
	}
}

func lower(mode string) string {
	switch mode {
	case "SYNC":
		return "sync"
	case "ASYNC":
		return "async"
	}
	return "strict_sync"
}

func writeOnReplicaText(version string) string {
	p, _ := newProfile(version)
	return p.writeOnReplica
}

// syncFailureText is the SYNC error of a release for one replica that is
// invalid (not reachable or not in sync).
func syncFailureText(version, name string) string {
	p, _ := newProfile(version)
	return p.replicationErrorText([]replicaFailure{{name: name, mode: modeSync, reason: reasonNotInSync}}, true)
}

// A SYNC replica that dies: it goes invalid, SYNC writes get the
// replication error of the release (TransientError on the auto-commit PULL
// path up to 3.7) but stay committed on MAIN and on the live ASYNC
// replica; behind grows more negative; when the replica returns it is
// recovered to ready and catches up.
func TestSyncReplicaDown(t *testing.T) {
	for _, tc := range []struct {
		version  string
		pullCode string
	}{
		{"3.12.0", bolt.CodeClientError},
		{"3.9.0", bolt.CodeClientError},
		{"3.6.1", bolt.CodeTransientError},
		{"3.0.0", bolt.CodeTransientError},
	} {
		t.Run(tc.version, func(t *testing.T) {
			cl := newCluster(t, tc.version, "SYNC", "ASYNC")
			m := cl.main.c
			m.mustRun("CREATE (n:Item {i: 0})", nil)
			before := m.showReplicas()["r1"]
			_, _, tsBefore, _ := before.info()

			cl.r1.kill()
			if tc.version == "3.0.0" {
				// 3.0 does not mark a replica invalid on failed pings:
				// only a failed commit does.
				_, _, err := m.run("CREATE (n:Item {i: 1})", nil)
				if err == nil || !contains(neoErr(t, err).Msg, "At least one SYNC replica has not confirmed") {
					t.Fatalf("first write after the kill: %v", err)
				}
			}
			m.waitReplica("r1", statusIs("invalid"))

			_, _, err := m.run("CREATE (n:Item {i: 2})", nil)
			wantFailure(t, err, tc.pullCode, syncFailureText(tc.version, "r1"))
			_, err = m.write("CREATE (n:Item {i: 3})", nil)
			wantFailure(t, err, bolt.CodeClientError, syncFailureText(tc.version, "r1"))

			// Committed on MAIN and on the reachable ASYNC replica anyway.
			want := int64(3)
			if tc.version == "3.0.0" {
				want = 4
			}
			if got := m.count("Item"); got != want {
				t.Fatalf("main has %d items, want %d", got, want)
			}
			waitFor(t, "async replica", func() bool { return cl.r2.c.count("Item") == want })

			// The invalid replica keeps its cached ts; behind goes down.
			row := m.showReplicas()["r1"]
			status, behind1, ts, _ := row.info()
			if status != "invalid" || ts != tsBefore || behind1 >= 0 {
				t.Fatalf("r1 while down: status %s behind %d ts %d (ts before %d)", status, behind1, ts, tsBefore)
			}
			m.run("CREATE (n:Item {i: 4})", nil) //nolint:errcheck // fails, as above
			_, behind2, _, _ := m.showReplicas()["r1"].info()
			if behind2 >= behind1 {
				t.Fatalf("behind did not grow more negative: %d then %d", behind1, behind2)
			}
			want++

			// The replica returns (same data directory, same addresses):
			// still a replica of this MAIN, recovered, caught up.
			cl.r1.restart()
			if cl.r1.c.role() != "replica" {
				t.Fatal("restarted replica is not a replica")
			}
			m.waitReplica("r1", readyCaughtUp)
			if got := cl.r1.c.count("Item"); got != want {
				t.Fatalf("recovered replica has %d items, want %d", got, want)
			}
			if _, err := m.write("CREATE (n:Item {i: 5})", nil); err != nil {
				t.Fatalf("write after recovery: %v", err)
			}
			if got := cl.r1.c.count("Item"); got != want+1 {
				t.Fatalf("replica has %d items after the next write, want %d", got, want+1)
			}
		})
	}
}

// STRICT_SYNC: when a strict replica is down, a write is aborted on every
// instance, MAIN included; reads keep working; writes resume once it is
// back and ready.
func TestStrictSyncAborts(t *testing.T) {
	for _, tc := range []struct {
		version, mode2, pullCode string
	}{
		{"3.12.0", "ASYNC", bolt.CodeClientError},
		{"3.12.0", "STRICT_SYNC", bolt.CodeClientError},
		{"3.5.0", "ASYNC", bolt.CodeTransientError},
	} {
		t.Run(tc.version+"/"+tc.mode2, func(t *testing.T) {
			cl := newCluster(t, tc.version, "STRICT_SYNC", tc.mode2)
			m := cl.main.c
			if _, err := m.write("CREATE (n:Item {i: 0})", nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "r2", func() bool { return cl.r2.c.count("Item") == 1 })

			cl.r1.kill()
			m.waitReplica("r1", statusIs("invalid"))
			p, _ := newProfile(tc.version)
			text := p.replicationErrorText([]replicaFailure{{name: "r1", mode: modeStrictSync, reason: reasonNotInSync}}, false)

			_, _, err := m.run("CREATE (n:Item {i: 1})", nil)
			wantFailure(t, err, tc.pullCode, text)
			_, err = m.write("CREATE (n:Item {i: 2})", nil)
			wantFailure(t, err, bolt.CodeClientError, text)

			if got := m.count("Item"); got != 1 {
				t.Fatalf("main has %d items after aborted writes, want 1", got)
			}
			if got := cl.r2.c.count("Item"); got != 1 {
				t.Fatalf("r2 has %d items after aborted writes, want 1", got)
			}
			m.waitReplica("r2", readyCaughtUp)

			cl.r1.restart()
			m.waitReplica("r1", readyCaughtUp)
			if _, err := m.write("CREATE (n:Item {i: 3})", nil); err != nil {
				t.Fatalf("write after recovery: %v", err)
			}
			if a, b := cl.r1.c.count("Item"), m.count("Item"); a != 2 || b != 2 {
				t.Fatalf("after recovery: r1 %d, main %d items, want 2", a, b)
			}
		})
	}
}
