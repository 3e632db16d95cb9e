package chaos

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

var (
	rounds  = flag.Int("chaos.rounds", 1, "kill-the-MAIN rounds of TestKillMainUnderLoad (the killed instance rejoins between rounds)")
	version = flag.String("chaos.version", cluster.DefaultVersion, "emulated Memgraph release")
	keep    = flag.Bool("chaos.keep", false, "keep every cluster's working directory (logs, data)")
	gossip  = flag.Bool("chaos.gossip", true, "connect the gateways with gossip (encrypted memberlist: route leases and acks), as deployed; false: store and route-ttl only")
)

// failoverWithin bounds a failover from the fault to a serving route on
// every gateway. A failover takes failover-after + the route-ttl barrier
// (about 7.6s with the defaults today, 2s is the goal); the rest is slack
// for two loaded cores and the race detector.
const failoverWithin = 20 * time.Second

func TestMain(m *testing.M) {
	flag.Parse()
	code := kube.Main(m) // m.Run, then stops the kube-apiserver a test started (kube.Shared)
	cluster.RemoveBinaries()
	os.Exit(code)
}

func newCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("chaos: real processes and failovers; not with -short")
	}
	return cluster.New(t, cluster.Options{HAProxy: true, Version: *version, Keep: *keep, Gossip: *gossip})
}

