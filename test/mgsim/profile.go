package mgsim

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultVersion is the Memgraph release emulated when Config.Version is
// empty.
const DefaultVersion = "3.12.0"

// storageInfoLayout names one of the key sets SHOW STORAGE INFO has had.
type storageInfoLayout int

const (
	storageInfoV30  storageInfoLayout = iota // 3.0-3.4: no database_uuid
	storageInfoV35                           // 3.5-3.8: database_uuid after name
	storageInfoV39                           // 3.9: graph_memory_tracked, vector_index_memory_tracked
	storageInfoV310                          // 3.10: global_* and db_* keys
	storageInfoV311                          // 3.11+: instance-level rows only
)

// profile is everything that differs between the emulated Memgraph
// releases. Each field cites the release where the behaviour changed; the
// sources are the tags of memgraph/memgraph (see README.md).
type profile struct {
	version             string
	major, minor, patch int

	// strictSync: STRICT_SYNC exists in the grammar (>= 3.5.0).
	strictSync bool
	// bolt44: Bolt 4.4 is offered in the handshake (>= 3.12.0).
	bolt44 bool
	// detailedReplicationErrors: "Failed to replicate to SYNC replica
	// '<name>': <reason>. ..." (>= 3.10.0) instead of "At least one SYNC
	// replica has not confirmed ...".
	detailedReplicationErrors bool
	// transientReplicationErrorOnPull: SessionHL::Pull/Discard do not catch
	// ReplicationException (<= 3.7.x), so an auto-commit write whose SYNC
	// replica did not confirm fails with a TransientError.
	transientReplicationErrorOnPull bool
	// registerErrorCodes: "Couldn't register replica X. Error: <n>"
	// (>= 3.5.0); before, "Couldn't register replica X.".
	registerErrorCodes bool
	// legacyReplicationTexts: the 3.0.0 wording of address, DROP and SHOW
	// REPLICAS errors, and the REGISTER role check done before address
	// parsing.
	legacyReplicationTexts bool
	// pingFailuresToInvalid is how many consecutive failed frequent
	// heartbeats mark a replica invalid; 0 means never (3.0.0 only marks on
	// a failed commit).
	pingFailuresToInvalid int
	storageInfo           storageInfoLayout
	// storageInfoOnCurrent: SHOW STORAGE INFO ON CURRENT DATABASE exists
	// (>= 3.11.0), the per-database rows, with vertex_count.
	storageInfoOnCurrent bool
	// storageInfoStateHealth: those rows include "state" ("HOT") and
	// "health" ("ready") (>= 3.12.0).
	storageInfoStateHealth  bool
	writeOnReplica          string
	multicommandReplication string
	multicommandInfo        string
}

// multicommand builds the MulticommandTxException text of the release.
func multicommand(what string, major, minor int) string {
	const link = " For more details, visit https://memgraph.com/docs"
	if minor >= 8 || major > 3 {
		// 3.8 fixed "knwon" and lost the space before "query".
		return what + " is not allowed in multicommand transactions. A multicommand transaction, also known as an " +
			"explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an " +
			"implicit transaction, also known as an auto committing transaction, in order to execute this particular" +
			"query." + link
	}
	return what + " is not allowed in multicommand transactions. A multicommand transaction, also known as an " +
		"explicit transaction, groups multiple commands into a single atomic operation. Instead, please use an " +
		"implicit transaction, also knwon as an auto committing transaction, in order to execute this particular " +
		"query." + link
}

