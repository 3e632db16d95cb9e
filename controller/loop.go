package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Defaults of LoopConfig.
const (
	DefaultProbeInterval = 500 * time.Millisecond
	DefaultProbeTimeout  = time.Second
	DefaultRouteTTL      = 6 * time.Second
)

// LoopConfig configures RunLoop. Zero fields take their defaults.
type LoopConfig struct {
	// Controller is Decide's configuration.
	Controller Config
	// ProbeInterval is how often every instance is probed. Default 500ms.
	ProbeInterval time.Duration
	// ProbeTimeout bounds each probe query (memgraph.Config.Timeout).
	// Default 1s.
	ProbeTimeout time.Duration
	// RouteTTL is the gateways' route lease (route-ttl). Without gossip
	// acks the barrier of a claim is waiting RouteTTL after it (see
	// executor). Default 6s.
	RouteTTL time.Duration
	// LeaderID is written as the record's Leader.
	LeaderID string
	// Switchovers is the request mailbox (POST /v1/switchover), Status
	// the board /status reads, Registerer where the controller's metrics
	// go (metrics.go); nil: none. Pass the same ones to every term's loop.
	Switchovers *Switchovers
	Status      *StatusBoard
	Registerer  prometheus.Registerer
	// Barrier and Quorum connect the loop to the gateways' route leases
	// and views (barrier.go); nil: the barrier waits RouteTTL and the
	// leader alone decides what is down.
	Barrier Barrier
	Quorum  Quorum
	// Suspects names instances to probe at once (a gateway saw them fail);
	// nil: none.
	Suspects <-chan string
	// Wipe destroys a diverged instance's data so that it restarts empty
	// (Config.AllowWipeDiverged): the binary runs the operator's
	// --wipe-diverged-command. nil: wiping fails (and is not asked for
	// unless AllowWipeDiverged is set).
	Wipe func(ctx context.Context, instance, boltAddr string) error
	// Tracer gets a span per action and per failover or switchover
	// (trace.go); nil: no tracing.
	Tracer trace.Tracer
	// Events gets the diverged instances, failovers, switchovers and
	// alerts as events (events.go); nil: none.
	Events EventSink
}

func (c LoopConfig) withDefaults() LoopConfig {
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.RouteTTL <= 0 {
		c.RouteTTL = DefaultRouteTTL
	}
	return c
}

// ClientFactory makes the admin client of one instance from the
// configuration the loop fills in (Name, Addr, Timeout, Guard, Logger); a
// caller adds what it needs (credentials) and calls memgraph.New. nil
// means memgraph.New.
type ClientFactory func(cfg memgraph.Config) (*memgraph.Client, error)

