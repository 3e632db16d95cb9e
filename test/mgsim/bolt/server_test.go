package bolt

import (
	"bufio"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/packstream"
)

var v52, v44, v43, v40 = Version{5, 2}, Version{4, 4}, Version{4, 3}, Version{4, 0}

func TestHelloLogonBolt5(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	c := dialVersion(t, addr, v52)
	c.send(hello(nil), hello(nil), logon("basic", "neo", "secret"))
	want := map[string]any{"connection_id": "bolt-1", "server": DefaultServerName}
	for i := 0; i < 3; i++ {
		if got := c.expectSuccess(); !packstream.Equal(got, want) {
			t.Fatalf("reply %d = %v, want %v", i, got, want)
		}
	}
	c.send(run("RETURN 1 AS x"), pull(-1))
	c.expectSuccess()
	c.expectRecord()
	c.expectSuccess()
	if log := b.callLog(); log[0] != "Authenticate basic neo secret" {
		t.Fatalf("calls %q: HELLO must not authenticate in 5.x", log)
	}
}

func TestServerNameConfig(t *testing.T) {
	_, addr := startServer(t, Config{ServerName: "Memgraph/test"}, newFakeBackend())
	c := dialVersion(t, addr, v44)
	c.send(hello(nil))
	if got := c.expectSuccess(); got["server"] != "Memgraph/test" {
		t.Fatalf("server = %v", got["server"])
	}
}

func TestAuthentication(t *testing.T) {
	b := newFakeBackend()
	b.users = map[string]string{"neo": "secret"}
	_, addr := startServer(t, Config{}, b)
	tests := []struct {
		name  string
		ver   Version
		msgs  []packstream.Struct
		ok    bool
		calls string // expected Authenticate call, "" for none
	}{
		{"5.2 good", v52, []packstream.Struct{hello(nil), logon("basic", "neo", "secret")}, true, "Authenticate basic neo secret"},
		{"5.2 bad password", v52, []packstream.Struct{hello(nil), logon("basic", "neo", "nope")}, false, "Authenticate basic neo nope"},
		{"5.2 unknown scheme", v52, []packstream.Struct{hello(nil), logon("kerberos", "neo", "secret")}, false, ""},
		{"5.2 logon without hello", v52, []packstream.Struct{logon("basic", "neo", "secret")}, true, "Authenticate basic neo secret"},
		{"5.2 missing scheme is none", v52, []packstream.Struct{hello(nil), msg(TagLogon, map[string]any{})}, false, "Authenticate none  "},
		{"4.4 good", v44, []packstream.Struct{hello(map[string]any{"scheme": "basic", "principal": "neo", "credentials": "secret"})}, true, "Authenticate basic neo secret"},
		{"4.4 bad", v44, []packstream.Struct{hello(map[string]any{"scheme": "basic", "principal": "neo", "credentials": "x"})}, false, "Authenticate basic neo x"},
		{"4.0 no auth keys", v40, []packstream.Struct{hello(nil)}, false, "Authenticate none  "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.mu.Lock()
			b.calls = nil
			b.mu.Unlock()
			c := dialVersion(t, addr, tc.ver)
			c.send(tc.msgs...)
			for range tc.msgs[:len(tc.msgs)-1] {
				c.expectSuccess() // HELLO in 5.x
			}
			if tc.ok {
				c.expectSuccess()
				c.send(run("RETURN 1 AS x"))
				c.expectSuccess()
			} else {
				c.expectFailure(CodeUnauthenticated, "Authentication failure")
				c.expectClosed()
			}
			var auth []string
			for _, call := range b.callLog() {
				if strings.HasPrefix(call, "Authenticate") {
					auth = append(auth, call)
				}
			}
			if (tc.calls == "" && len(auth) != 0) || (tc.calls != "" && (len(auth) != 1 || auth[0] != tc.calls)) {
				t.Fatalf("Authenticate calls %q, want %q", auth, tc.calls)
			}
		})
	}
}

