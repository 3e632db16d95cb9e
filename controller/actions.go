package controller

import (
	"context"
	"fmt"
	"strings"
)

// Action is one step Decide asks the executor to take. The set is closed:
// the types below are all there is.
//
// Every action carries the epoch it belongs to. Store writes compare it
// with the record (Claim and Publish move the epoch by exactly one,
// RecordReplicas keeps it); every other action must be refused with
// ErrFenced once the store holds a higher epoch than the action's, or once
// this gateway is no longer the leader, so a deposed leader's late actions
// change nothing. Reports (Alert, RefuseAmbiguous, ReportDiverged,
// EndSwitchover) are never fenced.
type Action interface {
	// ActionEpoch is the route epoch the action belongs to.
	ActionEpoch() uint64
	// Subject is the instance the action changes, "" for none. When an
	// action fails, Run skips the later actions of the batch with the same
	// subject (a Register after a failed Drop or Demote of that instance).
	Subject() string
	// Critical actions are steps of a sequence: when one fails, Run skips
	// the rest of the batch.
	Critical() bool
	String() string
	apply(ctx context.Context, ex Executor) error
}

// ClaimFailover starts a failover or a switchover (DESIGN "Failover" step
// 3): write {Epoch, phase failover, no main, Target, From, Planned,
// Replicas} to the store with a compare-and-swap on the record read
// (epoch Epoch-1), then broadcast it.
type ClaimFailover struct {
	Epoch   uint64
	Target  string
	From    string
	Planned bool
	Cause   string
	// Replicas is the view of From the target was chosen from; it stays in
	// the record so a new leader can re-check eligibility.
	Replicas []RouteReplica
}

// AwaitBarrier waits (DESIGN steps 4-5) until every live gateway acked
// Epoch or every lease that may still route to an older epoch has
// expired, then returns nil; it fails with ErrBarrierTimeout after a
// bound. A new leader also waits out its predecessor's leases here.
type AwaitBarrier struct {
	Epoch uint64
}

// Demote runs SET REPLICATION ROLE TO REPLICA WITH PORT Port on Instance;
// "already a REPLICA" is success. Fence marks the demotion of the MAIN
// being replaced during a failover (DESIGN step 6): then it is critical.
type Demote struct {
	Epoch    uint64
	Instance string
	Port     int
	Fence    bool
}

// Promote runs SET REPLICATION ROLE TO MAIN on Instance (DESIGN step 6);
// "already MAIN" is success.
type Promote struct {
	Epoch    uint64
	Instance string
}

// Register makes the MAIN On register Instance under its own name with
// Mode at Addr, idempotently: nothing if that registration exists and is
// not a zombie; otherwise drop the name and any other name holding Addr,
// then REGISTER REPLICA (memgraph.Client.EnsureReplica). REGISTER "Error:
// 3" must be returned wrapping ErrDiverged.
type Register struct {
	Epoch    uint64
	On       string
	Instance string
	Mode     Mode
	Addr     string
}

// Drop runs DROP REPLICA Name on the MAIN On; an unknown name is success.
type Drop struct {
	Epoch  uint64
	On     string
	Name   string
	Reason string
}

// Publish writes {Epoch, phase serving, Main, Replicas} to the store with a
// compare-and-swap on the record read (epoch Epoch-1; none for Epoch 1),
// then broadcasts it (DESIGN step 7, and bootstrap). Main was observed
// MAIN this tick.
type Publish struct {
	Epoch    uint64
	Main     string
	MainAddr string
	Replicas []RouteReplica
	Cause    string
}

// RecordReplicas rewrites the Replicas of the serving record at the same
// Epoch (a compare-and-swap that changes neither Main nor Phase). It
// comes first in a batch that weakens the synchronous replica set, so
// that a deposed leader, whose store write fails, cannot drop the replica
// a successor would fail over to.
type RecordReplicas struct {
	Epoch    uint64
	Main     string
	Replicas []RouteReplica
}

