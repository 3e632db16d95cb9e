package bolt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/packstream"
)

// fakeQuery scripts the answer to one query text.
type fakeQuery struct {
	fields  []string
	rows    [][]any
	runErrs []error // the i-th Run of this query fails with runErrs[i], if set
	pullErr error
	summary map[string]any
}

// fakeBackend is a scripted engine. Unknown queries fail with a
// ClientError. Every Session call is logged in calls.
type fakeBackend struct {
	mu       sync.Mutex
	users    map[string]string // principal -> credentials; nil accepts anyone
	queries  map[string]*fakeQuery
	attempts map[string]int
	calls    []string
	extras   []map[string]any // extra of every Begin and Run, in order
	infos    []ConnInfo
	closed   int
	routeErr error
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		queries: map[string]*fakeQuery{
			"RETURN 1 AS x": {fields: []string{"x"}, rows: [][]any{{int64(1)}}},
			"UNWIND range(1, 5) AS i RETURN i": {fields: []string{"i"},
				rows: [][]any{{int64(1)}, {int64(2)}, {int64(3)}, {int64(4)}, {int64(5)}}},
			"CREATE (n)": {fields: []string{}, summary: map[string]any{"type": "w", "stats": map[string]any{"nodes-created": int64(1)}}},
			"SYNTAX ERROR": {runErrs: []error{
				&Error{Code: CodeClientError, Message: "line 1:1 mismatched input 'SYNTAX'"},
				&Error{Code: CodeClientError, Message: "line 1:1 mismatched input 'SYNTAX'"},
				&Error{Code: CodeClientError, Message: "line 1:1 mismatched input 'SYNTAX'"},
			}},
			"PANIC":        {runErrs: []error{errors.New("engine exploded")}},
			"FAIL ON PULL": {fields: []string{"x"}, pullErr: &Error{Code: CodeTransientError, Message: "pull failed"}},
			"FLAKY": {fields: []string{"ok"}, rows: [][]any{{true}},
				runErrs: []error{&Error{Code: CodeTransientError, Message: "try again"}}},
			"MATCH (n) RETURN n": {fields: []string{"n", "nested"}, rows: [][]any{{
				Node{ID: 7, Labels: []string{"Person"}, Props: map[string]any{"name": "Ada"}},
				map[string]any{"list": []any{&Node{ID: 8}}},
			}}},
			"BAD VALUE": {fields: []string{"x"}, rows: [][]any{{make(chan int)}}},
		},
		attempts: map[string]int{},
	}
}

func (b *fakeBackend) record(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

func (b *fakeBackend) callLog() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

func (b *fakeBackend) closedCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *fakeBackend) attemptsOf(q string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.attempts[q]
}

func (b *fakeBackend) Open(info ConnInfo) Session {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.infos = append(b.infos, info)
	return &fakeSession{b: b}
}

type fakeSession struct {
	b       *fakeBackend
	rows    [][]any
	summary map[string]any
	pullErr error
	open    bool
}

func (s *fakeSession) Authenticate(scheme, principal, credentials string) error {
	s.b.record("Authenticate %s %s %s", scheme, principal, credentials)
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.users == nil {
		return nil
	}
	if pw, ok := s.b.users[principal]; ok && pw == credentials && scheme == "basic" {
		return nil
	}
	return &Error{Code: CodeUnauthenticated, Message: "Authentication failure"}
}

func (s *fakeSession) Run(query string, params, extra map[string]any, inTx bool) ([]string, error) {
	s.b.record("Run %q inTx=%v params=%v", query, inTx, params)
	s.b.mu.Lock()
	s.b.extras = append(s.b.extras, extra)
	q, ok := s.b.queries[query]
	attempt := s.b.attempts[query]
	s.b.attempts[query]++
	s.b.mu.Unlock()
	if !ok {
		return nil, &Error{Code: CodeClientError, Message: "unknown query " + query}
	}
	if attempt < len(q.runErrs) && q.runErrs[attempt] != nil {
		return nil, q.runErrs[attempt]
	}
	s.rows, s.summary, s.pullErr, s.open = q.rows, q.summary, q.pullErr, true
	return q.fields, nil
}

func (s *fakeSession) take(n int64) ([][]any, bool, map[string]any, error) {
	if !s.open {
		return nil, false, nil, errors.New("no open result")
	}
	if s.pullErr != nil {
		return nil, false, nil, s.pullErr
	}
	k := len(s.rows)
	if n >= 0 && int(n) < k {
		k = int(n)
	}
	out := s.rows[:k]
	s.rows = s.rows[k:]
	if len(s.rows) > 0 {
		return out, false, nil, nil
	}
	s.open = false
	summary := map[string]any{"type": "r", "db": "memgraph"}
	for k, v := range s.summary {
		summary[k] = v
	}
	return out, true, summary, nil
}

func (s *fakeSession) Pull(n int64) ([][]any, bool, map[string]any, error) {
	s.b.record("Pull %d", n)
	return s.take(n)
}

func (s *fakeSession) Discard(n int64) (bool, map[string]any, error) {
	s.b.record("Discard %d", n)
	_, done, summary, err := s.take(n)
	return done, summary, err
}

func (s *fakeSession) Begin(extra map[string]any) error {
	s.b.record("Begin")
	s.b.mu.Lock()
	s.b.extras = append(s.b.extras, extra)
	s.b.mu.Unlock()
	return nil
}

func (s *fakeSession) Commit() (map[string]any, error) {
	s.b.record("Commit")
	return nil, nil
}

func (s *fakeSession) Rollback() error {
	s.b.record("Rollback")
	return nil
}

func (s *fakeSession) Reset() {
	s.b.record("Reset")
	s.open = false
}