func TestAutoCommitPaging(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	c := login(t, addr, v52)
	c.send(run("UNWIND range(1, 5) AS i RETURN i"), pull(2))
	if meta := c.expectSuccess(); !packstream.Equal(meta, map[string]any{"fields": []any{"i"}}) {
		t.Fatalf("RUN SUCCESS %v: want fields only (no qid, no t_first)", meta)
	}
	for want := int64(1); want <= 2; want++ {
		if r := c.expectRecord(); !packstream.Equal(r, []any{want}) {
			t.Fatalf("record %v, want [%d]", r, want)
		}
	}
	if meta := c.expectSuccess(); !packstream.Equal(meta, map[string]any{"has_more": true}) {
		t.Fatalf("PULL SUCCESS %v, want has_more:true", meta)
	}
	c.send(pull(2), pull(-1))
	c.expectRecord()
	c.expectRecord()
	c.expectSuccess()
	c.expectRecord()
	meta := c.expectSuccess()
	if meta["has_more"] != false || meta["type"] != "r" || meta["db"] != "memgraph" {
		t.Fatalf("final summary %v", meta)
	}
	// Back in Ready: DISCARD of a new result.
	c.send(run("UNWIND range(1, 5) AS i RETURN i"), discard(3), discard(-1))
	c.expectSuccess()
	if meta := c.expectSuccess(); meta["has_more"] != true {
		t.Fatalf("DISCARD 3 -> %v", meta)
	}
	if meta := c.expectSuccess(); meta["has_more"] != false {
		t.Fatalf("DISCARD all -> %v", meta)
	}
	calls := b.callLog()
	if !slices.Contains(calls, "Pull 2") || !slices.Contains(calls, "Pull -1") || !slices.Contains(calls, "Discard 3") {
		t.Fatalf("calls %q", calls)
	}
}

func TestPullWithoutN(t *testing.T) {
	_, addr := startServer(t, Config{}, newFakeBackend())
	c := login(t, addr, v44)
	c.send(run("UNWIND range(1, 5) AS i RETURN i"), msg(TagPull, map[string]any{}))
	c.expectSuccess()
	for range 5 {
		c.expectRecord()
	}
	c.expectSuccess()
}

func TestExplicitTransactionQid(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	c := login(t, addr, v52)
	c.send(begin())
	if meta := c.expectSuccess(); len(meta) != 0 {
		t.Fatalf("BEGIN SUCCESS %v", meta)
	}
	for qid := int64(0); qid < 2; qid++ {
		c.send(run("RETURN 1 AS x"), msg(TagPull, map[string]any{"n": int64(10), "qid": qid}))
		if meta := c.expectSuccess(); !packstream.Equal(meta, map[string]any{"fields": []any{"x"}, "qid": qid}) {
			t.Fatalf("RUN SUCCESS %v, want qid %d", meta, qid)
		}
		c.expectRecord()
		c.expectSuccess()
	}
	c.send(msg(TagCommit))
	if meta := c.expectSuccess(); len(meta) != 0 {
		t.Fatalf("COMMIT SUCCESS %v", meta)
	}
	// qid restarts in the next transaction and is absent outside.
	c.send(begin(), run("RETURN 1 AS x"), pull(-1), msg(TagRollback), run("RETURN 1 AS x"), pull(-1))
	c.expectSuccess()
	if meta := c.expectSuccess(); meta["qid"] != int64(0) {
		t.Fatalf("first RUN of new tx: %v", meta)
	}
	c.expectRecord()
	c.expectSuccess()
	c.expectSuccess() // ROLLBACK
	if meta := c.expectSuccess(); meta["qid"] != nil {
		t.Fatalf("auto-commit RUN after tx has qid: %v", meta)
	}
	c.expectRecord()
	c.expectSuccess()
	var runs []string
	for _, call := range b.callLog() {
		if strings.HasPrefix(call, "Run") || call == "Begin" || call == "Commit" || call == "Rollback" {
			runs = append(runs, call)
		}
	}
	want := []string{"Begin", `Run "RETURN 1 AS x" inTx=true params=map[]`, `Run "RETURN 1 AS x" inTx=true params=map[]`,
		"Commit", "Begin", `Run "RETURN 1 AS x" inTx=true params=map[]`, "Rollback", `Run "RETURN 1 AS x" inTx=false params=map[]`}
	if !slices.Equal(runs, want) {
		t.Fatalf("calls\n%q\nwant\n%q", runs, want)
	}
}

