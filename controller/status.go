package controller

import (
	"slices"
	"sync/atomic"
	"time"
)

// StatusBoard holds what the leader's loop last saw and did, for /status.
// The loop replaces the whole LoopStatus after every tick (an atomic pointer
// swap); readers never block it and never see a half-updated one. The
// zero value is ready for use. One StatusBoard outlives the loops of
// successive leadership terms; a stopped loop leaves its last LoopStatus with
// Running false.
type StatusBoard struct {
	v atomic.Pointer[LoopStatus]
}

// Load returns the last LoopStatus and whether any loop has stored one. The
// Status is shared: callers must not modify its slices.
func (b *StatusBoard) Load() (LoopStatus, bool) {
	if b == nil {
		return LoopStatus{}, false
	}
	p := b.v.Load()
	if p == nil {
		return LoopStatus{}, false
	}
	return *p, true
}

func (b *StatusBoard) store(st LoopStatus) {
	if b != nil {
		b.v.Store(&st)
	}
}

// LoopStatus is the controller's view after one tick of the leader's loop.
type LoopStatus struct {
	// Running: a loop is updating the board (false once it stopped).
	Running bool
	// Leader is the LeaderID of the loop that wrote it.
	Leader string
	// Updated is the time of the tick.
	Updated time.Time
	// Epoch, Phase and Main are the route record the tick read; Target
	// and From are set in phase failover.
	Epoch  uint64
	Phase  Phase
	Main   string
	Target string
	From   string
	// Instances, sorted by name: every discovered instance, plus route
	// members discovery lost.
	Instances []InstanceStatus
	// Topology is the replication the MAIN reports.
	Topology Topology
	// Alerts are the conditions active at this tick, sorted by key.
	Alerts []AlertStatus
	// Switchover is the request waiting for an answer, nil when none.
	Switchover *PendingSwitchover
	// LastFailover is the last failover or switchover this gateway's
	// loops ran (the one in progress while End is zero), nil when none.
	LastFailover *FailoverRecord
}

// InstanceStatus is one Memgraph instance as the leader sees it.
type InstanceStatus struct {
	Name     string
	BoltAddr string
	// Known: discovery lists it.
	Known bool
	// Reachable: the leader's last probe succeeded; DownSince is when its
	// current run of failed probes started.
	Reachable bool
	DownSince time.Time
	Role      Role
	Data      DataState
	// Registered: the route's MAIN lists it in SHOW REPLICAS; Mode,
	// ReplicaStatus, TS and Behind are that row (Behind 0 caught up,
	// negative lagging). Zombie: a registration without data_info.
	Registered    bool
	Mode          Mode
	ReplicaStatus Status
	TS            int64
	Behind        int64
	Zombie        bool
	// Diverged: the instance holds data the MAIN lacks (reported, never
	// registered again unless wiped); DivergedDetail says how it was found.
	Diverged       bool
	DivergedDetail string
}

// Topology is the replication as the route's MAIN reports it.
type Topology struct {
	Main string
	// SyncReplica is the replica registered STRICT_SYNC or SYNC ("" none).
	SyncReplica string
	// AsyncReplicas are the replicas registered ASYNC, sorted.
	AsyncReplicas []string
}

// AlertStatus is an active alert: Key identifies the condition (an Alert
// key, or "refuse:<key>" for a RefuseAmbiguous); Since is when this loop
// first raised it in the current episode.
type AlertStatus struct {
	Key    string
	Reason string
	Since  time.Time
}

// Kinds of FailoverRecord.
const (
	KindFailover   = "failover"
	KindSwitchover = "switchover"
	KindBootstrap  = "bootstrap"
)

// Results of FailoverRecord.
const (
	// ResultOK: the target was published MAIN.
	ResultOK = "ok"
	// ResultAborted: another instance was published instead (a switchover
	// whose target did not catch up in time, or a failover whose target
	// was lost while the MAIN being replaced answered again).
	ResultAborted = "aborted"
	// ResultInterrupted: the loop stopped (leadership lost, fenced,
	// shutdown) before anything was published.
	ResultInterrupted = "interrupted"
)

// FailoverRecord is one failover or switchover, from its claim to the
// publish of a MAIN, as the loop executed it.
type FailoverRecord struct {
	// Kind is KindFailover, KindSwitchover (a planned claim) or
	// KindBootstrap (a claim without a MAIN to replace).
	Kind string
	// Cause is the first claim's cause.
	Cause string
	// From is the MAIN being replaced, Target the instance chosen (the
	// last claim's, after a retarget), Main the one published.
	From   string
	Target string
	Main   string
	// ClaimEpoch is the first claim's epoch; Epoch the published one.
	ClaimEpoch uint64
	Epoch      uint64
	// Start is when the first claim began; End when the publish ended
	// (zero while in progress).
	Start time.Time
	End   time.Time
	// Result is "" while in progress, then ResultOK, ResultAborted or
	// ResultInterrupted; Error says why when it is not OK.
	Result string
	Error  string
	// Steps in execution order: every claim, barrier, demote, promote and
	// publish, and the registrations of the batch that published.
	Steps []FailoverStep
}

// Duration is End - Start: for a failover or switchover the time during
// which no MAIN was published (writes held). Zero while in progress.
func (r *FailoverRecord) Duration() time.Duration {
	if r == nil || r.End.IsZero() {
		return 0
	}
	return r.End.Sub(r.Start)
}

// InProgress reports whether the record has no result yet.
func (r *FailoverRecord) InProgress() bool { return r != nil && r.Result == "" }

func (r *FailoverRecord) clone() *FailoverRecord {
	if r == nil {
		return nil
	}
	c := *r
	c.Steps = slices.Clone(r.Steps)
	return &c
}

// Step names of FailoverStep.
const (
	StepClaim    = "claim"
	StepBarrier  = "barrier"
	StepDemote   = "demote"
	StepPromote  = "promote"
	StepRegister = "register"
	StepPublish  = "publish"
)

// FailoverStep is one executed action of a failover.
type FailoverStep struct {
	// Name is one of the Step constants.
	Name string
	// Instance is the instance it acted on ("" for claim and barrier; the
	// published MAIN for publish).
	Instance string
	Epoch    uint64
	// Offset is the step's start after the record's Start.
	Offset   time.Duration
	Duration time.Duration
	// Error is the step's failure ("" when it succeeded); the loop
	// retried it on a later tick.
	Error string
}
