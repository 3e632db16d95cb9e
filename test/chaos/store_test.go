package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
)

// TestStoreOutageKeepsRouting: when the route store (etcd) becomes
// unreachable for every gateway, the leader loses its election lease but
// nobody else can win; it keeps confirming the unchanged route by failsafe
// rounds (all gateways must confirm), so writes keep flowing well past
// route-ttl. When the store returns, leadership and normal leases resume.
func TestStoreOutageKeepsRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: real processes; not with -short")
	}
	ctx := context.Background()
	c := cluster.New(t, cluster.Options{HAProxy: true, Version: *version, Keep: *keep, Gossip: true, StoreGate: true})
	w := startWriter(t, c)
	main, before := mustMain(t, ctx, c)
	waitSyncReplica(t, ctx, main, failoverWithin, "")
	waitAcks(t, ctx, w, time.Now(), 100, 20*time.Second, "writes before the outage")

	// route-ttl 6 s + renew deadline 3 s: without the failsafe every
	// gateway would stop relaying about 9 s after the cut.
	const outage = 15 * time.Second
	cut := time.Now()
	c.StoreGate().Close()
	t.Logf("route store cut off from every gateway")
	time.Sleep(outage)
	end := time.Now()
	if _, err := w.WaitAcks(ctx, end.Add(-2*time.Second), 20, time.Second); err != nil {
		t.Errorf("writes stopped during the store outage: %v", err)
	}
	var failed []cluster.Attempt
	for _, a := range w.Attempts() {
		if !a.Acked() && a.End.After(cut) && a.End.Before(end) {
			failed = append(failed, a)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d writes failed during a %v store outage (first: %v at +%v)", len(failed), outage,
			failed[0].Err, failed[0].End.Sub(cut).Round(time.Millisecond))
	}
	failsafe := c.FindLogs(cluster.Msg("route store unreachable: confirming the route by failsafe rounds"))
	if len(failsafe) == 0 {
		t.Errorf("no gateway logged that it confirms the route by failsafe")
	}
	for _, g := range c.Gateways() {
		st, err := c.GatewayStatus(ctx, g.Name)
		if err != nil || !st.Ready {
			t.Errorf("%s not ready during the outage: %+v %v", g.Name, st, err)
		}
	}

	c.StoreGate().Open()
	t.Logf("route store back")
	if _, err := c.Leader(ctx); err != nil {
		time.Sleep(10 * time.Second)
		if _, err := c.Leader(ctx); err != nil {
			t.Errorf("no leader after the store returned: %v", err)
		}
	}
	waitAcks(t, ctx, w, time.Now(), 50, 10*time.Second, "writes after the store returned")
	after, err := c.WaitServing(ctx, 5*time.Second, func(r cluster.Route) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch != before.Epoch || after.MainName() != main.Name {
		t.Errorf("route changed across the outage: epoch %d main %s, was %d %s", after.Epoch, after.MainName(), before.Epoch, main.Name)
	}
	w.Stop()
	checkAcked(t, ctx, main, w.AckedStamps(), "after the store outage")
}