func startWriter(t *testing.T, c *cluster.Cluster) *cluster.Writer {
	t.Helper()
	w, err := cluster.StartWriter(c.BoltURIs(), cluster.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

func mustMain(t *testing.T, ctx context.Context, c *cluster.Cluster) (*cluster.Instance, cluster.Route) {
	t.Helper()
	in, r, err := c.Main(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return in, r
}

// waitSyncReplica waits until the MAIN reports a caught-up STRICT_SYNC
// replica (other than exclude) and returns it: without one no failover is
// possible.
func waitSyncReplica(t *testing.T, ctx context.Context, main *cluster.Instance, within time.Duration, exclude string) cluster.ReplicaRow {
	t.Helper()
	row, err := syncReplica(ctx, main, within, exclude)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func syncReplica(ctx context.Context, main *cluster.Instance, within time.Duration, exclude string) (cluster.ReplicaRow, error) {
	deadline := time.Now().Add(within)
	var last string
	for {
		rows, err := cluster.ShowReplicas(ctx, main.Bolt)
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprint(rows)
			for _, r := range rows {
				if r.Mode == "strict_sync" && r.CaughtUp() && r.Name != exclude {
					return r, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return cluster.ReplicaRow{}, fmt.Errorf("%s reports no caught-up STRICT_SYNC replica (other than %q) within %v; SHOW REPLICAS: %s",
				main.Name, exclude, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAcks fails the test unless n writes that started after since are
// acknowledged within within.
func waitAcks(t *testing.T, ctx context.Context, w *cluster.Writer, since time.Time, n int, within time.Duration, what string) cluster.Attempt {
	t.Helper()
	a, err := w.WaitAcks(ctx, since, n, within)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return a
}

// checkAcked fails the test when the instance lacks an acknowledged write.
func checkAcked(t *testing.T, ctx context.Context, in *cluster.Instance, acked []int64, what string) map[int64]bool {
	t.Helper()
	have, err := cluster.Stamps(ctx, in.Bolt, "")
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if missing := cluster.Missing(acked, have); len(missing) > 0 {
		t.Errorf("%s: %s lacks %d of %d acknowledged writes: %s", what, in.Name, len(missing), len(acked), cluster.Summarize(missing))
	} else {
		t.Logf("%s: all %d acknowledged writes are on %s", what, len(acked), in.Name)
	}
	return have
}

// checkRoutes checks the gateways' "route changed" lines: one MAIN per
// epoch across all gateways, and, when replaced is set, no route naming it
// installed after since.
func checkRoutes(t *testing.T, c *cluster.Cluster, replaced string, since time.Time) {
	t.Helper()
	byEpoch := map[uint64]map[string][]string{} // epoch -> main -> gateways
	for _, e := range c.FindLogs(cluster.Msg(cluster.MsgRouteChanged)) {
		main := e.Str("new_main")
		name, _, _ := strings.Cut(main, "=")
		if byEpoch[e.Uint("epoch")] == nil {
			byEpoch[e.Uint("epoch")] = map[string][]string{}
		}
		byEpoch[e.Uint("epoch")][main] = append(byEpoch[e.Uint("epoch")][main], e.Gateway)
		if replaced != "" && name == replaced && e.Time.After(since) {
			t.Errorf("gateway %s installed a route to the replaced MAIN %s after the fault: %s", e.Gateway, replaced, e)
		}
	}
	var epochs []uint64
	for ep := range byEpoch {
		epochs = append(epochs, ep)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
	var story []string
	for _, ep := range epochs {
		mains := byEpoch[ep]
		if len(mains) > 1 {
			t.Errorf("epoch %d installed with different MAINs: %v", ep, mains)
		}
		for m := range mains {
			story = append(story, fmt.Sprintf("%d:%s", ep, m))
		}
	}
	t.Logf("routes installed (epoch:main): %s", strings.Join(story, " "))
}

// logOutage logs how writes stopped and resumed around a fault.
func logOutage(t *testing.T, w *cluster.Writer, at time.Time, what string) {
	t.Helper()
	o, ok := w.Outage(at)
	if !ok {
		t.Logf("%s: no outage measured (no write acknowledged before, or none since)", what)
		return
	}
	t.Logf("%s: no write acknowledged for %v (last ack %v before the fault, first write started after it acked %v after it, %d failed attempts)",
		what, o.Duration().Round(time.Millisecond), at.Sub(o.LastAck.End).Round(time.Millisecond),
		o.FirstBack.End.Sub(at).Round(time.Millisecond), o.Failed)
}

func roleOf(ctx context.Context, in *cluster.Instance) string {
	r, err := cluster.Role(ctx, in.Bolt)
	if err != nil {
		return "error: " + err.Error()
	}
	return r
}

// waitRole waits until the instance answers SHOW REPLICATION ROLE with
// role.
func waitRole(t *testing.T, ctx context.Context, in *cluster.Instance, role string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		if last = roleOf(ctx, in); last == role {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer as %s within %v (last: %s)", in.Name, role, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rowOf(rows []cluster.ReplicaRow, name string) *cluster.ReplicaRow {
	for i := range rows {
		if rows[i].Name == name {
			return &rows[i]
		}
	}
	return nil
}

// waitFailover waits until every gateway serves a MAIN other than old at
// an epoch above before, and returns that route.
func waitFailover(t *testing.T, ctx context.Context, c *cluster.Cluster, old string, before uint64) cluster.Route {
	t.Helper()
	after, err := c.WaitServing(ctx, failoverWithin, func(r cluster.Route) bool {
		return r.Epoch > before && r.MainName() != old
	})
	if err != nil {
		t.Fatalf("no failover from %s (epoch %d): %v", old, before, err)
	}
	return after
}

// checkMainStays checks that the gateways still serve main after an event
// (what) that must not move it.
func checkMainStays(t *testing.T, ctx context.Context, c *cluster.Cluster, main, what string) {
	t.Helper()
	if r, err := c.WaitServing(ctx, 5*time.Second, nil); err != nil {
		t.Error(err)
	} else if r.MainName() != main {
		t.Errorf("the MAIN moved from %s to %s after %s", main, r.MainName(), what)
	}
}

// steadyMain waits for the state every fault starts from: a MAIN with a
// caught-up STRICT_SYNC replica, and 200 writes acknowledged through the
// gateways; fault names what comes next ("the kill").
func steadyMain(t *testing.T, ctx context.Context, c *cluster.Cluster, w *cluster.Writer, fault string) (*cluster.Instance, cluster.Route, cluster.ReplicaRow) {
	t.Helper()
	main, before := mustMain(t, ctx, c)
	sync := waitSyncReplica(t, ctx, main, failoverWithin, "")
	waitAcks(t, ctx, w, time.Now(), 200, 20*time.Second, "writes before "+fault)
	return main, before, sync
}

// killMain kills main (the MAIN of route before) with SIGKILL and waits
// for the failover and for n acknowledged writes started after the kill.
func killMain(t *testing.T, ctx context.Context, c *cluster.Cluster, w *cluster.Writer, main *cluster.Instance, before cluster.Route, n int) (killedAt time.Time, after cluster.Route) {
	t.Helper()
	killedAt = time.Now()
	if err := main.Process().Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the MAIN %s (epoch %d) with SIGKILL", main.Name, before.Epoch)
	after = waitFailover(t, ctx, c, main.Name, before.Epoch)
	waitAcks(t, ctx, w, killedAt, n, failoverWithin, "writes after the failover")
	t.Logf("new MAIN %s at epoch %d", after.MainName(), after.Epoch)
	return killedAt, after
}
