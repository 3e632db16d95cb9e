package mgsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"go.uber.org/zap/zaptest"
)

// Test timing: short intervals so failures are noticed fast.
const (
	testCheckInterval = 50 * time.Millisecond
	testWait          = 10 * time.Second
)

func testTimeouts() RPCTimeouts {
	return RPCTimeouts{
		Connect:           time.Second,
		FrequentHeartbeat: 500 * time.Millisecond,
		SwapMainUUID:      time.Second,
		Heartbeat:         time.Second,
		PrepareCommit:     2 * time.Second,
		FinalizeCommit:    time.Second,
		Recovery:          2 * time.Second,
		AsyncLock:         50 * time.Millisecond,
	}
}

// testConfig is a config for host (a 127.0.0.x address) on a free port.
func testConfig(t *testing.T, host string) Config {
	t.Helper()
	cfg := DefaultConfig(t.TempDir())
	cfg.BoltAddress = net.JoinHostPort(host, "0")
	cfg.ReplicaCheckInterval = testCheckInterval
	cfg.Timeouts = testTimeouts()
	cfg.Logger = zaptest.NewLogger(t)
	return cfg
}

// startTest starts an instance and stops it at the end of the test.
func startTest(t *testing.T, cfg Config) *Instance {
	t.Helper()
	in, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.BoltAddress, err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// freePort returns a TCP port free on host at the time of the call.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// client is a real neo4j-go-driver pointed at one instance.
type client struct {
	t   *testing.T
	drv neo4j.DriverWithContext
}

func newClient(t *testing.T, addr string, auth ...string) *client {
	t.Helper()
	token := neo4j.NoAuth()
	if len(auth) == 2 {
		token = neo4j.BasicAuth(auth[0], auth[1], "")
	}
	drv, err := neo4j.NewDriverWithContext("bolt://"+addr, token, func(c *config.Config) {
		c.MaxTransactionRetryTime = 2 * time.Second
		c.SocketConnectTimeout = 2 * time.Second
		c.ConnectionAcquisitionTimeout = 5 * time.Second
	})
	if err != nil {
		t.Fatalf("driver: %v", err)
	}
	t.Cleanup(func() { drv.Close(context.Background()) })
	return &client{t: t, drv: drv}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return c
}

// run executes an auto-commit query with session.Run, as the controller
// does for replication queries.
func (c *client) run(query string, params map[string]any) ([]*neo4j.Record, neo4j.ResultSummary, error) {
	c.t.Helper()
	cx := ctx(c.t)
	s := c.drv.NewSession(cx, neo4j.SessionConfig{})
	defer s.Close(cx)
	res, err := s.Run(cx, query, params)
	if err != nil {
		return nil, nil, err
	}
	recs, err := res.Collect(cx)
	if err != nil {
		return nil, nil, err
	}
	sum, err := res.Consume(cx)
	return recs, sum, err
}

// mustRun is run that fails the test on error.
func (c *client) mustRun(query string, params map[string]any) ([]*neo4j.Record, neo4j.ResultSummary) {
	c.t.Helper()
	recs, sum, err := c.run(query, params)
	if err != nil {
		c.t.Fatalf("%s: %v", query, err)
	}
	return recs, sum
}

// write runs query in ExecuteWrite (an explicit transaction).
func (c *client) write(query string, params map[string]any) ([]*neo4j.Record, error) {
	c.t.Helper()
	return c.managed(neo4j.AccessModeWrite, query, params)
}

// read runs query in ExecuteRead.
func (c *client) read(query string, params map[string]any) ([]*neo4j.Record, error) {
	c.t.Helper()
	return c.managed(neo4j.AccessModeRead, query, params)
}

func (c *client) managed(mode neo4j.AccessMode, query string, params map[string]any) ([]*neo4j.Record, error) {
	cx := ctx(c.t)
	s := c.drv.NewSession(cx, neo4j.SessionConfig{AccessMode: mode})
	defer s.Close(cx)
	work := func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(cx, query, params)
		if err != nil {
			return nil, err
		}
		return res.Collect(cx)
	}
	var out any
	var err error
	if mode == neo4j.AccessModeWrite {
		out, err = s.ExecuteWrite(cx, work)
	} else {
		out, err = s.ExecuteRead(cx, work)
	}
	if err != nil {
		return nil, err
	}
	return out.([]*neo4j.Record), nil
}

// count returns MATCH (n:label) RETURN count(n) through ExecuteRead.
func (c *client) count(label string) int64 {
	c.t.Helper()
	recs, err := c.read("MATCH (n:"+label+") RETURN count(n) AS c", nil)
	if err != nil {
		c.t.Fatalf("count %s: %v", label, err)
	}
	return recs[0].Values[0].(int64)
}

