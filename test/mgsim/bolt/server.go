package bolt

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/packstream"
)

// DefaultServerName is the server string Memgraph sends in HELLO and LOGON
// replies (flag --bolt-server-name-for-init, same default since v3.0).
const DefaultServerName = "Neo4j/v5.11.0 compatible graph database server - Memgraph"

// Defaults for Config durations.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("bolt: server closed")

// Config configures a Server. The zero value is valid: every field
// documents its default.
type Config struct {
	// Versions are the protocol versions offered in the handshake. nil or
	// empty means DefaultVersions() (Memgraph 3.12). Each must be one of
	// DefaultVersions(); VersionsBefore312() emulates older releases.
	Versions []Version
	// HandshakeTimeout bounds the time from accept to the end of the
	// handshake. Zero means DefaultHandshakeTimeout; negative means none.
	HandshakeTimeout time.Duration
	// IdleTimeout bounds the time the server waits for the next message
	// (and for all of its bytes). Zero or negative means no limit.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the socket, so a client that stops
	// reading cannot block its connection forever. Zero means
	// DefaultWriteTimeout; negative means none.
	WriteTimeout time.Duration
	// MaxMessageSize bounds one de-chunked message in bytes; a larger one
	// closes the connection. Zero means DefaultMaxMessageSize.
	MaxMessageSize int
	// Limits bound the PackStream decoding of each message. Zero fields
	// take packstream defaults, except MaxSize, which defaults to
	// MaxMessageSize.
	Limits packstream.Limits
	// ServerName is the "server" value of HELLO/LOGON replies. Empty means
	// DefaultServerName.
	ServerName string
	// Logger receives connection events at debug level and engine bugs
	// (unencodable values) at error level. nil means no logging.
	Logger *zap.Logger
}

// withDefaults validates c and returns it with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	if len(c.Versions) == 0 {
		c.Versions = DefaultVersions()
	} else {
		c.Versions = append([]Version(nil), c.Versions...)
	}
	for _, v := range c.Versions {
		if !implemented(v) {
			return c, fmt.Errorf("bolt: version %s is not implemented (want a subset of %v)", v, DefaultVersions())
		}
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxMessageSize < 0 {
		return c, fmt.Errorf("bolt: negative MaxMessageSize %d", c.MaxMessageSize)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Limits.MaxSize <= 0 {
		c.Limits.MaxSize = c.MaxMessageSize
	}
	c.Limits = c.Limits.WithDefaults()
	if c.ServerName == "" {
		c.ServerName = DefaultServerName
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, nil
}

// Server accepts Bolt connections and runs one state machine per
// connection against a Backend. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	backend Backend
	log     *zap.Logger
	nextID  atomic.Uint64

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup // one per tracked connection
}

// NewServer validates cfg and returns a Server that opens a Session on
// backend for every connection that completes the handshake.
func NewServer(cfg Config, backend Backend) (*Server, error) {
	if backend == nil {
		return nil, errors.New("bolt: nil backend")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:       cfg,
		backend:   backend,
		log:       cfg.Logger,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]struct{}),
	}, nil
}

// Serve accepts connections on ln until ln fails or the server is closed,
// serving each on its own goroutine. It always closes ln. After Close it
// returns ErrServerClosed. Serve may be called for several listeners.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Debug("bolt: accept", zap.Error(err), zap.Duration("retry_in", backoff))
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("bolt: accept: %w", err)
		}
		backoff = 0
		if !s.track(nc) {
			_ = nc.Close()
			continue
		}
		go s.serveTracked(nc)
	}
}

// ServeConn serves one connection on the calling goroutine and returns when
// it ends. It takes ownership of nc and always closes it.
func (s *Server) ServeConn(nc net.Conn) {
	if !s.track(nc) {
		_ = nc.Close()
		return
	}
	s.serveTracked(nc)
}

// Close closes every listener and every open connection at once, as a
// killed process would: no GOODBYE, no flush of pending replies. It then
// waits until every connection goroutine has returned, which includes each
// Session's Close call; so Close must not be called while holding a lock
// that a Session method may wait for. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	var errs []error
	if !s.closed {
		s.closed = true
		for ln := range s.listeners {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		for nc := range s.conns {
			_ = nc.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("bolt: close listeners: %w", errors.Join(errs...))
	}
	return nil
}

// ActiveConns returns the number of connections being served, counted from
// accept (or ServeConn) to the end of the connection, handshake included.
func (s *Server) ActiveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers nc; it returns false once the server is closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) serveTracked(nc net.Conn) {
	defer func() {
		_ = nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	c := newConn(s, nc, s.nextID.Add(1))
	c.serve()
}
