package bolt

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/db"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"
)

// These tests drive the server with the real neo4j-go-driver v5.

func newDriver(t *testing.T, addr string, auth neo4j.AuthToken) neo4j.DriverWithContext {
	t.Helper()
	d, err := neo4j.NewDriverWithContext("bolt://"+addr, auth, func(c *neo4j.Config) {
		c.MaxTransactionRetryTime = 10 * time.Second
		c.SocketConnectTimeout = 5 * time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// driverVersions are the server configurations the driver tests run
// against: the driver lands on 5.2 with Memgraph 3.12's list and on 4.4
// when 5.2 is not offered.
var driverVersions = []struct {
	name     string
	versions []Version
	protocol db.ProtocolVersion
}{
	{"bolt5.2", nil, db.ProtocolVersion{Major: 5, Minor: 2}},
	{"bolt4.4", []Version{{4, 4}}, db.ProtocolVersion{Major: 4, Minor: 4}},
}

func TestDriverAutoCommit(t *testing.T) {
	for _, dv := range driverVersions {
		t.Run(dv.name, func(t *testing.T) {
			ctx := testContext(t)
			b := newFakeBackend()
			_, addr := startServer(t, Config{Versions: dv.versions}, b)
			d := newDriver(t, addr, neo4j.BasicAuth("user", "pass", ""))
			s := d.NewSession(ctx, neo4j.SessionConfig{})
			defer s.Close(ctx)
			res, err := s.Run(ctx, "RETURN 1 AS x", map[string]any{"p": int64(3)})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := res.Single(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if x, _ := rec.Get("x"); x != int64(1) {
				t.Fatalf("x = %v", x)
			}
			sum, err := res.Consume(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Server().Agent() != DefaultServerName || sum.Server().ProtocolVersion() != dv.protocol {
				t.Fatalf("server %q protocol %v", sum.Server().Agent(), sum.Server().ProtocolVersion())
			}
			if !slices.Contains(b.callLog(), `Run "RETURN 1 AS x" inTx=false params=map[p:3]`) {
				t.Fatalf("calls %q", b.callLog())
			}
		})
	}
}

func TestDriverPaging(t *testing.T) {
	ctx := testContext(t)
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	d := newDriver(t, addr, neo4j.NoAuth())
	for _, explicit := range []bool{false, true} {
		s := d.NewSession(ctx, neo4j.SessionConfig{FetchSize: 2})
		query := "UNWIND range(1, 5) AS i RETURN i"
		var got []any
		collect := func(res neo4j.ResultWithContext) error {
			for res.Next(ctx) {
				got = append(got, res.Record().Values[0])
			}
			return res.Err()
		}
		var err error
		if explicit {
			_, err = s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
				res, err := tx.Run(ctx, query, nil)
				if err != nil {
					return nil, err
				}
				return nil, collect(res)
			})
		} else {
			var res neo4j.ResultWithContext
			if res, err = s.Run(ctx, query, nil); err == nil {
				err = collect(res)
			}
		}
		_ = s.Close(ctx)
		if err != nil {
			t.Fatalf("explicit=%v: %v", explicit, err)
		}
		if !slices.Equal(got, []any{int64(1), int64(2), int64(3), int64(4), int64(5)}) {
			t.Fatalf("explicit=%v: got %v", explicit, got)
		}
	}
	pulls := 0
	for _, c := range b.callLog() {
		if c == "Pull 2" {
			pulls++
		}
	}
	if pulls != 6 {
		t.Fatalf("%d PULL n=2, want 3 per query: %q", pulls, b.callLog())
	}
}

func TestDriverExplicitTransactions(t *testing.T) {
	ctx := testContext(t)
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	d := newDriver(t, addr, neo4j.BasicAuth("user", "pass", ""))
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)

	created, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "CREATE (n)", nil)
		if err != nil {
			return nil, err
		}
		sum, err := res.Consume(ctx)
		if err != nil {
			return nil, err
		}
		return sum.Counters().NodesCreated(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 {
		t.Fatalf("NodesCreated = %v", created)
	}
	x, err := s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "RETURN 1 AS x", nil)
		if err != nil {
			return nil, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return nil, err
		}
		return rec.Values[0], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if x != int64(1) {
		t.Fatalf("x = %v", x)
	}
	var txCalls []string
	for _, c := range b.callLog() {
		if c == "Begin" || c == "Commit" || c == "Rollback" || strings.HasPrefix(c, "Run") {
			txCalls = append(txCalls, c)
		}
	}
	want := []string{"Begin", `Run "CREATE (n)" inTx=true params=map[]`, "Commit",
		"Begin", `Run "RETURN 1 AS x" inTx=true params=map[]`, "Commit"}
	if !slices.Equal(txCalls, want) {
		t.Fatalf("calls %q, want %q", txCalls, want)
	}
	b.mu.Lock()
	readBegin := b.extras[len(b.extras)-2]
	b.mu.Unlock()
	if readBegin["mode"] != "r" {
		t.Fatalf("ExecuteRead BEGIN extra %v lacks mode r", readBegin)
	}
}

func TestDriverRetriesTransientOnly(t *testing.T) {
	ctx := testContext(t)
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	d := newDriver(t, addr, neo4j.NoAuth())
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	work := func(query string) neo4j.ManagedTransactionWork {
		return func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(ctx, query, nil)
			if err != nil {
				return nil, err
			}
			rec, err := res.Single(ctx)
			if err != nil {
				return nil, err
			}
			return rec.Values[0], nil
		}
	}

	// TransientError: ExecuteWrite retries and succeeds on the 2nd attempt.
	v, err := s.ExecuteWrite(ctx, work("FLAKY"))
	if err != nil {
		t.Fatalf("FLAKY: %v", err)
	}
	if v != true || b.attemptsOf("FLAKY") != 2 {
		t.Fatalf("FLAKY: value %v after %d attempts, want true after 2", v, b.attemptsOf("FLAKY"))
	}

	// ClientError: not retried.
	_, err = s.ExecuteWrite(ctx, work("SYNTAX ERROR"))
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) || ne.Code != CodeClientError {
		t.Fatalf("SYNTAX ERROR: err %v, want a Neo4jError %s", err, CodeClientError)
	}
	if n := b.attemptsOf("SYNTAX ERROR"); n != 1 {
		t.Fatalf("ClientError attempted %d times", n)
	}

	// The connection recovers (RESET) and serves the next query.
	if v, err := s.ExecuteRead(ctx, work("RETURN 1 AS x")); err != nil || v != int64(1) {
		t.Fatalf("after failures: %v %v", v, err)
	}
}

