package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// routeTTL is the gateways' --route-ttl (the default; the clusters here
// do not change it): a gateway whose route lease is not renewed stops
// relaying this long after its last renewal.
const routeTTL = 6 * time.Second

// gatewayWriters writes through each named gateway directly (not through
// HAProxy), one Writer per gateway, each with its own label so that the
// stamps of different writers never mix.
type gatewayWriters map[string]*cluster.Writer

func startGatewayWriters(t *testing.T, c *cluster.Cluster, names ...string) gatewayWriters {
	t.Helper()
	ws := gatewayWriters{}
	for _, name := range names {
		ws.start(t, c, name)
	}
	return ws
}

func (ws gatewayWriters) start(t *testing.T, c *cluster.Cluster, name string) {
	t.Helper()
	w, err := cluster.StartWriter([]string{"bolt://" + c.Gateway(name).Bolt},
		cluster.WriterOptions{Label: writerLabel(name), Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	ws[name] = w
}

func writerLabel(gateway string) string { return "Through_" + gateway }

// failuresSince returns the failed attempts that ended after t.
func failuresSince(w *cluster.Writer, t time.Time) []cluster.Attempt {
	var out []cluster.Attempt
	for _, a := range w.Attempts() {
		if !a.Acked() && a.End.After(t) {
			out = append(out, a)
		}
	}
	return out
}

// slowest is the attempt with the longest latency among those that
// started in [from, to], and how many there were.
func slowest(w *cluster.Writer, from, to time.Time) (cluster.Attempt, int) {
	var max cluster.Attempt
	n := 0
	for _, a := range w.Attempts() {
		if a.Start.Before(from) || a.Start.After(to) {
			continue
		}
		n++
		if a.End.Sub(a.Start) > max.End.Sub(max.Start) {
			max = a
		}
	}
	return max, n
}

// checkUninterrupted fails the test when a writer of a surviving gateway
// had a failed write since the kill, or no acknowledged write at all, and
// logs the slowest write of [from, to] (the leader change) and of the
// whole period since the kill.
func checkUninterrupted(t *testing.T, ws gatewayWriters, survivors []string, killed string, killedAt, changeEnd time.Time) {
	t.Helper()
	for _, name := range survivors {
		w := ws[name]
		if fails := failuresSince(w, killedAt); len(fails) > 0 {
			var b strings.Builder
			for i, a := range fails {
				if i == 5 {
					fmt.Fprintf(&b, "\n  ... %d more", len(fails)-5)
					break
				}
				fmt.Fprintf(&b, "\n  stamp %d started %v after the kill, took %v: %v", a.Stamp,
					a.Start.Sub(killedAt).Round(time.Millisecond), a.End.Sub(a.Start).Round(time.Millisecond), a.Err)
			}
			t.Errorf("guarantee 4: %d writes through %s failed after %s was killed:%s", len(fails), name, killed, b.String())
		}
		acks := 0
		for _, a := range w.Acked() {
			if a.Start.After(killedAt) {
				acks++
			}
		}
		if acks == 0 {
			t.Errorf("no write through %s was acknowledged after %s was killed", name, killed)
		}
		during, n := slowest(w, killedAt, changeEnd)
		all, total := slowest(w, killedAt, time.Now())
		t.Logf("through %s since %s's kill: %d writes acknowledged, %d failed; max write latency %v during the change (the first %v: %d writes, the slowest stamp %d started at +%v), %v over all %d writes since the kill",
			name, killed, acks, len(failuresSince(w, killedAt)), during.End.Sub(during.Start).Round(time.Millisecond),
			changeEnd.Sub(killedAt).Round(time.Millisecond), n, during.Stamp, during.Start.Sub(killedAt).Round(time.Millisecond),
			all.End.Sub(all.Start).Round(time.Millisecond), total)
	}
}

// Guarantee 4 (DESIGN.md): killing any gateway, the leader included,
// never interrupts traffic through the other gateways. Writers connected
// to the gateways directly keep writing while (1) the leader gateway is
// killed with SIGKILL: a new leader is elected, the route does not
// change, and not one write through the survivors fails for a whole
// route-ttl after the kill (their route leases, granted by the dead
// leader, must be renewed by the new one in time); then (2) the old
// leader is restarted and a gateway that does not lead is killed: again
// no write through the others fails. The largest write latency during the
// leader change is logged.
func TestGatewayKillDoesNotInterruptOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: real processes; not with -short")
	}
	ctx := context.Background()
	c := cluster.New(t, cluster.Options{Version: *version, Keep: *keep, Gossip: *gossip})
	main, before := mustMain(t, ctx, c)
	waitSyncReplica(t, ctx, main, failoverWithin, "")
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names, survivors []string
	for _, g := range c.Gateways() {
		names = append(names, g.Name)
		if g.Name != leader {
			survivors = append(survivors, g.Name)
		}
	}
	ws := startGatewayWriters(t, c, names...)
	for _, name := range names {
		waitAcks(t, ctx, ws[name], time.Now(), 50, 20*time.Second, "writes through "+name+" before the kill")
	}

	// (1) The leader.
	mark := c.LogMark()
	ws[leader].Stop() // the killed gateway's own clients lose their connections: not the point
	killedAt := time.Now()
	if err := c.Gateway(leader).Process().Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the leader gateway %s with SIGKILL (route epoch %d, MAIN %s); writers on %v keep writing", leader, before.Epoch, main.Name, survivors)
	next, err := c.WaitLeader(ctx, failoverWithin, leader)
	if err != nil {
		t.Fatal(err)
	}
	electedAt := time.Now()
	t.Logf("%s leads %v after the kill", next, electedAt.Sub(killedAt).Round(time.Millisecond))
	// Past a whole route-ttl from the kill: any lease of the dead leader
	// has run out by then, so relaying continues only under the new one's.
	until := killedAt.Add(routeTTL + 2*time.Second)
	for _, name := range survivors {
		waitAcks(t, ctx, ws[name], until, 20, 20*time.Second, fmt.Sprintf("writes through %s a route-ttl after the kill", name))
	}
	checkUninterrupted(t, ws, survivors, leader, killedAt, electedAt.Add(time.Second))
	if r, err := c.WaitServing(ctx, 5*time.Second, nil); err != nil {
		t.Error(err)
	} else if r.Epoch != before.Epoch || r.MainName() != main.Name {
		t.Errorf("the route changed from epoch %d MAIN %s to epoch %d MAIN %s: a leader change alone must not move it",
			before.Epoch, main.Name, r.Epoch, r.MainName())
	}
	for _, e := range c.Logs()[mark:] {
		if e.Msg == cluster.MsgRouteChanged || e.Msg == cluster.MsgFailoverClaimed {
			t.Errorf("route activity after the leader's kill: %s", e)
		}
	}
	if t.Failed() {
		return
	}

	// (2) A gateway that does not lead, with the old leader back as a
	// follower.
	if err := c.RestartGateway(ctx, leader); err != nil {
		t.Fatal(err)
	}
	ws.start(t, c, leader)
	waitAcks(t, ctx, ws[leader], time.Now(), 50, 20*time.Second, "writes through the restarted "+leader)
	victim := ""
	for _, name := range survivors {
		if name != next {
			victim = name
		}
	}
	others := []string{next, leader}
	ws[victim].Stop()
	killed2At := time.Now()
	if err := c.Gateway(victim).Process().Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s, which does not lead (%s leads), with SIGKILL; writers on %v keep writing", victim, next, others)
	for _, name := range others {
		waitAcks(t, ctx, ws[name], killed2At.Add(3*time.Second), 20, 20*time.Second, "writes through "+name+" after the follower's kill")
	}
	checkUninterrupted(t, ws, others, victim, killed2At, killed2At.Add(3*time.Second))
	if l, err := c.Leader(ctx); err != nil || l != next {
		t.Errorf("after a follower's kill the leader is %q (%v), want %s still", l, err, next)
	}

	// Every write acknowledged through any gateway is on the MAIN.
	for _, w := range ws {
		w.Stop()
	}
	final, r := mustMain(t, ctx, c)
	if r.Epoch != before.Epoch {
		t.Errorf("the route moved to epoch %d (%s)", r.Epoch, r.MainName())
	}
	for name, w := range ws {
		have, err := cluster.Stamps(ctx, final.Bolt, writerLabel(name))
		if err != nil {
			t.Fatal(err)
		}
		if missing := cluster.Missing(w.AckedStamps(), have); len(missing) > 0 {
			t.Errorf("%s lacks %d writes acknowledged through %s: %s", final.Name, len(missing), name, cluster.Summarize(missing))
		}
	}
	checkRoutes(t, c, "", time.Time{})
}

