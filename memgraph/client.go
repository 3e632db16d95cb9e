package memgraph

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"go.uber.org/zap"
)

// userAgent is sent in Bolt HELLO; Memgraph shows it in its logs.
const userAgent = "memgraph-gateway-admin"

// Client is the admin connection to one Memgraph instance: one driver with
// a small pool, every query an auto-commit session.Run bounded by a
// timeout. It is safe for concurrent use.
type Client struct {
	cfg    Config
	drv    neo4j.DriverWithContext
	log    *zap.Logger
	closed atomic.Bool
	// perDatabase: the last HasData found the counters in SHOW STORAGE
	// INFO ON CURRENT DATABASE (Memgraph 3.11+), so it asks that first.
	perDatabase atomic.Bool
}

// New validates cfg and returns a Client for the instance. It does not
// connect: the first call does.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	auth := neo4j.NoAuth()
	if cfg.Username != "" {
		auth = neo4j.BasicAuth(cfg.Username, cfg.Password, "")
	}
	uri, tc := cfg.driverTLS()
	drv, err := neo4j.NewDriverWithContext(uri, auth, func(dc *config.Config) {
		dc.TlsConfig = tc
		dc.MaxConnectionPoolSize = cfg.MaxConnections
		dc.SocketConnectTimeout = cfg.ConnectTimeout
		// Every call carries a deadline; this only caps a call under a
		// context whose deadline is longer still.
		dc.ConnectionAcquisitionTimeout = max(cfg.Timeout, cfg.AdminTimeout)
		dc.UserAgent = userAgent
	})
	if err != nil {
		return nil, fmt.Errorf("memgraph: driver for %s: %w", cfg.Addr, err)
	}
	return &Client{cfg: cfg, drv: drv, log: cfg.Logger.With(zap.String("instance", cfg.Name))}, nil
}

// Name is Config.Name.
func (c *Client) Name() string { return c.cfg.Name }

// Addr is Config.Addr, the instance's Bolt address.
func (c *Client) Addr() string { return c.cfg.Addr }

// Close closes the pool's connections. Calls made after Close fail with
// ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	if err := c.drv.Close(ctx); err != nil {
		return fmt.Errorf("memgraph: %s: close: %w", c.cfg.Name, err)
	}
	return nil
}

// run executes query as an auto-commit transaction (session.Run: Memgraph
// refuses replication queries in explicit transactions) and returns its
// records. The call is bounded by the verb's timeout (or the one set with
// WithCallTimeout) and by ctx. A read that fails to connect is tried once
// more within the same deadline, since a pooled connection may predate a
// restart of the instance; a state-changing query is never repeated.
func (c *Client) run(ctx context.Context, v verb, op, query string) ([]*neo4j.Record, error) {
	if c.closed.Load() {
		return nil, &Error{Instance: c.cfg.Name, Op: op, Kind: ErrClosed}
	}
	timeout := c.cfg.Timeout
	if v != verbRead {
		timeout = c.cfg.AdminTimeout
		if c.cfg.Guard != nil {
			if err := c.cfg.Guard(ctx); err != nil {
				return nil, &Error{Instance: c.cfg.Name, Op: op, Kind: ErrFenced, Err: err}
			}
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, callTimeout(ctx, timeout))
	defer cancel()
	for attempt := 0; ; attempt++ {
		recs, err := c.runOnce(callCtx, query)
		if err == nil {
			if v != verbRead {
				c.log.Info("memgraph: "+op, zap.String("query", query))
			}
			return recs, nil
		}
		e := c.wrap(callCtx, v, op, err)
		if v == verbRead && attempt == 0 && e.Kind == ErrUnavailable && callCtx.Err() == nil && !c.closed.Load() {
			continue
		}
		if v != verbRead {
			c.log.Debug("memgraph: "+op+" failed", zap.String("query", query), zap.Error(e))
		}
		return nil, e
	}
}

// runOnce is one auto-commit query on a session of its own.
func (c *Client) runOnce(ctx context.Context, query string) ([]*neo4j.Record, error) {
	sess := c.drv.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite})
	// An auto-commit session's Close only returns its connection to the
	// pool (dropping it if broken); it reports no error of its own.
	defer sess.Close(ctx) //nolint:errcheck // see above
	res, err := sess.Run(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// wrap turns a driver error into an *Error: a FAILURE from the server is
// classified by its text; anything else means the instance did not answer.
func (c *Client) wrap(callCtx context.Context, v verb, op string, err error) *Error {
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		kind, n := classify(v, ne.Code, ne.Msg)
		return &Error{Instance: c.cfg.Name, Op: op, Kind: kind, Code: ne.Code, Message: ne.Msg, RegisterCode: n, Err: err}
	}
	if c.closed.Load() {
		return &Error{Instance: c.cfg.Name, Op: op, Kind: ErrClosed, Err: err}
	}
	// The driver reports a deadline as its own timeout type; keep the
	// context's error in the chain so callers can test for it.
	if cerr := callCtx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = errors.Join(err, cerr)
	}
	return &Error{Instance: c.cfg.Name, Op: op, Kind: ErrUnavailable, Err: err}
}
