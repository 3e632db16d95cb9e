package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
)

// TestSwitchoverUnderLoad: a planned switchover requested from a gateway
// that does not lead (forwarded to the leader) moves the MAIN to an ASYNC
// replica while writes flow through HAProxy; no acknowledged write is
// lost, the old MAIN becomes a replica of the new one, and the longest
// pause between acknowledged writes is well under the failover time.
func TestSwitchoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: real processes; not with -short")
	}
	ctx := context.Background()
	token := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(token, []byte("chaos-admin-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cluster.New(t, cluster.Options{HAProxy: true, Version: *version, Keep: *keep, Gossip: *gossip,
		GatewayArgs: []string{"--admin-token-file", token}})
	w := startWriter(t, c)
	main, before := mustMain(t, ctx, c)
	sync := waitSyncReplica(t, ctx, main, failoverWithin, "")
	var target *cluster.Instance
	for _, in := range c.Instances() {
		if in.Name != main.Name && in.Name != sync.Name {
			target = in
		}
	}
	waitReplicaOf(t, ctx, main, target, failoverWithin)
	waitAcks(t, ctx, w, time.Now(), 200, 20*time.Second, "writes before the switchover")

	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var via *cluster.Gateway
	for _, g := range c.Gateways() {
		if g.Name != leader {
			via = g
		}
	}
	body, _ := json.Marshal(map[string]string{"target": target.Name})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+via.HTTP+"/v1/switchover", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer chaos-admin-token")
	req.Header.Set("Content-Type", "application/json")
	asked := time.Now()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		OK    bool   `json:"ok"`
		Main  string `json:"main"`
		Epoch uint64 `json:"epoch"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	answered := time.Now()
	if resp.StatusCode != http.StatusOK || !res.OK || res.Main != target.Name {
		t.Fatalf("switchover to %s through %s (leader %s): HTTP %d %+v", target.Name, via.Name, leader, resp.StatusCode, res)
	}
	t.Logf("switchover %s -> %s answered in %v (epoch %d, was %d), asked through %s, leader %s",
		main.Name, target.Name, answered.Sub(asked).Round(time.Millisecond), res.Epoch, before.Epoch, via.Name, leader)

	if _, err := c.WaitServing(ctx, 10*time.Second, func(r cluster.Route) bool { return r.MainName() == target.Name }); err != nil {
		t.Fatal(err)
	}
	waitAcks(t, ctx, w, answered, 50, 10*time.Second, "writes after the switchover")
	gap, failed := pauseBetween(w, asked, answered)
	t.Logf("longest pause between acknowledged writes during the switchover: %v (%d failed attempts)", gap.Round(time.Millisecond), failed)
	if gap > 3*time.Second {
		t.Errorf("writes paused for %v during a planned switchover (design goal: well under a second)", gap)
	}
	waitReplicaOf(t, ctx, target, main, failoverWithin)
	w.Stop()
	checkAcked(t, ctx, target, w.AckedStamps(), "after the switchover")
}

// pauseBetween is the longest time between two consecutive acknowledged
// writes that overlaps [from, to], and how many attempts failed there.
func pauseBetween(w *cluster.Writer, from, to time.Time) (time.Duration, int) {
	var worst time.Duration
	failed := 0
	var prev *cluster.Attempt
	for _, a := range w.Attempts() {
		if !a.Acked() {
			if a.End.After(from) && a.Start.Before(to) {
				failed++
			}
			continue
		}
		if prev != nil && a.End.After(from) && prev.End.Before(to) {
			worst = max(worst, a.End.Sub(prev.End))
		}
		p := a
		prev = &p
	}
	return worst, failed
}
