package controller_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// ackedWriter writes continuously to the MAIN of the store's route, as a
// gateway would route it: during phase failover it holds its writes, and
// it never retries a write (auto-commit, so an error is never hidden). It
// remembers every acknowledged write and when it was acknowledged.
type ackedWriter struct {
	store state.Store
	addr  func(name string) string

	mu    sync.Mutex
	acked []int64
	at    []time.Time
	fails int
}

func (w *ackedWriter) run(ctx context.Context) {
	drivers := make(map[string]neo4j.DriverWithContext)
	defer func() {
		for _, d := range drivers {
			d.Close(context.Background())
		}
	}()
	for id := int64(0); ctx.Err() == nil; {
		r, _, err := w.store.Load(ctx)
		if err != nil || r.Phase != state.PhaseServing {
			time.Sleep(2 * time.Millisecond) // held, like a gateway
			continue
		}
		drv := drivers[r.Main.Name]
		if drv == nil {
			if drv, err = neo4j.NewDriverWithContext("bolt://"+w.addr(r.Main.Name), neo4j.NoAuth()); err != nil {
				panic(err)
			}
			drivers[r.Main.Name] = drv
		}
		id++
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s := drv.NewSession(wctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite})
		res, err := s.Run(wctx, "CREATE (:W {i: $i})", map[string]any{"i": id})
		if err == nil {
			_, err = res.Consume(wctx)
		}
		s.Close(wctx)
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, id)
			w.at = append(w.at, time.Now())
		} else {
			w.fails++
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// gapAround is the longest time without an acknowledged write that
// overlaps [from, to].
func (w *ackedWriter) gapAround(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var worst time.Duration
	for i := 1; i < len(w.at); i++ {
		if w.at[i].Before(from) || w.at[i-1].After(to) {
			continue
		}
		worst = max(worst, w.at[i].Sub(w.at[i-1]))
	}
	return worst
}

// TestLoopSwitchoverUnderWrites runs a planned switchover through the
// mailbox while a writer keeps writing to whatever MAIN the route names:
// no acknowledged write is lost, the target ends as MAIN with the old
// MAIN its replica, the request is answered with the failover's steps,
// and the status board and metrics describe it. It also checks the
// requests Decide answers at once (unknown target, the MAIN itself) and
// that a second request meanwhile is refused as busy.
func TestLoopSwitchoverUnderWrites(t *testing.T) {
	c := startSimCluster(t, []string{"127.0.0.51", "127.0.0.52", "127.0.0.53"}, nil)
	addrOf := c.addr
	_, store := memStore("leader-1")
	sw := &controller.Switchovers{}
	board := &controller.StatusBoard{}
	reg := prometheus.NewRegistry()
	ctx := t.Context()
	stopLoop := runLoop(t, c, controller.LoopConfig{
		Controller:    controller.Config{FailoverAfter: 1500 * time.Millisecond},
		ProbeInterval: 100 * time.Millisecond,
		RouteTTL:      300 * time.Millisecond,
		LeaderID:      "leader-1",
		Switchovers:   sw,
		Status:        board,
		Registerer:    reg,
	}, store)

	admin := func(name string) *memgraph.Client {
		c, err := memgraph.New(memgraph.Config{Name: name, Addr: addrOf(name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	replicas := func(main string) ([]memgraph.ReplicaInfo, error) {
		rcx, rcancel := context.WithTimeout(ctx, time.Second)
		defer rcancel()
		return admin(main).Replicas(rcx)
	}

	// Bootstrap: a MAIN with a synchronous and an ASYNC replica, ready.
	var route state.Route
	var async string
	waitFor(t, 30*time.Second, "bootstrap", func() (bool, string) {
		r, _, err := store.Load(ctx)
		if err != nil || r.Phase != state.PhaseServing {
			return false, fmt.Sprintf("route %+v err %v", r, err)
		}
		rows, err := replicas(r.Main.Name)
		if err != nil {
			return false, err.Error()
		}
		ready, sync := 0, false
		async = ""
		for _, row := range rows {
			if row.Status == memgraph.StatusReady && !row.Zombie {
				ready++
			}
			switch row.SyncMode {
			case memgraph.ModeStrictSync, memgraph.ModeSync:
				sync = true
			case memgraph.ModeAsync:
				async = row.Name
			}
		}
		route = r
		return ready == 2 && sync && async != "", fmt.Sprintf("main %s replicas %+v", r.Main.Name, rows)
	})
	oldMain := route.Main.Name
	t.Logf("bootstrapped: epoch %d main %s, ASYNC replica %s", route.Epoch, oldMain, async)

	// Requests Decide answers at once.
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	res, err := sw.Submit(qctx, "mg-9")
	qcancel()
	if err != nil || res.OK || res.Reason == "" || res.Failover != nil {
		t.Fatalf("switchover to an unknown instance: %+v, %v; want a refusal", res, err)
	}
	qctx, qcancel = context.WithTimeout(ctx, 10*time.Second)
	res, err = sw.Submit(qctx, oldMain)
	qcancel()
	if err != nil || !res.OK || res.Main != oldMain || res.Epoch != route.Epoch || res.Failover != nil {
		t.Fatalf("switchover to the MAIN itself: %+v, %v; want OK at once at epoch %d", res, err, route.Epoch)
	}

	// A switchover to the ASYNC replica (it first takes the sync role)
	// under continuous writes.
	w := &ackedWriter{store: store, addr: addrOf}
	wctx, stopWrites := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); w.run(wctx) }()
	time.Sleep(300 * time.Millisecond)

	type answer struct {
		res controller.SwitchoverResult
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		res, err := sw.Submit(sctx, async)
		answered <- answer{res, err}
	}()
	waitFor(t, 5*time.Second, "request pending", func() (bool, string) {
		p, ok := sw.Pending()
		return ok && p.Target == async, fmt.Sprintf("%+v %v", p, ok)
	})
	if _, err := sw.Submit(ctx, oldMain); !errors.Is(err, controller.ErrSwitchoverBusy) {
		t.Errorf("second request while one is pending: %v, want ErrSwitchoverBusy", err)
	}
	var a answer
	select {
	case a = <-answered:
	case <-time.After(40 * time.Second):
		t.Fatal("switchover not answered")
	}
	time.Sleep(300 * time.Millisecond) // writes continue on the new MAIN
	stopWrites()
	<-writerDone

	res, err = a.res, a.err
	if err != nil || !res.OK {
		t.Fatalf("switchover to %s: %+v, %v", async, res, err)
	}
	if res.Main != async || res.Previous != oldMain || res.Epoch <= route.Epoch {
		t.Errorf("result %+v: want main %s, previous %s, epoch above %d", res, async, oldMain, route.Epoch)
	}
	f := res.Failover
	if f == nil {
		t.Fatalf("result without the failover record: %+v", res)
	}
	var names []string
	for _, s := range f.Steps {
		names = append(names, s.Name)
		// A registration after the publish may meet the writer's commit
		// on the new MAIN (Memgraph's "replication lock contention",
		// Error 6): transient, retried on the next tick. Anything else is
		// a failure.
		if s.Error != "" && !(s.Name == controller.StepRegister && strings.Contains(s.Error, "lock contention")) {
			t.Errorf("step %+v failed", s)
		}
	}
	for _, want := range []string{controller.StepClaim, controller.StepBarrier, controller.StepDemote, controller.StepPromote, controller.StepPublish} {
		if !slices.Contains(names, want) {
			t.Errorf("steps %v lack %s", names, want)
		}
	}
	if f.Kind != controller.KindSwitchover || f.Result != controller.ResultOK || f.From != oldMain || f.Main != async ||
		f.Epoch != res.Epoch || f.Duration() <= 0 {
		t.Errorf("failover record %+v", f)
	}
	gap := w.gapAround(f.Start, f.End)
	w.mu.Lock()
	acked, fails := slices.Clone(w.acked), w.fails
	w.mu.Unlock()
	t.Logf("switchover %s -> %s: answered after %v; claim to publish %v; write unavailability (longest gap between acknowledged writes) %v; %d writes acknowledged, %d failed",
		oldMain, async, res.Took.Round(time.Millisecond), f.Duration().Round(time.Millisecond), gap.Round(time.Millisecond), len(acked), fails)
	for _, s := range f.Steps {
		t.Logf("  step %-8s %-5s e%d at +%v took %v", s.Name, s.Instance, s.Epoch, s.Offset.Round(time.Millisecond), s.Duration.Round(time.Millisecond))
	}
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}

	// Every acknowledged write is on the new MAIN.
	drv, err := neo4j.NewDriverWithContext("bolt://"+addrOf(async), neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(ctx)
	s := drv.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead})
	out, err := s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "MATCH (n:W) RETURN n.i AS i", nil)
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	})
	s.Close(ctx)
	if err != nil {
		t.Fatalf("read on the new main: %v", err)
	}
	seen := make(map[int64]bool)
	for _, rec := range out.([]*neo4j.Record) {
		if v, ok := rec.Values[0].(int64); ok {
			seen[v] = true
		}
	}
	lost := 0
	for _, id := range acked {
		if !seen[id] {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged write %d is missing on the new main %s", id, async)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(acked))
	}

	// The old MAIN is a replica of the new one.
	waitFor(t, 15*time.Second, "old main registered as a replica", func() (bool, string) {
		rows, err := replicas(async)
		if err != nil {
			return false, err.Error()
		}
		for _, row := range rows {
			if row.Name == oldMain && row.Status == memgraph.StatusReady {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", rows)
	})
	rcx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	if role, err := admin(oldMain).Role(rcx); err != nil || role != memgraph.RoleReplica {
		t.Errorf("old main %s answers role %q, %v", oldMain, role, err)
	}

	// The status board and the metrics.
	waitFor(t, 5*time.Second, "status board", func() (bool, string) {
		st, ok := board.Load()
		return ok && st.Running && st.Main == async && st.Topology.Main == async && st.Topology.SyncReplica != "" &&
			len(st.Topology.AsyncReplicas) == 1 && len(st.Instances) == 3, fmt.Sprintf("%+v", st)
	})
	st, _ := board.Load()
	if st.LastFailover == nil || st.LastFailover.Kind != controller.KindSwitchover || st.LastFailover.Result != controller.ResultOK {
		t.Errorf("board's last failover %+v", st.LastFailover)
	}
	for _, in := range st.Instances {
		if !in.Reachable || in.Diverged {
			t.Errorf("instance %+v", in)
		}
		if in.Name != async && !in.Registered {
			t.Errorf("replica %s not registered on the board: %+v", in.Name, in)
		}
	}
	if v, n := gathered(t, reg, "memgraph_gateway_failovers_total", "kind", "switchover", "result", "ok"); n != 1 || v != 1 {
		t.Errorf("failovers_total{switchover,ok} = %v (%d series)", v, n)
	}
	if v, n := gathered(t, reg, "memgraph_gateway_instance_up"); n != 3 || v != 3 {
		t.Errorf("instance_up: %d series, sum %v; want 3 instances up", n, v)
	}

	stopLoop()
	st, _ = board.Load()
	if st.Running {
		t.Error("board still running after the loop stopped")
	}
	if _, n := gathered(t, reg, "memgraph_gateway_instance_up"); n != 0 {
		t.Errorf("instance_up: %d series after the loop stopped", n)
	}
}

// gathered sums the counter, gauge or histogram count of the series of
// name whose labels include the given pairs, and counts those series.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string)
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	sum, n := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			matched := 0
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok {
					if v != lp.GetValue() {
						continue next
					}
					matched++
				}
			}
			if matched != len(want) {
				continue
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
