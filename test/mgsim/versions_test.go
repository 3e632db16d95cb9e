package mgsim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// Texts that changed between releases, through the driver.
func TestVersionTexts(t *testing.T) {
	const (
		knwon = "Managing replication is not allowed in multicommand transactions. A multicommand transaction, also known as an explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an implicit transaction, also knwon as an auto committing transaction, in order to execute this particular query. For more details, visit https://memgraph.com/docs"
		known = "Managing replication is not allowed in multicommand transactions. A multicommand transaction, also known as an explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an implicit transaction, also known as an auto committing transaction, in order to execute this particularquery. For more details, visit https://memgraph.com/docs"
		long  = "Write queries are forbidden on the replica instance. Replica instances accept only read queries, while the main instance accepts read and write queries. Please retry your query on the main instance."
	)
	for _, tc := range []struct {
		version      string
		multicommand string
		writeReplica string
		unreachable  string // REGISTER of an unreachable replica "g"
		badAddress   string
		dropUnknown  string
		showOnRepl   string
		strictSync   bool
	}{
		{"3.0.0", "Replication clause not allowed in multicommand transactions.", "Write query forbidden on the replica!",
			"Couldn't register replica g.", "Invalid socket address!", "Couldn't unregister the replica x.",
			"Replica can't show registered replicas (it shouldn't have any)!", false},
		{"3.4.0", knwon, long, "Couldn't register replica g.", "Invalid socket address. " + msgSocketExplanation,
			"Failed to unregister the replica x.", "Show replicas query should only be run on the main instance.", false},
		{"3.5.0", knwon, long, "Couldn't register replica g. Error: 5", "Invalid socket address. " + msgSocketExplanation,
			"Failed to unregister the replica x.", "Show replicas query should only be run on the main instance.", true},
		{"3.8.0", known, long, "Couldn't register replica g. Error: 5", "Invalid socket address. " + msgSocketExplanation,
			"Failed to unregister the replica x.", "Show replicas query should only be run on the main instance.", true},
		{"3.12.0", known, long, "Couldn't register replica g. Error: 5", "Invalid socket address. " + msgSocketExplanation,
			"Failed to unregister the replica x.", "Show replicas query should only be run on the main instance.", true},
	} {
		t.Run(tc.version, func(t *testing.T) {
			m := startNode(t, "127.0.0.1", tc.version)
			r := startNode(t, "127.0.0.2", tc.version)
			r.demote()
			_, err := m.c.write("SHOW REPLICATION ROLE", nil)
			wantFailure(t, err, bolt.CodeClientError, tc.multicommand)
			_, err = r.c.write("CREATE (n)", nil)
			wantFailure(t, err, bolt.CodeClientError, tc.writeReplica)
			m.c.assertRegisterFails("g", "SYNC", hostPort("127.0.0.4", freePort(t, "127.0.0.4")), tc.unreachable)
			_, _, err = m.c.run(`REGISTER REPLICA b SYNC TO "1:2:3"`, nil)
			wantFailure(t, err, bolt.CodeClientError, tc.badAddress)
			_, _, err = m.c.run("DROP REPLICA x", nil)
			wantFailure(t, err, bolt.CodeClientError, tc.dropUnknown)
			_, _, err = r.c.run("SHOW REPLICAS", nil)
			wantFailure(t, err, bolt.CodeClientError, tc.showOnRepl)

			q := fmt.Sprintf("REGISTER REPLICA s STRICT_SYNC TO %q", r.replAddr())
			_, _, err = m.c.run(q, nil)
			if tc.strictSync {
				if err != nil {
					t.Fatalf("STRICT_SYNC: %v", err)
				}
				m.c.waitReplica("s", readyCaughtUp)
			} else {
				wantFailure(t, err, bolt.CodeClientError, "Error on line 1 position 20. The underlying parsing error is mismatched input 'STRICT_SYNC' expecting {ASYNC, SYNC}")
			}
		})
	}
}

// SHOW STORAGE INFO: two columns, one row per key, the key set of the
// release (read from the memgraph/memgraph tags).
func TestStorageInfo(t *testing.T) {
	v30 := []string{"name", "vertex_count", "edge_count", "average_degree", "vm_max_map_count", "memory_res",
		"peak_memory_res", "unreleased_delta_objects", "disk_usage", "memory_tracked", "allocation_limit",
		"global_isolation_level", "session_isolation_level", "next_session_isolation_level", "storage_mode"}
	v35 := append([]string{"name", "database_uuid"}, v30[1:]...)
	v39 := append(append(append([]string{}, v35[:12]...), "graph_memory_tracked", "vector_index_memory_tracked"), v35[12:]...)
	v310 := []string{"name", "database_uuid", "vertex_count", "edge_count", "average_degree", "vm_max_map_count",
		"memory_res", "peak_memory_res", "unreleased_delta_objects", "global_disk_usage", "global_memory_tracked",
		"global_runtime_allocation_limit", "global_license_allocation_limit", "db_memory_tracked",
		"db_storage_memory_tracked", "db_embedding_memory_tracked", "db_query_memory_tracked",
		"global_isolation_level", "session_isolation_level", "next_session_isolation_level", "storage_mode"}
	v311 := []string{"vm_max_map_count", "memory_res", "peak_memory_res", "disk_usage", "memory_tracked",
		"memory_limit", "license_memory_limit", "query+graph_memory_tracked", "vector_index_memory_tracked",
		"global_isolation_level", "session_isolation_level", "next_session_isolation_level", "global_storage_mode"}
	for _, tc := range []struct {
		version string
		keys    []string
	}{
		{"3.0.0", v30}, {"3.5.0", v35}, {"3.6.1", v35}, {"3.9.0", v39}, {"3.10.0", v310}, {"3.12.0", v311},
	} {
		t.Run(tc.version, func(t *testing.T) {
			n := startNode(t, "127.0.0.1", tc.version)
			if _, err := n.c.write("CREATE (n:A)", nil); err != nil {
				t.Fatal(err)
			}
			recs, sum := n.c.mustRun("SHOW STORAGE INFO", nil)
			if got := sum.Query().Text(); got != "SHOW STORAGE INFO" {
				t.Fatal(got)
			}
			if !reflect.DeepEqual(recs[0].Keys, []string{"storage info", "value"}) {
				t.Fatalf("columns %v", recs[0].Keys)
			}
			var got []string
			values := map[string]any{}
			for _, r := range recs {
				got = append(got, r.Values[0].(string))
				values[r.Values[0].(string)] = r.Values[1]
			}
			if !reflect.DeepEqual(got, tc.keys) {
				t.Fatalf("keys\n got  %v\n want %v", got, tc.keys)
			}
			if v, ok := values["vertex_count"]; ok && v != int64(1) {
				t.Errorf("vertex_count %v", v)
			}
			if v, ok := values["storage_mode"]; ok && v != "IN_MEMORY_TRANSACTIONAL" {
				t.Errorf("storage_mode %v", v)
			}
			if v := values["global_isolation_level"]; v != "SNAPSHOT_ISOLATION" {
				t.Errorf("global_isolation_level %v", v)
			}
			if v, ok := values["average_degree"]; ok {
				if _, isFloat := v.(float64); !isFloat {
					t.Errorf("average_degree is %T", v)
				}
			}
			// It works on a replica too.
			n.demote()
			n.c.mustRun("SHOW STORAGE INFO", nil)
		})
	}
}

