package memgraph

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// defaultReplicationPort is the port Memgraph adds to an address without
// one.
const defaultReplicationPort = "10000"

// ensureAttempts bounds EnsureReplica's read-decide-act rounds; more than
// one is needed only when the registrations change under it.
const ensureAttempts = 3

// Promote makes the instance MAIN: SetMain, with "already MAIN" (checked
// by reading the role) counted as success.
func (c *Client) Promote(ctx context.Context) error {
	if err := c.SetMain(ctx); err != nil && !errors.Is(err, ErrAlreadyMain) {
		return err
	}
	return nil
}

// Demote makes the instance a REPLICA listening for replication on port:
// SetReplica, with "already a REPLICA" counted as success. An instance that
// already was a REPLICA keeps the port it had, which cannot be read back.
// Demoting a MAIN drops all its registrations (Memgraph's behaviour).
func (c *Client) Demote(ctx context.Context, port int) error {
	if err := c.SetReplica(ctx, port); err != nil && !errors.Is(err, ErrAlreadyReplica) {
		return err
	}
	return nil
}

// DropIfPresent drops the registration name, if there is one. It reports
// whether one was dropped.
func (c *Client) DropIfPresent(ctx context.Context, name string) (bool, error) {
	err := c.Drop(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrUnknownReplica):
		return false, nil
	}
	return false, err
}

// EnsureResult says what EnsureReplica changed.
type EnsureResult struct {
	// Dropped lists the registrations dropped on the way: a zombie, the
	// name registered with another mode or address, another name holding
	// the address, the zombie a failed REGISTER left.
	Dropped []string
	// Registered is set when REGISTER REPLICA succeeded.
	Registered bool
}

// Changed reports whether EnsureReplica changed anything.
func (r EnsureResult) Changed() bool { return r.Registered || len(r.Dropped) > 0 }

// EnsureReplica makes the MAIN's registration of name exactly (mode,
// addr), changing only what differs:
//
//   - name registered with mode and addr, not a zombie: nothing to do,
//     whatever its status (read it with Replicas; a "diverged" one is the
//     controller's to report);
//   - name registered as a zombie, or with another mode or address: drop,
//     then register;
//   - addr registered under other names: drop those, then register;
//   - REGISTER says the name (Error 1) or address (Error 2) was taken
//     meanwhile: read the registrations again and converge, a bounded
//     number of times;
//   - Error 5 (replica unreachable or not a REPLICA), Error 3 (diverged),
//     Error 4 (not persisted) or a codeless pre-3.5 failure: drop the zombie
//     Memgraph leaves behind, so the next attempt starts clean, and return
//     the REGISTER error (ErrReplicaUnreachable, ErrDiverged, ...). A
//     diverged replica is never re-registered silently.
//
// Other errors (ErrNotMain, ErrContention, ErrUnavailable, ...) are
// returned as they come; the result lists what was done before them. Each
// query is bounded as its own call (see Config and WithCallTimeout).
func (c *Client) EnsureReplica(ctx context.Context, name string, mode SyncMode, addr string) (EnsureResult, error) {
	var res EnsureResult
	if err := checkRegister(name, mode, addr); err != nil {
		return res, c.Register(ctx, name, mode, addr) // the same refusal, as an *Error
	}
	want := normalizeAddress(addr)
	var lastErr error
	for range ensureAttempts {
		rows, err := c.Replicas(ctx)
		if err != nil {
			return res, err
		}
		var drops []string
		for _, r := range rows {
			switch {
			case r.Name == name && !r.Zombie && r.SyncMode == mode && normalizeAddress(r.SocketAddress) == want:
				return res, nil
			case r.Name == name, normalizeAddress(r.SocketAddress) == want:
				drops = append(drops, r.Name)
			}
		}
		for _, d := range drops {
			dropped, err := c.DropIfPresent(ctx, d)
			if err != nil {
				return res, err
			}
			if dropped {
				res.Dropped = append(res.Dropped, d)
			}
		}
		err = c.Register(ctx, name, mode, addr)
		switch {
		case err == nil:
			res.Registered = true
			return res, nil
		case errors.Is(err, ErrNameExists), errors.Is(err, ErrEndpointExists):
			lastErr = err // raced with another change: read again
			continue
		case errors.Is(err, ErrRegisterFailed):
			// Before 3.5 the code is missing: it may have been a race
			// too, so look before dropping anything.
			return c.settleCodeless(ctx, &res, name, mode, want, err)
		case errors.Is(err, ErrReplicaUnreachable), errors.Is(err, ErrDiverged), errors.Is(err, ErrNotPersisted):
			return res, c.dropZombie(ctx, &res, name, err)
		}
		return res, err
	}
	return res, fmt.Errorf("memgraph: %s: ensure replica %s: registrations kept changing after %d attempts: %w",
		c.cfg.Name, name, ensureAttempts, lastErr)
}

// dropZombie drops the entry a failed REGISTER left and returns regErr,
// joined with the DROP's error if that failed too (the next EnsureReplica
// drops the zombie then).
func (c *Client) dropZombie(ctx context.Context, res *EnsureResult, name string, regErr error) error {
	dropped, err := c.DropIfPresent(ctx, name)
	if dropped {
		res.Dropped = append(res.Dropped, name)
	}
	if err != nil {
		return errors.Join(regErr, err)
	}
	return regErr
}

// settleCodeless handles "Couldn't register replica X." (Memgraph < 3.5):
// if the wanted registration is in place, someone else made it; if a
// zombie was left, it is dropped; the error is returned unless converged.
func (c *Client) settleCodeless(ctx context.Context, res *EnsureResult, name string, mode SyncMode, want string, regErr error) (EnsureResult, error) {
	rows, err := c.Replicas(ctx)
	if err != nil {
		return *res, errors.Join(regErr, err)
	}
	for _, r := range rows {
		if r.Name != name {
			continue
		}
		if !r.Zombie && r.SyncMode == mode && normalizeAddress(r.SocketAddress) == want {
			return *res, nil
		}
		if r.Zombie {
			return *res, c.dropZombie(ctx, res, name, regErr)
		}
	}
	return *res, regErr
}

// normalizeAddress gives an address as Memgraph shows it: with the default
// port when it has none.
func normalizeAddress(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(addr, defaultReplicationPort)
	}
	return addr
}