func TestTransactionMisuse(t *testing.T) {
	_, addr := startServer(t, Config{}, newFakeBackend())
	tests := []struct {
		name string
		msgs []packstream.Struct
		okay int // SUCCESS replies before the FAILURE
		msg  string
	}{
		{"commit outside tx", []packstream.Struct{msg(TagCommit)}, 0, MessageNoTxCommit},
		{"rollback outside tx", []packstream.Struct{msg(TagRollback)}, 0, MessageNoTxRollback},
		{"nested begin", []packstream.Struct{begin(), begin()}, 1, MessageNestedTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, addr, v52)
			c.send(tc.msgs...)
			for range tc.okay {
				c.expectSuccess()
			}
			c.expectFailure(CodeClientError, tc.msg)
			c.send(msg(TagReset))
			c.expectSuccess()
		})
	}
}

func TestFailedStateIgnoresUntilReset(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	c := login(t, addr, v52)
	// Pipelined RUN + PULL: the RUN fails, the PULL is IGNORED.
	c.send(run("SYNTAX ERROR"), pull(1000))
	c.expectFailure(CodeClientError, "line 1:1 mismatched input")
	c.expectIgnored()
	// Everything but RESET is ignored, including GOODBYE, unknown tags and
	// bad field counts.
	c.send(run("RETURN 1 AS x"), pull(-1), begin(), msg(TagCommit), msg(TagGoodbye),
		msg(0x77, int64(1)), msg(TagRun), msg(TagTelemetry, int64(1)))
	for range 8 {
		c.expectIgnored()
	}
	c.send(msg(TagReset), run("RETURN 1 AS x"), pull(-1))
	if meta := c.expectSuccess(); len(meta) != 0 {
		t.Fatalf("RESET SUCCESS %v", meta)
	}
	c.expectSuccess()
	c.expectRecord()
	c.expectSuccess()
	if !slices.Contains(b.callLog(), "Reset") {
		t.Fatal("Session.Reset not called")
	}
}

func TestFailureCodes(t *testing.T) {
	_, addr := startServer(t, Config{}, newFakeBackend())
	tests := []struct {
		name   string
		msgs   []packstream.Struct
		before int // SUCCESS replies before the FAILURE
		code   string
		msg    string
	}{
		{"non-Error becomes DatabaseError", []packstream.Struct{run("PANIC"), pull(-1)}, 0, CodeDatabaseError, MessageUnknown},
		{"failure on pull", []packstream.Struct{run("FAIL ON PULL"), pull(-1)}, 1, CodeTransientError, "pull failed"},
		{"unencodable value", []packstream.Struct{run("BAD VALUE"), pull(-1)}, 1, CodeDatabaseError, MessageUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, addr, v52)
			c.send(tc.msgs...)
			for range tc.before {
				c.expectSuccess()
			}
			c.expectFailure(tc.code, tc.msg)
			for range len(tc.msgs) - tc.before - 1 {
				c.expectIgnored()
			}
			c.send(msg(TagReset))
			c.expectSuccess()
		})
	}
}

func TestFailureInTransaction(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	c := login(t, addr, v52)
	c.send(begin(), run("SYNTAX ERROR"), pull(-1), msg(TagCommit), msg(TagReset))
	c.expectSuccess()
	c.expectFailure(CodeClientError, "line 1")
	c.expectIgnored()
	c.expectIgnored()
	c.expectSuccess()
	// RESET left the transaction: COMMIT now fails, RUN is auto-commit.
	c.send(msg(TagCommit), msg(TagReset), run("RETURN 1 AS x"))
	c.expectFailure(CodeClientError, MessageNoTxCommit)
	c.expectSuccess()
	if meta := c.expectSuccess(); meta["qid"] != nil {
		t.Fatalf("RUN after RESET still in tx: %v", meta)
	}
}