// SHOW STORAGE INFO ON CURRENT DATABASE: the per-database rows from 3.11
// (with state and health from 3.12), a syntax error before, as each
// release's grammar has it.
func TestStorageInfoOnCurrentDatabase(t *testing.T) {
	const q = "SHOW STORAGE INFO ON CURRENT DATABASE"
	v311 := []string{"name", "database_uuid", "storage_mode", "vertex_count", "edge_count", "average_degree",
		"unreleased_delta_objects", "disk_usage", "graph_memory_tracked", "query_memory_tracked",
		"vector_index_memory_tracked", "tenant_memory_tracked", "tenant_peak_memory_tracked", "tenant_memory_limit",
		"storage_isolation_level"}
	v312 := append(append(append([]string{}, v311[:2]...), "state"), v311[2:]...)
	v312 = append(v312, "health")
	for _, tc := range []struct {
		version string
		keys    []string // nil: a syntax error
		err     string
	}{
		{"3.0.0", nil, "Error on line 1 position 19. The underlying parsing error is mismatched input 'ON' expecting {<EOF>, ';'}"},
		{"3.9.0", nil, "Error on line 1 position 19. The underlying parsing error is mismatched input 'ON' expecting {<EOF>, ';'}"},
		{"3.10.0", nil, "Error on line 1 position 22. The underlying parsing error is extraneous input 'CURRENT' expecting DATABASE"},
		{"3.11.0", v311, ""},
		{"3.12.0", v312, ""},
	} {
		t.Run(tc.version, func(t *testing.T) {
			n := startNode(t, "127.0.0.1", tc.version)
			if tc.keys == nil {
				_, _, err := n.c.run(q, nil)
				wantFailure(t, err, bolt.CodeClientError, tc.err)
				// The plain form is unaffected.
				n.c.mustRun("SHOW STORAGE INFO", nil)
				return
			}
			read := func() map[string]any {
				t.Helper()
				recs, _ := n.c.mustRun(q, nil)
				var got []string
				values := map[string]any{}
				for _, r := range recs {
					if !reflect.DeepEqual(r.Keys, []string{"storage info", "value"}) {
						t.Fatalf("columns %v", r.Keys)
					}
					got = append(got, r.Values[0].(string))
					values[r.Values[0].(string)] = r.Values[1]
				}
				if !reflect.DeepEqual(got, tc.keys) {
					t.Fatalf("keys\n got  %v\n want %v", got, tc.keys)
				}
				return values
			}
			if v := read()["vertex_count"]; v != int64(0) {
				t.Fatalf("empty: vertex_count %#v", v)
			}
			if _, err := n.c.write("CREATE (n:A)", nil); err != nil {
				t.Fatal(err)
			}
			values := read()
			for k, want := range map[string]any{"name": "memgraph", "vertex_count": int64(1), "edge_count": int64(0),
				"storage_mode": "IN_MEMORY_TRANSACTIONAL", "storage_isolation_level": "SNAPSHOT_ISOLATION"} {
				if values[k] != want {
					t.Errorf("%s = %#v, want %#v", k, values[k], want)
				}
			}
			if len(tc.keys) == len(v312) && (values["state"] != "HOT" || values["health"] != "ready") {
				t.Errorf("state %v, health %v", values["state"], values["health"])
			}
			// Refused in an explicit transaction, like the plain form.
			_, err := n.c.read(q, nil)
			wantFailure(t, err, bolt.CodeClientError, mustProfile(t, tc.version).multicommandInfo)
			// It works on a replica too.
			n.demote()
			if v := read()["vertex_count"]; v != int64(1) {
				t.Fatalf("replica: vertex_count %#v", v)
			}
		})
	}
}

func TestReadableSize(t *testing.T) {
	for in, want := range map[float64]string{0: "0B", 1023: "1023B", 1024: "1.00KiB", 45255229: "43.16MiB", 3 << 30: "3.00GiB"} {
		if got := readableSize(in); got != want {
			t.Errorf("readableSize(%v) = %q, want %q", in, got, want)
		}
	}
}