func TestDriverAutoCommitFailureRecovers(t *testing.T) {
	ctx := testContext(t)
	_, addr := startServer(t, Config{}, newFakeBackend())
	d := newDriver(t, addr, neo4j.NoAuth())
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	_, err := s.Run(ctx, "PANIC", nil)
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) || ne.Code != CodeDatabaseError || ne.Msg != MessageUnknown {
		t.Fatalf("err = %v", err)
	}
	res, err := s.Run(ctx, "RETURN 1 AS x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.Single(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDriverAuthentication(t *testing.T) {
	for _, dv := range driverVersions {
		t.Run(dv.name, func(t *testing.T) {
			ctx := testContext(t)
			b := newFakeBackend()
			b.users = map[string]string{"neo": "secret"}
			_, addr := startServer(t, Config{Versions: dv.versions}, b)

			good := newDriver(t, addr, neo4j.BasicAuth("neo", "secret", ""))
			if err := good.VerifyConnectivity(ctx); err != nil {
				t.Fatalf("good credentials: %v", err)
			}
			bad := newDriver(t, addr, neo4j.BasicAuth("neo", "wrong", ""))
			err := bad.VerifyConnectivity(ctx)
			var ne *neo4j.Neo4jError
			if !errors.As(err, &ne) || ne.Code != CodeUnauthenticated {
				t.Fatalf("bad credentials: err %v, want %s", err, CodeUnauthenticated)
			}
		})
	}
}

func TestDriverNodes(t *testing.T) {
	for _, dv := range driverVersions {
		t.Run(dv.name, func(t *testing.T) {
			ctx := testContext(t)
			_, addr := startServer(t, Config{Versions: dv.versions}, newFakeBackend())
			d := newDriver(t, addr, neo4j.NoAuth())
			res, err := neo4j.ExecuteQuery(ctx, d, "MATCH (n) RETURN n", nil, neo4j.EagerResultTransformer)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Records) != 1 {
				t.Fatalf("%d records", len(res.Records))
			}
			n, ok := res.Records[0].Values[0].(dbtype.Node)
			if !ok {
				t.Fatalf("value is a %T", res.Records[0].Values[0])
			}
			if n.ElementId != "7" || !slices.Equal(n.Labels, []string{"Person"}) || n.Props["name"] != "Ada" {
				t.Fatalf("node %+v", n)
			}
			nested := res.Records[0].Values[1].(map[string]any)["list"].([]any)[0].(dbtype.Node)
			if nested.ElementId != "8" || len(nested.Labels) != 0 || len(nested.Props) != 0 {
				t.Fatalf("nested node %+v", nested)
			}
		})
	}
}
