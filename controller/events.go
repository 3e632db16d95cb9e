package controller

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Events (LoopConfig.Events). RunLoop runs every batch on an
// eventExecutor, which tells an EventSink, after an action succeeded,
// what an operator watching `kubectl get events` wants to know:
//
//	type     reason               instance       when
//	Warning  InstanceDiverged     the instance   ReportDiverged
//	Warning  FailoverStarted      the old MAIN   the claim of an automatic failover
//	Normal   SwitchoverStarted    the target     the claim of a planned switchover
//	Normal   FailoverCompleted    the new MAIN   the Publish that ends a failover with its target
//	Normal   SwitchoverCompleted  the new MAIN   the same for a switchover
//	Warning  FailoverAborted      the MAIN       a failover that ends with another MAIN than its target
//	Warning  SwitchoverAborted    the MAIN       the same for a switchover
//	Normal   Bootstrapped         the MAIN       the first route of an empty store
//	Normal   MainPublished        the MAIN       any other Publish
//	Warning  SwitchoverFailed     the target     a switchover request answered with a failure
//	Warning  BootstrapRefused     -              RefuseAmbiguous
//	Warning  <Key in CamelCase>   -              Alert ("no-eligible-replica" -> NoEligibleReplica)
//
// Decide emits reports edge-triggered (an alert once per raise, a
// divergence once), so the sink sees each once, not every tick. instance
// "" means the event concerns the cluster as a whole; a sink attaches such
// events (and those of an instance it cannot find) to the election's own
// object. A failed or skipped action sends nothing. The sink is called on
// the loop's goroutine: it must not block (the Kubernetes sink queues).

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reasons.
const (
	ReasonInstanceDiverged    = "InstanceDiverged"
	ReasonFailoverStarted     = "FailoverStarted"
	ReasonSwitchoverStarted   = "SwitchoverStarted"
	ReasonFailoverCompleted   = "FailoverCompleted"
	ReasonSwitchoverCompleted = "SwitchoverCompleted"
	ReasonFailoverAborted     = "FailoverAborted"
	ReasonSwitchoverAborted   = "SwitchoverAborted"
	ReasonBootstrapped        = "Bootstrapped"
	ReasonMainPublished       = "MainPublished"
	ReasonSwitchoverFailed    = "SwitchoverFailed"
	ReasonBootstrapRefused    = "BootstrapRefused"
)

// EventSink receives the controller's events: eventType is EventNormal or
// EventWarning, reason a CamelCase word, message one human sentence or
// two, instance the Memgraph instance concerned ("" for none). Event must
// return promptly and never fail the controller.
type EventSink interface {
	Event(eventType, reason, message, instance string)
}

// AlertReason is the event reason of an alert key: "no-eligible-replica"
// becomes "NoEligibleReplica".
func AlertReason(key string) string {
	var b strings.Builder
	upper := true
	for _, r := range key {
		switch {
		case r == '-' || r == '_' || r == ' ' || r == '.':
			upper = true
		case upper && r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			upper = false
		default:
			b.WriteRune(r)
			upper = false
		}
	}
	if b.Len() == 0 {
		return "ControllerAlert"
	}
	return b.String()
}

// eventExecutor is the executor with events: every call goes to next,
// and a successful one may send an event. route is the record as the loop
// knows it before the call (the executor's controllerRoute), from which a
// Publish learns which failover it ends. Used by the loop's goroutine only.
type eventExecutor struct {
	Executor
	sink  EventSink
	route func() Route

	// episode is when this leader claimed the failover in progress (the
	// first claim since the last Publish); zero: none, or one resumed
	// from the store.
	episode time.Time
}

// withEvents wraps next so that sink gets the controller's events; a nil
// sink returns next unchanged.
func withEvents(next Executor, sink EventSink, route func() Route) Executor {
	if sink == nil {
		return next
	}
	if route == nil {
		route = func() Route { return Route{} }
	}
	return &eventExecutor{Executor: next, sink: sink, route: route}
}

