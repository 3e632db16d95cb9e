package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"
)

// trackHarness drives a tracker the way RunLoop does, tick by tick, with
// a recorder as the loop's executor.
type trackHarness struct {
	t     *testing.T
	tr    *tracker
	rec   *recorder
	sw    *Switchovers
	board *StatusBoard
	reg   *prometheus.Registry
	now   time.Time
}

func newTrackHarness(t *testing.T) *trackHarness {
	h := &trackHarness{t: t, rec: &recorder{}, sw: &Switchovers{}, board: &StatusBoard{}, reg: prometheus.NewRegistry(),
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	tr, err := newTracker(LoopConfig{LeaderID: "gw-1", Switchovers: h.sw, Status: h.board, Registerer: h.reg}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	h.tr = tr
	return h
}

// tick runs one observe-decide-act round with batch as Decide's answer.
func (h *trackHarness) tick(route Route, insts []Instance, st State, batch ...Action) (*SwitchoverRequest, []Outcome) {
	h.now = h.now.Add(100 * time.Millisecond)
	s := Snapshot{Now: h.now, Route: route, Instances: insts}
	s.Switchover = h.tr.pending(route)
	outs := Run(context.Background(), h.tr.wrap(h.rec), batch)
	h.tr.tick(s, st, outs)
	return s.Switchover, outs
}

func (h *trackHarness) status() LoopStatus {
	h.t.Helper()
	st, ok := h.board.Load()
	if !ok {
		h.t.Fatal("the board is empty")
	}
	return st
}

func stepNames(r *FailoverRecord) []string {
	var out []string
	for _, s := range r.Steps {
		n := s.Name
		if s.Instance != "" {
			n += " " + s.Instance
		}
		if s.Error != "" {
			n += " failed"
		}
		out = append(out, n)
	}
	return out
}

func TestTrackerSwitchover(t *testing.T) {
	h := newTrackHarness(t)
	if _, ok := h.board.Load(); ok {
		t.Fatal("board filled before any tick")
	}
	ch := submitAsync(t, h.sw, context.Background(), "c")

	mainA := inst("a", asMain(row("b", ModeStrictSync, StatusReady, 50, 0), row("c", ModeAsync, StatusRecovery, 47, -3), zombie("z")))
	insts := []Instance{inst("c"), mainA, inst("b"), inst("d", down(time.Second)), inst("z")}
	st := State{Alerts: map[string]bool{"k": true}, Diverged: map[string]Divergence{"d": {Detail: "Error 3"}}}

	// Tick 1: the request is in the snapshot; claim and barrier.
	req, _ := h.tick(serving(5, "a"), insts, st,
		Alert{Epoch: 5, Key: "k", Reason: "something"},
		ClaimFailover{Epoch: 6, Target: "c", From: "a", Planned: true, Cause: "switchover from a to c requested"},
		AwaitBarrier{Epoch: 6})
	if req == nil || req.Target != "c" {
		t.Fatalf("snapshot request %+v", req)
	}
	s := h.status()
	if !s.Running || s.Leader != "gw-1" || s.Epoch != 5 || s.Main != "a" || s.Switchover == nil || s.Switchover.Target != "c" {
		t.Errorf("status %+v", s)
	}
	if s.Topology.Main != "a" || s.Topology.SyncReplica != "b" || !slices.Equal(s.Topology.AsyncReplicas, []string{"c"}) {
		t.Errorf("topology %+v", s.Topology)
	}
	var names []string
	for _, in := range s.Instances {
		names = append(names, in.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "c", "d", "z"}) {
		t.Errorf("instances %v, want sorted", names)
	}
	byName := func(n string) InstanceStatus {
		i := slices.IndexFunc(s.Instances, func(in InstanceStatus) bool { return in.Name == n })
		return s.Instances[i]
	}
	if c := byName("c"); !c.Registered || c.Mode != ModeAsync || c.ReplicaStatus != StatusRecovery || c.Behind != -3 || c.TS != 47 || c.Role != RoleReplica {
		t.Errorf("c %+v", c)
	}
	if d := byName("d"); d.Reachable || d.DownSince.IsZero() || !d.Diverged || d.DivergedDetail != "Error 3" || d.Registered {
		t.Errorf("d %+v", d)
	}
	if z := byName("z"); !z.Zombie {
		t.Errorf("z %+v", z)
	}
	if len(s.Alerts) != 1 || s.Alerts[0].Key != "k" || s.Alerts[0].Reason != "something" || !s.Alerts[0].Since.Equal(h.now) {
		t.Errorf("alerts %+v", s.Alerts)
	}
	f := s.LastFailover
	if f == nil || !f.InProgress() || f.Kind != KindSwitchover || f.ClaimEpoch != 6 || f.From != "a" || f.Target != "c" ||
		!slices.Equal(stepNames(f), []string{"claim", "barrier"}) {
		t.Fatalf("failover in progress %+v", f)
	}
	if v, n := gatheredValue(t, h.reg, "memgraph_gateway_replica_lag", "instance", "c"); n != 1 || v != 3 {
		t.Errorf("replica_lag{c} = %v (%d series), want 3", v, n)
	}
	if v, n := gatheredValue(t, h.reg, "memgraph_gateway_instance_role", "instance", "a", "role", "main"); n != 1 || v != 1 {
		t.Errorf("instance_role{a,main} = %v", v)
	}
	if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_instance_role", "instance", "d", "role", "unknown"); v != 1 {
		t.Errorf("instance_role{d,unknown} = %v", v)
	}
	if v, n := gatheredValue(t, h.reg, "memgraph_gateway_instance_up"); n != 5 || v != 4 {
		t.Errorf("instance_up: %d series summing %v, want 5 and 4", n, v)
	}
	if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_diverged_instances"); v != 1 {
		t.Errorf("diverged_instances %v", v)
	}

	// Tick 2: phase failover; demote fails once (retried), then both.
	insts = []Instance{inst("c"), mainA, inst("b")}
	h.rec.fail = map[string]error{"demote e6 a fence": errors.New("lock contention")}
	h.tick(inFailover(6, "c", "a", true), insts, State{}, Demote{Epoch: 6, Instance: "a", Port: 10000, Fence: true}, Promote{Epoch: 6, Instance: "c"})
	h.rec.fail = nil
	h.tick(inFailover(6, "c", "a", true), insts, State{}, Demote{Epoch: 6, Instance: "a", Port: 10000, Fence: true}, Promote{Epoch: 6, Instance: "c"})
	s = h.status()
	if len(s.Alerts) != 0 {
		t.Errorf("alert k still active: %+v", s.Alerts)
	}
	if s.Topology.Main != "a" || s.Phase != PhaseFailover {
		t.Errorf("in phase failover the MAIN being replaced still reports: %+v", s)
	}

	// Tick 3: publish c, and the registrations of that batch join it; a
	// later registration (replica care) does not.
	h.tick(inFailover(6, "c", "a", true), []Instance{inst("c", asMain()), inst("a"), inst("b")}, State{},
		Publish{Epoch: 7, Main: "c", Cause: "switchover from a to c"},
		Register{Epoch: 7, On: "c", Instance: "a", Mode: ModeAsync},
		Register{Epoch: 7, On: "c", Instance: "b", Mode: ModeStrictSync})
	f = h.status().LastFailover
	want := []string{"claim", "barrier", "demote a failed", "demote a", "promote c", "publish c", "register a", "register b"} // the failed fence skipped its promote
	if f.InProgress() || f.Result != ResultOK || f.Epoch != 7 || f.Main != "c" || !slices.Equal(stepNames(f), want) || f.Duration() <= 0 {
		t.Fatalf("ended failover %+v\nsteps %v\nwant  %v", f, stepNames(f), want)
	}
	for i := 1; i < len(f.Steps); i++ {
		if f.Steps[i].Offset < f.Steps[i-1].Offset {
			t.Errorf("step offsets not increasing: %+v", f.Steps)
		}
	}
	if v, n := gatheredValue(t, h.reg, "memgraph_gateway_failovers_total", "kind", "switchover", "result", "ok"); n != 1 || v != 1 {
		t.Errorf("failovers_total{switchover,ok} = %v (%d series)", v, n)
	}
	if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_failover_duration_seconds", "kind", "switchover"); v != 1 {
		t.Errorf("failover_duration_seconds count %v, want 1", v)
	}
	if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_failover_step_duration_seconds", "step", "demote"); v != 2 {
		t.Errorf("step_duration{demote} count %v, want 2", v)
	}
	if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_failover_step_duration_seconds", "step", "register"); v != 2 {
		t.Errorf("step_duration{register} count %v, want 2", v)
	}

	// Tick 4: serving c; Decide ends the request.
	h.tick(serving(7, "c"), []Instance{inst("c", asMain(row("a", ModeAsync, StatusReady, 9, 0))), inst("a"), inst("b")}, State{},
		Register{Epoch: 7, On: "c", Instance: "b", Mode: ModeStrictSync},
		EndSwitchover{Epoch: 7, Target: "c", OK: true, Reason: "c is the MAIN (epoch 7)"})
	got := receive(t, ch)
	if got.err != nil || !got.res.OK || got.res.Main != "c" || got.res.Previous != "a" || got.res.Epoch != 7 ||
		got.res.Failover == nil || len(got.res.Failover.Steps) != len(want) {
		t.Fatalf("answer %+v, %v", got.res, got.err)
	}
	s = h.status()
	if s.Switchover != nil || len(s.LastFailover.Steps) != len(want) {
		t.Errorf("after the answer: %+v", s)
	}
	if _, n := gatheredValue(t, h.reg, "memgraph_gateway_instance_up"); n != 3 {
		t.Errorf("instance_up series %d, want 3 (vanished instances removed)", n)
	}
	if _, n := gatheredValue(t, h.reg, "memgraph_gateway_replica_lag"); n != 1 {
		t.Errorf("replica_lag series %d, want 1", n)
	}

	h.tr.stop()
	s = h.status()
	if s.Running || s.LastFailover == nil || s.LastFailover.Result != ResultOK {
		t.Errorf("after stop: %+v", s)
	}
	if _, n := gatheredValue(t, h.reg, "memgraph_gateway_instance_up"); n != 0 {
		t.Errorf("instance_up series after stop: %d", n)
	}
	if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_failovers_total"); v != 1 {
		t.Errorf("failovers_total after stop %v", v)
	}
}