// neoErr extracts the server's FAILURE from a driver error.
func neoErr(t *testing.T, err error) *neo4j.Neo4jError {
	t.Helper()
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		t.Fatalf("want a Neo4jError, got %T: %v", err, err)
	}
	return ne
}

// wantFailure asserts err is a FAILURE with exactly code and message.
func wantFailure(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want failure %q, got success", msg)
	}
	ne := neoErr(t, err)
	if ne.Code != code || ne.Msg != msg {
		t.Fatalf("failure:\n got  %s: %q\n want %s: %q", ne.Code, ne.Msg, code, msg)
	}
}

// replicaRow is one row of SHOW REPLICAS.
type replicaRow struct {
	name, address, mode string
	systemInfo          any
	dataInfo            map[string]any
}

// status, behind and ts of data_info.memgraph; ok false for a zombie ({}).
func (r replicaRow) info() (status string, behind, ts int64, ok bool) {
	m, ok := r.dataInfo["memgraph"].(map[string]any)
	if !ok {
		return "", 0, 0, false
	}
	return m["status"].(string), m["behind"].(int64), m["ts"].(int64), true
}

func (c *client) showReplicas() map[string]replicaRow {
	c.t.Helper()
	recs, _ := c.mustRun("SHOW REPLICAS", nil)
	out := make(map[string]replicaRow)
	for _, r := range recs {
		if !slices.Equal(r.Keys, []string{"name", "socket_address", "sync_mode", "system_info", "data_info"}) {
			c.t.Fatalf("SHOW REPLICAS columns %v", r.Keys)
		}
		if len(r.Values) != 5 {
			c.t.Fatalf("SHOW REPLICAS row %v", r.Values)
		}
		out[r.Values[0].(string)] = replicaRow{
			name: r.Values[0].(string), address: r.Values[1].(string), mode: r.Values[2].(string),
			systemInfo: r.Values[3], dataInfo: r.Values[4].(map[string]any),
		}
	}
	return out
}

// waitReplica polls SHOW REPLICAS until cond holds for the named row.
func (c *client) waitReplica(name string, cond func(status string, behind, ts int64) bool) replicaRow {
	c.t.Helper()
	deadline := time.Now().Add(testWait)
	var last replicaRow
	for time.Now().Before(deadline) {
		last = c.showReplicas()[name]
		if s, b, ts, ok := last.info(); ok && cond(s, b, ts) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("replica %s never reached the wanted state; last row %+v", name, last)
	return last
}

func statusIs(want string) func(string, int64, int64) bool {
	return func(s string, _, _ int64) bool { return s == want }
}

func readyCaughtUp(s string, behind, _ int64) bool { return s == "ready" && behind == 0 }

func (c *client) role() string {
	c.t.Helper()
	recs, _ := c.mustRun("SHOW REPLICATION ROLE", nil)
	if len(recs) != 1 || !slices.Equal(recs[0].Keys, []string{"replication role"}) {
		c.t.Fatalf("SHOW REPLICATION ROLE: %v", recs)
	}
	return recs[0].Values[0].(string)
}

// register registers a replica and fails the test on error.
func (c *client) register(name, mode, addr string) {
	c.t.Helper()
	c.mustRun(fmt.Sprintf("REGISTER REPLICA %s %s TO %q", name, mode, addr), nil)
}

// demote makes an instance a replica on port.
func (c *client) demote(port int) {
	c.t.Helper()
	c.mustRun(fmt.Sprintf("SET REPLICATION ROLE TO REPLICA WITH PORT %d", port), nil)
}

func hostPort(host string, port int) string { return fmt.Sprintf("%s:%d", host, port) }

// waitFor polls cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// note is an expected summary notification.
type note struct{ severity, code, title string }

// wantNotes asserts the notifications of a summary, in order.
func wantNotes(t *testing.T, sum neo4j.ResultSummary, want ...note) {
	t.Helper()
	got := sum.Notifications()
	if len(got) != len(want) {
		t.Fatalf("notifications: got %d, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.RawSeverityLevel() != w.severity || g.Code() != w.code || g.Title() != w.title || g.Description() != "" {
			t.Errorf("notification %d: got {%s %s %q %q}, want %+v", i, g.RawSeverityLevel(), g.Code(), g.Title(), g.Description(), w)
		}
	}
}

// assertRegisterFails registers and expects exactly msg as a ClientError.
func (c *client) assertRegisterFails(name, mode, addr, msg string) {
	c.t.Helper()
	_, _, err := c.run(fmt.Sprintf("REGISTER REPLICA %s %s TO %q", name, mode, addr), nil)
	wantFailure(c.t, err, "Memgraph.ClientError.MemgraphError.MemgraphError", msg)
}