// TestProtocolViolationsClose checks that Memgraph's "close the connection"
// answers send nothing.
func TestProtocolViolationsClose(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageSize: 1024}, newFakeBackend())
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name string
		ver  Version
		auth bool
		msgs []packstream.Struct
		raw  []byte
		ok   int // replies before the close
	}{
		{"pull when idle", v52, true, []packstream.Struct{pull(-1)}, nil, 0},
		{"discard when idle", v52, true, []packstream.Struct{discard(-1)}, nil, 0},
		{"run while streaming", v52, true, []packstream.Struct{run("UNWIND range(1, 5) AS i RETURN i"), run("RETURN 1 AS x")}, nil, 1},
		{"run with result left", v52, true, []packstream.Struct{run("UNWIND range(1, 5) AS i RETURN i"), pull(1), run("RETURN 1 AS x")}, nil, 3},
		{"begin while streaming", v52, true, []packstream.Struct{run("RETURN 1 AS x"), begin()}, nil, 1},
		{"commit while streaming in tx", v52, true, []packstream.Struct{begin(), run("RETURN 1 AS x"), msg(TagCommit)}, nil, 2},
		{"route while streaming", v52, true, []packstream.Struct{run("RETURN 1 AS x"), msg(TagRoute, map[string]any{}, []any{}, map[string]any{})}, nil, 1},
		{"unknown tag", v52, true, []packstream.Struct{msg(0x77)}, nil, 0},
		{"telemetry in 5.2", v52, true, []packstream.Struct{msg(TagTelemetry, int64(0))}, nil, 0},
		{"hello after auth", v52, true, []packstream.Struct{hello(nil)}, nil, 0},
		{"logon after auth", v52, true, []packstream.Struct{logon("basic", "a", "b")}, nil, 0},
		{"run with 2 fields", v52, true, []packstream.Struct{msg(TagRun, "RETURN 1", map[string]any{})}, nil, 0},
		{"run query not a string", v52, true, []packstream.Struct{msg(TagRun, int64(1), map[string]any{}, map[string]any{})}, nil, 0},
		{"run params null", v52, true, []packstream.Struct{msg(TagRun, "RETURN 1 AS x", nil, map[string]any{})}, nil, 0},
		{"pull n not int", v52, true, []packstream.Struct{run("RETURN 1 AS x"), msg(TagPull, map[string]any{"n": "all"})}, nil, 1},
		{"pull with 2 fields", v52, true, []packstream.Struct{run("RETURN 1 AS x"), msg(TagPull, map[string]any{}, map[string]any{})}, nil, 1},
		{"reset with a field", v52, true, []packstream.Struct{msg(TagReset, int64(1))}, nil, 0},
		{"commit with a field", v52, true, []packstream.Struct{begin(), msg(TagCommit, int64(1))}, nil, 1},
		{"route in 4.0", v40, true, []packstream.Struct{msg(TagRoute, map[string]any{}, []any{}, nil)}, nil, 0},
		{"logoff in 4.4", v44, true, []packstream.Struct{msg(TagLogoff)}, nil, 0},
		{"logon in 4.4", v44, false, []packstream.Struct{logon("basic", "a", "b")}, nil, 0},
		{"run before auth", v52, false, []packstream.Struct{run("RETURN 1 AS x")}, nil, 0},
		{"reset before auth", v52, false, []packstream.Struct{msg(TagReset)}, nil, 0},
		{"hello without user_agent", v52, false, []packstream.Struct{msg(TagHello, map[string]any{})}, nil, 0},
		{"hello with 2 fields", v44, false, []packstream.Struct{msg(TagHello, map[string]any{"user_agent": "x"}, map[string]any{})}, nil, 0},
		{"goodbye", v52, true, []packstream.Struct{run("RETURN 1 AS x"), msg(TagGoodbye), pull(-1)}, nil, 1},
		{"not a structure", v52, true, nil, AppendMessage(nil, []byte{0x91, 0x01}), 0},
		{"legacy struct8 marker", v52, true, nil, AppendMessage(nil, []byte{0xDC, 0x00, TagReset}), 0},
		{"bad packstream", v52, true, nil, AppendMessage(nil, []byte{0xB1, TagBegin, 0xC4}), 0},
		{"trailing bytes", v52, true, nil, AppendMessage(nil, []byte{0xB0, TagReset, 0x01}), 0},
		{"too large", v52, true, []packstream.Struct{run(big)}, nil, 0},
		{"chunk header then eof", v52, true, nil, []byte{0x00, 0x10, 0xB0}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *rawClient
			if tc.auth {
				c = login(t, addr, tc.ver)
			} else {
				c = dialVersion(t, addr, tc.ver)
			}
			if tc.raw != nil {
				c.sendRaw(tc.raw)
				if tc.name == "chunk header then eof" {
					_ = c.nc.(*net.TCPConn).CloseWrite()
				}
			} else {
				c.send(tc.msgs...)
			}
			for range tc.ok {
				c.recv()
			}
			c.expectClosed()
		})
	}
}

