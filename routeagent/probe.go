package routeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
)

// boltProbeHello is a Bolt handshake: the magic, then four version
// proposals (5.2 down to 4.0, 4.4, 4.3). Any four-byte answer, even "no
// version", shows that the server's Bolt loop runs: a process that is
// stopped (SIGSTOP) or wedged accepts the TCP connection in the kernel but
// never answers.
var boltProbeHello = []byte{
	0x60, 0x60, 0xB0, 0x17,
	0x00, 0x02, 0x02, 0x05,
	0x00, 0x00, 0x04, 0x04,
	0x00, 0x00, 0x03, 0x04,
	0x00, 0x00, 0x00, 0x04,
}

// BoltProbe returns a probe that opens a connection with dial (nil: plain
// TCP), sends a Bolt handshake and waits for the four-byte answer; the
// context's deadline bounds it all.
func BoltProbe(dial func(ctx context.Context, addr string) (net.Conn, error)) func(ctx context.Context, addr string) error {
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return func(ctx context.Context, addr string) error {
		c, err := dial(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		}
		if _, err := c.Write(boltProbeHello); err != nil {
			return fmt.Errorf("bolt handshake to %s: %w", addr, err)
		}
		var v [4]byte
		if _, err := io.ReadFull(c, v[:]); err != nil {
			return fmt.Errorf("bolt handshake to %s: no answer: %w", addr, err)
		}
		return nil
	}
}

// probeLoop probes the route's MAIN every ProbeInterval and records
// whether it answered, for the heartbeat (the leader's quorum).
func (a *Agent) probeLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.ProbeInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := a.State()
		if s.Main == "" || s.MainAddr == "" {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, a.cfg.ProbeTimeout)
		err := a.cfg.Probe(pctx, s.MainAddr)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		a.mu.Lock()
		changed := a.viewMain != s.Main || a.viewOK != ok
		a.viewMain, a.viewOK = s.Main, ok
		a.mu.Unlock()
		if !ok && a.cfg.Suspect != nil {
			a.cfg.Suspect(s.Main)
		}
		if changed {
			if !ok && !errors.Is(err, context.Canceled) && err.Error() != lastErr {
				a.log.Info("the MAIN does not answer this gateway's probe", zap.String("main", s.Main), zap.Error(err))
			}
			// The heartbeat says it at once (SetView broadcasts changes).
			a.do(func(now time.Time) {})
		}
		if err != nil {
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
	}
}
