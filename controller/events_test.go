package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type sentEvent struct{ typ, reason, message, instance string }

func (e sentEvent) String() string {
	return fmt.Sprintf("%s %s %s", e.typ, e.reason, e.instance)
}

type eventLog struct{ events []sentEvent }

func (l *eventLog) Event(typ, reason, message, instance string) {
	l.events = append(l.events, sentEvent{typ, reason, message, instance})
}

func TestAlertReason(t *testing.T) {
	for key, want := range map[string]string{
		"no-eligible-replica":          "NoEligibleReplica",
		"main-unreachable-from-leader": "MainUnreachableFromLeader",
		"refuse:several-mains":         "Refuse:severalMains",
		"x":                            "X",
		"":                             "ControllerAlert",
	} {
		if got := AlertReason(key); got != want {
			t.Errorf("AlertReason(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestEventsNilSinkIsTransparent(t *testing.T) {
	rec := &recorder{}
	if got := withEvents(rec, nil, nil); got != Executor(rec) {
		t.Fatalf("withEvents with a nil sink wrapped the executor: %T", got)
	}
}

// TestEvents runs batches through the events wrapper and checks which
// events each action sends, given the record before the batch.
func TestEvents(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name  string
		route Route
		batch []Action
		fail  map[string]error
		want  []string // "type reason instance"
		msg   []string // substrings of the messages, in order
	}{
		{
			name:  "diverged instance",
			route: serving(5, "a"),
			batch: []Action{ReportDiverged{Epoch: 5, Instance: "c", Detail: "REGISTER REPLICA on a failed: replica diverged (Error 3)"}},
			want:  []string{"Warning InstanceDiverged c"},
			msg:   []string{"c has diverged from the MAIN"},
		},
		{
			name:  "automatic failover from claim to publish",
			route: serving(5, "a"),
			batch: []Action{
				ClaimFailover{Epoch: 6, Target: "b", From: "a", Cause: "main a down for 1.5s"},
				AwaitBarrier{Epoch: 6},
				Demote{Epoch: 6, Instance: "a", Fence: true},
				Promote{Epoch: 6, Instance: "b"},
			},
			want: []string{"Warning FailoverStarted a"},
			msg:  []string{"failover from MAIN a to b started (epoch 6): main a down"},
		},
		{
			name:  "failover completed",
			route: inFailover(6, "b", "a", false),
			batch: []Action{Publish{Epoch: 7, Main: "b", Cause: "failover"}, Register{Epoch: 7, On: "b", Instance: "c"}},
			want:  []string{"Normal FailoverCompleted b"},
			msg:   []string{"failover from a to b completed: b is MAIN at epoch 7"},
		},
		{
			name:  "failover aborted: the old MAIN serves again",
			route: inFailover(6, "b", "a", false),
			batch: []Action{Alert{Epoch: 6, Key: "failover-target-lost", Reason: "failover target b lost"}, Publish{Epoch: 7, Main: "a", Cause: "a answers again"}},
			want:  []string{"Warning FailoverTargetLost ", "Warning FailoverAborted a"},
			msg:   []string{"failover target b lost", "failover from a to b aborted: a is MAIN at epoch 7"},
		},
		{
			name:  "planned switchover",
			route: serving(5, "a"),
			batch: []Action{ClaimFailover{Epoch: 6, Target: "b", From: "a", Planned: true}},
			want:  []string{"Normal SwitchoverStarted b"},
		},
		{
			name:  "switchover completed and answered",
			route: inFailover(6, "b", "a", true),
			batch: []Action{Publish{Epoch: 7, Main: "b"}, EndSwitchover{Epoch: 7, Target: "b", OK: true}},
			want:  []string{"Normal SwitchoverCompleted b"},
		},
		{
			name:  "switchover refused",
			route: serving(5, "a"),
			batch: []Action{EndSwitchover{Epoch: 5, Target: "x", OK: false, Reason: "x is not a known instance"}},
			want:  []string{"Warning SwitchoverFailed x"},
			msg:   []string{"switchover to x failed: x is not a known instance"},
		},
		{
			name:  "bootstrap of an empty store",
			batch: []Action{Publish{Epoch: 1, Main: "a", Cause: "bootstrap: empty cluster"}},
			want:  []string{"Normal Bootstrapped a"},
		},
		{
			name:  "bootstrap through a claim",
			route: inFailover(1, "a", "", false),
			batch: []Action{Publish{Epoch: 2, Main: "a"}},
			want:  []string{"Normal Bootstrapped a"},
		},
		{
			name:  "bootstrap claim sends nothing until published",
			batch: []Action{ClaimFailover{Epoch: 1, Target: "a"}},
		},
		{
			name:  "alerts and refusals concern the cluster",
			batch: []Action{Alert{Key: "no-eligible-replica", Reason: "main a is down and no replica is eligible"}, RefuseAmbiguous{Key: "several-mains", Reason: "several MAINs hold data"}},
			want:  []string{"Warning NoEligibleReplica ", "Warning BootstrapRefused "},
			msg:   []string{"no replica is eligible", "several MAINs hold data"},
		},
		{
			name:  "failed actions send nothing",
			route: inFailover(6, "b", "a", false),
			batch: []Action{ReportDiverged{Epoch: 6, Instance: "c"}, Publish{Epoch: 7, Main: "b"}},
			fail:  map[string]error{"diverged c": boom, (Publish{Epoch: 7, Main: "b"}).String(): ErrFenced},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &eventLog{}
			ex := withEvents(&recorder{fail: tc.fail}, sink, func() Route { return tc.route })
			Run(context.Background(), ex, tc.batch)
			var got []string
			for _, e := range sink.events {
				got = append(got, e.String())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			for i, m := range tc.msg {
				if !strings.Contains(sink.events[i].message, m) {
					t.Errorf("event %d message %q lacks %q", i, sink.events[i].message, m)
				}
			}
		})
	}
}

// TestEventsFailoverDuration: a failover this leader claimed reports how
// long after the claim it was published.
func TestEventsFailoverDuration(t *testing.T) {
	sink := &eventLog{}
	route := serving(5, "a")
	ex := withEvents(&recorder{}, sink, func() Route { return route })
	Run(context.Background(), ex, []Action{ClaimFailover{Epoch: 6, Target: "b", From: "a"}})
	route = inFailover(6, "b", "a", false)
	Run(context.Background(), ex, []Action{Publish{Epoch: 7, Main: "b"}})
	if len(sink.events) != 2 || !strings.Contains(sink.events[1].message, "after its claim") {
		t.Fatalf("events %+v; want a completion that says how long after its claim", sink.events)
	}
	// A failover resumed from the store (no claim seen) does not pretend to know.
	route = inFailover(8, "c", "b", false)
	Run(context.Background(), ex, []Action{Publish{Epoch: 9, Main: "c"}})
	if last := sink.events[len(sink.events)-1]; last.reason != ReasonFailoverCompleted || strings.Contains(last.message, "after its claim") {
		t.Fatalf("resumed failover event %+v", last)
	}
}
