package bolt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/packstream"
)

// state is the Bolt server state of one connection.
type state int

const (
	// stateAuth follows the handshake until authentication succeeds
	// (Memgraph's Init state). LOGOFF returns to it.
	stateAuth state = iota
	stateReady
	stateStreaming
	stateTxReady
	stateTxStreaming
	// stateFailed follows a FAILURE: everything but RESET is IGNORED.
	stateFailed
)

func (s state) String() string {
	switch s {
	case stateAuth:
		return "Authentication"
	case stateReady:
		return "Ready"
	case stateStreaming:
		return "Streaming"
	case stateTxReady:
		return "TxReady"
	case stateTxStreaming:
		return "TxStreaming"
	case stateFailed:
		return "Failed"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Reasons a connection ends other than the peer or a Close.
var (
	errGoodbye    = errors.New("bolt: goodbye")
	errAuthFailed = errors.New("bolt: authentication failed")
	errViolation  = errors.New("bolt: protocol violation")
)

func violation(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errViolation, fmt.Sprintf(format, args...))
}

// conn is one connection's state machine. Only its own goroutine uses it.
type conn struct {
	srv  *Server
	cfg  *Config
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	mr   *MessageReader
	log  *zap.Logger
	ext  packstream.Ext
	ver  Version
	sess Session

	state state
	inTx  bool  // an explicit transaction is open (kept while Failed)
	qid   int64 // qid of the next RUN in the open transaction

	scratch []byte // one encoded message
	stage   []byte // chunked replies to the message being handled
}

// flushReader flushes pending replies before every read of the socket, so
// replies go out exactly when the input buffer is drained: a pipelined
// batch of requests gets one batch of replies.
type flushReader struct{ c *conn }

func (f flushReader) Read(p []byte) (int, error) {
	if f.c.bw.Buffered() > 0 {
		if err := f.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return f.c.nc.Read(p)
}

// Compile-time checks of the socket adapters.
var (
	_ io.Reader = flushReader{}
	_ io.Writer = deadlineWriter{}
)

// deadlineWriter bounds every socket write by the write timeout.
type deadlineWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if err := w.nc.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
	}
	return w.nc.Write(p)
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	c := &conn{
		srv: s,
		cfg: &s.cfg,
		nc:  nc,
		log: s.log.With(zap.Uint64("conn", id), zap.Stringer("remote", nc.RemoteAddr())),
	}
	c.br = bufio.NewReaderSize(flushReader{c}, 64<<10)
	c.bw = bufio.NewWriterSize(deadlineWriter{nc: nc, timeout: s.cfg.WriteTimeout}, 64<<10)
	c.mr = NewMessageReader(c.br, s.cfg.MaxMessageSize)
	c.ext = c.encodeExt
	return c
}

// serve runs the connection to its end. The caller closes the socket.
func (c *conn) serve() {
	ver, ok := c.handshake()
	if !ok {
		return
	}
	c.ver = ver
	c.log = c.log.With(zap.Stringer("version", ver))
	c.sess = c.srv.backend.Open(ConnInfo{Remote: c.nc.RemoteAddr(), Version: ver})
	defer c.sess.Close()
	for {
		if t := c.cfg.IdleTimeout; t > 0 {
			if err := c.nc.SetReadDeadline(time.Now().Add(t)); err != nil {
				c.end(err)
				return
			}
		}
		raw, err := c.mr.ReadMessage()
		if err != nil {
			c.end(err)
			return
		}
		v, err := packstream.Decode(raw, c.cfg.Limits)
		if err != nil {
			c.end(fmt.Errorf("%w: %w", errViolation, err))
			return
		}
		m, ok := v.(packstream.Struct)
		if !ok {
			c.end(violation("message is a %T, not a structure", v))
			return
		}
		err = c.dispatch(m)
		if _, werr := c.bw.Write(c.stage); werr != nil && err == nil {
			err = werr
		}
		if cap(c.stage) > keepBuffer {
			c.stage = nil
		}
		c.stage = c.stage[:0]
		if err != nil {
			c.end(err)
			return
		}
	}
}

// end flushes what is pending (replies to earlier messages, the FAILURE of
// an authentication) and logs why the connection ends.
func (c *conn) end(err error) {
	_ = c.bw.Flush()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errGoodbye):
		c.log.Debug("bolt: connection closed by client", zap.Error(err))
	default:
		c.log.Debug("bolt: closing connection", zap.Stringer("state", c.state), zap.Error(err))
	}
}

