package controller

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"
)

// spanLine describes an ended span for comparison: name, parent's name
// ("-" for a root), status, and the attributes epoch, target, instance
// and published_epoch when set.
func spanLine(s sdktrace.ReadOnlySpan, names map[string]string) string {
	parent := "-"
	if s.Parent().IsValid() {
		parent = names[s.Parent().SpanID().String()]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s<%s %s", s.Name(), parent, s.Status().Code)
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	for _, k := range []attribute.Key{"epoch", "target", "instance", "published_epoch"} {
		if v, ok := attrs[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, v.Emit())
		}
	}
	return b.String()
}

// TestTracingExecutor runs failover and care batches through a
// tracingExecutor on a recorder and checks the ended spans (in end
// order), their trace ids and the ids handed to the outcome logs.
func TestTracingExecutor(t *testing.T) {
	boom := errors.New("boom")
	fenced := fmt.Errorf("cas lost: %w", ErrFenced)
	claim := ClaimFailover{Epoch: 6, Target: "b", From: "a", Cause: "main a down"}
	tail := []Action{
		AwaitBarrier{Epoch: 6},
		Demote{Epoch: 6, Instance: "a", Fence: true},
		Promote{Epoch: 6, Instance: "b"},
		Register{Epoch: 6, On: "b", Instance: "c", Mode: ModeAsync},
		Publish{Epoch: 7, Main: "b", Cause: "failover"},
	}
	failoverSpans := []string{
		"controller.ClaimFailover<controller.failover Unset epoch=6 target=b",
		"controller.AwaitBarrier<controller.failover Unset epoch=6",
		"controller.Demote<controller.failover Unset epoch=6 instance=a",
		"controller.Promote<controller.failover Unset epoch=6 instance=b",
		"controller.Register<controller.failover Unset epoch=6 instance=c",
		"controller.Publish<controller.failover Unset epoch=7",
		"controller.failover<- Ok epoch=6 target=b published_epoch=7",
	}
	cases := []struct {
		name    string
		batches [][]Action
		fail    map[string]error // in the first batch
		close   bool             // stop the loop at the end
		spans   []string
		// episodes: how many distinct traces the spans form.
		traces int
	}{
		{
			name:    "failover in one batch",
			batches: [][]Action{append([]Action{claim}, tail...)},
			spans:   failoverSpans,
			traces:  1,
		},
		{
			name:    "failover across ticks, report first",
			batches: [][]Action{{Alert{Epoch: 5, Key: "main-down"}, claim}, tail},
			spans:   append([]string{"controller.Alert<- Unset epoch=5"}, failoverSpans...),
			traces:  2,
		},
		{
			name: "failed promotion retried on the next tick",
			batches: [][]Action{
				append([]Action{claim}, tail...),
				{Promote{Epoch: 6, Instance: "b"}, Publish{Epoch: 7, Main: "b"}},
			},
			fail: map[string]error{"promote e6 b": boom},
			spans: []string{
				"controller.ClaimFailover<controller.failover Unset epoch=6 target=b",
				"controller.AwaitBarrier<controller.failover Unset epoch=6",
				"controller.Demote<controller.failover Unset epoch=6 instance=a",
				"controller.Promote<controller.failover Error epoch=6 instance=b",
				// Register and Publish skipped: no spans; the episode stays open.
				"controller.Promote<controller.failover Unset epoch=6 instance=b",
				"controller.Publish<controller.failover Unset epoch=7",
				"controller.failover<- Ok epoch=6 target=b published_epoch=7",
			},
			traces: 1,
		},
		{
			name:    "claim fenced",
			batches: [][]Action{{claim, AwaitBarrier{Epoch: 6}}},
			fail:    map[string]error{claim.String(): fenced},
			spans: []string{
				"controller.ClaimFailover<controller.failover Error epoch=6 target=b",
				"controller.failover<- Error epoch=6 target=b",
			},
			traces: 1,
		},
		{
			name: "switchover, then its answer outside the episode",
			batches: [][]Action{{
				ClaimFailover{Epoch: 3, Target: "c", From: "a", Planned: true},
				AwaitBarrier{Epoch: 3},
				Demote{Epoch: 3, Instance: "a"},
				Promote{Epoch: 3, Instance: "c"},
				Publish{Epoch: 4, Main: "c"},
				EndSwitchover{Epoch: 4, Target: "c", OK: true},
			}},
			spans: []string{
				"controller.ClaimFailover<controller.switchover Unset epoch=3 target=c",
				"controller.AwaitBarrier<controller.switchover Unset epoch=3",
				"controller.Demote<controller.switchover Unset epoch=3 instance=a",
				"controller.Promote<controller.switchover Unset epoch=3 instance=c",
				"controller.Publish<controller.switchover Unset epoch=4",
				"controller.switchover<- Ok epoch=3 target=c published_epoch=4",
				"controller.EndSwitchover<- Unset epoch=4 target=c",
			},
			traces: 2,
		},
		{
			name: "superseded claim, then the loop stops mid-failover",
			batches: [][]Action{
				{claim, AwaitBarrier{Epoch: 6}},
				{ClaimFailover{Epoch: 8, Target: "c", From: "a"}},
			},
			close: true,
			spans: []string{
				"controller.ClaimFailover<controller.failover Unset epoch=6 target=b",
				"controller.AwaitBarrier<controller.failover Unset epoch=6",
				"controller.failover<- Error epoch=6 target=b",
				"controller.ClaimFailover<controller.failover Unset epoch=8 target=c",
				"controller.failover<- Error epoch=8 target=c",
			},
			traces: 2,
		},
		{
			name: "replica care: a root span per action",
			batches: [][]Action{{
				Drop{Epoch: 5, On: "a", Name: "b"},
				Register{Epoch: 5, On: "a", Instance: "b", Mode: ModeSync},
				Register{Epoch: 5, On: "a", Instance: "c", Mode: ModeAsync},
			}},
			fail: map[string]error{"drop e5 on=a b": boom},
			spans: []string{
				"controller.Drop<- Error epoch=5 instance=b",
				// Register b skipped after its failed Drop.
				"controller.Register<- Unset epoch=5 instance=c",
			},
			traces: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			tx := newTracingExecutor(tp.Tracer("test"))
			rec := &recorder{fail: tc.fail}
			var logged []string // trace ids handed to the logs, per outcome
			for _, batch := range tc.batches {
				outs := Run(context.Background(), tx.wrap(rec), batch)
				logged = append(logged, tx.traceIDs(outs)...)
				rec.fail = nil // failures happen in the first batch only
			}
			if tc.close {
				tx.close()
			}

			ended := sr.Ended()
			names := map[string]string{}
			for _, s := range ended {
				names[s.SpanContext().SpanID().String()] = s.Name()
			}
			var got []string
			traces := map[string]bool{}
			for _, s := range ended {
				got = append(got, spanLine(s, names))
				traces[s.SpanContext().TraceID().String()] = true
				if s.Status().Code == codes.Error && strings.HasPrefix(s.Name(), "controller.") &&
					!strings.Contains(s.Name(), "failover") && !strings.Contains(s.Name(), "switchover") {
					if len(s.Events()) == 0 || s.Events()[0].Name != "exception" {
						t.Errorf("%s: failed without a recorded error: %v", s.Name(), s.Events())
					}
				}
			}
			if !reflect.DeepEqual(got, tc.spans) {
				t.Fatalf("spans\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(tc.spans, "\n      "))
			}
			if len(traces) != tc.traces {
				t.Errorf("%d traces, want %d", len(traces), tc.traces)
			}
			if len(sr.Started()) != len(ended) {
				t.Errorf("%d spans started, %d ended", len(sr.Started()), len(ended))
			}
			// Every logged id is one of the recorded traces, and an action
			// that ran is logged with its own span's trace.
			for i, id := range logged {
				if id != "" && !traces[id] {
					t.Errorf("outcome %d logged with unknown trace %s", i, id)
				}
			}
			if n := countNonEmpty(logged); n < len(rec.calls) {
				t.Errorf("%d outcomes logged with a trace id, want at least the %d that ran (%q)", n, len(rec.calls), logged)
			}
		})
	}
}

