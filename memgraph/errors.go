package memgraph

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Kinds of failure. Every error a Client returns is an *Error whose Kind is
// one of these, so errors.Is(err, memgraph.ErrNotMain) works on it; the
// raw Bolt code and message stay available in the *Error.
var (
	// ErrUnavailable: the instance could not be reached or did not answer
	// in time (refused, reset, closed, timed out). The outcome of a
	// state-changing query that failed this way is unknown: read the state
	// again before deciding. errors.Is(err, context.DeadlineExceeded) tells
	// a timeout, errors.Is(err, context.Canceled) a cancelled caller.
	ErrUnavailable = errors.New("memgraph: instance unavailable")
	// ErrContention: Memgraph could not take its replication lock because a
	// commit held it (REGISTER "Error: 6", DROP "...lack of unique access...",
	// SET ROLE refused while the role did not change). Retry.
	ErrContention = errors.New("memgraph: replication lock contention")
	// ErrAlreadyMain: SET REPLICATION ROLE TO MAIN on a MAIN (checked with
	// SHOW REPLICATION ROLE, since contention has the same text).
	ErrAlreadyMain = errors.New("memgraph: already main")
	// ErrAlreadyReplica: SET REPLICATION ROLE TO REPLICA on a REPLICA,
	// whatever its port (checked with SHOW REPLICATION ROLE).
	ErrAlreadyReplica = errors.New("memgraph: already replica")
	// ErrPortInvalid: "Port number invalid!", or a negative port refused
	// before sending.
	ErrPortInvalid = errors.New("memgraph: replication port invalid")
	// ErrNotMain: the query needs a MAIN and the instance is a REPLICA
	// (REGISTER, DROP, SHOW REPLICAS, writes).
	ErrNotMain = errors.New("memgraph: instance is not main")
	// ErrNameExists: REGISTER "Error: 1", the name is already registered.
	ErrNameExists = errors.New("memgraph: replica name already registered")
	// ErrEndpointExists: REGISTER "Error: 2", the address is registered
	// under another name.
	ErrEndpointExists = errors.New("memgraph: replica address already registered")
	// ErrDiverged: REGISTER "Error: 3", the replica holds data this MAIN
	// does not have. Only wiping the replica fixes it.
	ErrDiverged = errors.New("memgraph: replica diverged from main")
	// ErrNotPersisted: REGISTER "Error: 4", the registration could not be
	// written to disk.
	ErrNotPersisted = errors.New("memgraph: registration not persisted")
	// ErrReplicaUnreachable: REGISTER "Error: 5" (ERROR_ACCEPTING_MAIN),
	// the replica is unreachable or is not a REPLICA.
	ErrReplicaUnreachable = errors.New("memgraph: replica unreachable or not a replica")
	// ErrAnalyticalMode: REGISTER refused because a database is in
	// analytical storage mode (code 7, unreleased Memgraph).
	ErrAnalyticalMode = errors.New("memgraph: database in analytical storage mode")
	// ErrRegisterFailed: REGISTER failed without a known code, as every
	// failure reads before Memgraph 3.5 ("Couldn't register replica X.").
	ErrRegisterFailed = errors.New("memgraph: replica registration failed")
	// ErrUnknownReplica: DROP of a name that is not registered.
	ErrUnknownReplica = errors.New("memgraph: no such replica")
	// ErrInvalidAddress: the socket address was refused, by Memgraph or
	// before sending.
	ErrInvalidAddress = errors.New("memgraph: invalid replica address")
	// ErrInvalidArgument: a name or mode refused before sending.
	ErrInvalidArgument = errors.New("memgraph: invalid argument")
	// ErrManagedByCoordinator: the instance belongs to an HA cluster and
	// refuses manual replication changes.
	ErrManagedByCoordinator = errors.New("memgraph: instance managed by a coordinator")
	// ErrUnauthenticated: the credentials were refused.
	ErrUnauthenticated = errors.New("memgraph: authentication failed")
	// ErrUnexpectedResult: the answer did not have the columns or value
	// types this package knows (another Memgraph version?).
	ErrUnexpectedResult = errors.New("memgraph: unexpected result")
	// ErrFenced: Config.Guard refused a state-changing query.
	ErrFenced = errors.New("memgraph: refused by guard")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("memgraph: client closed")
	// ErrQueryFailed: any other failure reported by Memgraph.
	ErrQueryFailed = errors.New("memgraph: query failed")
)

// Error is the error of one call to an instance.
type Error struct {
	// Instance is Config.Name of the client.
	Instance string
	// Op names the call, e.g. "register replica r1".
	Op string
	// Kind is one of the Err* sentinels above.
	Kind error
	// Code is the Bolt FAILURE code, e.g.
	// "Memgraph.ClientError.MemgraphError.MemgraphError"; empty when the
	// server did not answer.
	Code string
	// Message is the raw FAILURE message, unchanged.
	Message string
	// RegisterCode is n in "Couldn't register replica X. Error: n", else 0.
	RegisterCode int
	// Err is the underlying error (the driver's, or a context error).
	Err error
}

// Error describes the call, the kind of failure and the server's message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("memgraph: ")
	if e.Instance != "" {
		b.WriteString(e.Instance)
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Kind.Error(), "memgraph: "))
	switch {
	case e.Message != "":
		fmt.Fprintf(&b, ": %s", e.Message)
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// IsRetryable reports whether the same call may succeed if retried as is:
// lock contention, or an instance that was unavailable (unless the caller
// cancelled). Everything else needs a decision first.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return errors.Is(err, ErrContention) || errors.Is(err, ErrUnavailable)
}

// RawMessage returns the server's FAILURE message carried by err, or "".
func RawMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}