// ReportDiverged reports (log, event, metric, /status) that Instance
// holds data the MAIN lacks. It is never registered again unless wiped.
type ReportDiverged struct {
	Epoch    uint64
	Instance string
	Detail   string
}

// WipeAndResync (only with Config.AllowWipeDiverged) drops any
// registration of Instance on the current MAIN and destroys its data (for
// example deletes its PVC and pod), so that it restarts as an empty MAIN;
// the controller then demotes and registers it like any new instance.
type WipeAndResync struct {
	Epoch    uint64
	Instance string
}

// Alert reports a condition an operator should know about (log, event,
// metric). Key identifies the condition; Decide emits it once per episode.
type Alert struct {
	Epoch  uint64
	Key    string
	Reason string
}

// RefuseAmbiguous reports that the cluster has no route and its state
// admits more than one answer; nothing is changed until an operator
// names the MAIN with a switchover request.
type RefuseAmbiguous struct {
	Epoch  uint64
	Key    string
	Reason string
}

// EndSwitchover answers and clears the pending switchover request.
type EndSwitchover struct {
	Epoch  uint64
	Target string
	OK     bool
	Reason string
}

// ActionEpoch, Subject, Critical, String and apply of every action.
func (a ClaimFailover) ActionEpoch() uint64   { return a.Epoch }
func (a AwaitBarrier) ActionEpoch() uint64    { return a.Epoch }
func (a Demote) ActionEpoch() uint64          { return a.Epoch }
func (a Promote) ActionEpoch() uint64         { return a.Epoch }
func (a Register) ActionEpoch() uint64        { return a.Epoch }
func (a Drop) ActionEpoch() uint64            { return a.Epoch }
func (a Publish) ActionEpoch() uint64         { return a.Epoch }
func (a RecordReplicas) ActionEpoch() uint64  { return a.Epoch }
func (a ReportDiverged) ActionEpoch() uint64  { return a.Epoch }
func (a WipeAndResync) ActionEpoch() uint64   { return a.Epoch }
func (a Alert) ActionEpoch() uint64           { return a.Epoch }
func (a RefuseAmbiguous) ActionEpoch() uint64 { return a.Epoch }
func (a EndSwitchover) ActionEpoch() uint64   { return a.Epoch }

func (ClaimFailover) Subject() string   { return "" }
func (AwaitBarrier) Subject() string    { return "" }
func (a Demote) Subject() string        { return a.Instance }
func (a Promote) Subject() string       { return a.Instance }
func (a Register) Subject() string      { return a.Instance }
func (a Drop) Subject() string          { return a.Name }
func (Publish) Subject() string         { return "" }
func (RecordReplicas) Subject() string  { return "" }
func (ReportDiverged) Subject() string  { return "" }
func (a WipeAndResync) Subject() string { return a.Instance }
func (Alert) Subject() string           { return "" }
func (RefuseAmbiguous) Subject() string { return "" }
func (EndSwitchover) Subject() string   { return "" }

func (ClaimFailover) Critical() bool   { return true }
func (AwaitBarrier) Critical() bool    { return true }
func (a Demote) Critical() bool        { return a.Fence }
func (Promote) Critical() bool         { return true }
func (Register) Critical() bool        { return false }
func (Drop) Critical() bool            { return false }
func (Publish) Critical() bool         { return true }
func (RecordReplicas) Critical() bool  { return true }
func (ReportDiverged) Critical() bool  { return false }
func (WipeAndResync) Critical() bool   { return false }
func (Alert) Critical() bool           { return false }
func (RefuseAmbiguous) Critical() bool { return false }
func (EndSwitchover) Critical() bool   { return false }

