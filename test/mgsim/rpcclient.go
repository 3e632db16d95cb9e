package mgsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// rpcClient is MAIN's connection to one replica's replication server. Its
// mutex is Memgraph's RPC lock: one request at a time per replica, held by
// whoever streams (a commit, a heartbeat, a recovery step). The caller
// locks it around call.

// rpcErrKind classifies failures the way Memgraph's RPC layer does.
type rpcErrKind int

const (
	rpcConnect rpcErrKind = iota // RpcFailedToConnectException
	rpcTimeout                   // RpcTimeoutException
	rpcGeneric                   // GenericRpcFailedException
)

type rpcError struct {
	kind rpcErrKind
	err  error
}

func (e *rpcError) Error() string { return fmt.Sprintf("mgsim: replication rpc: %v", e.err) }
func (e *rpcError) Unwrap() error { return e.err }

func rpcKind(err error) rpcErrKind {
	var re *rpcError
	if errors.As(err, &re) {
		return re.kind
	}
	return rpcGeneric
}

type rpcClient struct {
	addr    string
	connect time.Duration
	maxMsg  int
	sockets *sockets
	lock    sync.Mutex // the RPC lock
	connMu  sync.Mutex
	conn    net.Conn
	rd      *bufio.Reader
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
}

func newRPCClient(addr string, connect time.Duration, maxMsg int, s *sockets) *rpcClient {
	ctx, cancel := context.WithCancel(s.ctx)
	return &rpcClient{addr: addr, connect: connect, maxMsg: maxMsg, sockets: s, ctx: ctx, cancel: cancel}
}

// tryLockFor acquires the RPC lock, giving up after d (Memgraph's
// TryStream with a timeout).
func (c *rpcClient) tryLockFor(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if c.lock.TryLock() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// call sends one request and waits for the response of type want, for at
// most timeout. The caller holds the RPC lock. Any failure drops the
// connection; the next call reconnects.
func (c *rpcClient) call(t msgType, req any, want msgType, timeout time.Duration) (any, error) {
	conn, rd, err := c.ensureConn()
	if err != nil {
		return nil, err
	}
	frame, err := encodeFrame(t, req, c.maxMsg)
	if err != nil {
		return nil, &rpcError{kind: rpcGeneric, err: err}
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.drop(conn)
		return nil, &rpcError{kind: rpcGeneric, err: err}
	}
	if _, err := conn.Write(frame); err != nil {
		c.drop(conn)
		return nil, &rpcError{kind: classify(err), err: err}
	}
	got, body, err := readFrame(rd, c.maxMsg)
	if err != nil {
		c.drop(conn)
		return nil, &rpcError{kind: classify(err), err: err}
	}
	if got != want {
		c.drop(conn)
		return nil, &rpcError{kind: rpcGeneric, err: fmt.Errorf("unexpected response type %d to %d", got, t)}
	}
	return body, nil
}

func classify(err error) rpcErrKind {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return rpcTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return rpcTimeout
	}
	return rpcGeneric
}

func (c *rpcClient) ensureConn() (net.Conn, *bufio.Reader, error) {
	c.connMu.Lock()
	if c.closed {
		c.connMu.Unlock()
		return nil, nil, &rpcError{kind: rpcConnect, err: errSocketsClosed}
	}
	if c.conn != nil {
		conn, rd := c.conn, c.rd
		c.connMu.Unlock()
		return conn, rd, nil
	}
	c.connMu.Unlock()
	conn, err := c.sockets.dial(c.ctx, c.addr, c.connect)
	if err != nil {
		return nil, nil, &rpcError{kind: rpcConnect, err: err}
	}
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.closed {
		c.sockets.removeConn(conn)
		conn.Close()
		return nil, nil, &rpcError{kind: rpcConnect, err: errSocketsClosed}
	}
	c.conn, c.rd = conn, bufio.NewReader(conn)
	return c.conn, c.rd, nil
}

func (c *rpcClient) drop(conn net.Conn) {
	c.connMu.Lock()
	if c.conn == conn {
		c.conn, c.rd = nil, nil
	}
	c.connMu.Unlock()
	c.sockets.removeConn(conn)
	conn.Close()
}

// close drops the connection for good; a call in flight fails at once.
func (c *rpcClient) close() {
	c.cancel()
	c.connMu.Lock()
	c.closed = true
	conn := c.conn
	c.conn, c.rd = nil, nil
	c.connMu.Unlock()
	if conn != nil {
		c.sockets.removeConn(conn)
		conn.Close()
	}
}
