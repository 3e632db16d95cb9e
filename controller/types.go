package controller

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Role is an instance's replication role as SHOW REPLICATION ROLE reports it.
type Role string

const (
	// RoleUnknown: the role was not read this tick (probe failed or pending).
	RoleUnknown Role = ""
	RoleMain    Role = "main"
	RoleReplica Role = "replica"
)

// Mode is a replica's replication mode, spelled as in REGISTER REPLICA
// (SHOW REPLICAS prints it in lower case; the observer maps it).
type Mode string

const (
	ModeSync       Mode = "SYNC"
	ModeStrictSync Mode = "STRICT_SYNC"
	ModeAsync      Mode = "ASYNC"
)

// Synchronous reports whether a MAIN waits for a replica of this mode
// before it acknowledges a commit (SYNC or STRICT_SYNC).
func (m Mode) Synchronous() bool { return m == ModeSync || m == ModeStrictSync }

// Status is data_info.memgraph.status of a SHOW REPLICAS row, as the MAIN
// tracks it (a replica does not know its own status).
type Status string

const (
	StatusReady       Status = "ready"       // caught up
	StatusReplicating Status = "replicating" // caught up, one commit in flight
	StatusRecovery    Status = "recovery"    // catching up (WAL or snapshot)
	StatusInvalid     Status = "invalid"     // unreachable or may be behind
	StatusDiverged    Status = "diverged"    // holds data the MAIN lacks: terminal
)

// caughtUp reports whether a replica in this status holds every commit
// the MAIN acknowledged, except at most the one in flight, which is not
// acknowledged to its client before the replica confirms it (SYNC,
// STRICT_SYNC). "replicating" counts: under write load a caught-up sync
// replica is sampled in that status most of the time, and refusing it
// would make failover impossible exactly when it matters.
func (s Status) caughtUp() bool { return s == StatusReady || s == StatusReplicating }

// Phase of the route record.
type Phase string

const (
	// PhaseServing: Main is the MAIN; gateways relay to it.
	PhaseServing Phase = "serving"
	// PhaseFailover: a failover or switchover is in progress; there is no
	// MAIN, gateways hold new connections.
	PhaseFailover Phase = "failover"
)

// DataState says whether an instance holds any data (SHOW STORAGE INFO:
// vertex_count and edge_count).
type DataState string

const (
	DataUnknown DataState = ""        // not read yet
	DataEmpty   DataState = "empty"   // no vertices, no edges
	DataPresent DataState = "present" // something is stored
)

// Route is the durable route record as the leader last read it from the
// store. The zero Route means "no record" (a cluster never bootstrapped).
//
// Target, From and Planned exist only in phase failover; the state/
// record needs them so that a new leader can finish a failover it did
// not start (see doc.go, "What the store must keep").
type Route struct {
	Epoch uint64
	Phase Phase
	// Main is the MAIN in phase serving, empty in phase failover.
	Main string
	// Target is the instance being promoted in phase failover.
	Target string
	// From is the MAIN being replaced in phase failover ("" when there was
	// none: a bootstrap that must promote a REPLICA).
	From string
	// Planned marks a switchover: the target is verified caught up after
	// the barrier and From is demoted before the target is promoted.
	Planned bool
	// Replicas is the leader's last recorded view of the replicas: in phase
	// serving kept current by RecordReplicas; in phase failover the view of
	// From at claim time. A leader that has not observed the MAIN itself
	// chooses a failover target from it.
	Replicas []RouteReplica
}

// RouteReplica is one replica in the route record.
type RouteReplica struct {
	Name     string
	BoltAddr string
	// Mode it is registered with; empty: not registered.
	Mode Mode
	// Ready: the MAIN last reported it caught up (ready or replicating).
	Ready bool
	// Lag is Memgraph's behind: 0 when caught up, negative when lagging.
	Lag int64
}

// Instance is one Memgraph instance as the observer saw it this tick.
type Instance struct {
	// Name is the stable instance name (the pod name). It is also the
	// name the instance is registered under on the MAIN.
	Name string
	// BoltAddr is where clients and the controller reach it (host:port).
	BoltAddr string
	// ReplAddr is its stable replication address, the one REGISTER REPLICA
	// is given: <pod>.<svc>.<ns>.svc.cluster.local:10000 or a static one.
	// A missing port means Config.ReplicationPort.
	ReplAddr string
	// Known: discovery lists it (the pod exists, or it is configured).
	Known bool
	// PodReady: Kubernetes reports the pod Ready (informational).
	PodReady bool
	// Reachable: the leader's last probe succeeded. Pod deletion or a
	// NotReady event the observer trusts count as a failed probe.
	Reachable bool
	// FirstFailure is when the current run of failed probes started (zero
	// while Reachable).
	FirstFailure time.Time
	// GatewaysDown is how many live gateways, this leader included, report
	// the instance unreachable (their own dials and probes, via gossip).
	GatewaysDown int
	// Role, Data, ReplicasKnown and Replicas are meaningful only when
	// Reachable.
	Role Role
	Data DataState
	// ReplicasKnown: Replicas holds this tick's SHOW REPLICAS (MAIN only;
	// an empty list is a valid answer).
	ReplicasKnown bool
	Replicas      []ReplicaRow
}

// ReplicaRow is one row of SHOW REPLICAS on a MAIN.
type ReplicaRow struct {
	Name string
	// Addr is socket_address, unresolved host:port as registered.
	Addr string
	Mode Mode
	// Status, Behind and TS are data_info.memgraph; zero for a zombie.
	Status Status
	// Behind is replica ts minus MAIN ts: 0 caught up, negative lagging.
	Behind int64
	TS     int64
	// Zombie: data_info is {} (a registration left by a failed REGISTER).
	Zombie bool
}

