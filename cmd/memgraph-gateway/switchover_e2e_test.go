package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// TestE2ESwitchover runs two gateway processes that manage replication of
// three emulated Memgraph instances through an embedded etcd: the leader
// bootstraps the cluster, /status on the leader carries the controller's
// view, `memgraph-gateway switchover` against the leader makes another
// instance MAIN and every gateway serves it, `memgraph-gateway status`
// prints the switchover's steps, and the follower either forwards the
// request to the leader or (while it does not know the leader's address)
// answers 503 naming the leader.
func TestE2ESwitchover(t *testing.T) {
	etcd, err := etcdtest.StartEtcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)

	var instances []string
	for i, host := range []string{"127.0.0.61", "127.0.0.62", "127.0.0.63"} {
		_, entry := startMgsim(t, fmt.Sprintf("mg-%d", i+1), host, func(c *mgsim.Config) { c.Version = "3.10.0" })
		instances = append(instances, entry)
	}
	tokenFile := writeFile(t, t.TempDir(), "token", "e2e-s3cret\n")
	env := []string{
		"GATEWAY_ELECTION=etcd", "GATEWAY_ETCD_ENDPOINTS=" + etcd.Endpoint,
		"GATEWAY_INSTANCES=" + strings.Join(instances, ","),
		"GATEWAY_MANAGE_REPLICATION=true", "GATEWAY_ADMIN_TOKEN_FILE=" + tokenFile,
		"GATEWAY_PROBE_INTERVAL=100ms", "GATEWAY_FAILOVER_AFTER=1s", "GATEWAY_ROUTE_TTL=500ms",
	}
	nodes := []*node{startNode(t, "gw-0", env...), startNode(t, "gw-1", env...)}
	leader := leaderOf(t, nodes, 15*time.Second)
	var follower *node
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}

	// Bootstrap: the controller's view shows a MAIN with a synchronous and
	// an ASYNC replica, both ready.
	var c *api.ControllerStatus
	eventually(t, 30*time.Second, "the leader's controller never showed a ready topology", func() bool {
		st, err := leader.status()
		if err != nil || st.Controller == nil {
			return false
		}
		c = st.Controller
		ready := 0
		for _, in := range c.Instances {
			if in.Registered && in.Status == "ready" {
				ready++
			}
		}
		return c.Running && c.Phase == "serving" && c.Topology.SyncReplica != "" && len(c.Topology.AsyncReplicas) == 1 && ready == 2
	})
	oldMain, target, epoch := c.Topology.Main, c.Topology.AsyncReplicas[0], c.Epoch
	allServe(t, nodes, epoch, oldMain, 10*time.Second)
	if st, _ := follower.status(); st.Controller != nil {
		t.Errorf("the follower shows a controller: %+v", st.Controller)
	}

	// The follower: forwarded to the leader when it knows its address;
	// else 503 naming the leader. Asked for the current MAIN, the leader
	// answers at once without changing anything.
	var out, errOut bytes.Buffer
	code := run([]string{"switchover", "--to", oldMain, "--gateway", follower.base(), "--token-file", tokenFile}, nil, &out, &errOut)
	switch {
	case code == exitOK && strings.Contains(out.String(), "switchover to "+oldMain+" done"):
	case code == exitFailure && strings.Contains(out.String(), "HTTP 503") && strings.Contains(out.String(), "not the leader") &&
		strings.Contains(out.String(), "leader: "+leader.id):
	default:
		t.Errorf("switchover through the follower: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// A wrong token is refused.
	wrong := writeFile(t, t.TempDir(), "wrong", "nope\n")
	out.Reset()
	if code := run([]string{"switchover", "--to", target, "--gateway", leader.base(), "--token-file", wrong}, nil, &out, &errOut); code != exitFailure ||
		!strings.Contains(out.String(), "HTTP 401") {
		t.Errorf("wrong token: exit %d\n%s", code, out.String())
	}

	// The switchover, through the CLI against the leader.
	out.Reset()
	errOut.Reset()
	code = run([]string{"switchover", "--to", target, "--gateway", leader.base(), "--token-file", tokenFile}, nil, &out, &errOut)
	t.Logf("memgraph-gateway switchover --to %s:\n%s%s", target, out.String(), errOut.String())
	if code != exitOK || !strings.Contains(out.String(), fmt.Sprintf("switchover to %s done: %s is the MAIN", target, target)) ||
		!strings.Contains(out.String(), "was "+oldMain) || !strings.Contains(out.String(), "promote") {
		t.Fatalf("switchover: exit %d", code)
	}
	st, err := leader.status()
	if err != nil || st.Controller == nil || st.Controller.LastFailover == nil {
		t.Fatalf("leader status after the switchover: %+v %v", st, err)
	}
	f := st.Controller.LastFailover
	if f.Kind != "switchover" || f.Result != "ok" || f.From != oldMain || f.Main != target || f.DurationMs <= 0 {
		t.Errorf("last failover %+v", f)
	}
	allServe(t, nodes, f.Epoch, target, 10*time.Second)
	eventually(t, 15*time.Second, "the old MAIN never became a ready replica of the new one", func() bool {
		st, err := leader.status()
		if err != nil || st.Controller == nil {
			return false
		}
		for _, in := range st.Controller.Instances {
			if in.Name == oldMain {
				return in.Role == "replica" && in.Registered && in.Status == "ready"
			}
		}
		return false
	})

	// `memgraph-gateway status` prints the controller's part.
	out.Reset()
	if code := run([]string{"status", "--http-address", leader.http}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("status: exit %d %s", code, errOut.String())
	}
	for _, w := range []string{"Topology    MAIN " + target, "Last switchover ok: " + oldMain + " -> " + target, "STEP", "barrier"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, out.String())
		}
	}
	// The controller's metrics, on the leader.
	_, metrics, _ := httpGet(leader.base() + "/metrics")
	for _, w := range []string{`memgraph_gateway_failovers_total{kind="switchover",result="ok"} 1`,
		`memgraph_gateway_instance_up{instance="` + target + `"} 1`,
		`memgraph_gateway_instance_role{instance="` + target + `",role="main"} 1`,
		"memgraph_gateway_diverged_instances 0"} {
		if !strings.Contains(metrics, w) {
			t.Errorf("leader's /metrics lacks %s", w)
		}
	}
}
