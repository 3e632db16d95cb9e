package memgraph

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// silentServer accepts TCP connections and never answers, as a hung
// process or a blackholed pod behind a live kernel.
func silentServer(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// Every call is bounded: by Config.Timeout, by WithCallTimeout, or by the
// context's deadline, whichever is first. A server that accepts TCP and
// never answers costs one timeout and reads as ErrUnavailable.
func TestTimeouts(t *testing.T) {
	addr := silentServer(t, "127.0.26.1")
	c := newClient(t, Config{Addr: addr, Timeout: 300 * time.Millisecond, AdminTimeout: 500 * time.Millisecond})
	const slack = 700 * time.Millisecond // the race detector on 2 shared cores

	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
		ctx  func() (context.Context, context.CancelFunc)
		want time.Duration
	}{
		{name: "ping, Config.Timeout", call: c.Ping, want: 300 * time.Millisecond},
		{name: "role, Config.Timeout", call: func(ctx context.Context) error { _, err := c.Role(ctx); return err }, want: 300 * time.Millisecond},
		{name: "replicas, Config.Timeout", call: func(ctx context.Context) error { _, err := c.Replicas(ctx); return err }, want: 300 * time.Millisecond},
		{name: "register, Config.AdminTimeout", call: func(ctx context.Context) error {
			return c.Register(ctx, "r", ModeSync, "127.0.26.2:10000")
		}, want: 500 * time.Millisecond},
		{name: "set main, WithCallTimeout", call: c.SetMain, want: 100 * time.Millisecond,
			ctx: func() (context.Context, context.CancelFunc) {
				return WithCallTimeout(context.Background(), 100*time.Millisecond), func() {}
			}},
		{name: "drop, context deadline first", call: func(ctx context.Context) error { return c.Drop(ctx, "r") }, want: 150 * time.Millisecond,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 150*time.Millisecond)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), func() {}
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			start := time.Now()
			err := tc.call(ctx)
			took := time.Since(start)
			wantKind(t, err, ErrUnavailable)
			if !errors.Is(err, context.DeadlineExceeded) || !IsRetryable(err) {
				t.Errorf("error %v: deadline %v, retryable %v", err, errors.Is(err, context.DeadlineExceeded), IsRetryable(err))
			}
			if took < tc.want-20*time.Millisecond || took > tc.want+slack {
				t.Errorf("returned after %v, want about %v", took, tc.want)
			}
		})
	}

	t.Run("cancelled caller", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		err := c.Ping(ctx)
		wantKind(t, err, ErrUnavailable)
		if !errors.Is(err, context.Canceled) || IsRetryable(err) {
			t.Errorf("cancelled: %v, retryable %v", err, IsRetryable(err))
		}
	})
}

// Nothing listening: ErrUnavailable at once, not after the timeout.
func TestRefused(t *testing.T) {
	addr := net.JoinHostPort("127.0.26.3", strconv.Itoa(freePort(t, "127.0.26.3")))
	c := newClient(t, Config{Addr: addr, Timeout: 5 * time.Second})
	start := time.Now()
	err := c.Ping(context.Background())
	wantKind(t, err, ErrUnavailable)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("refused connection took %v", took)
	}
	if !IsRetryable(err) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("refused: %v", err)
	}
}

// A Guard refuses state-changing queries before they are sent; reads are
// not guarded. A closed Client refuses everything.
func TestGuardAndClose(t *testing.T) {
	n := startNode(t, "127.0.26.4", "")
	deposed := errors.New("not the leader of epoch 7")
	c := newClient(t, Config{Addr: n.cfg.BoltAddress, Guard: func(context.Context) error { return deposed }})
	ctx := testCtx(t)
	for name, err := range map[string]error{
		"set main":    c.SetMain(ctx),
		"set replica": c.SetReplica(ctx, n.replPort),
		"register":    c.Register(ctx, "r", ModeSync, "127.0.26.5:10000"),
		"drop":        c.Drop(ctx, "r"),
	} {
		wantKind(t, err, ErrFenced)
		if !errors.Is(err, deposed) || IsRetryable(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if r, err := c.Role(ctx); err != nil || r != RoleMain {
		t.Fatalf("role: %q, %v", r, err)
	}
	if rows := replicas(t, n.c); len(rows) != 0 {
		t.Fatalf("a fenced register went through: %v", rows)
	}
	mustOK(t, c.Close())
	mustOK(t, c.Close())
	wantKind(t, c.Ping(ctx), ErrClosed)
}

// Credentials are sent as basic auth; a refusal is ErrUnauthenticated, not
// an unreachable instance.
func TestAuthentication(t *testing.T) {
	n := startNode(t, "127.0.26.6", "", func(cfg *mgsim.Config) {
		cfg.Username, cfg.Password = "admin", "secret"
	})
	ctx := testCtx(t)
	good := newClient(t, Config{Addr: n.cfg.BoltAddress, Username: "admin", Password: "secret"})
	mustOK(t, good.Ping(ctx))
	bad := newClient(t, Config{Addr: n.cfg.BoltAddress, Username: "admin", Password: "wrong"})
	e := wantKind(t, bad.Ping(ctx), ErrUnauthenticated)
	if e.Code != "Memgraph.ClientError.Security.Unauthenticated" || IsRetryable(e) {
		t.Errorf("auth failure: %+v", e)
	}
}