func (s *fakeSession) Route(routing map[string]any, bookmarks []any, db string) (map[string]any, error) {
	s.b.record("Route %v %v %q", routing, bookmarks, db)
	s.b.mu.Lock()
	err := s.b.routeErr
	s.b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return map[string]any{"ttl": int64(300), "db": db, "servers": []any{
		map[string]any{"role": "WRITE", "addresses": []any{"10.0.0.1:7687"}},
	}}, nil
}

func (s *fakeSession) Close() {
	s.b.record("Close")
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.closed++
}

// startServer serves backend on a loopback listener until the test ends.
func startServer(t *testing.T, cfg Config, backend Backend) (*Server, string) {
	t.Helper()
	srv, err := NewServer(cfg, backend)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, ln.Addr().String()
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawClient speaks Bolt by hand over a socket.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	mr *MessageReader
}

func proposal(rng, minor, major byte) [4]byte { return [4]byte{0, rng, minor, major} }

func handshakeBytes(p ...[4]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, Magic)
	for i := 0; i < 4; i++ {
		if i < len(p) {
			b = append(b, p[i][:]...)
		} else {
			b = append(b, 0, 0, 0, 0)
		}
	}
	return b
}

// dialRaw connects and sends raw handshake bytes.
func dialRaw(t *testing.T, addr string, hs []byte) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(hs); err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, nc: nc, mr: NewMessageReader(bufio.NewReader(nc), 0)}
}

// dialVersion completes a handshake that proposes exactly v.
func dialVersion(t *testing.T, addr string, v Version) *rawClient {
	t.Helper()
	c := dialRaw(t, addr, handshakeBytes(proposal(0, v.Minor, v.Major)))
	var reply [4]byte
	if _, err := io.ReadFull(c.nc, reply[:]); err != nil {
		t.Fatalf("handshake reply: %v", err)
	}
	if reply != handshakeReply(v) {
		t.Fatalf("handshake reply % X, want %s", reply, v)
	}
	return c
}

// login completes the handshake for v and authenticates as user/pass
// (HELLO in 4.x; HELLO+LOGON in 5.x).
func login(t *testing.T, addr string, v Version) *rawClient {
	t.Helper()
	c := dialVersion(t, addr, v)
	if v.Major >= 5 {
		c.send(hello(nil), logon("basic", "user", "pass"))
		c.expectSuccess()
	} else {
		c.send(hello(map[string]any{"scheme": "basic", "principal": "user", "credentials": "pass"}))
	}
	c.expectSuccess()
	return c
}

// send writes all messages in one socket write (pipelining).
func (c *rawClient) send(msgs ...packstream.Struct) {
	c.t.Helper()
	c.sendRaw(encodeMessages(c.t, msgs...))
}

// encodeMessages encodes and chunks msgs back to back.
func encodeMessages(t testing.TB, msgs ...packstream.Struct) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		enc, err := packstream.Append(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		out = AppendMessage(out, enc)
	}
	return out
}

func (c *rawClient) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) recv() packstream.Struct {
	c.t.Helper()
	raw, err := c.mr.ReadMessage()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	v, err := packstream.Decode(raw, packstream.Limits{})
	if err != nil {
		c.t.Fatalf("decode reply: %v", err)
	}
	m, ok := v.(packstream.Struct)
	if !ok {
		c.t.Fatalf("reply is a %T", v)
	}
	return m
}

func (c *rawClient) expect(tag byte, nfields int) packstream.Struct {
	c.t.Helper()
	m := c.recv()
	if m.Tag != tag || len(m.Fields) != nfields {
		c.t.Fatalf("got message 0x%02X %v, want 0x%02X with %d fields", m.Tag, m.Fields, tag, nfields)
	}
	return m
}

func (c *rawClient) expectSuccess() map[string]any {
	c.t.Helper()
	return c.expect(TagSuccess, 1).Fields[0].(map[string]any)
}

func (c *rawClient) expectRecord() []any {
	c.t.Helper()
	return c.expect(TagRecord, 1).Fields[0].([]any)
}

func (c *rawClient) expectIgnored() {
	c.t.Helper()
	c.expect(TagIgnored, 0)
}

func (c *rawClient) expectFailure(code, msgPrefix string) {
	c.t.Helper()
	f := c.expect(TagFailure, 1).Fields[0].(map[string]any)
	if f["code"] != code || !strings.HasPrefix(f["message"].(string), msgPrefix) || len(f) != 2 {
		c.t.Fatalf("FAILURE %v, want code %s message %q...", f, code, msgPrefix)
	}
}

// expectClosed asserts the server closes the socket without sending
// anything more.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	var b [1]byte
	n, err := c.nc.Read(b[:])
	if n != 0 || err == nil {
		c.t.Fatalf("read %d bytes (% X), err %v; want the connection closed", n, b[:n], err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open: %v", err)
	}
}

// Message constructors.

func msg(tag byte, fields ...any) packstream.Struct {
	if fields == nil {
		fields = []any{}
	}
	return packstream.Struct{Tag: tag, Fields: fields}
}

func hello(extra map[string]any) packstream.Struct {
	m := map[string]any{"user_agent": "raw-test/1.0"}
	for k, v := range extra {
		m[k] = v
	}
	return msg(TagHello, m)
}

func logon(scheme, principal, credentials string) packstream.Struct {
	return msg(TagLogon, map[string]any{"scheme": scheme, "principal": principal, "credentials": credentials})
}

func run(query string) packstream.Struct {
	return msg(TagRun, query, map[string]any{}, map[string]any{})
}

func pull(n int64) packstream.Struct { return msg(TagPull, map[string]any{"n": n}) }

func discard(n int64) packstream.Struct { return msg(TagDiscard, map[string]any{"n": n}) }

func begin() packstream.Struct { return msg(TagBegin, map[string]any{}) }
