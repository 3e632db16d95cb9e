package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// executor implements Executor with the observer's memgraph clients and
// the state.Store.
//
// Store writes are compare-and-swaps with the version the loop last read
// (or this executor last wrote); ErrNotLeader and ErrConflict are
// ErrFenced. Memgraph actions are refused with ErrFenced once the record
// this leader knows holds a higher epoch than the action's, or once the
// leader context is done (the clients' Guard checks it as well, right
// before each state-changing query).
//
// The claim writes Target, From and Planned into the record, so a leader
// that finds phase failover resumes its predecessor's choice.
//
// Barrier: with LoopConfig.Barrier (gossip and route leases), every write
// of a higher epoch is claimed first and every write published to it, and
// AwaitBarrier waits for its acks and lease expiries. Without one, the
// barrier of epoch e completes RouteTTL after
// the claim of e was written (by this leader; for a record found in phase
// failover, RouteTTL after this leader first saw it), and never earlier
// than RouteTTL after this leader started, which waits out its
// predecessor's route leases: safe only while gateways route by the store
// alone (no gossip).
type executor struct {
	leaderCtx context.Context
	store     state.Store
	obs       *observer
	log       *zap.Logger
	leaderID  string
	routeTTL  time.Duration
	started   time.Time

	mu      sync.Mutex
	route   state.Route // as last read or written
	version state.Version
	claimAt map[uint64]time.Time
	barrier uint64  // highest epoch whose barrier completed
	leases  Barrier // nil: the barrier is a RouteTTL wait
	wipe    func(ctx context.Context, instance, boltAddr string) error
}

// setRecord is called by the loop after each Load.
func (x *executor) setRecord(r state.Route, v state.Version, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.route, x.version = r, v
	if r.Phase == state.PhaseFailover {
		if _, ok := x.claimAt[r.Epoch]; !ok {
			x.claimAt[r.Epoch] = now
		}
	}
}

// controllerRoute is the record as Decide sees it.
func (x *executor) controllerRoute() Route {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.route
	if r.IsZero() {
		return Route{}
	}
	out := Route{Epoch: r.Epoch, Phase: Phase(r.Phase), Main: r.Main.Name}
	for _, rep := range r.Replicas {
		out.Replicas = append(out.Replicas, RouteReplica{Name: rep.Name, BoltAddr: rep.BoltAddr,
			Mode: Mode(rep.Mode), Ready: rep.Ready, Lag: rep.Lag})
	}
	if out.Phase == PhaseFailover {
		out.Target, out.From, out.Planned = r.Target, r.From, r.Planned
	}
	return out
}

func (x *executor) barrierEpoch() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.barrier
}

// cas writes next over the record at epoch wantEpoch (0: no record).
func (x *executor) cas(ctx context.Context, wantEpoch uint64, sameEpoch bool, next state.Route) error {
	x.mu.Lock()
	cur, ver := x.route, x.version
	x.mu.Unlock()
	if cur.Epoch != wantEpoch {
		return fmt.Errorf("%w: record at epoch %d, action expects %d", ErrFenced, cur.Epoch, wantEpoch)
	}
	if sameEpoch && (cur.Phase != next.Phase || cur.Main != next.Main) {
		return fmt.Errorf("%w: record changed (phase %s, main %s)", ErrFenced, cur.Phase, cur.Main.Name)
	}
	next.Leader = x.leaderID
	next.Updated = time.Now()
	if x.leases != nil && next.Epoch > cur.Epoch {
		// Stop granting leases on the route being replaced before the
		// write, so the set of leases the barrier waits for is closed.
		if err := x.leases.Claim(ctx, next); err != nil {
			return fmt.Errorf("route lease claim of epoch %d: %w", next.Epoch, err)
		}
	}
	v, err := x.store.CompareAndSwap(ctx, ver, next)
	switch {
	case errors.Is(err, state.ErrNotLeader), errors.Is(err, state.ErrConflict):
		return errors.Join(ErrFenced, err)
	case err != nil:
		return err
	}
	x.mu.Lock()
	x.route, x.version = next.Clone(), v
	x.mu.Unlock()
	if x.leases != nil {
		x.leases.Published(next.Clone())
	}
	return nil
}

