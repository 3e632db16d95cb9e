package memgraph

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"
)

// Defaults of Config.
const (
	DefaultTimeout        = time.Second
	DefaultAdminTimeout   = 15 * time.Second
	DefaultConnectTimeout = time.Second
	DefaultMaxConnections = 4
)

// Config describes one Memgraph instance and how to talk to it.
type Config struct {
	// Name identifies the instance in errors and logs. Default: Addr.
	Name string
	// Addr is the instance's Bolt address, host:port. Required.
	Addr string
	// Username and Password are sent as basic auth when Username is set;
	// otherwise no auth is sent (Memgraph without users).
	Username string
	Password string
	// TLS, when set, dials the instance over TLS with these settings
	// (RootCAs, ServerName, client certificates); see tls.go. nil: plain
	// Bolt.
	TLS *tls.Config
	// Timeout bounds each read call (Ping, Role, Replicas, StorageInfo)
	// from the start of the call, connecting included. Zero means
	// DefaultTimeout (1 s), fitting a health probe.
	Timeout time.Duration
	// AdminTimeout bounds each state-changing call (SET ROLE, REGISTER,
	// DROP). REGISTER waits for Memgraph to reach the replica (5 s connect
	// and 10 s SwapMainUUID timeouts in Memgraph), so it needs longer than a
	// probe. Zero means DefaultAdminTimeout (15 s).
	AdminTimeout time.Duration
	// ConnectTimeout bounds the TCP connect of a new connection. Zero
	// means DefaultConnectTimeout (1 s).
	ConnectTimeout time.Duration
	// MaxConnections caps the driver's pool for this instance. Zero means
	// DefaultMaxConnections (4).
	MaxConnections int
	// Guard, when set, is called before every state-changing query; an
	// error refuses the query with ErrFenced (for example: this gateway is
	// no longer the leader of the epoch it acts for). nil allows all.
	Guard func(ctx context.Context) error
	// Logger receives a line per state change made (info) and per state
	// change refused (debug); reads are not logged. nil means no logging.
	Logger *zap.Logger
}

// validate checks c and fills in the defaults.
func (c Config) validate() (Config, error) {
	if c.Addr == "" {
		return c, errors.New("memgraph: Config.Addr is required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("memgraph: Config.Addr %q is not host:port: %w", c.Addr, err)
	}
	if c.Timeout < 0 || c.AdminTimeout < 0 || c.ConnectTimeout < 0 || c.MaxConnections < 0 {
		return c, errors.New("memgraph: negative Timeout, AdminTimeout, ConnectTimeout or MaxConnections")
	}
	if c.Password != "" && c.Username == "" {
		return c, errors.New("memgraph: Config.Password set without Username")
	}
	if c.Name == "" {
		c.Name = c.Addr
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.AdminTimeout == 0 {
		c.AdminTimeout = DefaultAdminTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, nil
}

// callTimeoutKey carries a per-call timeout in a context.
type callTimeoutKey struct{}

// WithCallTimeout returns a context under which each call of a Client is
// bounded by d instead of Config.Timeout or Config.AdminTimeout. A deadline
// of ctx itself still applies: the earlier one wins. A helper that makes
// several calls (EnsureReplica) bounds each of them by d. A d <= 0 keeps
// the configured timeouts.
func WithCallTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, callTimeoutKey{}, d)
}

// callTimeout is the bound of one call under ctx.
func callTimeout(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Value(callTimeoutKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return def
}
