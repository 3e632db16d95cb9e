package mgsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// role is the replication role of an instance.
type role int

const (
	roleMain role = iota
	roleReplica
)

func (r role) String() string {
	if r == roleReplica {
		return "replica"
	}
	return "main"
}

// syncMode is the replication mode of a registered replica.
type syncMode int

const (
	modeSync syncMode = iota
	modeAsync
	modeStrictSync
)

func parseSyncMode(s string) (syncMode, error) {
	switch s {
	case "SYNC":
		return modeSync, nil
	case "ASYNC":
		return modeAsync, nil
	case "STRICT_SYNC":
		return modeStrictSync, nil
	}
	return 0, fmt.Errorf("mgsim: unknown replication mode %q", s)
}

// lower is the sync_mode column of SHOW REPLICAS.
func (m syncMode) lower() string {
	switch m {
	case modeAsync:
		return "async"
	case modeStrictSync:
		return "strict_sync"
	}
	return "sync"
}

// upper is the mode as written in REGISTER REPLICA and in 3.10+ errors.
func (m syncMode) upper() string {
	switch m {
	case modeAsync:
		return "ASYNC"
	case modeStrictSync:
		return "STRICT_SYNC"
	}
	return "SYNC"
}

// replicaState is the per-database state MAIN keeps for a replica
// (storage::replication::ReplicaState). The replica itself does not know it.
type replicaState int

const (
	stateMaybeBehind replicaState = iota // "invalid"; the initial state
	stateReady
	stateReplicating
	stateRecovery
	stateDiverged
)

func (s replicaState) String() string {
	switch s {
	case stateReady:
		return "ready"
	case stateReplicating:
		return "replicating"
	case stateRecovery:
		return "recovery"
	case stateDiverged:
		return "diverged"
	}
	return "invalid"
}

// newUUID returns a random RFC 4122 version 4 UUID, as uuid_generate does.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("mgsim: crypto/rand failed: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