func TestRoute(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	routing := map[string]any{"address": "localhost:7687"}
	tests := []struct {
		name  string
		ver   Version
		third any
		db    string
	}{
		{"5.2 db in extra", v52, map[string]any{"db": "memgraph"}, "memgraph"},
		{"5.2 no db", v52, map[string]any{}, ""},
		{"5.2 null db", v52, map[string]any{"db": nil}, ""},
		{"4.4 db in extra", v44, map[string]any{"db": "x"}, "x"},
		{"4.3 db string", v43, "memgraph", "memgraph"},
		{"4.3 db null", v43, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, addr, tc.ver)
			// The previous subtest's session may record its Close at any
			// time: look for this ROUTE among the calls made since.
			since := len(b.callLog())
			c.send(msg(TagRoute, routing, []any{"bm"}, tc.third))
			meta := c.expectSuccess()
			rt, ok := meta["rt"].(map[string]any)
			if !ok || rt["db"] != tc.db || rt["ttl"] != int64(300) || len(meta) != 1 {
				t.Fatalf("ROUTE SUCCESS %v", meta)
			}
			want := `Route map[address:localhost:7687] [bm] "` + tc.db + `"`
			var routes []string
			for _, call := range b.callLog()[since:] {
				if strings.HasPrefix(call, "Route ") {
					routes = append(routes, call)
				}
			}
			if len(routes) != 1 || routes[0] != want {
				t.Fatalf("route calls %q, want exactly %q", routes, want)
			}
		})
	}
	t.Run("failure", func(t *testing.T) {
		b.mu.Lock()
		b.routeErr = &Error{Code: CodeClientError, Message: "You cannot fetch routing table from an instance which is not part of a cluster."}
		b.mu.Unlock()
		c := login(t, addr, v52)
		c.send(msg(TagRoute, routing, []any{}, map[string]any{}), run("RETURN 1 AS x"), msg(TagReset))
		c.expectFailure(CodeClientError, "You cannot fetch routing table")
		c.expectIgnored()
		c.expectSuccess()
	})
}

func TestLogoff(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{}, b)
	c := login(t, addr, v52)
	c.send(begin(), msg(TagLogoff), logon("basic", "other", "pw"), run("RETURN 1 AS x"))
	c.expectSuccess()
	if meta := c.expectSuccess(); len(meta) != 0 {
		t.Fatalf("LOGOFF SUCCESS %v", meta)
	}
	c.expectSuccess()
	if meta := c.expectSuccess(); meta["qid"] != nil {
		t.Fatalf("transaction survived LOGOFF: %v", meta)
	}
	c.send(pull(-1), msg(TagLogoff), run("RETURN 1 AS x"))
	c.expectRecord()
	c.expectSuccess()
	c.expectSuccess()
	c.expectClosed() // RUN before LOGON
}