// The Kubernetes election path: the gateways elect through a Lease on a
// real kube-apiserver (test/kube) as the ServiceAccount of
// deploy/rbac/role.yaml, keep the route in the Lease's annotation, and
// report failovers as Events. (1) kill -9 the MAIN under write load
// through HAProxy: writes resume on a new MAIN that holds every
// acknowledged write, and the failover is an Event on the Lease; (2) kill
// -9 the leader gateway: another takes the Lease, the route (epoch and
// MAIN, in every gateway and in the Lease) does not change, and writes
// still flow a route-ttl later.
//
// Without the kube-apiserver binaries the test is skipped, except under
// CI=true, where it fails (kube.Shared).
func TestKubernetesElection(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: real processes and failovers; not with -short")
	}
	k := kube.Shared(t)
	ctx := context.Background()
	c := cluster.New(t, cluster.Options{HAProxy: true, Version: *version, Keep: *keep, Gossip: *gossip, Kube: k})
	w := startWriter(t, c)

	// (1) The MAIN.
	main, before, _ := steadyMain(t, ctx, c, w, "the kill")
	killedAt, after := killMain(t, ctx, c, w, main, before, 20)
	logOutage(t, w, killedAt, "MAIN kill outage")
	checkAcked(t, ctx, c.Instance(after.MainName()), w.AckedStamps(), "after the failover")
	checkRoutes(t, c, main.Name, killedAt)
	leaseEvent := func(e corev1.Event) bool {
		return e.InvolvedObject.Kind == "Lease" && e.InvolvedObject.Name == cluster.LeaseName && e.InvolvedObject.UID != ""
	}
	started, err := c.WaitEvent(ctx, 10*time.Second, "FailoverStarted", func(e corev1.Event) bool {
		return leaseEvent(e) && e.Type == "Warning" && strings.Contains(e.Message, "from MAIN "+main.Name+" to "+after.MainName())
	})
	if err != nil {
		t.Error(err)
	} else {
		t.Logf("event: %s", cluster.EventString(started))
	}
	done, err := c.WaitEvent(ctx, 10*time.Second, "FailoverCompleted", func(e corev1.Event) bool {
		return leaseEvent(e) && e.Type == "Normal" && strings.Contains(e.Message, fmt.Sprintf("%s is MAIN at epoch %d", after.MainName(), after.Epoch))
	})
	if err != nil {
		t.Error(err)
	} else {
		t.Logf("event: %s", cluster.EventString(done))
	}
	if t.Failed() {
		return
	}

	// (2) The leader gateway.
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.LeaseHolder(ctx); err != nil || h != leader {
		t.Fatalf("Lease %s/%s held by %q (%v), but %s says it leads", c.Namespace(), cluster.LeaseName, h, err, leader)
	}
	waitAcks(t, ctx, w, time.Now(), 100, 10*time.Second, "writes before the leader's kill")
	mark := c.LogMark()
	leaderKilledAt := time.Now()
	if err := c.Gateway(leader).Process().Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the leader gateway %s with SIGKILL", leader)
	next, err := c.WaitLeader(ctx, failoverWithin, leader)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s leads %v after the kill", next, time.Since(leaderKilledAt).Round(time.Millisecond))
	if h, err := c.LeaseHolder(ctx); err != nil || h != next {
		t.Errorf("Lease held by %q (%v), want %s", h, err, next)
	}
	// A route-ttl past the kill the survivors still relay: their leases
	// were renewed by the new leader.
	waitAcks(t, ctx, w, leaderKilledAt.Add(routeTTL+time.Second), 50, 20*time.Second, "writes a route-ttl after the leader's kill")
	logOutage(t, w, leaderKilledAt, "leader kill (through HAProxy, which may have sent writes to the killed gateway)")
	if r, err := c.WaitServing(ctx, 5*time.Second, nil); err != nil {
		t.Error(err)
	} else if r.Epoch != after.Epoch || r.MainName() != after.MainName() {
		t.Errorf("the route changed from epoch %d MAIN %s to epoch %d MAIN %s on a leader change", after.Epoch, after.MainName(), r.Epoch, r.MainName())
	}
	for _, e := range c.Logs()[mark:] {
		if e.Msg == cluster.MsgRouteChanged || e.Msg == cluster.MsgFailoverClaimed || e.Msg == cluster.MsgMainPublished {
			t.Errorf("route activity after the leader's kill: %s", e)
		}
	}
	w.Stop()
	final, r := mustMain(t, ctx, c)
	if final.Name != after.MainName() || r.Epoch != after.Epoch {
		t.Errorf("the route is epoch %d MAIN %s at the end, want epoch %d MAIN %s", r.Epoch, final.Name, after.Epoch, after.MainName())
	}
	checkAcked(t, ctx, final, w.AckedStamps(), "at the end")
	if events, err := c.Events(ctx); err == nil {
		var lines []string
		for _, e := range events {
			lines = append(lines, cluster.EventString(e))
		}
		slices.Sort(lines)
		t.Logf("%d events in %s:\n  %s", len(events), c.Namespace(), strings.Join(lines, "\n  "))
	}
}
