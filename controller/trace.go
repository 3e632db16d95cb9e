package controller

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing (LoopConfig.Tracer). RunLoop runs every batch on a
// tracingExecutor, which gives:
//
//   - one span per action the executor runs, named "controller.<type>"
//     ("controller.Promote", ...), with the attributes "epoch" (the
//     action's) and, where the action has them, "target" (the instance a
//     claim promotes, a switchover's target), "instance" (the instance
//     the action changes), "from", "on" (the MAIN a Register or Drop runs
//     on), "main", "planned", "fence", "mode", "key", "cause"; a failed
//     action records its error and sets the span's status to Error.
//     Skipped actions (ErrSkipped) get no span.
//   - one span per failover or switchover episode, "controller.failover"
//     or "controller.switchover", the parent of every action span from its
//     ClaimFailover to the Publish of a higher epoch, across ticks. It
//     ends with status Ok when that Publish succeeds, and with Error when
//     the claim fails, an action is fenced, a new claim supersedes it, or
//     the loop stops first (a successor resumes the failover; its spans
//     are roots of their own, since a trace does not outlive its leader).
//
// The trace id of each action's span (of the open episode, for a skipped
// action) is logged with the action's outcome as "trace_id". With a nil
// Tracer the no-op tracer is used: no span is recorded and no trace_id
// is logged.
//
// A tracingExecutor is used by the loop's goroutine only (Run calls the
// executor sequentially); it is not safe for concurrent use.
type tracingExecutor struct {
	next   Executor
	tracer trace.Tracer

	// episode is the open failover or switchover span (nil: none), begun
	// by the claim of epoch episodeEpoch.
	episode      trace.Span
	episodeEpoch uint64

	// calls are the actions the current batch ran, in order, with the
	// trace id of their span ("" when not recording).
	calls []tracedCall
}

type tracedCall struct {
	action  string
	traceID string
}

var _ Executor = (*tracingExecutor)(nil)

// newTracingExecutor returns a tracingExecutor using t; nil t is the
// no-op tracer.
func newTracingExecutor(t trace.Tracer) *tracingExecutor {
	if t == nil {
		t = noop.NewTracerProvider().Tracer("")
	}
	return &tracingExecutor{tracer: t}
}

// wrap starts a batch: the returned executor traces next's calls.
func (e *tracingExecutor) wrap(next Executor) Executor {
	e.next = next
	e.calls = e.calls[:0]
	return e
}

// traceIDs returns, for each outcome of the batch Run just returned, the
// trace id to log: its action's span, or for a skipped action the open
// episode's; "" when there is none.
func (e *tracingExecutor) traceIDs(outs []Outcome) []string {
	ids := make([]string, len(outs))
	skipped := ""
	if e.episode != nil {
		skipped = traceID(e.episode.SpanContext())
	}
	j := 0
	for i, o := range outs {
		if !errors.Is(o.Err, ErrSkipped) && j < len(e.calls) && e.calls[j].action == o.Action.String() {
			ids[i] = e.calls[j].traceID
			j++
			continue
		}
		if errors.Is(o.Err, ErrSkipped) {
			ids[i] = skipped
		}
	}
	return ids
}

// close ends an episode still open when the loop stops.
func (e *tracingExecutor) close() {
	e.endEpisode(errors.New("controller stopped before the route was published"), nil)
}