// stateReplicas maps replicas to the record, filling a missing Bolt
// address from discovery's last known one and leaving out replicas
// without any (state.Validate requires one) and the main.
func (x *executor) stateReplicas(rs []RouteReplica, main string) []state.ReplicaState {
	var out []state.ReplicaState
	for _, r := range rs {
		if r.Name == main {
			continue
		}
		addr := r.BoltAddr
		if addr == "" {
			addr = x.obs.boltAddr(r.Name)
		}
		if addr == "" {
			x.log.Warn("replica left out of the record: no bolt address", zap.String("instance", r.Name))
			continue
		}
		out = append(out, state.ReplicaState{Name: r.Name, BoltAddr: addr, Mode: state.ReplicaMode(r.Mode),
			Ready: r.Ready, Lag: r.Lag})
	}
	return out
}

func (x *executor) ClaimFailover(ctx context.Context, a ClaimFailover) error {
	if a.Planned && x.leases != nil {
		// Writes still flow until the claim: wait out the term's first-
		// promotion delay before claiming, not after, so that a switchover
		// soon after a leader change holds writes for milliseconds, not
		// seconds.
		at, err := x.leases.NotBefore(ctx)
		if err != nil {
			return err
		}
		if d := time.Until(at); d > 0 {
			x.log.Info("switchover: waiting for this leader's first-promotion delay before claiming", zap.Duration("wait", d))
			if err := sleepCtx(ctx, d); err != nil {
				return err
			}
		}
	}
	next := state.Route{Epoch: a.Epoch, Phase: state.PhaseFailover, Replicas: x.stateReplicas(a.Replicas, ""),
		Target: a.Target, From: a.From, Planned: a.Planned}
	if err := x.cas(ctx, a.Epoch-1, false, next); err != nil {
		return err
	}
	x.mu.Lock()
	x.claimAt[a.Epoch] = time.Now()
	x.mu.Unlock()
	x.log.Warn("route: failover claimed", zap.Uint64("epoch", a.Epoch), zap.String("target", a.Target),
		zap.String("from", a.From), zap.Bool("planned", a.Planned), zap.String("cause", a.Cause))
	return nil
}

func (x *executor) AwaitBarrier(ctx context.Context, a AwaitBarrier) error {
	if x.leases != nil {
		if err := x.leases.Await(ctx, a.Epoch); err != nil {
			return fmt.Errorf("barrier of epoch %d: %w", a.Epoch, err)
		}
		x.passBarrier(a.Epoch)
		return nil
	}
	x.mu.Lock()
	at, ok := x.claimAt[a.Epoch]
	if !ok {
		at = time.Now()
		x.claimAt[a.Epoch] = at
	}
	x.mu.Unlock()
	until := at.Add(x.routeTTL)
	if s := x.started.Add(x.routeTTL); s.After(until) {
		until = s
	}
	if err := sleepCtx(ctx, time.Until(until)); err != nil {
		return err
	}
	x.passBarrier(a.Epoch)
	return nil
}

// passBarrier records that the barrier of epoch has passed.
func (x *executor) passBarrier(epoch uint64) {
	x.mu.Lock()
	if epoch > x.barrier {
		x.barrier = epoch
	}
	x.mu.Unlock()
}

// guard refuses a Memgraph action of an older epoch than the record, or
// after leadership was lost.
func (x *executor) guard(ctx context.Context, epoch uint64, name string) (*memgraph.Client, error) {
	if x.leaderCtx.Err() != nil {
		return nil, fmt.Errorf("%w: leadership lost", ErrFenced)
	}
	x.mu.Lock()
	cur := x.route.Epoch
	x.mu.Unlock()
	if epoch < cur {
		return nil, fmt.Errorf("%w: action epoch %d, record epoch %d", ErrFenced, epoch, cur)
	}
	c := x.obs.client(name)
	if c == nil {
		return nil, fmt.Errorf("%w: %s has no client (not discovered)", ErrUnreachable, name)
	}
	return c, nil
}

func (x *executor) Demote(ctx context.Context, a Demote) error {
	c, err := x.guard(ctx, a.Epoch, a.Instance)
	if err != nil {
		return err
	}
	return controllerError(c.Demote(ctx, a.Port))
}

func (x *executor) Promote(ctx context.Context, a Promote) error {
	c, err := x.guard(ctx, a.Epoch, a.Instance)
	if err != nil {
		return err
	}
	return controllerError(c.Promote(ctx))
}

