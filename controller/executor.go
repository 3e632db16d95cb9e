package controller

import (
	"context"
	"errors"
)

// Errors an Executor wraps (with %w) so that Run and Decide can tell
// failures apart. Any other error is a plain failure, retried on a later
// tick.
var (
	// ErrFenced: the action's epoch is older than the store's, or this
	// gateway is no longer the leader (the store CAS was lost, the memgraph
	// client's guard refused). Run stops the batch; the caller should stop
	// acting as leader.
	ErrFenced = errors.New("controller: fenced: stale epoch or lost leadership")
	// ErrBarrierTimeout: AwaitBarrier gave up waiting.
	ErrBarrierTimeout = errors.New("controller: barrier not reached in time")
	// ErrDiverged: REGISTER answered "Error: 3" (memgraph.ErrDiverged).
	ErrDiverged = errors.New("controller: replica diverged from main")
	// ErrUnreachable: the instance did not answer, or REGISTER answered
	// "Error: 5" (memgraph.ErrUnavailable, memgraph.ErrReplicaUnreachable).
	ErrUnreachable = errors.New("controller: instance unreachable")
	// ErrContention: Memgraph's replication lock was held by a commit
	// (memgraph.ErrContention). Transient: the next tick retries.
	ErrContention = errors.New("controller: replication lock contention")
	// ErrSkipped marks an Outcome whose action Run did not execute.
	ErrSkipped = errors.New("controller: skipped after an earlier failure")
)

// Executor performs actions. The lead implements it with memgraph/ (one
// admin client per instance, its Guard refusing stale epochs), state/ (the
// store CAS) and the gossip barrier. Every method must be idempotent:
// Decide is level-triggered and asks again for whatever it does not yet
// observe done. Every Memgraph query is one auto-commit session.Run,
// bounded by a timeout.
type Executor interface {
	// ClaimFailover: CAS the store from epoch a.Epoch-1 to {a.Epoch,
	// failover, no main, a.Target, a.From, a.Planned, a.Replicas}, then
	// broadcast it so gateways cut and hold (DESIGN steps 3-4). A lost
	// CAS returns ErrFenced.
	ClaimFailover(ctx context.Context, a ClaimFailover) error
	// AwaitBarrier: block until the barrier for a.Epoch is complete (DESIGN
	// step 5), at most a bound (route-ttl plus margin), then
	// ErrBarrierTimeout. A new leader's first barrier includes waiting out
	// its predecessor's leases (and failsafe acks).
	AwaitBarrier(ctx context.Context, a AwaitBarrier) error
	// Demote: SET REPLICATION ROLE TO REPLICA WITH PORT a.Port on
	// a.Instance (memgraph.Client.Demote; already REPLICA is success).
	Demote(ctx context.Context, a Demote) error
	// Promote: SET REPLICATION ROLE TO MAIN on a.Instance
	// (memgraph.Client.Promote; already MAIN is success).
	Promote(ctx context.Context, a Promote) error
	// Register: on a.On, EnsureReplica(a.Instance, a.Mode, a.Addr).
	// "Error: 3" wraps ErrDiverged; "Error: 5" wraps ErrUnreachable;
	// contention wraps ErrContention. A zombie left by a failure is dropped
	// by EnsureReplica or by the next tick.
	Register(ctx context.Context, a Register) error
	// Drop: DROP REPLICA a.Name on a.On (memgraph.Client.DropIfPresent).
	Drop(ctx context.Context, a Drop) error
	// Publish: CAS the store from epoch a.Epoch-1 (no record for epoch 1)
	// to {a.Epoch, serving, a.Main, a.Replicas}, broadcast it, and log the
	// route change once with the old and new MAIN and a.Cause (DESIGN step
	// 7). A lost CAS returns ErrFenced.
	Publish(ctx context.Context, a Publish) error
	// RecordReplicas: CAS the serving record at a.Epoch (same Main, same
	// Phase) to carry a.Replicas. A lost CAS or a changed record returns
	// ErrFenced.
	RecordReplicas(ctx context.Context, a RecordReplicas) error
	// ReportDiverged: log, Kubernetes event, metric, /status.
	ReportDiverged(ctx context.Context, a ReportDiverged) error
	// WipeAndResync: drop any registration of a.Instance on the current
	// MAIN, then destroy the instance's data so it restarts as an empty
	// MAIN (delete PVC and pod, or a user hook). Only emitted when
	// Config.AllowWipeDiverged is set.
	WipeAndResync(ctx context.Context, a WipeAndResync) error
	// Alert: log at warn/error, event, metric keyed by a.Key.
	Alert(ctx context.Context, a Alert) error
	// RefuseAmbiguous: log, event, /status; no change to anything.
	RefuseAmbiguous(ctx context.Context, a RefuseAmbiguous) error
	// EndSwitchover: answer the pending request (a.OK, a.Reason) and
	// clear it, so the next Snapshot has none.
	EndSwitchover(ctx context.Context, a EndSwitchover) error
}

// Outcome is what happened to one action of a batch. Err is nil on
// success, wraps ErrSkipped when the action was not executed.
type Outcome struct {
	Action Action
	Err    error
}

// Run executes a batch in order and returns one Outcome per action, for
// the next Snapshot. A failed critical action, an ErrFenced failure or a
// cancelled ctx skips the rest of the batch; any other failure skips only
// the later actions with the same Subject. Run does not retry: the next
// observe-decide round does.
func Run(ctx context.Context, ex Executor, batch []Action) []Outcome {
	out := make([]Outcome, 0, len(batch))
	failed := make(map[string]bool)
	stopped := false
	for _, a := range batch {
		if stopped || (a.Subject() != "" && failed[a.Subject()]) || ctx.Err() != nil {
			out = append(out, Outcome{Action: a, Err: ErrSkipped})
			continue
		}
		err := a.apply(ctx, ex)
		out = append(out, Outcome{Action: a, Err: err})
		if err == nil {
			continue
		}
		if a.Critical() || errors.Is(err, ErrFenced) {
			stopped = true
		}
		if s := a.Subject(); s != "" {
			failed[s] = true
		}
	}
	return out
}