// newProfile parses a "3.x.y" release and derives its behaviour. Any 3.x
// release from 3.0.0 to 3.12.x is accepted; the behaviour of a release that
// was not studied is that of the closest older one that was.
func newProfile(version string) (profile, error) {
	if version == "" {
		version = DefaultVersion
	}
	parts := strings.Split(version, ".")
	if len(parts) != 3 {
		return profile{}, fmt.Errorf("mgsim: version %q is not of the form 3.x.y", version)
	}
	var n [3]int
	for i, s := range parts {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return profile{}, fmt.Errorf("mgsim: version %q is not of the form 3.x.y", version)
		}
		n[i] = v
	}
	if n[0] != 3 || n[1] > 12 {
		return profile{}, fmt.Errorf("mgsim: version %q is not emulated (want 3.0.0 to 3.12.x)", version)
	}
	minor := n[1]
	p := profile{
		version: version, major: n[0], minor: minor, patch: n[2],
		strictSync:                      minor >= 5,
		bolt44:                          minor >= 12,
		detailedReplicationErrors:       minor >= 10,
		transientReplicationErrorOnPull: minor <= 7,
		registerErrorCodes:              minor >= 5,
		storageInfoOnCurrent:            minor >= 11,
		storageInfoStateHealth:          minor >= 12,
		legacyReplicationTexts:          minor == 0,
		pingFailuresToInvalid:           3,
		writeOnReplica: "Write queries are forbidden on the replica instance. Replica instances accept only read " +
			"queries, while the main instance accepts read and write queries. Please retry your query on the main instance.",
	}
	switch {
	case minor >= 11:
		p.storageInfo = storageInfoV311
	case minor == 10:
		p.storageInfo = storageInfoV310
	case minor == 9:
		p.storageInfo = storageInfoV39
	case minor >= 5:
		p.storageInfo = storageInfoV35
	default:
		p.storageInfo = storageInfoV30
	}
	if minor == 0 {
		p.pingFailuresToInvalid = 0
		p.writeOnReplica = "Write query forbidden on the replica!"
		p.multicommandReplication = "Replication clause not allowed in multicommand transactions."
		p.multicommandInfo = "Info reporting not allowed in multicommand transactions."
	} else {
		p.multicommandReplication = multicommand("Managing replication", n[0], minor)
		p.multicommandInfo = multicommand("Storage information query", n[0], minor)
	}
	return p, nil
}

// Texts of the replication queries' errors and notifications.
const (
	msgPortInvalid        = "Port number invalid!"
	msgCantSetMain        = "Couldn't set replication role to main!"
	msgCantSetReplica     = "Couldn't set role to replica!"
	msgReplicaRegister    = "Replica can't register another replica!"
	msgSocketExplanation  = "The socket address must be a string defining the address and port, delimited by a single colon. The address must be valid and the port must be an integer."
	msgParseInt           = "Couldn't parse string"
	msgNotMainAnymore     = "Cannot commit because instance is not main anymore."
	msgRouteNotCluster    = "You cannot fetch routing table from an instance which is not part of a cluster."
	msgPortWarning        = "Be careful the replication port must be different from the memgraph port!"
	msgAuthFailure        = "Authentication failure"
	msgSerializationError = "Cannot resolve conflicting transactions. Retry this transaction when the conflicting transaction is finished. For more details, visit https://memgraph.com/docs"
	msgCheckReplicas      = " Check the status of the replicas using 'SHOW REPLICAS' query."
)

func (p profile) invalidSocketAddress() string {
	if p.legacyReplicationTexts {
		return "Invalid socket address!"
	}
	return "Invalid socket address. " + msgSocketExplanation
}

func (p profile) registerFailed(name string, code int) string {
	if !p.registerErrorCodes {
		return fmt.Sprintf("Couldn't register replica %s.", name)
	}
	return fmt.Sprintf("Couldn't register replica %s. Error: %d", name, code)
}

func (p profile) dropOnReplica() string {
	if p.legacyReplicationTexts {
		return "Replica can't unregister a replica!"
	}
	return "Replica can't unregister a replica! Please rerun the query on main in order to unregister a replica from the cluster."
}

func (p profile) dropUnknown(name string) string {
	if p.legacyReplicationTexts {
		return fmt.Sprintf("Couldn't unregister the replica %s.", name)
	}
	return fmt.Sprintf("Failed to unregister the replica %s.", name)
}

func (p profile) dropNoAccess() string {
	if p.legacyReplicationTexts {
		return "Couldn't get unique access to replication state!"
	}
	return "Failed to unregister replica due to lack of unique access over the cluster state. Please try again later on."
}