func (x *executor) Register(ctx context.Context, a Register) error {
	c, err := x.guard(ctx, a.Epoch, a.On)
	if err != nil {
		return err
	}
	res, err := c.EnsureReplica(ctx, a.Instance, memgraph.SyncMode(a.Mode), a.Addr)
	if len(res.Dropped) > 0 {
		x.log.Info("replica registrations dropped", zap.Uint64("epoch", a.Epoch), zap.String("on", a.On),
			zap.Strings("dropped", res.Dropped))
	}
	return controllerError(err)
}

func (x *executor) Drop(ctx context.Context, a Drop) error {
	c, err := x.guard(ctx, a.Epoch, a.On)
	if err != nil {
		return err
	}
	_, err = c.DropIfPresent(ctx, a.Name)
	return controllerError(err)
}

func (x *executor) Publish(ctx context.Context, a Publish) error {
	addr := a.MainAddr
	if addr == "" {
		addr = x.obs.boltAddr(a.Main)
	}
	x.mu.Lock()
	old := x.route.Main.Name
	if old == "" {
		old = x.route.From // phase failover names no main
	}
	x.mu.Unlock()
	next := state.Route{Epoch: a.Epoch, Phase: state.PhaseServing,
		Main:     state.Instance{Name: a.Main, BoltAddr: addr},
		Replicas: x.stateReplicas(a.Replicas, a.Main)}
	if err := x.cas(ctx, a.Epoch-1, false, next); err != nil {
		return err
	}
	x.log.Warn("route: main published", zap.Uint64("epoch", a.Epoch), zap.String("old_main", old),
		zap.String("main", a.Main), zap.String("cause", a.Cause))
	return nil
}

func (x *executor) RecordReplicas(ctx context.Context, a RecordReplicas) error {
	x.mu.Lock()
	next := x.route.Clone()
	x.mu.Unlock()
	if next.Main.Name != a.Main || next.Phase != state.PhaseServing {
		return fmt.Errorf("%w: record is %s main=%s, not serving main=%s", ErrFenced, next.Phase, next.Main.Name, a.Main)
	}
	next.Replicas = x.stateReplicas(a.Replicas, a.Main)
	return x.cas(ctx, a.Epoch, true, next)
}

func (x *executor) ReportDiverged(_ context.Context, a ReportDiverged) error {
	x.log.Error("instance diverged from the main", zap.Uint64("epoch", a.Epoch),
		zap.String("instance", a.Instance), zap.String("detail", a.Detail))
	return nil
}

// WipeAndResync drops the instance's registration on the route's MAIN,
// then runs the wipe hook, which destroys its data; the instance comes
// back as an empty MAIN, which Decide demotes and registers like a new
// one.
func (x *executor) WipeAndResync(ctx context.Context, a WipeAndResync) error {
	if x.wipe == nil {
		return fmt.Errorf("controller: wipe of %s: no wipe hook configured (--wipe-diverged-command)", a.Instance)
	}
	x.mu.Lock()
	main := x.route.Main.Name
	x.mu.Unlock()
	if main != "" && main != a.Instance {
		c, err := x.guard(ctx, a.Epoch, main)
		if err != nil {
			return err
		}
		if _, err := c.DropIfPresent(ctx, a.Instance); err != nil {
			return controllerError(err)
		}
	}
	if x.leaderCtx.Err() != nil {
		return fmt.Errorf("%w: leadership lost", ErrFenced)
	}
	x.log.Warn("wiping a diverged instance", zap.Uint64("epoch", a.Epoch), zap.String("instance", a.Instance))
	if err := x.wipe(ctx, a.Instance, x.obs.boltAddr(a.Instance)); err != nil {
		return fmt.Errorf("controller: wipe of %s: %w", a.Instance, err)
	}
	return nil
}

func (x *executor) Alert(_ context.Context, a Alert) error {
	x.log.Warn("alert", zap.Uint64("epoch", a.Epoch), zap.String("key", a.Key), zap.String("reason", a.Reason))
	return nil
}

func (x *executor) RefuseAmbiguous(_ context.Context, a RefuseAmbiguous) error {
	x.log.Error("refusing to bootstrap", zap.Uint64("epoch", a.Epoch), zap.String("key", a.Key),
		zap.String("reason", a.Reason))
	return nil
}

// EndSwitchover logs; RunLoop's tracker (track.go) wraps it to answer
// the request in LoopConfig.Switchovers.
func (x *executor) EndSwitchover(_ context.Context, a EndSwitchover) error {
	x.log.Info("switchover ended", zap.Uint64("epoch", a.Epoch), zap.String("target", a.Target),
		zap.Bool("ok", a.OK), zap.String("reason", a.Reason))
	return nil
}
