package mgsim

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// REGISTER REPLICA errors and the zombie rows they leave, as Memgraph
// 3.5+: Error 1 name exists, Error 2 endpoint exists, Error 5 the replica
// does not accept the MAIN (unreachable, or not a replica); the entry of a
// failed registration stays until DROP REPLICA.
func TestRegisterErrors(t *testing.T) {
	main := startNode(t, "127.0.0.1", "3.12.0")
	rep := startNode(t, "127.0.0.2", "3.12.0")
	other := startNode(t, "127.0.0.3", "3.12.0") // stays MAIN
	rep.demote()
	m := main.c

	_, sum := m.mustRun(fmt.Sprintf("REGISTER REPLICA r1 SYNC TO '%s'", rep.replAddr()), nil)
	wantNotes(t, sum, note{"INFO", "RegisterReplica", "Replica r1 is registered."})
	m.waitReplica("r1", readyCaughtUp)

	m.assertRegisterFails("r1", "ASYNC", "127.0.0.9:1234", "Couldn't register replica r1. Error: 1")
	m.assertRegisterFails("r9", "ASYNC", rep.replAddr(), "Couldn't register replica r9. Error: 2")

	// Unreachable: Error 5 and a zombie with data_info {}.
	ghost := hostPort("127.0.0.4", freePort(t, "127.0.0.4"))
	m.assertRegisterFails("ghost", "SYNC", ghost, "Couldn't register replica ghost. Error: 5")
	// A MAIN does not accept a MAIN: Error 5 too.
	otherAddr := hostPort(other.host, other.replPort)
	m.assertRegisterFails("other", "ASYNC", otherAddr, "Couldn't register replica other. Error: 5")
	// The port defaults to 10000.
	m.assertRegisterFails("dflt", "ASYNC", "127.0.5.213", "Couldn't register replica dflt. Error: 5")

	rows := m.showReplicas()
	if len(rows) != 4 {
		t.Fatalf("SHOW REPLICAS: %v", rows)
	}
	for name, addr := range map[string]string{"ghost": ghost, "other": otherAddr, "dflt": "127.0.5.213:10000"} {
		if r := rows[name]; len(r.dataInfo) != 0 || r.address != addr {
			t.Errorf("zombie %s: %+v, want address %s and data_info {}", name, r, addr)
		}
	}
	if rows["other"].mode != "async" || rows["ghost"].mode != "sync" {
		t.Errorf("modes: %+v", rows)
	}
	// Retrying gives Error 1 until the zombie is dropped.
	m.assertRegisterFails("ghost", "SYNC", ghost, "Couldn't register replica ghost. Error: 1")
	m.mustRun("DROP REPLICA ghost", nil)
	m.assertRegisterFails("ghost", "SYNC", ghost, "Couldn't register replica ghost. Error: 5")
	// A zombie takes no part in commits.
	if _, err := m.write("CREATE (n:Item)", nil); err != nil {
		t.Fatalf("write with zombies: %v", err)
	}
	if got := rep.c.count("Item"); got != 1 {
		t.Fatalf("replica has %d items", got)
	}

	_, _, err := m.run("DROP REPLICA nobody", nil)
	wantFailure(t, err, bolt.CodeClientError, "Failed to unregister the replica nobody.")

	// Address validation, with Memgraph's parsing quirks.
	_, _, err = m.run(`REGISTER REPLICA bad SYNC TO "a:b:c"`, nil)
	wantFailure(t, err, bolt.CodeClientError, "Invalid socket address. The socket address must be a string defining the address and port, delimited by a single colon. The address must be valid and the port must be an integer.")
	_, _, err = m.run(`REGISTER REPLICA bad SYNC TO "host:port"`, nil)
	wantFailure(t, err, bolt.CodeTransientError, "Couldn't parse string")

	// On a replica.
	_, _, err = rep.c.run(`REGISTER REPLICA x SYNC TO "127.0.0.1:1"`, nil)
	wantFailure(t, err, bolt.CodeClientError, "Replica can't register another replica!")
	_, _, err = rep.c.run("DROP REPLICA r1", nil)
	wantFailure(t, err, bolt.CodeClientError, "Replica can't unregister a replica! Please rerun the query on main in order to unregister a replica from the cluster.")
	_, _, err = rep.c.run("SHOW REPLICAS", nil)
	wantFailure(t, err, bolt.CodeClientError, "Show replicas query should only be run on the main instance.")
}