// RunLoop is the leader's controller: until ctx is done (leadership lost,
// or shutdown) it observes (background probes of every instance src
// lists, the store record), decides (Decide) and acts (Run with an
// executor on memgraph clients and store). It returns nil when ctx is
// done, an error wrapping ErrFenced when the store or a guard refused this
// leader, or a configuration error at once. It closes its clients before
// returning. src must be running (its Run called by the owner); RunLoop
// only reads Snapshot, never Changes, so it steals no notification.
//
// Without cfg.Quorum LiveGateways is 1: the quorum that declares an
// instance down is the leader's own view; without cfg.Barrier the barrier
// is waiting RouteTTL after a claim.
//
// Every action is logged once, after it ran, with its epoch, its cause
// (when it has one), its outcome and, with cfg.Tracer, its trace_id.
func RunLoop(ctx context.Context, cfg LoopConfig, store state.Store, src discovery.Source, newClient ClientFactory, log *zap.Logger) error {
	if err := cfg.Controller.Validate(); err != nil {
		return err
	}
	if store == nil || src == nil {
		return errors.New("controller: RunLoop needs a store and a discovery source")
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	if newClient == nil {
		newClient = memgraph.New
	}
	tr, err := newTracker(cfg, log)
	if err != nil {
		return err
	}
	defer tr.stop()
	tx := newTracingExecutor(cfg.Tracer)
	defer tx.close()
	if err := discovery.WaitSynced(ctx, src); err != nil {
		return nil
	}
	mlog := log.Named("memgraph")
	guard := func(context.Context) error {
		if ctx.Err() != nil {
			return errors.New("leadership lost")
		}
		return nil
	}
	obs := newObserver(cfg.ProbeInterval, func(name, addr string) (*memgraph.Client, error) {
		return newClient(memgraph.Config{Name: name, Addr: addr, Timeout: cfg.ProbeTimeout, Guard: guard, Logger: mlog})
	}, log)
	defer obs.close()
	go obs.followSuspicions(ctx, cfg.Suspects)
	x := &executor{leaderCtx: ctx, store: store, obs: obs, log: log, leaderID: cfg.LeaderID,
		routeTTL: cfg.RouteTTL, started: time.Now(), claimAt: make(map[uint64]time.Time), leases: cfg.Barrier, wipe: cfg.Wipe}
	ex := withEvents(x, cfg.Events, x.controllerRoute)

	obs.sync(ctx, src.Snapshot())
	obs.waitFresh(ctx, cfg.ProbeTimeout+cfg.ProbeInterval)

	var st State
	var outs []Outcome
	for ctx.Err() == nil {
		disc := src.Snapshot()
		obs.sync(ctx, disc)
		r, v, err := store.Load(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("controller: route load failed", zap.Error(err))
				_ = sleepCtx(ctx, cfg.ProbeInterval)
			}
			continue
		}
		now := time.Now()
		x.setRecord(r, v, now)
		route := x.controllerRoute()
		snap := Snapshot{
			Now:          now,
			Route:        route,
			Config:       cfg.Controller,
			Instances:    obs.instances(now, disc, route),
			LiveGateways: 1,
			BarrierEpoch: x.barrierEpoch(),
			Switchover:   tr.pending(route),
			Outcomes:     outs,
		}
		applyQuorum(cfg.Quorum, &snap)
		var batch []Action
		st, batch = Decide(st, snap)
		outs = Run(ctx, tx.wrap(tr.wrap(ex)), batch)
		tr.tick(snap, st, outs)
		changed := false
		ids := tx.traceIDs(outs)
		for i, o := range outs {
			logOutcome(log, o, ids[i])
			if o.Err == nil && !isReport(o.Action) {
				changed = true
			}
			if errors.Is(o.Err, ErrFenced) {
				return fmt.Errorf("controller: %s: %w", o.Action, o.Err)
			}
		}
		if changed {
			// Observe again at once, from probes taken after the batch.
			obs.waitFresh(ctx, cfg.ProbeTimeout+cfg.ProbeInterval)
		} else {
			_ = sleepCtx(ctx, nextTick(snap, cfg.Controller.withDefaults().FailoverAfter, cfg.ProbeInterval))
		}
	}
	return nil
}

// nextTick is how long the loop sleeps when nothing changed: a probe
// interval, or less when an unreachable instance's FailoverAfter runs out
// sooner, so that a failover is decided when it is due rather than at the
// next interval.
func nextTick(snap Snapshot, failoverAfter, interval time.Duration) time.Duration {
	d := interval
	for _, in := range snap.Instances {
		if in.Reachable || in.FirstFailure.IsZero() {
			continue
		}
		due := in.FirstFailure.Add(failoverAfter).Sub(snap.Now) + time.Millisecond
		if due > 0 && due < d {
			d = due
		}
	}
	return d
}

func isReport(a Action) bool {
	switch a.(type) {
	case Alert, RefuseAmbiguous, ReportDiverged, EndSwitchover:
		return true
	}
	return false
}

func causeOf(a Action) string {
	switch a := a.(type) {
	case ClaimFailover:
		return a.Cause
	case Publish:
		return a.Cause
	case Drop:
		return a.Reason
	case Alert:
		return a.Reason
	case RefuseAmbiguous:
		return a.Reason
	case ReportDiverged:
		return a.Detail
	case EndSwitchover:
		return a.Reason
	}
	return ""
}

// logOutcome logs o once; traceID ("" for none) is its span's trace id.
func logOutcome(log *zap.Logger, o Outcome, traceID string) {
	fields := []zap.Field{zap.Uint64("epoch", o.Action.ActionEpoch()), zap.String("action", o.Action.String())}
	if traceID != "" {
		fields = append(fields, zap.String("trace_id", traceID))
	}
	if c := causeOf(o.Action); c != "" {
		fields = append(fields, zap.String("cause", c))
	}
	switch {
	case o.Err == nil:
		log.Info("controller: action done", fields...)
	case errors.Is(o.Err, ErrSkipped):
		log.Info("controller: action skipped", fields...)
	default:
		log.Warn("controller: action failed", append(fields, zap.Error(o.Err))...)
	}
}

// sleepCtx sleeps for d (nothing if d <= 0) or until ctx is done, and
// returns ctx.Err().
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return ctx.Err()
}