// handshake reads the magic and proposals and answers with the chosen
// version. It fails (and the connection closes without a reply) on a bad
// magic, no common version, a timeout or an I/O error.
func (c *conn) handshake() (Version, bool) {
	if t := c.cfg.HandshakeTimeout; t > 0 {
		if err := c.nc.SetDeadline(time.Now().Add(t)); err != nil {
			return Version{}, false
		}
	}
	var hs [HandshakeSize]byte
	if _, err := io.ReadFull(c.br, hs[:4]); err != nil {
		c.log.Debug("bolt: handshake read", zap.Error(err))
		return Version{}, false
	}
	if !checkMagic(hs[:4]) {
		c.log.Debug("bolt: wrong preamble", zap.Binary("magic", hs[:4]))
		return Version{}, false
	}
	if _, err := io.ReadFull(c.br, hs[4:]); err != nil {
		c.log.Debug("bolt: handshake read", zap.Error(err))
		return Version{}, false
	}
	v, ok := Negotiate([16]byte(hs[4:]), c.cfg.Versions)
	if !ok {
		c.log.Debug("bolt: no common version", zap.Binary("proposals", hs[4:]))
		return Version{}, false
	}
	reply := handshakeReply(v)
	if _, err := c.bw.Write(reply[:]); err != nil {
		return Version{}, false
	}
	if err := c.bw.Flush(); err != nil {
		c.log.Debug("bolt: handshake write", zap.Error(err))
		return Version{}, false
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return Version{}, false
	}
	return v, true
}

// dispatch handles one request. A non-nil error ends the connection.
func (c *conn) dispatch(m packstream.Struct) error {
	switch c.state {
	case stateFailed:
		if m.Tag == TagReset {
			return c.reset(m)
		}
		return c.queue(TagIgnored)
	case stateAuth:
		return c.dispatchAuth(m)
	}
	switch m.Tag {
	case TagRun:
		return c.run(m)
	case TagPull:
		return c.pullOrDiscard(m, true)
	case TagDiscard:
		return c.pullOrDiscard(m, false)
	case TagBegin:
		return c.begin(m)
	case TagCommit:
		return c.commit(m)
	case TagRollback:
		return c.rollback(m)
	case TagReset:
		return c.reset(m)
	case TagGoodbye:
		return errGoodbye
	case TagRoute:
		if c.ver.Major > 4 || c.ver.Minor >= 3 {
			return c.route(m)
		}
	case TagLogoff:
		if c.ver.Major >= 5 {
			return c.logoff(m)
		}
	}
	return violation("unexpected message 0x%02X in state %s", m.Tag, c.state)
}

// dispatchAuth handles the messages allowed before authentication: HELLO
// (which authenticates in 4.x) and, in 5.x, LOGON.
func (c *conn) dispatchAuth(m packstream.Struct) error {
	switch {
	case m.Tag == TagHello:
		meta, err := mapArg(m, 1, 0)
		if err != nil {
			return err
		}
		if _, ok := meta["user_agent"].(string); !ok {
			return violation("HELLO without a user_agent string")
		}
		if c.ver.Major < 5 {
			if err := c.authenticate(meta); err != nil {
				return err
			}
			c.state = stateReady
		}
		return c.succeed(c.helloMetadata())
	case m.Tag == TagLogon && c.ver.Major >= 5:
		meta, err := mapArg(m, 1, 0)
		if err != nil {
			return err
		}
		if err := c.authenticate(meta); err != nil {
			return err
		}
		c.state = stateReady
		return c.succeed(c.helloMetadata())
	}
	return violation("unexpected message 0x%02X before authentication", m.Tag)
}

func (c *conn) helloMetadata() map[string]any {
	return map[string]any{"connection_id": ConnectionID, "server": c.cfg.ServerName}
}

// authenticate applies Memgraph's rules: a missing scheme is "none",
// missing principal and credentials are "", schemes other than "basic" and
// "none" fail. On failure it queues FAILURE and returns errAuthFailed.
func (c *conn) authenticate(meta map[string]any) error {
	scheme, ok := meta["scheme"].(string)
	if !ok {
		scheme = "none"
	}
	principal, _ := meta["principal"].(string)
	credentials, _ := meta["credentials"].(string)
	var err error
	if scheme == "basic" || scheme == "none" {
		err = c.sess.Authenticate(scheme, principal, credentials)
	} else {
		err = &Error{Code: CodeUnauthenticated, Message: MessageAuthFailure}
	}
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) || e == nil {
		e = &Error{Code: CodeUnauthenticated, Message: MessageAuthFailure}
	}
	if qerr := c.queue(TagFailure, failureMetadata(e)); qerr != nil {
		return qerr
	}
	return fmt.Errorf("%w: %w", errAuthFailed, err)
}