func (p profile) showReplicasOnReplica() string {
	if p.legacyReplicationTexts {
		return "Replica can't show registered replicas (it shouldn't have any)!"
	}
	return "Show replicas query should only be run on the main instance."
}

// Register error codes (RegisterReplicaError, a uint8 printed as a number).
const (
	regErrNameExists       = 1
	regErrEndpointExists   = 2
	regErrConnectionFailed = 3
	regErrAcceptingMain    = 5
	regErrNoAccess         = 6
)

// failureReason is ReplicaFailureReason (3.10+ messages).
type failureReason int

const (
	reasonNotInSync failureReason = iota
	reasonLock
	reasonRPC
	reasonDiverged
	reasonTimeout
)

func (r failureReason) String() string {
	switch r {
	case reasonNotInSync:
		return "replica is not reachable or not in sync with the main"
	case reasonLock:
		return "failed to obtain RPC lock (another transaction is in progress)"
	case reasonRPC:
		return "RPC communication error"
	case reasonDiverged:
		return "replica has diverged from main"
	default:
		return "RPC timeout while replicating"
	}
}

// replicaFailure is one replica that did not confirm a transaction.
type replicaFailure struct {
	name   string
	mode   syncMode
	reason failureReason
}

// replicationErrorText is the ReplicationException message of the release
// for the failures of one commit. committed tells SYNC failures (the
// transaction stays committed) from STRICT_SYNC ones (it was aborted).
func (p profile) replicationErrorText(failures []replicaFailure, committed bool) string {
	if !p.detailedReplicationErrors {
		if committed {
			return "Replication Exception: At least one SYNC replica has not confirmed committing last transaction." + msgCheckReplicas
		}
		return "Replication Exception: At least one STRICT_SYNC replica has not confirmed committing last transaction. " +
			"Transaction will be aborted on all instances." + msgCheckReplicas
	}
	type group struct {
		mode   string
		reason failureReason
		names  []string
	}
	var groups []*group
	var timedOut []string
	for _, f := range failures {
		mode := f.mode.upper()
		var g *group
		for _, c := range groups {
			if c.mode == mode && c.reason == f.reason {
				g = c
				break
			}
		}
		if g == nil {
			g = &group{mode: mode, reason: f.reason}
			groups = append(groups, g)
		}
		g.names = append(g.names, f.name)
		if f.reason == reasonTimeout {
			timedOut = append(timedOut, f.name)
		}
	}
	var b strings.Builder
	for _, g := range groups {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		if len(g.names) == 1 {
			fmt.Fprintf(&b, "Failed to replicate to %s replica '%s': %s.", g.mode, g.names[0], g.reason)
			continue
		}
		var joined strings.Builder
		for i, n := range g.names {
			if i > 0 {
				if i+1 == len(g.names) {
					joined.WriteString(" and ")
				} else {
					joined.WriteString(", ")
				}
			}
			joined.WriteString("'" + n + "'")
		}
		reason := g.reason.String()
		if r, ok := strings.CutPrefix(reason, "replica is"); ok {
			reason = "replicas are" + r
		} else if r, ok := strings.CutPrefix(reason, "replica has"); ok {
			reason = "replicas have" + r
		}
		fmt.Fprintf(&b, "Failed to replicate to %s replicas %s: %s.", g.mode, joined.String(), reason)
	}
	if len(failures) == 1 {
		b.WriteString(" Replica will be recovered automatically.")
	} else {
		b.WriteString(" Replicas will be recovered automatically.")
	}
	if committed {
		b.WriteString(" Transaction is still committed on the main instance and other alive replicas.")
	} else {
		b.WriteString(" Transaction was aborted on all instances.")
	}
	if len(timedOut) > 0 {
		fmt.Fprintf(&b, " Main reached an RPC timeout while replicating to [%s]."+
			" One possible reason for this error is that the replica is down and in that case make sure to recover it."+
			" If all of your replicas are up and running normally, then please try setting a smaller parameter value for"+
			" 'deltas_batch_progress_size' using 'SET COORDINATOR SETTING' query on the coordinator.",
			strings.Join(timedOut, ", "))
	}
	return "Replication Exception: " + b.String() + msgCheckReplicas
}
