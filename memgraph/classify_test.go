package memgraph

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

const (
	codeClient    = "Memgraph.ClientError.MemgraphError.MemgraphError"
	codeTransient = "Memgraph.TransientError.MemgraphError.MemgraphError"
)

// Every replication text of Memgraph 3.12.0 (reference/memgraph.md 1.3 to
// 1.10, test/mgsim/profile.go), the codeless REGISTER failure of releases
// before 3.5 and the 3.0.0 wordings, with the kind each must get.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		verb verb
		code string
		msg  string
		want error
		n    int
	}{
		// SET REPLICATION ROLE (provisional kinds; settled by reading the role).
		{"set main refused", verbSetMain, codeClient, "Couldn't set replication role to main!", ErrAlreadyMain, 0},
		{"set replica refused", verbSetReplica, codeClient, "Couldn't set role to replica!", ErrAlreadyReplica, 0},
		{"port invalid", verbSetReplica, codeClient, "Port number invalid!", ErrPortInvalid, 0},
		// REGISTER REPLICA, 3.5+ codes.
		{"error 1", verbRegister, codeClient, "Couldn't register replica r1. Error: 1", ErrNameExists, 1},
		{"error 2", verbRegister, codeClient, "Couldn't register replica r9. Error: 2", ErrEndpointExists, 2},
		{"error 3", verbRegister, codeClient, "Couldn't register replica old. Error: 3", ErrDiverged, 3},
		{"error 4", verbRegister, codeClient, "Couldn't register replica r1. Error: 4", ErrNotPersisted, 4},
		{"error 5", verbRegister, codeClient, "Couldn't register replica ghost. Error: 5", ErrReplicaUnreachable, 5},
		{"error 6", verbRegister, codeClient, "Couldn't register replica other. Error: 6", ErrContention, 6},
		{"error 7", verbRegister, codeClient, "Couldn't register replica r1. Error: 7", ErrAnalyticalMode, 7},
		{"unknown code", verbRegister, codeClient, "Couldn't register replica r1. Error: 42", ErrRegisterFailed, 42},
		{"escaped name", verbRegister, codeClient, "Couldn't register replica mg-2. Error: 5", ErrReplicaUnreachable, 5},
		{"name with Error: inside", verbRegister, codeClient, "Couldn't register replica a. Error: 1. Error: 2", ErrEndpointExists, 2},
		{"analytical mode", verbRegister, codeClient, "Couldn't register replica r1 because a database is in analytical storage mode. Switch it to IN_MEMORY_TRANSACTIONAL.", ErrAnalyticalMode, 7},
		{"register on replica", verbRegister, codeClient, "Replica can't register another replica!", ErrNotMain, 0},
		{"bad address", verbRegister, codeClient, "Invalid socket address. The socket address must be a string defining the address and port, delimited by a single colon. The address must be valid and the port must be an integer.", ErrInvalidAddress, 0},
		{"non-integer port", verbRegister, codeTransient, "Couldn't parse string", ErrInvalidAddress, 0},
		{"parse error elsewhere", verbRead, codeTransient, "Couldn't parse string", ErrQueryFailed, 0},
		// DROP REPLICA.
		{"drop on replica", verbDrop, codeClient, "Replica can't unregister a replica! Please rerun the query on main in order to unregister a replica from the cluster.", ErrNotMain, 0},
		{"drop unknown", verbDrop, codeClient, "Failed to unregister the replica nobody.", ErrUnknownReplica, 0},
		{"drop contention", verbDrop, codeClient, "Failed to unregister replica due to lack of unique access over the cluster state. Please try again later on.", ErrContention, 0},
		// SHOW REPLICAS and writes on a replica.
		{"show replicas on replica", verbRead, codeClient, "Show replicas query should only be run on the main instance.", ErrNotMain, 0},
		{"write on replica", verbRead, codeClient, "Write queries are forbidden on the replica instance. Replica instances accept only read queries, while the main instance accepts read and write queries. Please retry your query on the main instance.", ErrNotMain, 0},
		{"not main anymore", verbRead, codeClient, "Cannot commit because instance is not main anymore.", ErrNotMain, 0},
		// HA data instances.
		{"ha set role", verbSetMain, codeClient, "Can't set role manually on instance with coordinator server port.", ErrManagedByCoordinator, 0},
		{"ha register", verbRegister, codeClient, "Can't register replica manually on instance with coordinator server port.", ErrManagedByCoordinator, 0},
		{"ha drop", verbDrop, codeClient, "Can't drop replica manually on instance with coordinator server port.", ErrManagedByCoordinator, 0},
		// Anything else.
		{"multicommand", verbRead, codeClient, "Managing replication is not allowed in multicommand transactions. A multicommand transaction, also known as an explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an implicit transaction, also known as an auto committing transaction, in order to execute this particularquery. For more details, visit https://memgraph.com/docs", ErrQueryFailed, 0},
		{"sync replica failure", verbRead, codeClient, "Replication Exception: Failed to replicate to SYNC replica 'r1': replica is not reachable or not in sync with the main. Replica will be recovered automatically. Transaction is still committed on the main instance and other alive replicas. Check the status of the replicas using 'SHOW REPLICAS' query.", ErrQueryFailed, 0},
		{"syntax error", verbRegister, codeClient, "Error on line 1 position 26. The underlying parsing error is mismatched input 'STRICT_SYNC' expecting {ASYNC, SYNC}", ErrQueryFailed, 0},
		{"unknown exception", verbRead, "Memgraph.DatabaseError.MemgraphError.MemgraphError", "An unknown exception occurred, this is unexpected. Real message should be in database logs.", ErrQueryFailed, 0},
		{"authentication", verbRead, "Memgraph.ClientError.Security.Unauthenticated", "Authentication failure", ErrUnauthenticated, 0},
		// Before 3.5: no code.
		{"pre-3.5 register", verbRegister, codeClient, "Couldn't register replica r1.", ErrRegisterFailed, 0},
		// 3.0.0 wordings.
		{"3.0 bad address", verbRegister, codeClient, "Invalid socket address!", ErrInvalidAddress, 0},
		{"3.0 drop on replica", verbDrop, codeClient, "Replica can't unregister a replica!", ErrNotMain, 0},
		{"3.0 drop unknown", verbDrop, codeClient, "Couldn't unregister the replica nobody.", ErrUnknownReplica, 0},
		{"3.0 show replicas on replica", verbRead, codeClient, "Replica can't show registered replicas (it shouldn't have any)!", ErrNotMain, 0},
		{"3.0 contention", verbDrop, codeClient, "Couldn't get unique access to replication state!", ErrContention, 0},
		{"3.0 write on replica", verbRead, codeClient, "Write query forbidden on the replica!", ErrNotMain, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := classify(tc.verb, tc.code, tc.msg)
			if got != tc.want || n != tc.n {
				t.Fatalf("classify(%q) = %v, %d; want %v, %d", tc.msg, got, n, tc.want, tc.n)
			}
		})
	}
}