func (c *conn) run(m packstream.Struct) error {
	if err := argCount(m, 3); err != nil {
		return err
	}
	query, ok := m.Fields[0].(string)
	if !ok {
		return violation("RUN query is a %T", m.Fields[0])
	}
	params, err := mapArg(m, 3, 1)
	if err != nil {
		return err
	}
	extra, err := mapArg(m, 3, 2)
	if err != nil {
		return err
	}
	if c.state != stateReady && c.state != stateTxReady {
		return violation("RUN in state %s", c.state)
	}
	fields, err := c.sess.Run(query, params, extra, c.inTx)
	if err != nil {
		return c.fail(err)
	}
	meta := map[string]any{"fields": stringList(fields)}
	if c.inTx {
		meta["qid"] = c.qid
		c.qid++
		c.state = stateTxStreaming
	} else {
		c.state = stateStreaming
	}
	return c.succeed(meta)
}

func (c *conn) pullOrDiscard(m packstream.Struct, pull bool) error {
	meta, err := mapArg(m, 1, 0)
	if err != nil {
		return err
	}
	n := int64(-1)
	if v, ok := meta["n"]; ok {
		if n, ok = v.(int64); !ok {
			return violation("PULL/DISCARD n is a %T", v)
		}
	}
	if v, ok := meta["qid"]; ok {
		if _, ok := v.(int64); !ok {
			return violation("PULL/DISCARD qid is a %T", v)
		}
	}
	if c.state != stateStreaming && c.state != stateTxStreaming {
		return violation("PULL/DISCARD in state %s", c.state)
	}
	var (
		records [][]any
		done    bool
		summary map[string]any
	)
	if pull {
		records, done, summary, err = c.sess.Pull(n)
	} else {
		done, summary, err = c.sess.Discard(n)
	}
	if err != nil {
		return c.fail(err)
	}
	for _, r := range records {
		if r == nil {
			r = []any{}
		}
		if err := c.queue(TagRecord, r); err != nil {
			return c.unencodable(err)
		}
	}
	if !done {
		return c.succeed(map[string]any{"has_more": true})
	}
	final := make(map[string]any, len(summary)+1)
	for k, v := range summary {
		final[k] = v
	}
	final["has_more"] = false
	c.state = c.idleState()
	return c.succeed(final)
}

func (c *conn) idleState() state {
	if c.inTx {
		return stateTxReady
	}
	return stateReady
}

func (c *conn) begin(m packstream.Struct) error {
	extra, err := mapArg(m, 1, 0)
	if err != nil {
		return err
	}
	switch c.state {
	case stateTxReady:
		return c.fail(&Error{Code: CodeClientError, Message: MessageNestedTx})
	case stateReady:
	default:
		return violation("BEGIN in state %s", c.state)
	}
	if err := c.sess.Begin(extra); err != nil {
		return c.fail(err)
	}
	c.inTx, c.qid, c.state = true, 0, stateTxReady
	return c.succeed(map[string]any{})
}

func (c *conn) commit(m packstream.Struct) error {
	if err := argCount(m, 0); err != nil {
		return err
	}
	switch c.state {
	case stateReady:
		return c.fail(&Error{Code: CodeClientError, Message: MessageNoTxCommit})
	case stateTxReady:
	default:
		return violation("COMMIT in state %s", c.state)
	}
	summary, err := c.sess.Commit()
	if err != nil {
		return c.fail(err)
	}
	c.inTx, c.qid, c.state = false, 0, stateReady
	if summary == nil {
		summary = map[string]any{}
	}
	return c.succeed(summary)
}

func (c *conn) rollback(m packstream.Struct) error {
	if err := argCount(m, 0); err != nil {
		return err
	}
	switch c.state {
	case stateReady:
		return c.fail(&Error{Code: CodeClientError, Message: MessageNoTxRollback})
	case stateTxReady:
	default:
		return violation("ROLLBACK in state %s", c.state)
	}
	if err := c.sess.Rollback(); err != nil {
		return c.fail(err)
	}
	c.inTx, c.qid, c.state = false, 0, stateReady
	return c.succeed(map[string]any{})
}

func (c *conn) reset(m packstream.Struct) error {
	if err := argCount(m, 0); err != nil {
		return err
	}
	c.sess.Reset()
	c.inTx, c.qid, c.state = false, 0, stateReady
	return c.succeed(map[string]any{})
}

// logoff returns to the authentication state. Memgraph HEAD sends no reply
// to LOGOFF; the emulator sends SUCCESS {} as the Bolt spec (and drivers)
// expect. Any transaction or result is dropped via Session.Reset.
func (c *conn) logoff(m packstream.Struct) error {
	if err := argCount(m, 0); err != nil {
		return err
	}
	c.sess.Reset()
	c.inTx, c.qid, c.state = false, 0, stateAuth
	return c.succeed(map[string]any{})
}