func (a ClaimFailover) String() string   { return a.string() }
func (a AwaitBarrier) String() string    { return fmt.Sprintf("barrier e%d", a.Epoch) }
func (a Demote) String() string          { return a.string() }
func (a Promote) String() string         { return fmt.Sprintf("promote e%d %s", a.Epoch, a.Instance) }
func (a Register) String() string        { return a.string() }
func (a Drop) String() string            { return fmt.Sprintf("drop e%d on=%s %s", a.Epoch, a.On, a.Name) }
func (a Publish) String() string         { return a.string() }
func (a RecordReplicas) String() string  { return a.string() }
func (a ReportDiverged) String() string  { return "diverged " + a.Instance }
func (a WipeAndResync) String() string   { return fmt.Sprintf("wipe e%d %s", a.Epoch, a.Instance) }
func (a Alert) String() string           { return "alert " + a.Key }
func (a RefuseAmbiguous) String() string { return "refuse " + a.Key }
func (a EndSwitchover) String() string   { return a.string() }

func (a ClaimFailover) apply(ctx context.Context, ex Executor) error { return ex.ClaimFailover(ctx, a) }
func (a AwaitBarrier) apply(ctx context.Context, ex Executor) error  { return ex.AwaitBarrier(ctx, a) }
func (a Demote) apply(ctx context.Context, ex Executor) error        { return ex.Demote(ctx, a) }
func (a Promote) apply(ctx context.Context, ex Executor) error       { return ex.Promote(ctx, a) }
func (a Register) apply(ctx context.Context, ex Executor) error      { return ex.Register(ctx, a) }
func (a Drop) apply(ctx context.Context, ex Executor) error          { return ex.Drop(ctx, a) }
func (a Publish) apply(ctx context.Context, ex Executor) error       { return ex.Publish(ctx, a) }
func (a RecordReplicas) apply(ctx context.Context, ex Executor) error {
	return ex.RecordReplicas(ctx, a)
}
func (a ReportDiverged) apply(ctx context.Context, ex Executor) error {
	return ex.ReportDiverged(ctx, a)
}
func (a WipeAndResync) apply(ctx context.Context, ex Executor) error { return ex.WipeAndResync(ctx, a) }
func (a Alert) apply(ctx context.Context, ex Executor) error         { return ex.Alert(ctx, a) }
func (a RefuseAmbiguous) apply(ctx context.Context, ex Executor) error {
	return ex.RefuseAmbiguous(ctx, a)
}
func (a EndSwitchover) apply(ctx context.Context, ex Executor) error { return ex.EndSwitchover(ctx, a) }

func (a ClaimFailover) string() string {
	s := fmt.Sprintf("claim e%d target=%s from=%s", a.Epoch, a.Target, a.From)
	if a.Planned {
		s += " planned"
	}
	return s
}

func (a Publish) string() string {
	return fmt.Sprintf("publish e%d main=%s %s", a.Epoch, a.Main, replicasString(a.Replicas))
}

func (a RecordReplicas) string() string {
	return fmt.Sprintf("record e%d main=%s %s", a.Epoch, a.Main, replicasString(a.Replicas))
}

func (a Demote) string() string {
	s := fmt.Sprintf("demote e%d %s", a.Epoch, a.Instance)
	if a.Fence {
		s += " fence"
	}
	return s
}

func (a Register) string() string {
	return fmt.Sprintf("register e%d on=%s %s %s", a.Epoch, a.On, a.Instance, a.Mode)
}

func (a EndSwitchover) string() string {
	if a.OK {
		return "switchover-done " + a.Target
	}
	return "switchover-failed " + a.Target
}

// replicasString prints replicas as [name:MODE:ready ...] for logs and
// test expectations.
func replicasString(rs []RouteReplica) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.Name)
		b.WriteByte(':')
		if r.Mode == "" {
			b.WriteString("-")
		} else {
			b.WriteString(string(r.Mode))
		}
		if r.Ready {
			b.WriteString(":ready")
		}
	}
	b.WriteByte(']')
	return b.String()
}