func (e *eventExecutor) ClaimFailover(ctx context.Context, a ClaimFailover) error {
	start := time.Now()
	if err := e.Executor.ClaimFailover(ctx, a); err != nil {
		return err
	}
	if e.episode.IsZero() {
		e.episode = start
	}
	switch {
	case a.From == "": // bootstrap: told once it is published
	case a.Planned:
		e.sink.Event(EventNormal, ReasonSwitchoverStarted, fmt.Sprintf(
			"switchover from %s to %s started (epoch %d): writes are held until %s is MAIN; %s",
			a.From, a.Target, a.Epoch, a.Target, a.Cause), a.Target)
	default:
		e.sink.Event(EventWarning, ReasonFailoverStarted, fmt.Sprintf(
			"failover from MAIN %s to %s started (epoch %d): %s", a.From, a.Target, a.Epoch, a.Cause), a.From)
	}
	return nil
}

func (e *eventExecutor) Publish(ctx context.Context, a Publish) error {
	prev := e.route()
	if err := e.Executor.Publish(ctx, a); err != nil {
		return err
	}
	held := ""
	if !e.episode.IsZero() {
		held = fmt.Sprintf(", %v after its claim", time.Since(e.episode).Round(time.Millisecond))
	}
	e.episode = time.Time{}
	switch {
	case prev.Epoch == 0:
		e.sink.Event(EventNormal, ReasonBootstrapped, fmt.Sprintf(
			"route bootstrapped: %s is MAIN at epoch %d (%s)", a.Main, a.Epoch, a.Cause), a.Main)
	case prev.Phase == PhaseFailover && prev.From == "":
		e.sink.Event(EventNormal, ReasonBootstrapped, fmt.Sprintf(
			"route bootstrapped: %s is MAIN at epoch %d%s (%s)", a.Main, a.Epoch, held, a.Cause), a.Main)
	case prev.Phase == PhaseFailover:
		kind, completed, aborted := "failover", ReasonFailoverCompleted, ReasonFailoverAborted
		if prev.Planned {
			kind, completed, aborted = "switchover", ReasonSwitchoverCompleted, ReasonSwitchoverAborted
		}
		if a.Main == prev.Target {
			e.sink.Event(EventNormal, completed, fmt.Sprintf(
				"%s from %s to %s completed: %s is MAIN at epoch %d%s", kind, prev.From, a.Main, a.Main, a.Epoch, held), a.Main)
		} else {
			e.sink.Event(EventWarning, aborted, fmt.Sprintf(
				"%s from %s to %s aborted: %s is MAIN at epoch %d%s: %s", kind, prev.From, prev.Target, a.Main, a.Epoch, held, a.Cause), a.Main)
		}
	default:
		e.sink.Event(EventNormal, ReasonMainPublished, fmt.Sprintf(
			"%s is MAIN at epoch %d (was %s): %s", a.Main, a.Epoch, prev.Main, a.Cause), a.Main)
	}
	return nil
}

func (e *eventExecutor) ReportDiverged(ctx context.Context, a ReportDiverged) error {
	if err := e.Executor.ReportDiverged(ctx, a); err != nil {
		return err
	}
	e.sink.Event(EventWarning, ReasonInstanceDiverged, fmt.Sprintf(
		"%s has diverged from the MAIN (it holds history the MAIN lacks, epoch %d) and is not registered as a replica: %s",
		a.Instance, a.Epoch, a.Detail), a.Instance)
	return nil
}

func (e *eventExecutor) Alert(ctx context.Context, a Alert) error {
	if err := e.Executor.Alert(ctx, a); err != nil {
		return err
	}
	e.sink.Event(EventWarning, AlertReason(a.Key), a.Reason, "")
	return nil
}

func (e *eventExecutor) RefuseAmbiguous(ctx context.Context, a RefuseAmbiguous) error {
	if err := e.Executor.RefuseAmbiguous(ctx, a); err != nil {
		return err
	}
	e.sink.Event(EventWarning, ReasonBootstrapRefused, a.Reason, "")
	return nil
}

func (e *eventExecutor) EndSwitchover(ctx context.Context, a EndSwitchover) error {
	if err := e.Executor.EndSwitchover(ctx, a); err != nil {
		return err
	}
	if !a.OK {
		e.sink.Event(EventWarning, ReasonSwitchoverFailed, fmt.Sprintf("switchover to %s failed: %s", a.Target, a.Reason), a.Target)
	}
	return nil
}