// route handles ROUTE: routing map, bookmarks list, then the database as a
// string or null (4.3) or as "db" in an extra map (4.4, 5.x).
func (c *conn) route(m packstream.Struct) error {
	routing, err := mapArg(m, 3, 0)
	if err != nil {
		return err
	}
	bookmarks, ok := m.Fields[1].([]any)
	if !ok {
		return violation("ROUTE bookmarks is a %T", m.Fields[1])
	}
	dbValue := m.Fields[2]
	if c.ver.Major > 4 || c.ver.Minor >= 4 {
		extra, err := mapArg(m, 3, 2)
		if err != nil {
			return err
		}
		dbValue = extra["db"]
	}
	var db string
	switch x := dbValue.(type) {
	case nil:
	case string:
		db = x
	default:
		return violation("ROUTE db is a %T", dbValue)
	}
	if c.state != stateReady && c.state != stateTxReady {
		return violation("ROUTE in state %s", c.state)
	}
	table, err := c.sess.Route(routing, bookmarks, db)
	if err != nil {
		return c.fail(err)
	}
	if _, ok := table["rt"]; ok {
		return c.succeed(table)
	}
	return c.succeed(map[string]any{"rt": table})
}

// fail replaces the replies queued for this request with FAILURE and moves
// to the Failed state.
func (c *conn) fail(err error) error {
	var e *Error
	if !errors.As(err, &e) || e == nil {
		c.log.Debug("bolt: session error is not an *Error", zap.Error(err))
		e = &Error{Code: CodeDatabaseError, Message: MessageUnknown}
	}
	c.stage = c.stage[:0]
	c.state = stateFailed
	return c.queue(TagFailure, failureMetadata(e))
}

func failureMetadata(e *Error) map[string]any {
	return map[string]any{"code": e.Code, "message": e.Message}
}

// succeed queues SUCCESS with meta; a value the engine put in meta that
// cannot be encoded becomes a FAILURE.
func (c *conn) succeed(meta map[string]any) error {
	if err := c.queue(TagSuccess, meta); err != nil {
		return c.unencodable(err)
	}
	return nil
}

// unencodable handles an engine value PackStream cannot encode: an engine
// bug, logged at error level and answered as Memgraph answers unknown
// exceptions.
func (c *conn) unencodable(err error) error {
	if !errors.Is(err, packstream.ErrUnsupported) {
		return err
	}
	c.log.Error("bolt: session returned a value that cannot be encoded", zap.Error(err))
	return c.fail(err)
}

// queue encodes one message and appends it, chunked, to the staged replies.
func (c *conn) queue(tag byte, fields ...any) error {
	msg, err := packstream.AppendStructHeader(c.scratch[:0], tag, len(fields))
	if err != nil {
		return err
	}
	for _, f := range fields {
		if msg, err = packstream.AppendExt(msg, f, c.ext); err != nil {
			return fmt.Errorf("bolt: encode message 0x%02X: %w", tag, err)
		}
	}
	c.scratch = msg
	c.stage = AppendMessage(c.stage, msg)
	if cap(c.scratch) > keepBuffer {
		c.scratch = nil
	}
	return nil
}

// encodeExt encodes Node values as the Node structure of the negotiated
// version: 3 fields in 4.x, 4 (with element_id) in 5.x.
func (c *conn) encodeExt(v any) (any, bool) {
	var n Node
	switch x := v.(type) {
	case Node:
		n = x
	case *Node:
		if x == nil {
			return nil, true
		}
		n = *x
	default:
		return nil, false
	}
	labels := n.Labels
	if labels == nil {
		labels = []string{}
	}
	props := n.Props
	if props == nil {
		props = map[string]any{}
	}
	fields := []any{n.ID, labels, props}
	if c.ver.Major >= 5 {
		fields = append(fields, strconv.FormatInt(n.ID, 10))
	}
	return packstream.Struct{Tag: TagNode, Fields: fields}, true
}

func argCount(m packstream.Struct, n int) error {
	if len(m.Fields) != n {
		return violation("message 0x%02X has %d fields, want %d", m.Tag, len(m.Fields), n)
	}
	return nil
}

// mapArg checks that m has n fields and returns field i as a map.
func mapArg(m packstream.Struct, n, i int) (map[string]any, error) {
	if err := argCount(m, n); err != nil {
		return nil, err
	}
	v, ok := m.Fields[i].(map[string]any)
	if !ok {
		return nil, violation("message 0x%02X field %d is a %T, want a map", m.Tag, i, m.Fields[i])
	}
	return v, nil
}

func stringList(s []string) []any {
	l := make([]any, len(s))
	for i, v := range s {
		l[i] = v
	}
	return l
}