func TestTrackerEnds(t *testing.T) {
	insts := []Instance{inst("a", asMain()), inst("b"), inst("c")}

	t.Run("aborted switchover answers failed, with the main that serves", func(t *testing.T) {
		h := newTrackHarness(t)
		ch := submitAsync(t, h.sw, context.Background(), "c")
		h.tick(serving(5, "a"), insts, State{}, ClaimFailover{Epoch: 6, Target: "c", From: "a", Planned: true}, AwaitBarrier{Epoch: 6})
		h.tick(inFailover(6, "c", "a", true), insts, State{},
			Alert{Epoch: 6, Key: "switchover-aborted", Reason: "not caught up"},
			Publish{Epoch: 7, Main: "a", Cause: "switchover to c aborted"},
			EndSwitchover{Epoch: 7, Target: "c", OK: false, Reason: "switchover to c aborted"})
		got := receive(t, ch)
		if got.err != nil || got.res.OK || got.res.Main != "a" || got.res.Epoch != 7 || got.res.Failover == nil ||
			got.res.Failover.Result != ResultAborted || got.res.Failover.Error != "switchover to c aborted" {
			t.Fatalf("answer %+v, %v", got.res, got.err)
		}
		if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_failovers_total", "kind", "switchover", "result", "aborted"); v != 1 {
			t.Errorf("failovers_total{switchover,aborted} %v", v)
		}
	})

	t.Run("refused at once: no failover attached, other targets ignored", func(t *testing.T) {
		h := newTrackHarness(t)
		ch := submitAsync(t, h.sw, context.Background(), "x")
		h.tick(serving(5, "a"), insts, State{}, EndSwitchover{Epoch: 5, Target: "other"})
		if _, ok := h.sw.Pending(); !ok {
			t.Fatal("an EndSwitchover for another target answered the request")
		}
		h.tick(serving(5, "a"), insts, State{}, EndSwitchover{Epoch: 5, Target: "x", Reason: "x is not a known instance"})
		got := receive(t, ch)
		if got.err != nil || got.res.OK || got.res.Main != "a" || got.res.Failover != nil || got.res.Reason != "x is not a known instance" {
			t.Fatalf("answer %+v, %v", got.res, got.err)
		}
	})

	t.Run("a failover found in the store is tracked; stop interrupts it and fails the request", func(t *testing.T) {
		h := newTrackHarness(t)
		ch := submitAsync(t, h.sw, context.Background(), "b")
		h.tick(inFailover(8, "b", "a", false), insts, State{}, AwaitBarrier{Epoch: 8})
		f := h.status().LastFailover
		if !f.InProgress() || f.Kind != KindFailover || f.ClaimEpoch != 8 || !strings.Contains(f.Cause, "found in the route store") {
			t.Fatalf("resumed failover %+v", f)
		}
		h.tick(inFailover(8, "b", "a", false), insts, State{}, Promote{Epoch: 8, Instance: "b"})
		h.rec.fail = map[string]error{"publish e9 main=b []": ErrFenced}
		h.tick(inFailover(8, "b", "a", false), insts, State{}, Publish{Epoch: 9, Main: "b"})
		h.tr.stop()
		got := receive(t, ch)
		if !errors.Is(got.err, ErrSwitchoverStopped) || !strings.Contains(got.err.Error(), "publish e9") {
			t.Errorf("request: %+v, %v; want ErrSwitchoverStopped naming the fenced publish", got.res, got.err)
		}
		f = h.status().LastFailover
		if f.Result != ResultInterrupted || !strings.Contains(f.Error, "fenced") || !slices.Equal(stepNames(f), []string{"barrier", "promote b", "publish b failed"}) {
			t.Errorf("interrupted failover %+v %v", f, stepNames(f))
		}
		if v, _ := gatheredValue(t, h.reg, "memgraph_gateway_failovers_total", "kind", "failover", "result", "interrupted"); v != 1 {
			t.Errorf("failovers_total{failover,interrupted} %v", v)
		}
		if v, n := gatheredValue(t, h.reg, "memgraph_gateway_failover_duration_seconds"); v != 0 || n != 0 {
			t.Errorf("an interrupted failover has a duration: %v", v)
		}
	})

	t.Run("bootstrap claim: on the board, not counted; care outside a failover not tracked", func(t *testing.T) {
		h := newTrackHarness(t)
		h.tick(Route{}, insts, State{}, Publish{Epoch: 1, Main: "a"}, Register{Epoch: 1, On: "a", Instance: "b", Mode: ModeStrictSync})
		if f := h.status().LastFailover; f != nil {
			t.Fatalf("a bootstrap publish without a claim is a failover: %+v", f)
		}
		h.rec.fail = map[string]error{"claim e1 target=b from=": ErrFenced}
		h.tick(Route{}, insts, State{}, ClaimFailover{Epoch: 1, Target: "b"})
		if f := h.status().LastFailover; f != nil {
			t.Fatalf("a failed claim opened a failover: %+v", f)
		}
		h.rec.fail = nil
		h.tick(Route{}, insts, State{}, ClaimFailover{Epoch: 1, Target: "b"}, AwaitBarrier{Epoch: 1}, Promote{Epoch: 1, Instance: "b"})
		h.tick(inFailover(1, "b", "", false), insts, State{}, Publish{Epoch: 2, Main: "b"})
		h.tick(serving(2, "b"), insts, State{}, Demote{Epoch: 2, Instance: "a", Port: 10000}, Register{Epoch: 2, On: "b", Instance: "a", Mode: ModeAsync})
		f := h.status().LastFailover
		if f == nil || f.Kind != KindBootstrap || f.Result != ResultOK || len(f.Steps) != 4 {
			t.Fatalf("bootstrap record %+v %v", f, stepNames(f))
		}
		if _, n := gatheredValue(t, h.reg, "memgraph_gateway_failovers_total"); n != 0 {
			t.Errorf("a bootstrap was counted as a failover")
		}
		// The next term's tracker shows the last failover until its own.
		tr, err := newTracker(LoopConfig{Status: h.board, Registerer: h.reg}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatalf("second tracker on the same registry: %v", err)
		}
		if tr.rec == nil || tr.rec.Kind != KindBootstrap {
			t.Errorf("second term's record %+v", tr.rec)
		}
	})
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	if m1.failovers != m2.failovers || m1.diverged != m2.diverged {
		t.Error("the second loop's metrics are not the registered ones")
	}
	if _, err := newMetrics(nil); err != nil {
		t.Errorf("unregistered metrics: %v", err)
	}
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "memgraph_gateway_failovers_total", Help: "not a counter"}))
	if _, err := newMetrics(clash); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("clashing registration: %v", err)
	}
	if _, err := newTracker(LoopConfig{Registerer: clash}, nil); err == nil {
		t.Error("newTracker ignored a registration failure")
	}
}

// gatheredValue sums the value (counter, gauge; histogram: sample
// count) of the series of name whose labels include the pairs given,
// and counts them.
func gatheredValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum, n := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			n++
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, n
}