func countNonEmpty(ss []string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// A skipped action of an open episode is logged with the episode's trace;
// one outside any episode with none.
func TestTraceIDsOfSkippedActions(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tx := newTracingExecutor(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)).Tracer("test"))
	rec := &recorder{fail: map[string]error{"promote e6 b": errors.New("boom")}}
	outs := Run(context.Background(), tx.wrap(rec), []Action{
		ClaimFailover{Epoch: 6, Target: "b", From: "a"},
		Promote{Epoch: 6, Instance: "b"},
		Publish{Epoch: 7, Main: "b"},
	})
	ids := tx.traceIDs(outs)
	if !errors.Is(outs[2].Err, ErrSkipped) || ids[0] == "" || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Fatalf("outcomes %v, ids %q: want one trace for all three", outs, ids)
	}
	tx.close()

	rec = &recorder{fail: map[string]error{"demote e5 c": errors.New("boom")}}
	outs = Run(context.Background(), tx.wrap(rec), []Action{
		Demote{Epoch: 5, Instance: "c"},
		Register{Epoch: 5, On: "a", Instance: "c", Mode: ModeAsync},
	})
	ids = tx.traceIDs(outs)
	if ids[0] == "" || ids[1] != "" {
		t.Fatalf("ids %q: want the demotion's trace, then none for the skipped register", ids)
	}
}

// Without a Tracer nothing is recorded and no trace id is logged.
func TestTracingExecutorNoop(t *testing.T) {
	tx := newTracingExecutor(nil)
	rec := &recorder{}
	outs := Run(context.Background(), tx.wrap(rec), []Action{
		ClaimFailover{Epoch: 2, Target: "b"}, Promote{Epoch: 2, Instance: "b"}, Publish{Epoch: 3, Main: "b"},
	})
	if got := tx.traceIDs(outs); !reflect.DeepEqual(got, []string{"", "", ""}) {
		t.Fatalf("trace ids %q, want none", got)
	}
	if len(rec.calls) != 3 {
		t.Fatalf("calls %v", rec.calls)
	}
	tx.close()
}

// logOutcome adds trace_id to every kind of outcome line when it has one.
func TestLogOutcomeTraceID(t *testing.T) {
	a := Promote{Epoch: 4, Instance: "b"}
	for _, tc := range []struct {
		err     error
		traceID string
		msg     string
	}{
		{nil, "4bf92f3577b34da6a3ce929d0e0e4736", "controller: action done"},
		{ErrSkipped, "4bf92f3577b34da6a3ce929d0e0e4736", "controller: action skipped"},
		{errors.New("boom"), "4bf92f3577b34da6a3ce929d0e0e4736", "controller: action failed"},
		{nil, "", "controller: action done"},
	} {
		core, logs := zapobserver.New(zapcore.InfoLevel)
		logOutcome(zap.New(core), Outcome{Action: a, Err: tc.err}, tc.traceID)
		entries := logs.All()
		if len(entries) != 1 || entries[0].Message != tc.msg {
			t.Fatalf("%v: logged %v", tc.err, entries)
		}
		got, ok := entries[0].ContextMap()["trace_id"]
		if tc.traceID == "" && ok || tc.traceID != "" && got != tc.traceID {
			t.Errorf("%v: trace_id %v (present %v), want %q", tc.err, got, ok, tc.traceID)
		}
	}
}