func TestNodeEncoding(t *testing.T) {
	_, addr := startServer(t, Config{}, newFakeBackend())
	tests := []struct {
		ver    Version
		node   packstream.Struct
		nested packstream.Struct
	}{
		{v52,
			packstream.Struct{Tag: TagNode, Fields: []any{int64(7), []any{"Person"}, map[string]any{"name": "Ada"}, "7"}},
			packstream.Struct{Tag: TagNode, Fields: []any{int64(8), []any{}, map[string]any{}, "8"}}},
		{v44,
			packstream.Struct{Tag: TagNode, Fields: []any{int64(7), []any{"Person"}, map[string]any{"name": "Ada"}}},
			packstream.Struct{Tag: TagNode, Fields: []any{int64(8), []any{}, map[string]any{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.ver.String(), func(t *testing.T) {
			c := login(t, addr, tc.ver)
			c.send(run("MATCH (n) RETURN n"), pull(-1))
			c.expectSuccess()
			rec := c.expectRecord()
			want := []any{tc.node, map[string]any{"list": []any{tc.nested}}}
			if !packstream.Equal(rec, want) {
				t.Fatalf("record %#v\nwant %#v", rec, want)
			}
			c.expectSuccess()
		})
	}
}

// countingConn counts socket writes on the server side.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// TestPipelinedRepliesBatched checks that a pipelined batch of requests is
// answered with a single socket write (flush when the input is drained).
func TestPipelinedRepliesBatched(t *testing.T) {
	srv, err := NewServer(Config{}, newFakeBackend())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, server := net.Pipe()
	counted := &countingConn{Conn: server}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(counted)
	}()
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: client, mr: NewMessageReader(bufio.NewReader(client), 0)}
	go func() { _, _ = client.Write(handshakeBytes(goDriver5284...)) }()
	var reply [4]byte
	if _, err := io.ReadFull(client, reply[:]); err != nil {
		t.Fatal(err)
	}
	if got := counted.count(); got != 1 {
		t.Fatalf("%d writes for the handshake", got)
	}
	batch := encodeMessages(t, hello(nil), logon("basic", "u", "p"), run("UNWIND range(1, 5) AS i RETURN i"), pull(-1))
	go func() { _, _ = client.Write(batch) }()
	for range 2 + 1 + 5 + 1 {
		c.recv()
	}
	if got := counted.count(); got != 2 {
		t.Fatalf("%d socket writes for a pipelined batch, want 1", got-1)
	}
	_ = client.Close()
	<-done
}

func TestIdleTimeout(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, Config{IdleTimeout: 100 * time.Millisecond}, b)
	c := login(t, addr, v52)
	time.Sleep(30 * time.Millisecond)
	c.send(run("RETURN 1 AS x"), pull(-1)) // activity resets the timer
	c.expectSuccess()
	c.expectRecord()
	c.expectSuccess()
	c.expectClosed()
	eventually(t, "Session.Close", func() bool { return b.closedCount() == 1 })
}

// TestCloseKillsEverything emulates kill -9: listener and every connection
// close at once and every Session is closed.
func TestCloseKillsEverything(t *testing.T) {
	b := newFakeBackend()
	srv, err := NewServer(Config{}, b)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	var clients []*rawClient
	for range 3 {
		clients = append(clients, login(t, addr, v52))
	}
	clients[0].send(begin(), run("UNWIND range(1, 5) AS i RETURN i"), pull(1))
	clients[0].expectSuccess()
	clients[0].expectSuccess()
	clients[0].expectRecord()
	clients[0].expectSuccess()
	half := dialRaw(t, addr, handshakeBytes()[:4]) // still in its handshake
	eventually(t, "4 active connections", func() bool { return srv.ActiveConns() == 4 })

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := srv.ActiveConns(); n != 0 {
		t.Fatalf("ActiveConns after Close = %d", n)
	}
	if n := b.closedCount(); n != 3 {
		t.Fatalf("%d sessions closed, want 3 (Close must wait for them)", n)
	}
	for _, c := range clients {
		c.expectClosed()
	}
	half.expectClosed()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still accepting")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestLoggerReceivesEvents(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	_, addr := startServer(t, Config{Logger: zap.New(core)}, newFakeBackend())
	c := login(t, addr, v52)
	c.send(msg(0x77))
	c.expectClosed()
	eventually(t, "a close log entry", func() bool {
		return logs.FilterMessage("bolt: closing connection").Len() == 1
	})
}

// TestWriteTimeout checks that a client that stops reading cannot hold its
// connection (and Session) forever.
func TestWriteTimeout(t *testing.T) {
	b := newFakeBackend()
	row := []any{strings.Repeat("x", 1<<20)}
	big := &fakeQuery{fields: []string{"x"}}
	for range 16 {
		big.rows = append(big.rows, row)
	}
	b.queries["BIG"] = big
	srv, addr := startServer(t, Config{WriteTimeout: 100 * time.Millisecond}, b)
	c := login(t, addr, v52)
	c.send(run("BIG"), pull(-1)) // and never read the 16 MiB of replies
	eventually(t, "the connection to be dropped", func() bool { return srv.ActiveConns() == 0 })
	if n := b.closedCount(); n != 1 {
		t.Fatalf("%d sessions closed", n)
	}
}
