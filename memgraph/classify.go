package memgraph

import (
	"strconv"
	"strings"
)

// verb is the kind of query a failure answers; a few of Memgraph's texts
// mean something only in the context of one query.
type verb int

const (
	verbRead verb = iota // RETURN 1, SHOW REPLICATION ROLE, SHOW REPLICAS, SHOW STORAGE INFO
	verbSetMain
	verbSetReplica
	verbRegister
	verbDrop
)

// codeUnauthenticated is the Bolt code of a refused login.
const codeUnauthenticated = "Memgraph.ClientError.Security.Unauthenticated"

// classify maps one FAILURE of Memgraph (Bolt code and message) to a kind
// of error, and for REGISTER to the number n of "Error: n" (0 if none).
//
// The texts are those of Memgraph 3.0 to 3.12 (reference/memgraph.md 1.10
// and test/mgsim/profile.go). Two of them are ambiguous and classified
// provisionally: "Couldn't set replication role to main!" (already MAIN, or
// lock contention) gives ErrAlreadyMain and "Couldn't set role to replica!"
// (already REPLICA, contention, or a replication port that cannot be bound)
// gives ErrAlreadyReplica; SetMain and SetReplica then read the role to
// settle which it was.
func classify(v verb, code, msg string) (error, int) {
	if code == codeUnauthenticated {
		return ErrUnauthenticated, 0
	}
	if n, ok := registerCode(msg); ok {
		return registerKind(n), n
	}
	switch {
	case strings.HasPrefix(msg, "Couldn't register replica "):
		if strings.Contains(msg, "analytical storage mode") {
			return ErrAnalyticalMode, 7
		}
		// Before 3.5 every REGISTER failure reads "Couldn't register
		// replica X." with no code.
		return ErrRegisterFailed, 0
	case msg == "Couldn't set replication role to main!":
		return ErrAlreadyMain, 0
	case msg == "Couldn't set role to replica!":
		return ErrAlreadyReplica, 0
	case msg == "Port number invalid!":
		return ErrPortInvalid, 0
	case strings.HasPrefix(msg, "Replica can't register another replica"),
		strings.HasPrefix(msg, "Replica can't unregister a replica"),
		strings.HasPrefix(msg, "Show replicas query should only be run on the main instance"),
		strings.HasPrefix(msg, "Replica can't show registered replicas"), // 3.0
		strings.HasPrefix(msg, "Write queries are forbidden on the replica instance"),
		strings.HasPrefix(msg, "Write query forbidden on the replica"), // 3.0
		strings.HasPrefix(msg, "Cannot commit because instance is not main anymore"):
		return ErrNotMain, 0
	case strings.HasPrefix(msg, "Failed to unregister replica due to lack of unique access"),
		strings.HasPrefix(msg, "Couldn't get unique access to replication state"): // 3.0
		return ErrContention, 0
	case strings.HasPrefix(msg, "Failed to unregister the replica "),
		strings.HasPrefix(msg, "Couldn't unregister the replica "): // 3.0
		return ErrUnknownReplica, 0
	case strings.HasPrefix(msg, "Invalid socket address"):
		return ErrInvalidAddress, 0
	case v == verbRegister && msg == "Couldn't parse string":
		// A non-integer port in the address (a TransientError).
		return ErrInvalidAddress, 0
	case strings.HasPrefix(msg, "Can't set role manually on instance with coordinator server port"),
		strings.HasPrefix(msg, "Can't register replica manually on instance with coordinator server port"),
		strings.HasPrefix(msg, "Can't drop replica manually on instance with coordinator server port"),
		strings.HasPrefix(msg, "Can't unregister replica manually on instance with coordinator server port"):
		return ErrManagedByCoordinator, 0
	}
	return ErrQueryFailed, 0
}

// registerCode extracts n from "Couldn't register replica X. Error: n".
func registerCode(msg string) (int, bool) {
	if !strings.HasPrefix(msg, "Couldn't register replica ") {
		return 0, false
	}
	i := strings.LastIndex(msg, ". Error: ")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(msg[i+len(". Error: "):])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// registerKind maps RegisterReplicaError (src/query/replication_query_handler.hpp).
func registerKind(n int) error {
	switch n {
	case 1:
		return ErrNameExists
	case 2:
		return ErrEndpointExists
	case 3:
		return ErrDiverged
	case 4:
		return ErrNotPersisted
	case 5:
		return ErrReplicaUnreachable
	case 6:
		return ErrContention
	case 7:
		return ErrAnalyticalMode
	}
	return ErrRegisterFailed
}
