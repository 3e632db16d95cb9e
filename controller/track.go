package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// tracker is RunLoop's bookkeeping around Decide and Run, kept out of the
// loop itself: it puts the pending switchover request into each snapshot,
// times every step the executor runs, follows each failover or
// switchover from its claim to its publish, answers the request when
// Decide ends it (EndSwitchover), and after every tick publishes the
// StatusBoard and the metrics. Everything runs on the loop's goroutine:
// Run calls the executor sequentially.
type tracker struct {
	leaderID string
	sw       *Switchovers // nil: no requests
	board    *StatusBoard // nil: no board
	m        *metrics
	log      *zap.Logger

	// This tick.
	route        Route
	reqID        uint64 // the request put into the snapshot, 0 none
	reqTarget    string
	reqSubmitted time.Time
	published    string // MAIN published by this tick's batch

	// rec is the current (Result "") or last failover; closing: its
	// publish ran this tick, so the batch's registrations still join it.
	rec     *FailoverRecord
	closing bool

	alerts     map[string]AlertStatus
	stopReason string
	last       LoopStatus
}

func newTracker(cfg LoopConfig, log *zap.Logger) (*tracker, error) {
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	t := &tracker{leaderID: cfg.LeaderID, sw: cfg.Switchovers, board: cfg.Status, m: m, log: log,
		alerts: make(map[string]AlertStatus)}
	if prev, ok := cfg.Status.Load(); ok && prev.LastFailover != nil {
		t.rec = prev.LastFailover.clone() // an earlier term's, for /status
	}
	return t, nil
}

// pending is the request for this tick's snapshot (nil: none); route is
// the record the snapshot holds.
func (t *tracker) pending(route Route) *SwitchoverRequest {
	t.route, t.published = route, ""
	prev := route.Main
	if prev == "" {
		prev = route.From
	}
	var req *SwitchoverRequest
	t.reqID, req, t.reqSubmitted = t.sw.take(prev)
	t.reqTarget = ""
	if req != nil {
		t.reqTarget = req.Target
	}
	return req
}

// wrap returns the executor the batch runs on: x, with every failover
// step timed and EndSwitchover answering the request.
func (t *tracker) wrap(x Executor) Executor { return &trackedExecutor{Executor: x, t: t} }

// tick publishes the status after a batch ran.
func (t *tracker) tick(s Snapshot, st State, outs []Outcome) {
	for _, o := range outs {
		if errors.Is(o.Err, ErrFenced) && t.stopReason == "" {
			t.stopReason = fmt.Sprintf("%s: %v", o.Action, o.Err)
		}
		var key, reason string
		switch a := o.Action.(type) {
		case Alert:
			key, reason = a.Key, a.Reason
		case RefuseAmbiguous:
			key, reason = refuseKey(a.Key), a.Reason
		default:
			continue
		}
		if _, ok := t.alerts[key]; !ok {
			t.alerts[key] = AlertStatus{Key: key, Reason: reason, Since: s.Now}
		}
	}
	for key := range t.alerts {
		if !st.Alerts[key] {
			delete(t.alerts, key)
		}
	}
	if t.closing {
		t.closing = false
		t.m.observeEnd(t.rec)
	}
	status := t.status(s, st)
	t.m.observeInstances(&status)
	t.last = status
	t.board.store(status)
}

// stop ends the loop's bookkeeping: a failover in progress is
// interrupted, a request the loop held fails, the instance metrics are
// withdrawn and the board keeps the last status with Running false.
func (t *tracker) stop() {
	reason := t.stopReason
	if reason == "" {
		reason = "leadership ended or the gateway is shutting down"
	}
	now := time.Now()
	if t.closing {
		t.closing = false
		t.m.observeEnd(t.rec)
	}
	if t.rec.InProgress() {
		t.rec.Result, t.rec.Error, t.rec.End = ResultInterrupted, "the replication controller stopped: "+reason, now
		t.m.observeEnd(t.rec)
		t.log.Warn("failover interrupted", zap.String("kind", t.rec.Kind), zap.Uint64("claim_epoch", t.rec.ClaimEpoch),
			zap.String("target", t.rec.Target), zap.String("reason", reason))
	}
	t.sw.abort(fmt.Errorf("%w: %s", ErrSwitchoverStopped, reason))
	t.m.forgetInstances()
	if t.board != nil {
		st := t.last
		if st.Updated.IsZero() {
			st = LoopStatus{Leader: t.leaderID, Updated: now}
		}
		st.Running = false
		st.Switchover = nil
		if p, ok := t.sw.Pending(); ok {
			st.Switchover = &p
		}
		st.LastFailover = t.rec.clone()
		t.board.store(st)
	}
}

