package memgraph

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Role is an instance's replication role.
type Role string

// The two roles, as SHOW REPLICATION ROLE spells them.
const (
	RoleMain    Role = "main"
	RoleReplica Role = "replica"
)

// SyncMode is a replica's replication mode, spelled as in REGISTER REPLICA.
type SyncMode string

// The replication modes. STRICT_SYNC exists from Memgraph 3.5.
const (
	ModeSync       SyncMode = "SYNC"
	ModeAsync      SyncMode = "ASYNC"
	ModeStrictSync SyncMode = "STRICT_SYNC"
)

// ParseSyncMode reads a mode in any case ("sync" as SHOW REPLICAS prints
// it, or "SYNC").
func ParseSyncMode(s string) (SyncMode, error) {
	switch m := SyncMode(strings.ToUpper(s)); m {
	case ModeSync, ModeAsync, ModeStrictSync:
		return m, nil
	}
	return "", fmt.Errorf("%w: replication mode %q (want SYNC, ASYNC or STRICT_SYNC)", ErrInvalidArgument, s)
}

// Ping runs RETURN 1: the instance accepts Bolt sessions and queries.
func (c *Client) Ping(ctx context.Context) error {
	recs, err := c.run(ctx, verbRead, "ping", "RETURN 1")
	if err != nil {
		return err
	}
	if len(recs) != 1 || len(recs[0].Values) != 1 || recs[0].Values[0] != int64(1) {
		return c.unexpected("ping", "RETURN 1 answered %v", recs)
	}
	return nil
}

// Role runs SHOW REPLICATION ROLE.
func (c *Client) Role(ctx context.Context) (Role, error) {
	const op = "show replication role"
	recs, err := c.run(ctx, verbRead, op, "SHOW REPLICATION ROLE")
	if err != nil {
		return "", err
	}
	if len(recs) != 1 {
		return "", c.unexpected(op, "%d rows", len(recs))
	}
	v, ok := recs[0].Get("replication role")
	if !ok {
		return "", c.unexpected(op, "columns %v", recs[0].Keys)
	}
	switch s, _ := v.(string); Role(s) {
	case RoleMain:
		return RoleMain, nil
	case RoleReplica:
		return RoleReplica, nil
	}
	return "", c.unexpected(op, "role %#v", v)
}

// SetMain runs SET REPLICATION ROLE TO MAIN. Memgraph answers "Couldn't set
// replication role to main!" both when the instance is already MAIN and
// when its replication lock is taken; SetMain then reads the role and
// returns ErrAlreadyMain if it is MAIN, ErrContention otherwise.
func (c *Client) SetMain(ctx context.Context) error {
	_, err := c.run(ctx, verbSetMain, "set replication role to main", "SET REPLICATION ROLE TO MAIN")
	return c.settleRoleError(ctx, err, ErrAlreadyMain, RoleMain)
}

// SetReplica runs SET REPLICATION ROLE TO REPLICA WITH PORT port. Memgraph
// answers "Couldn't set role to replica!" when the instance is already a
// REPLICA (whatever its port), when its replication lock is taken, and when
// the replication server cannot bind the port; SetReplica then reads the
// role and returns ErrAlreadyReplica if it is a REPLICA, ErrContention
// otherwise. A REPLICA's port cannot be read back, so ErrAlreadyReplica does
// not mean it listens on port: to change the port, promote, then demote.
// A port above 65535 is left for Memgraph to refuse (ErrPortInvalid).
func (c *Client) SetReplica(ctx context.Context, port int) error {
	op := "set replication role to replica"
	if port < 0 {
		return &Error{Instance: c.cfg.Name, Op: op, Kind: ErrPortInvalid, Err: fmt.Errorf("negative port %d", port)}
	}
	_, err := c.run(ctx, verbSetReplica, op, "SET REPLICATION ROLE TO REPLICA WITH PORT "+strconv.Itoa(port))
	return c.settleRoleError(ctx, err, ErrAlreadyReplica, RoleReplica)
}

// settleRoleError resolves the ambiguous refusal of a role change: it is
// "already" only if the instance now has the wanted role; otherwise it was
// contention (retryable). If the role cannot be read, contention is assumed
// and the read's error is kept in the chain.
func (c *Client) settleRoleError(ctx context.Context, err, already error, want Role) error {
	var e *Error
	if !errors.As(err, &e) || e.Kind != already {
		return err
	}
	role, rerr := c.Role(ctx)
	switch {
	case rerr != nil:
		e.Kind = ErrContention
		e.Err = errors.Join(e.Err, rerr)
	case role != want:
		e.Kind = ErrContention
	}
	return e
}

// Register runs REGISTER REPLICA name mode TO "addr". addr is host:port
// (Memgraph's default port 10000 applies when it has none); Memgraph keeps
// and shows it unresolved, so register stable DNS names. Failures carry
// Memgraph's code: ErrNameExists (1), ErrEndpointExists (2), ErrDiverged (3),
// ErrNotPersisted (4), ErrReplicaUnreachable (5), ErrContention (6). After
// 3, 5 (and often a codeless pre-3.5 failure) Memgraph leaves the entry
// registered with an empty data_info (a zombie): EnsureReplica cleans it.
func (c *Client) Register(ctx context.Context, name string, mode SyncMode, addr string) error {
	op := "register replica " + name
	if err := checkRegister(name, mode, addr); err != nil {
		kind := ErrInvalidArgument
		if errors.Is(err, ErrInvalidAddress) {
			kind = ErrInvalidAddress
		}
		return &Error{Instance: c.cfg.Name, Op: op, Kind: kind, Err: err}
	}
	q := fmt.Sprintf("REGISTER REPLICA %s %s TO %s", quoteName(name), mode, quoteString(addr))
	_, err := c.run(ctx, verbRegister, op, q)
	return err
}

// Drop runs DROP REPLICA name. Nothing is sent to the replica: it stays a
// REPLICA of this MAIN until another MAIN registers it. ErrUnknownReplica
// when the name is not registered.
func (c *Client) Drop(ctx context.Context, name string) error {
	op := "drop replica " + name
	if name == "" {
		return &Error{Instance: c.cfg.Name, Op: op, Kind: ErrInvalidArgument, Err: errors.New("empty replica name")}
	}
	_, err := c.run(ctx, verbDrop, op, "DROP REPLICA "+quoteName(name))
	return err
}

// checkRegister refuses what would break or change the query's meaning.
func checkRegister(name string, mode SyncMode, addr string) error {
	if name == "" {
		return errors.New("empty replica name")
	}
	switch mode {
	case ModeSync, ModeAsync, ModeStrictSync:
	default:
		return fmt.Errorf("replication mode %q (want SYNC, ASYNC or STRICT_SYNC)", mode)
	}
	if addr == "" {
		return fmt.Errorf("%w: empty address", ErrInvalidAddress)
	}
	for _, r := range addr {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character in %q", ErrInvalidAddress, addr)
		}
	}
	return nil
}

// quoteName writes name as a backtick-escaped symbolic name, so any name
// (hyphens, keywords) parses as itself.
func quoteName(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteString writes s as a Cypher string literal.
func quoteString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// unexpected is the error of an answer this package cannot read.
func (c *Client) unexpected(op, format string, args ...any) error {
	return &Error{Instance: c.cfg.Name, Op: op, Kind: ErrUnexpectedResult, Err: fmt.Errorf(format, args...)}
}