// SwitchoverRequest is a pending planned switchover (POST /v1/switchover).
// When the cluster has no route yet it is the operator's answer to a
// RefuseAmbiguous: "make this instance the MAIN".
type SwitchoverRequest struct {
	Target string
}

// Snapshot is everything Decide may look at. The observer builds it; it
// must list the route's Main, Target and From even when discovery lost
// them (Known false, Reachable false).
type Snapshot struct {
	// Now is the leader's clock when the snapshot was taken; only
	// differences of it with FirstFailure and State times are used.
	Now    time.Time
	Route  Route
	Config Config
	// Instances, in any order; names are unique.
	Instances []Instance
	// LiveGateways is the number of live gateway members, this leader
	// included (0 or 1: the leader alone decides what is unreachable).
	LiveGateways int
	// BarrierEpoch is the highest epoch whose barrier this leader has
	// completed: every live gateway acked it, or every route lease that may
	// still route to an older epoch (its own and, for a new leader, its
	// predecessor's) has expired.
	BarrierEpoch uint64
	// Switchover is the pending request, if any; the executor clears it on
	// EndSwitchover.
	Switchover *SwitchoverRequest
	// Outcomes of the previous batch (Run's result), so that refusals only
	// the executor saw, such as REGISTER "Error: 3", reach Decide.
	Outcomes []Outcome
}

// Config is what Decide needs of the controller's configuration. The zero
// value of each field means its default. Validate it once at start-up.
type Config struct {
	// FailoverAfter is how long a MAIN must fail its probes before it is
	// down, and how long a sync replica may be unreachable or invalid
	// before another replica takes the sync role. Default 1.5s.
	FailoverAfter time.Duration
	// SyncMode is the mode of the one synchronous replica: STRICT_SYNC
	// (default; Memgraph 3.5+) or SYNC. With SYNC, Memgraph commits on the
	// MAIN even when the replica did not confirm (3.10+ reports an error,
	// unreleased versions only a warning), so a write acknowledged in that
	// window may exist on the MAIN alone.
	SyncMode Mode
	// ReplicationPort is the port an instance listens on for replication
	// once it is a REPLICA (SET REPLICATION ROLE TO REPLICA WITH PORT).
	// Default 10000.
	ReplicationPort int
	// AllowWipeDiverged lets the controller wipe a diverged instance and
	// register it again from scratch. Default false: diverged instances
	// are reported and left alone.
	AllowWipeDiverged bool
	// FailoverToAsync lets an automatic failover promote an ASYNC replica
	// when no synchronous one is eligible. It can lose acknowledged writes
	// (whatever the ASYNC replica had not received). Default false.
	FailoverToAsync bool
	// SwitchoverTimeout bounds how long a switchover waits, after the
	// barrier, for its target to be caught up before it gives up and
	// serves the old MAIN again. Default 10s.
	SwitchoverTimeout time.Duration
}

// Defaults.
const (
	DefaultFailoverAfter     = 1500 * time.Millisecond
	DefaultSyncMode          = ModeStrictSync
	DefaultReplicationPort   = 10000
	DefaultSwitchoverTimeout = 10 * time.Second
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		FailoverAfter:     DefaultFailoverAfter,
		SyncMode:          DefaultSyncMode,
		ReplicationPort:   DefaultReplicationPort,
		SwitchoverTimeout: DefaultSwitchoverTimeout,
	}
}

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("controller: invalid config")

// Validate checks the fields that have no safe interpretation; zero
// values are fine (defaults).
func (c Config) Validate() error {
	var errs []error
	if c.FailoverAfter < 0 {
		errs = append(errs, fmt.Errorf("%w: failover-after %v is negative", ErrInvalidConfig, c.FailoverAfter))
	}
	switch c.SyncMode {
	case "", ModeSync, ModeStrictSync:
	default:
		errs = append(errs, fmt.Errorf("%w: sync mode %q (want %s or %s)", ErrInvalidConfig, c.SyncMode, ModeStrictSync, ModeSync))
	}
	if c.ReplicationPort < 0 || c.ReplicationPort > 65535 {
		errs = append(errs, fmt.Errorf("%w: replication port %d (want 1-65535)", ErrInvalidConfig, c.ReplicationPort))
	}
	if c.SwitchoverTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: switchover timeout %v is negative", ErrInvalidConfig, c.SwitchoverTimeout))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.FailoverAfter > 0 {
		d.FailoverAfter = c.FailoverAfter
	}
	if c.SyncMode.Synchronous() { // Validate refuses anything else
		d.SyncMode = c.SyncMode
	}
	if c.ReplicationPort > 0 {
		d.ReplicationPort = c.ReplicationPort
	}
	if c.SwitchoverTimeout > 0 {
		d.SwitchoverTimeout = c.SwitchoverTimeout
	}
	d.AllowWipeDiverged = c.AllowWipeDiverged
	d.FailoverToAsync = c.FailoverToAsync
	return d
}

// replAddr is the address an instance is registered with: ReplAddr, with
// the replication port added when it has none.
func replAddr(in *Instance, port int) string {
	if in.ReplAddr == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(in.ReplAddr); err == nil {
		return in.ReplAddr
	}
	return net.JoinHostPort(in.ReplAddr, strconv.Itoa(port))
}