// step records an executed action in the current failover, opening one
// at a claim (or at the first step of a failover found in the store).
func (t *tracker) step(a Action, start time.Time, dur time.Duration, err error) {
	var name, instance string
	switch a := a.(type) {
	case ClaimFailover:
		name = StepClaim
		if err == nil {
			t.claimed(a, start)
		}
	case AwaitBarrier:
		name = StepBarrier
	case Demote:
		name, instance = StepDemote, a.Instance
	case Promote:
		name, instance = StepPromote, a.Instance
	case Register:
		name, instance = StepRegister, a.Instance
		if !t.closing {
			return // replica care outside a failover
		}
	case Publish:
		name, instance = StepPublish, a.Main
		if err == nil {
			t.published = a.Main
		}
	default:
		return
	}
	if !t.rec.InProgress() && !t.closing {
		if t.route.Phase != PhaseFailover || name == StepClaim {
			return // not part of a failover (a failed claim opens none)
		}
		// A failover this leader did not claim: found in the store.
		t.open(start, t.route.Epoch, t.route.Target, t.route.From, t.route.Planned,
			fmt.Sprintf("resuming the failover of epoch %d found in the route store", t.route.Epoch))
	}
	r := t.rec
	s := FailoverStep{Name: name, Instance: instance, Epoch: a.ActionEpoch(), Offset: start.Sub(r.Start), Duration: dur}
	if err != nil {
		s.Error = err.Error()
	}
	r.Steps = append(r.Steps, s)
	t.m.observeStep(s)
	if p, ok := a.(Publish); ok && err == nil && r.InProgress() {
		r.Epoch, r.Main, r.End = p.Epoch, p.Main, start.Add(dur)
		r.Result = ResultOK
		if p.Main != r.Target {
			r.Result = ResultAborted
			r.Error = p.Cause
		}
		t.closing = true
		t.log.Info("failover ended", zap.String("kind", r.Kind), zap.String("result", r.Result),
			zap.Uint64("epoch", r.Epoch), zap.String("from", r.From), zap.String("main", r.Main),
			zap.Duration("took", r.Duration()), zap.String("steps", stepsString(r.Steps)))
	}
}

// claimed handles a successful claim: a new failover, or a new target
// for the one in progress.
func (t *tracker) claimed(a ClaimFailover, start time.Time) {
	if t.rec.InProgress() {
		t.rec.Target = a.Target
		return
	}
	if t.closing { // a claim after a publish in one batch: Decide never does this
		t.closing = false
		t.m.observeEnd(t.rec)
	}
	t.open(start, a.Epoch, a.Target, a.From, a.Planned, a.Cause)
}

func (t *tracker) open(start time.Time, epoch uint64, target, from string, planned bool, cause string) {
	kind := KindFailover
	switch {
	case planned:
		kind = KindSwitchover
	case from == "":
		kind = KindBootstrap
	}
	t.rec = &FailoverRecord{Kind: kind, Cause: cause, From: from, Target: target, ClaimEpoch: epoch, Start: start}
}

// answer completes the pending request Decide ended.
func (t *tracker) answer(a EndSwitchover) {
	if t.reqID == 0 || a.Target != t.reqTarget {
		return
	}
	res := SwitchoverResult{OK: a.OK, Reason: a.Reason, Epoch: a.Epoch, Main: t.route.Main}
	if t.published != "" {
		res.Main = t.published
	}
	if r := t.rec; r != nil && !r.InProgress() && r.Epoch == a.Epoch && !r.Start.Before(t.reqSubmitted) {
		res.Failover = r.clone()
	}
	if t.sw.complete(t.reqID, res) {
		t.log.Info("switchover request answered", zap.String("target", a.Target), zap.Bool("ok", a.OK),
			zap.Uint64("epoch", a.Epoch), zap.String("main", res.Main), zap.String("reason", a.Reason))
	}
	t.reqID = 0
}

