package mgsim

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// Queries and their PULL summaries, through the Session directly so every
// key and type of the summary is visible.
func TestQuerySummaries(t *testing.T) {
	in := startTest(t, testConfig(t, "127.0.0.1"))
	s := in.Open(bolt.ConnInfo{}).(*session)
	defer s.Close()
	stats := func(created, deleted, labels int64) map[string]any {
		return execStats{nodesCreated: created, nodesDeleted: deleted, labelsAdded: labels}.summary()
	}
	node := func(id int64, labels []string, props map[string]any) bolt.Node {
		return bolt.Node{ID: id, Labels: labels, Props: props}
	}
	for _, tc := range []struct {
		query  string
		params map[string]any
		fields []string
		rows   [][]any
		typ    string
		stats  map[string]any
	}{
		{query: "RETURN 1 AS x, 'a', [1, 2.5], {k: null}", fields: []string{"x", "'a'", "[1, 2.5]", "{k: null}"},
			rows: [][]any{{int64(1), "a", []any{int64(1), 2.5}, map[string]any{"k": nil}}}, typ: "rw"},
		{query: "CREATE (n:A:B {k: 1, s: 'x', z: null})", fields: []string{}, typ: "w", stats: stats(1, 0, 2)},
		{query: "CREATE (n:A {k: $k}) RETURN n.k, n", params: map[string]any{"k": int64(2)}, fields: []string{"n.k", "n"},
			rows: [][]any{{int64(2), node(1, []string{"A"}, map[string]any{"k": int64(2)})}}, typ: "w", stats: stats(1, 0, 1)},
		{query: "MATCH (n:A) WHERE n.k = 1.0 RETURN n.s AS s, n.missing", fields: []string{"s", "n.missing"},
			rows: [][]any{{"x", nil}}, typ: "r"},
		{query: "MATCH (n) RETURN n.k ORDER", fields: nil},
		{query: "MATCH (n:A) RETURN count(n) AS c", fields: []string{"c"}, rows: [][]any{{int64(2)}}, typ: "r"},
		{query: "MATCH (n:Nothing) RETURN count(*)", fields: []string{"count(*)"}, rows: [][]any{{int64(0)}}, typ: "r"},
		{query: "MATCH (n:A) RETURN n.k AS k, count(n)", fields: []string{"k", "count(n)"}, rows: [][]any{{int64(1), int64(1)}, {int64(2), int64(1)}}, typ: "r"},
		{query: "MATCH (n:A) WHERE n.k = $k DETACH DELETE n", params: map[string]any{"k": int64(2)}, fields: []string{}, typ: "rw", stats: stats(0, 1, 0)},
		{query: "MATCH (n:A) RETURN n.k", fields: []string{"n.k"}, rows: [][]any{{int64(1)}}, typ: "r"},
	} {
		fields, err := s.Run(tc.query, tc.params, nil, false)
		if tc.fields == nil {
			if err == nil {
				t.Errorf("%s: want a syntax error", tc.query)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if !reflect.DeepEqual(fields, tc.fields) {
			t.Errorf("%s: fields %q, want %q", tc.query, fields, tc.fields)
		}
		rows, done, sum, err := s.Pull(-1)
		if err != nil || !done {
			t.Fatalf("%s: pull: %v %v", tc.query, done, err)
		}
		if len(rows) != len(tc.rows) || (len(rows) > 0 && !reflect.DeepEqual(rows, tc.rows)) {
			t.Errorf("%s: rows %#v, want %#v", tc.query, rows, tc.rows)
		}
		wantKeys := []string{"cost_estimate", "db", "number_of_hops", "parsing_time", "plan_execution_time", "planning_time", "run_id", "type"}
		if tc.stats != nil {
			wantKeys = append(wantKeys, "stats")
		}
		if got := keys(sum); !reflect.DeepEqual(got, sortStrings(wantKeys)) {
			t.Errorf("%s: summary keys %v, want %v", tc.query, got, sortStrings(wantKeys))
		}
		if sum["type"] != tc.typ || sum["db"] != "memgraph" || sum["run_id"] != in.runID {
			t.Errorf("%s: type %v db %v", tc.query, sum["type"], sum["db"])
		}
		for _, k := range []string{"cost_estimate", "parsing_time", "planning_time", "plan_execution_time"} {
			if _, ok := sum[k].(float64); !ok {
				t.Errorf("%s: %s is %T", tc.query, k, sum[k])
			}
		}
		if sum["number_of_hops"] != int64(0) {
			t.Errorf("%s: number_of_hops %#v", tc.query, sum["number_of_hops"])
		}
		if tc.stats != nil && !reflect.DeepEqual(sum["stats"], tc.stats) {
			t.Errorf("%s: stats %v, want %v", tc.query, sum["stats"], tc.stats)
		}
	}

	// Replication and info queries: no plan keys; type "rw" (NONE).
	for _, q := range []string{"SHOW REPLICATION ROLE", "SHOW REPLICAS", "SHOW STORAGE INFO"} {
		if _, err := s.Run(q, nil, nil, false); err != nil {
			t.Fatal(err)
		}
		_, _, sum, err := s.Pull(-1)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := keys(sum), []string{"cost_estimate", "db", "parsing_time", "planning_time", "run_id", "type"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: summary keys %v, want %v", q, got, want)
		}
		if sum["type"] != "rw" || sum["cost_estimate"] != 0.0 {
			t.Errorf("%s: %v", q, sum)
		}
	}

	// Paging: has_more until the last PULL.
	if _, err := s.Run("RETURN 1, 2", nil, nil, false); err != nil {
		t.Fatal(err)
	}
	rows, done, _, err := s.Pull(0)
	if err != nil || done || len(rows) != 0 {
		t.Fatalf("pull 0: %v %v %v", rows, done, err)
	}
	if rows, done, _, err = s.Pull(1); err != nil || !done || len(rows) != 1 {
		t.Fatalf("pull 1: %v %v %v", rows, done, err)
	}

	// A missing parameter fails at RUN.
	_, err = s.Run("RETURN $nope", nil, nil, false)
	if be, ok := err.(*bolt.Error); !ok || be.Message != "Parameter $nope not provided." || be.Code != bolt.CodeClientError {
		t.Fatalf("missing parameter: %v", err)
	}
	// ROUTE: not part of a cluster.
	_, err = s.Route(map[string]any{"address": "x"}, nil, "")
	if be, ok := err.(*bolt.Error); !ok || be.Code != bolt.CodeTransientError || be.Message != msgRouteNotCluster {
		t.Fatalf("route: %v", err)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return sortStrings(out)
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}

// Explicit transactions through the driver: uncommitted writes are
// invisible to others, a rollback leaves no trace, a conflicting delete is
// a TransientError, replication queries are refused.
func TestExplicitTransactions(t *testing.T) {
	in := startTest(t, testConfig(t, "127.0.0.1"))
	c := newClient(t, in.Addr())
	cx := ctx(t)
	s := c.drv.NewSession(cx, neo4j.SessionConfig{})
	defer s.Close(cx)

	tx, err := s.BeginTransaction(cx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(cx, "CREATE (n:T {v: 1})", nil); err != nil {
		t.Fatal(err)
	}
	res, err := tx.Run(cx, "MATCH (n:T) RETURN count(n)", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := res.Single(cx); err != nil || rec.Values[0] != int64(1) {
		t.Fatalf("own write not visible: %v %v", rec, err)
	}
	if got := c.count("T"); got != 0 {
		t.Fatalf("uncommitted write visible to another session: %d", got)
	}
	if err := tx.Rollback(cx); err != nil {
		t.Fatal(err)
	}
	if got := c.count("T"); got != 0 {
		t.Fatalf("rolled back write visible: %d", got)
	}
	if _, err := c.write("CREATE (n:T {v: 2})", nil); err != nil {
		t.Fatal(err)
	}

	// A snapshot: a transaction does not see what commits after it began.
	tx, err = s.BeginTransaction(cx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(cx, "MATCH (n:T) RETURN count(n)", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.write("CREATE (n:T {v: 3})", nil); err != nil {
		t.Fatal(err)
	}
	res, _ = tx.Run(cx, "MATCH (n:T) RETURN count(n)", nil)
	if rec, err := res.Single(cx); err != nil || rec.Values[0] != int64(1) {
		t.Fatalf("snapshot: %v %v", rec, err)
	}
	// Write-write conflict: deleting a node another transaction deleted.
	if _, err := tx.Run(cx, "MATCH (n:T) WHERE n.v = 2 DETACH DELETE n", nil); err != nil {
		t.Fatal(err)
	}
	s2 := c.drv.NewSession(cx, neo4j.SessionConfig{})
	defer s2.Close(cx)
	tx2, _ := s2.BeginTransaction(cx)
	res, err = tx2.Run(cx, "MATCH (n:T) WHERE n.v = 2 DETACH DELETE n", nil)
	if err == nil {
		_, err = res.Consume(cx)
	}
	wantFailure(t, err, bolt.CodeTransientError, msgSerializationError)
	tx2.Close(cx)
	if err := tx.Commit(cx); err != nil {
		t.Fatal(err)
	}
	if got := c.count("T"); got != 1 {
		t.Fatalf("after delete: %d", got)
	}

	// Replication and info queries inside a transaction.
	for _, q := range []string{"SHOW REPLICATION ROLE", "SHOW REPLICAS", "SET REPLICATION ROLE TO MAIN", "REGISTER REPLICA a SYNC TO '127.0.0.1:1'", "DROP REPLICA a"} {
		_, err := c.write(q, nil)
		wantFailure(t, err, bolt.CodeClientError, "Managing replication is not allowed in multicommand transactions. A multicommand transaction, also known as an explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an implicit transaction, also known as an auto committing transaction, in order to execute this particularquery. For more details, visit https://memgraph.com/docs")
	}
	_, err = c.read("SHOW STORAGE INFO", nil)
	wantFailure(t, err, bolt.CodeClientError, mustProfile(t, "3.12.0").multicommandInfo)
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		t.Fatal(err)
	}
}

// Basic authentication when a user is configured.
func TestAuthentication(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1")
	cfg.Username, cfg.Password = "memgraph", "secret"
	in := startTest(t, cfg)
	good := newClient(t, in.Addr(), "memgraph", "secret")
	good.mustRun("RETURN 1", nil)
	bad := newClient(t, in.Addr(), "memgraph", "wrong")
	_, _, err := bad.run("RETURN 1", nil)
	wantFailure(t, err, bolt.CodeUnauthenticated, "Authentication failure")
	_, _, err = newClient(t, in.Addr()).run("RETURN 1", nil)
	wantFailure(t, err, bolt.CodeUnauthenticated, "Authentication failure")

	// Without a user any credentials pass, as Memgraph without users.
	open := startTest(t, testConfig(t, "127.0.0.1"))
	newClient(t, open.Addr(), "who", "ever").mustRun("RETURN 1", nil)
	if err := bad.drv.VerifyConnectivity(context.Background()); err == nil {
		t.Fatal("bad credentials verified")
	}
}