func traceID(sc trace.SpanContext) string {
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// do runs one action under its span (a child of the open episode).
func (e *tracingExecutor) do(ctx context.Context, a Action, call func(context.Context) error) error {
	if c, ok := a.(ClaimFailover); ok {
		e.startEpisode(ctx, c)
	}
	if e.episode != nil {
		ctx = trace.ContextWithSpan(ctx, e.episode)
	}
	ctx, span := e.tracer.Start(ctx, spanName(a), trace.WithAttributes(actionAttributes(a)...))
	err := call(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	e.calls = append(e.calls, tracedCall{action: a.String(), traceID: traceID(span.SpanContext())})

	switch a := a.(type) {
	case ClaimFailover:
		if err != nil {
			e.endEpisode(fmt.Errorf("claim failed: %w", err), nil)
		}
	case Publish:
		if err == nil && e.episode != nil && a.Epoch > e.episodeEpoch {
			e.endEpisode(nil, []attribute.KeyValue{
				attribute.Int64("published_epoch", int64(a.Epoch)), attribute.String("main", a.Main)})
		}
	}
	if errors.Is(err, ErrFenced) {
		e.endEpisode(fmt.Errorf("%s: %w", a, err), nil)
	}
	return err
}

// startEpisode opens the span of the failover or switchover c claims,
// ending one still open (a claim at a new epoch supersedes it).
func (e *tracingExecutor) startEpisode(ctx context.Context, c ClaimFailover) {
	e.endEpisode(fmt.Errorf("superseded by the claim of epoch %d", c.Epoch), nil)
	name := "controller.failover"
	if c.Planned {
		name = "controller.switchover"
	}
	_, e.episode = e.tracer.Start(ctx, name, trace.WithAttributes(
		attribute.Int64("epoch", int64(c.Epoch)),
		attribute.String("target", c.Target),
		attribute.String("from", c.From),
		attribute.Bool("planned", c.Planned),
		attribute.String("cause", c.Cause),
	))
	e.episodeEpoch = c.Epoch
}

// endEpisode ends the open episode, if any: Ok when err is nil, else
// Error with err.
func (e *tracingExecutor) endEpisode(err error, attrs []attribute.KeyValue) {
	if e.episode == nil {
		return
	}
	e.episode.SetAttributes(attrs...)
	if err != nil {
		e.episode.SetStatus(codes.Error, err.Error())
	} else {
		e.episode.SetStatus(codes.Ok, "")
	}
	e.episode.End()
	e.episode, e.episodeEpoch = nil, 0
}

// spanName is "controller." and the action's type name.
func spanName(a Action) string {
	switch a.(type) {
	case ClaimFailover:
		return "controller.ClaimFailover"
	case AwaitBarrier:
		return "controller.AwaitBarrier"
	case Demote:
		return "controller.Demote"
	case Promote:
		return "controller.Promote"
	case Register:
		return "controller.Register"
	case Drop:
		return "controller.Drop"
	case Publish:
		return "controller.Publish"
	case RecordReplicas:
		return "controller.RecordReplicas"
	case ReportDiverged:
		return "controller.ReportDiverged"
	case WipeAndResync:
		return "controller.WipeAndResync"
	case Alert:
		return "controller.Alert"
	case RefuseAmbiguous:
		return "controller.RefuseAmbiguous"
	case EndSwitchover:
		return "controller.EndSwitchover"
	}
	return "controller.action"
}

// actionAttributes are the span attributes of a: its epoch and the
// instances it names.
func actionAttributes(a Action) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.Int64("epoch", int64(a.ActionEpoch()))}
	str := func(k, v string) {
		if v != "" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	switch a := a.(type) {
	case ClaimFailover:
		str("target", a.Target)
		str("from", a.From)
		attrs = append(attrs, attribute.Bool("planned", a.Planned))
	case Demote:
		str("instance", a.Instance)
		attrs = append(attrs, attribute.Bool("fence", a.Fence))
	case Promote:
		str("instance", a.Instance)
	case Register:
		str("instance", a.Instance)
		str("on", a.On)
		str("mode", string(a.Mode))
	case Drop:
		str("instance", a.Name)
		str("on", a.On)
	case Publish:
		str("main", a.Main)
	case RecordReplicas:
		str("main", a.Main)
	case ReportDiverged:
		str("instance", a.Instance)
	case WipeAndResync:
		str("instance", a.Instance)
	case Alert:
		str("key", a.Key)
	case RefuseAmbiguous:
		str("key", a.Key)
	case EndSwitchover:
		str("target", a.Target)
		attrs = append(attrs, attribute.Bool("ok", a.OK))
	}
	str("cause", causeOf(a))
	return attrs
}

func (e *tracingExecutor) ClaimFailover(ctx context.Context, a ClaimFailover) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.ClaimFailover(ctx, a) })
}

func (e *tracingExecutor) AwaitBarrier(ctx context.Context, a AwaitBarrier) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.AwaitBarrier(ctx, a) })
}

func (e *tracingExecutor) Demote(ctx context.Context, a Demote) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.Demote(ctx, a) })
}

func (e *tracingExecutor) Promote(ctx context.Context, a Promote) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.Promote(ctx, a) })
}

func (e *tracingExecutor) Register(ctx context.Context, a Register) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.Register(ctx, a) })
}

func (e *tracingExecutor) Drop(ctx context.Context, a Drop) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.Drop(ctx, a) })
}

func (e *tracingExecutor) Publish(ctx context.Context, a Publish) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.Publish(ctx, a) })
}

func (e *tracingExecutor) RecordReplicas(ctx context.Context, a RecordReplicas) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.RecordReplicas(ctx, a) })
}

func (e *tracingExecutor) ReportDiverged(ctx context.Context, a ReportDiverged) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.ReportDiverged(ctx, a) })
}

func (e *tracingExecutor) WipeAndResync(ctx context.Context, a WipeAndResync) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.WipeAndResync(ctx, a) })
}

func (e *tracingExecutor) Alert(ctx context.Context, a Alert) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.Alert(ctx, a) })
}

func (e *tracingExecutor) RefuseAmbiguous(ctx context.Context, a RefuseAmbiguous) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.RefuseAmbiguous(ctx, a) })
}

func (e *tracingExecutor) EndSwitchover(ctx context.Context, a EndSwitchover) error {
	return e.do(ctx, a, func(ctx context.Context) error { return e.next.EndSwitchover(ctx, a) })
}