// status builds the board's Status of a tick.
func (t *tracker) status(s Snapshot, st State) LoopStatus {
	r := s.Route
	out := LoopStatus{
		Running: true, Leader: t.leaderID, Updated: s.Now,
		Epoch: r.Epoch, Phase: r.Phase, Main: r.Main, Target: r.Target, From: r.From,
		LastFailover: t.rec.clone(),
	}
	if p, ok := t.sw.Pending(); ok {
		out.Switchover = &p
	}
	// The MAIN whose SHOW REPLICAS describes the replication: the route's,
	// or in phase failover the one being replaced while it still is MAIN.
	var main *Instance
	for i := range s.Instances {
		in := &s.Instances[i]
		if (in.Name == r.Main || (r.Main == "" && in.Name == r.From)) && in.Reachable && in.Role == RoleMain && in.ReplicasKnown {
			main = in
		}
	}
	if main != nil {
		out.Topology.Main = main.Name
		for _, row := range main.Replicas {
			switch {
			case row.Zombie:
			case row.Mode.Synchronous() && out.Topology.SyncReplica == "":
				out.Topology.SyncReplica = row.Name
			case row.Mode == ModeAsync:
				out.Topology.AsyncReplicas = append(out.Topology.AsyncReplicas, row.Name)
			}
		}
		slices.Sort(out.Topology.AsyncReplicas)
	} else if r.Phase == PhaseServing {
		out.Topology.Main = r.Main
	}
	for _, in := range s.Instances {
		is := InstanceStatus{
			Name: in.Name, BoltAddr: in.BoltAddr, Known: in.Known, Reachable: in.Reachable,
			DownSince: in.FirstFailure, Role: in.Role, Data: in.Data,
		}
		if row := rowOf(main, in.Name); row != nil {
			is.Registered, is.Mode, is.ReplicaStatus, is.TS, is.Behind, is.Zombie = true, row.Mode, row.Status, row.TS, row.Behind, row.Zombie
		}
		if dv, ok := st.Diverged[in.Name]; ok {
			is.Diverged, is.DivergedDetail = true, dv.Detail
		}
		out.Instances = append(out.Instances, is)
	}
	slices.SortFunc(out.Instances, func(a, b InstanceStatus) int { return strings.Compare(a.Name, b.Name) })
	for _, key := range slices.Sorted(maps.Keys(t.alerts)) {
		out.Alerts = append(out.Alerts, t.alerts[key])
	}
	return out
}

func stepsString(steps []FailoverStep) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.Name)
		if s.Instance != "" {
			b.WriteString(" " + s.Instance)
		}
		fmt.Fprintf(&b, " @%v %v", s.Offset.Round(time.Millisecond), s.Duration.Round(time.Millisecond))
		if s.Error != "" {
			b.WriteString(" failed")
		}
	}
	return b.String()
}

// trackedExecutor is the executor RunLoop hands to Run: the loop's
// executor with the tracker watching the failover steps and answering
// switchover requests. The other actions pass through unchanged.
type trackedExecutor struct {
	Executor
	t *tracker
}

func (e *trackedExecutor) timed(a Action, f func() error) error {
	start := time.Now()
	err := f()
	e.t.step(a, start, time.Since(start), err)
	return err
}

func (e *trackedExecutor) ClaimFailover(ctx context.Context, a ClaimFailover) error {
	return e.timed(a, func() error { return e.Executor.ClaimFailover(ctx, a) })
}

func (e *trackedExecutor) AwaitBarrier(ctx context.Context, a AwaitBarrier) error {
	return e.timed(a, func() error { return e.Executor.AwaitBarrier(ctx, a) })
}

func (e *trackedExecutor) Demote(ctx context.Context, a Demote) error {
	return e.timed(a, func() error { return e.Executor.Demote(ctx, a) })
}

func (e *trackedExecutor) Promote(ctx context.Context, a Promote) error {
	return e.timed(a, func() error { return e.Executor.Promote(ctx, a) })
}

func (e *trackedExecutor) Register(ctx context.Context, a Register) error {
	return e.timed(a, func() error { return e.Executor.Register(ctx, a) })
}

func (e *trackedExecutor) Publish(ctx context.Context, a Publish) error {
	return e.timed(a, func() error { return e.Executor.Publish(ctx, a) })
}

// EndSwitchover lets the loop's executor log the end, then answers the
// request it belongs to.
func (e *trackedExecutor) EndSwitchover(ctx context.Context, a EndSwitchover) error {
	if err := e.Executor.EndSwitchover(ctx, a); err != nil {
		return err
	}
	e.t.answer(a)
	return nil
}