func TestParseSocketAddress(t *testing.T) {
	in := &Instance{prof: mustProfile(t, "3.12.0")}
	for _, tc := range []struct {
		addr     string
		host     string
		port     int
		wantErr  string
		wantCode string
	}{
		{addr: "replica-1.svc:10001", host: "replica-1.svc", port: 10001},
		{addr: "10.0.0.1", host: "10.0.0.1", port: 10000},
		{addr: "h: 42", host: "h", port: 42},
		{addr: "h:70000", host: "h", port: 70000 - 65536}, // uint16 truncation
		{addr: "h:-1", host: "h", port: 65535},
		{addr: ":5", host: "", port: 5},
		{addr: "h:", wantErr: "Couldn't parse string", wantCode: bolt.CodeTransientError},
		{addr: "h:5x", wantErr: "Couldn't parse string", wantCode: bolt.CodeTransientError},
		{addr: "::1", wantErr: "Invalid socket address.", wantCode: bolt.CodeClientError},
	} {
		host, port, err := in.parseSocketAddress(tc.addr)
		if tc.wantErr != "" {
			be, ok := err.(*bolt.Error)
			if !ok || be.Code != tc.wantCode || !contains(be.Message, tc.wantErr) {
				t.Errorf("%q: err %v, want %s %q", tc.addr, err, tc.wantCode, tc.wantErr)
			}
			continue
		}
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("%q: got %q %d %v, want %q %d", tc.addr, host, port, err, tc.host, tc.port)
		}
	}
}

func mustProfile(t *testing.T, v string) profile {
	t.Helper()
	p, err := newProfile(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Notifications and errors of SET REPLICATION ROLE.
func TestSetRoleQueries(t *testing.T) {
	n := startNode(t, "127.0.0.77", "3.12.0")
	c := n.c
	for _, q := range []string{"SET REPLICATION ROLE TO REPLICA", "SET REPLICATION ROLE TO REPLICA WITH PORT 65536"} {
		_, _, err := c.run(q, nil)
		wantFailure(t, err, bolt.CodeClientError, "Port number invalid!")
	}
	// Port 7687: a warning, then the usual notification. (The replication
	// server binds 127.0.0.77:7687, an address nothing else here uses.)
	_, sum := c.mustRun("SET REPLICATION ROLE TO REPLICA WITH PORT 7687", nil)
	wantNotes(t, sum,
		note{"WARNING", "ReplicaPortWarning", "Be careful the replication port must be different from the memgraph port!"},
		note{"INFO", "SetReplica", "Replica role set to REPLICA."})
	if c.role() != "replica" {
		t.Fatal("role")
	}
	// Already a replica, even with another port.
	_, _, err := c.run("SET REPLICATION ROLE TO REPLICA WITH PORT "+strconv.Itoa(n.replPort), nil)
	wantFailure(t, err, bolt.CodeClientError, "Couldn't set role to replica!")
	c.mustRun("SET REPLICATION ROLE TO MAIN", nil)
	// A port in use: the query fails, and the role is REPLICA anyway, as
	// in Memgraph.
	busy, err := net.Listen("tcp", n.replAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, _, err = c.run("SET REPLICATION ROLE TO REPLICA WITH PORT "+strconv.Itoa(n.replPort), nil)
	wantFailure(t, err, bolt.CodeClientError, "Couldn't set role to replica!")
	if c.role() != "replica" {
		t.Fatal("role after a failed bind")
	}
}