func TestErrorChainAndRetryable(t *testing.T) {
	cause := errors.New("driver says no")
	e := &Error{Instance: "mg-1", Op: "register replica r1", Kind: ErrContention, Code: codeClient,
		Message: "Couldn't register replica r1. Error: 6", RegisterCode: 6, Err: cause}
	if got, want := e.Error(), "memgraph: mg-1: register replica r1: replication lock contention: Couldn't register replica r1. Error: 6"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("reconcile: %w", e)
	if !errors.Is(wrapped, ErrContention) || !errors.Is(wrapped, cause) || !IsRetryable(wrapped) {
		t.Errorf("chain of %v", wrapped)
	}
	if RawMessage(wrapped) != e.Message {
		t.Errorf("RawMessage = %q", RawMessage(wrapped))
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&Error{Kind: ErrUnavailable, Err: context.DeadlineExceeded}, true},
		{&Error{Kind: ErrUnavailable, Err: context.Canceled}, false},
		{&Error{Kind: ErrDiverged}, false},
		{&Error{Kind: ErrNotMain}, false},
		{&Error{Kind: ErrReplicaUnreachable}, false},
		{errors.New("other"), false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	unavailable := &Error{Instance: "mg-1", Op: "ping", Kind: ErrUnavailable, Err: cause}
	if got, want := unavailable.Error(), "memgraph: mg-1: ping: instance unavailable: driver says no"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestQuoting(t *testing.T) {
	for in, want := range map[string]string{"r1": "`r1`", "mg-2": "`mg-2`", "a`b": "`a``b`", "SYNC": "`SYNC`"} {
		if got := quoteName(in); got != want {
			t.Errorf("quoteName(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"h:1": `"h:1"`, `a"b`: `"a\"b"`, `a\b`: `"a\\b"`} {
		if got := quoteString(in); got != want {
			t.Errorf("quoteString(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"h:1": "h:1", "mg-1.mg.svc": "mg-1.mg.svc:10000", "[::1]:5": "[::1]:5"} {
		if got := normalizeAddress(in); got != want {
			t.Errorf("normalizeAddress(%q) = %s, want %s", in, got, want)
		}
	}
	for _, tc := range []struct {
		name string
		mode SyncMode
		addr string
		kind error
	}{
		{"", ModeSync, "h:1", nil},
		{"r", "sync", "h:1", nil},
		{"r", "QUORUM", "h:1", nil},
		{"r", ModeAsync, "", ErrInvalidAddress},
		{"r", ModeAsync, "h:1\n", ErrInvalidAddress},
	} {
		err := checkRegister(tc.name, tc.mode, tc.addr)
		if err == nil || (tc.kind != nil && !errors.Is(err, tc.kind)) {
			t.Errorf("checkRegister(%q, %q, %q) = %v", tc.name, tc.mode, tc.addr, err)
		}
	}
	if err := checkRegister("r", ModeStrictSync, "h:1"); err != nil {
		t.Errorf("checkRegister: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c, err := Config{Addr: "127.0.0.1:7687"}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "127.0.0.1:7687" || c.Timeout != DefaultTimeout || c.AdminTimeout != DefaultAdminTimeout ||
		c.ConnectTimeout != DefaultConnectTimeout || c.MaxConnections != DefaultMaxConnections || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range []Config{
		{},
		{Addr: "no-port"},
		{Addr: "h:1", Timeout: -1},
		{Addr: "h:1", Password: "p"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}
