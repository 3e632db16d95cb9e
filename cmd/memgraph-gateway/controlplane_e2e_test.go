package main

// End-to-end tests of the control plane: several gateway processes (the
// built binary) elect a leader through a real embedded etcd or a real
// kube-apiserver, the leader bootstraps the route store, every gateway
// serves what the store says, and a killed leader is replaced without
// interrupting traffic through the others.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
)

// Election timings of these tests: the defaults' order, a little faster.
const (
	testLease = 3 * time.Second
	testRenew = 2 * time.Second
	testRetry = 250 * time.Millisecond
)

// node is one gateway process of a cluster test.
type node struct {
	id         string
	http, bolt string
	p          *proc
}

func (n *node) base() string { return "http://" + n.http }

func startNode(t *testing.T, id string, env ...string) *node {
	t.Helper()
	n := &node{id: id, http: freeAddr(t), bolt: freeAddr(t)}
	env = append([]string{
		"GATEWAY_ID=" + id, "GATEWAY_HTTP_ADDRESS=" + n.http, "GATEWAY_BIND_ADDRESS=" + n.bolt,
		"GATEWAY_LEASE_DURATION=" + testLease.String(), "GATEWAY_RENEW_DEADLINE=" + testRenew.String(),
		"GATEWAY_RETRY_PERIOD=" + testRetry.String(), "GATEWAY_DRAIN_TIMEOUT=1s",
	}, env...)
	n.p = startProc(t, env)
	return n
}

// status reads /status, or fails softly (the process may be dead).
func (n *node) status() (api.Status, error) {
	resp, err := httpClient.Get(n.base() + "/status")
	if err != nil {
		return api.Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return api.Status{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var st api.Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// hello makes one Bolt handshake through addr and reports any failure.
func hello(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(boltPreamble); err != nil {
		return err
	}
	v := make([]byte, 4)
	if _, err := io.ReadFull(c, v); err != nil {
		return fmt.Errorf("no version through %s: %w", addr, err)
	}
	return nil
}

// leaderOf waits until every node of nodes reports the same leader, exactly
// one of them says it is that leader, and returns it.
func leaderOf(t *testing.T, nodes []*node, within time.Duration) *node {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var leader *node
		var seen []string
		problem := ""
		for _, n := range nodes {
			st, err := n.status()
			if err != nil || st.Election == nil {
				problem = fmt.Sprintf("%s: %v %+v", n.id, err, st.Election)
				break
			}
			seen = append(seen, st.Election.Leader)
			if st.Election.IsLeader {
				if leader != nil {
					problem = fmt.Sprintf("%s and %s both lead", leader.id, n.id)
				}
				leader = n
			}
		}
		if problem == "" && leader == nil {
			problem = fmt.Sprintf("no gateway leads; leaders seen %v", seen)
		}
		if problem == "" && slices.ContainsFunc(seen, func(s string) bool { return s != leader.id }) {
			problem = fmt.Sprintf("%s leads, leaders seen %v", leader.id, seen)
		}
		if problem == "" {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: no single agreed leader: %s", within, problem)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allServe waits until every node serves epoch with MAIN main and is ready.
func allServe(t *testing.T, nodes []*node, epoch uint64, main string, within time.Duration) {
	t.Helper()
	for _, n := range nodes {
		eventually(t, within, fmt.Sprintf("%s never served epoch %d with %s", n.id, epoch, main), func() bool {
			st, err := n.status()
			return err == nil && st.Ready && st.Route != nil && st.Route.Epoch == epoch && st.Route.Main != nil && st.Route.Main.Name == main
		})
	}
}

// traffic makes a Bolt handshake through addr every interval until stopped,
// counting successes and keeping the failures.
type traffic struct {
	ok       atomic.Int64
	mu       sync.Mutex
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

func startTraffic(addr string, interval time.Duration) *traffic {
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for {
			if err := hello(addr, 2*time.Second); err != nil {
				tr.mu.Lock()
				tr.failures = append(tr.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
				tr.mu.Unlock()
			} else {
				tr.ok.Add(1)
			}
			select {
			case <-tr.stop:
				return
			case <-time.After(interval):
			}
		}
	}()
	return tr
}

func (tr *traffic) end() (ok int64, failures []string) {
	close(tr.stop)
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ok.Load(), tr.failures
}

// gate is a TCP forwarder that holds every connection until opened: it
// stands between a gateway and etcd to make "the store does not answer
// yet" observable.
type gate struct {
	ln     net.Listener
	target string
	open   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target, open: make(chan struct{})}
	var conns sync.Map
	g.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			g.wg.Go(func() {
				defer c.Close()
				<-g.open
				up, err := net.Dial("tcp", g.target)
				if err != nil {
					return
				}
				conns.Store(up, true)
				defer up.Close()
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		g.release()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		g.wg.Wait()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }
func (g *gate) release()     { g.once.Do(func() { close(g.open) }) }

// etcdLeaderFence reads the current holder of the gateways' etcd election
// (the oldest key under the prefix) as a store fence.
func etcdLeaderFence(t *testing.T, client *clientv3.Client, prefix string) (state.EtcdFence, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Get(ctx, prefix+"/", append(clientv3.WithFirstCreate(), clientv3.WithPrefix())...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("no election key under %s: %v", prefix, err)
	}
	kv := resp.Kvs[0]
	return state.EtcdFence{Key: string(kv.Key), Rev: kv.CreateRevision}, string(kv.Value)
}

// TestE2EEtcdCluster runs three gateways on an embedded etcd.
func TestE2EEtcdCluster(t *testing.T) {
	etcd, err := etcdtest.StartEtcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close) // after the gateways' cleanups: they stop first
	client, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	mgA, mgB := newFakeMemgraph(t), newFakeMemgraph(t)
	common := []string{
		"GATEWAY_ELECTION=etcd", "GATEWAY_MAIN=mg-a=" + mgA.addr(),
		"GATEWAY_INSTANCES=mg-a=" + mgA.addr() + ",mg-b=" + mgB.addr() + "/mg-b.db:10000",
	}
	withEtcd := func(endpoint string) []string {
		return append(slices.Clone(common), "GATEWAY_ETCD_ENDPOINTS="+endpoint)
	}
	var nodes []*node
	for i := range 3 {
		nodes = append(nodes, startNode(t, fmt.Sprintf("gw-%d", i), withEtcd(etcd.Endpoint)...))
	}

	// One leader; it bootstraps epoch 1 from GATEWAY_MAIN; all serve it.
	leader := leaderOf(t, nodes, 15*time.Second)
	allServe(t, nodes, 1, "mg-a", 10*time.Second)
	for _, n := range nodes {
		if err := hello(n.bolt, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got := mgA.connections(); got != 3 {
		t.Errorf("mg-a saw %d connections, want 3", got)
	}
	reader, _ := state.NewEtcd(client, state.EtcdOptions{})
	r, v, err := reader.Load(t.Context())
	if err != nil || r.Epoch != 1 || r.Main.Name != "mg-a" || r.Leader != leader.id {
		t.Fatalf("store holds %+v (version %d, %v); want epoch 1, mg-a, written by %s", r, v, err, leader.id)
	}
	st, _ := leader.status()
	if d := st.Discovery; d == nil || d.Source != "static" || !d.Synced || len(d.Instances) != 2 ||
		d.Instances[1] != (api.Instance{Name: "mg-b", BoltAddr: mgB.addr(), ReplicationAddr: "mg-b.db:10000", Ready: true}) {
		t.Errorf("discovery in /status: %+v", st.Discovery)
	}
	for _, want := range []string{"memgraph_gateway_leader 1", "memgraph_gateway_leader_changes_total 1", `memgraph_gateway_route_updates_total{result="applied",source="store"} 1`} {
		// The change counter is fed by a poll every retry period.
		eventually(t, 2*time.Second, "leader's /metrics lacks "+want, func() bool {
			_, metrics, _ := httpGet(leader.base() + "/metrics")
			return strings.Contains(metrics, want)
		})
	}
	for _, n := range nodes {
		if n != leader {
			if _, m, _ := httpGet(n.base() + "/metrics"); !strings.Contains(m, "memgraph_gateway_leader 0") {
				t.Errorf("%s: /metrics lacks memgraph_gateway_leader 0", n.id)
			}
		}
	}

	// Epoch 2 with another MAIN, written by the test with the current
	// leader's fence (the election key and its create revision, read from
	// etcd): the write is as fenced as the leader's own, and would fail
	// had leadership changed since. The gateways only follow the store.
	fence, holder := etcdLeaderFence(t, client, "/memgraph-gateway/election")
	if holder != leader.id {
		t.Fatalf("election key held by %q, /status says %q", holder, leader.id)
	}
	writer, _ := state.NewEtcd(client, state.EtcdOptions{Fence: state.Fixed(fence)})
	next := state.Route{Epoch: 2, Phase: state.PhaseServing, Main: state.Instance{Name: "mg-b", BoltAddr: mgB.addr()}, Leader: holder, Updated: time.Now()}
	if _, err := writer.CompareAndSwap(t.Context(), v, next); err != nil {
		t.Fatal(err)
	}
	allServe(t, nodes, 2, "mg-b", 5*time.Second)
	for _, n := range nodes {
		if err := hello(n.bolt, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := mgA.connections(), mgB.connections(); a != 3 || b != 3 {
		t.Errorf("after epoch 2: mg-a %d, mg-b %d connections; want 3 and 3", a, b)
	}
	for _, n := range nodes {
		// Logged after the route is applied, and read through a pipe.
		want := `"epoch":2,"old_epoch":1,"phase":"serving","old_main":"mg-a=` + mgA.addr() + `","new_main":"mg-b=` + mgB.addr() + `","replicas":0,"cause":"store"`
		eventually(t, 5*time.Second, n.id+" did not log the change to epoch 2 with cause store", func() bool {
			return strings.Contains(n.p.stderr.String(), want)
		})
	}

	// kill -9 the leader: another takes over within lease + retry (+
	// margin), and traffic through the others never stops.
	var survivors []*node
	var flows []*traffic
	for _, n := range nodes {
		if n != leader {
			survivors = append(survivors, n)
			flows = append(flows, startTraffic(n.bolt, 20*time.Millisecond))
		}
	}
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	leader.p.cmd.Process.Kill()
	<-leader.p.done
	next2 := leaderOf(t, survivors, testLease+testRetry+5*time.Second)
	took := time.Since(killed)
	t.Logf("new leader %s after %v", next2.id, took)
	if bound := testLease + testRetry + 2*time.Second; took > bound {
		t.Errorf("takeover took %v, more than lease + retry + 2s = %v", took, bound)
	}
	time.Sleep(300 * time.Millisecond)
	for i, tr := range flows {
		ok, failures := tr.end()
		if ok < 10 || len(failures) > 0 {
			t.Errorf("traffic through %s: %d handshakes, %d failures: %v", survivors[i].id, ok, len(failures), failures)
		}
	}
	if st, _ := next2.status(); st.Route == nil || st.Route.Epoch != 2 {
		t.Errorf("new leader's route %+v; the takeover must not change it", st.Route)
	}

	// A restarted gateway, whose store answers late, serves epoch 2
	// before anything else: /readyz 503 and no Bolt accepted until the
	// route is in, then its first connection goes to mg-b (not to the
	// bootstrap mg-a it is configured with).
	g := newGate(t, strings.TrimPrefix(etcd.Endpoint, "http://"))
	aBefore, bBefore := mgA.connections(), mgB.connections()
	restarted := startNode(t, leader.id, withEtcd("http://"+g.addr())...)
	waitHTTP(t, restarted.p, restarted.base()+"/healthz", 200)
	if code, body, _ := httpGet(restarted.base() + "/readyz"); code != 503 || !strings.Contains(body, "loading the route from the store") {
		t.Errorf("/readyz while the store is silent: %d %q", code, body)
	}
	first := make(chan error, 1)
	go func() { first <- hello(restarted.bolt, 20*time.Second) }()
	select {
	case err := <-first:
		t.Fatalf("a Bolt client was served before the route was loaded: %v", err)
	case <-time.After(700 * time.Millisecond):
	}
	if code, _, _ := httpGet(restarted.base() + "/readyz"); code != 503 {
		t.Errorf("/readyz %d before the store answered", code)
	}
	g.release()
	if err := <-first; err != nil {
		t.Fatalf("the first client after the load: %v", err)
	}
	if a, b := mgA.connections(), mgB.connections(); a != aBefore || b != bBefore+1 {
		t.Errorf("restarted gateway's first connection: mg-a %d->%d, mg-b %d->%d; want it on mg-b", aBefore, a, bBefore, b)
	}
	waitHTTP(t, restarted.p, restarted.base()+"/readyz", 200)
	eventually(t, 5*time.Second, "restarted gateway logged no route change from the store", func() bool {
		return strings.Contains(restarted.p.stderr.String(), `"cause":"store"`)
	})
	var routeLines []string
	for _, line := range strings.Split(restarted.p.stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"route changed"`) && strings.Contains(line, `"cause":"`) {
			routeLines = append(routeLines, line)
		}
	}
	if len(routeLines) != 1 || !strings.Contains(routeLines[0], `"epoch":2,"old_epoch":0`) || !strings.Contains(routeLines[0], `"cause":"store"`) {
		t.Errorf("restarted gateway's route changes: %q; want only epoch 2 from the store", routeLines)
	}

	// SIGTERM the current leader: it drains, releases leadership, exits 0,
	// and the others take over at once rather than after a lease expiry.
	others := []*node{restarted}
	for _, n := range survivors {
		if n != next2 {
			others = append(others, n)
		}
	}
	begin := time.Now()
	next2.p.signal(t, syscall.SIGTERM)
	if code := next2.p.exit(t, 10*time.Second); code != 0 {
		t.Errorf("leader exit %d after SIGTERM", code)
	}
	if !strings.Contains(next2.p.stderr.String(), "leadership given up") {
		t.Error("leader did not log that it gave leadership up")
	}
	third := leaderOf(t, others, testLease+5*time.Second)
	if took := time.Since(begin); took > testLease {
		t.Errorf("takeover after a graceful stop took %v, not shorter than the lease (%v): leadership was not released", took, testLease)
	}
	t.Logf("after SIGTERM of %s, %s leads", next2.id, third.id)
}

// TestE2EKubernetesCluster runs two gateways against a real kube-apiserver,
// with the ServiceAccount of deploy/rbac/role.yaml.
func TestE2EKubernetesCluster(t *testing.T) {
	c, ns, sa := gatewayAccount(t)
	ctx := t.Context()
	mg := newFakeMemgraph(t)
	labels := map[string]string{"app": "memgraph"}
	if _, err := c.CreatePod(ctx, ns, "mg-0", labels, "127.0.0.2", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePod(ctx, ns, "mg-1", labels, "127.0.0.3", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePod(ctx, ns, "other", map[string]string{"app": "other"}, "127.0.0.9", true); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"GATEWAY_ELECTION=kubernetes", "GATEWAY_KUBECONFIG=" + sa.Kubeconfig, "POD_NAMESPACE=" + ns,
		"GATEWAY_DISCOVERY=kubernetes", "GATEWAY_MEMGRAPH_SELECTOR=app=memgraph", "GATEWAY_MEMGRAPH_SERVICE=memgraph",
		"GATEWAY_MAIN=mg-0=" + mg.addr(),
	}
	nodes := []*node{startNode(t, "gw-a", env...), startNode(t, "gw-b", env...)}
	leader := leaderOf(t, nodes, 20*time.Second)
	allServe(t, nodes, 1, "mg-0", 10*time.Second)
	for _, n := range nodes {
		if err := hello(n.bolt, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got := mg.connections(); got != 2 {
		t.Errorf("MAIN saw %d connections, want 2", got)
	}

	// The route is in the Lease's annotation, written by the leader.
	reader, err := state.NewKubernetes(state.KubernetesOptions{Client: c.Client().CoordinationV1(), Namespace: ns, Name: "memgraph-gateway"})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := reader.Load(ctx)
	if err != nil || r.Epoch != 1 || r.Phase != state.PhaseServing || r.Main != (state.Instance{Name: "mg-0", BoltAddr: mg.addr()}) || r.Leader != leader.id {
		t.Fatalf("Lease annotation holds %+v (%v); want epoch 1 serving mg-0 written by %s", r, err, leader.id)
	}
	st, _ := leader.status()
	if e := st.Election; e == nil || e.Backend != "kubernetes" || e.Store != "lease "+ns+"/memgraph-gateway" || e.Identity != leader.id {
		t.Errorf("election in /status: %+v", st.Election)
	}

	// Discovery lists the selected pods, and follows a new one.
	instances := func(n *node) string {
		st, err := n.status()
		if err != nil || st.Discovery == nil {
			return fmt.Sprint(err)
		}
		var out []string
		for _, in := range st.Discovery.Instances {
			out = append(out, fmt.Sprintf("%s %s %s %v", in.Name, in.BoltAddr, in.ReplicationAddr, in.Ready))
		}
		return strings.Join(out, "; ")
	}
	want := "mg-0 127.0.0.2:7687 mg-0.memgraph." + ns + ".svc.cluster.local:10000 true; " +
		"mg-1 127.0.0.3:7687 mg-1.memgraph." + ns + ".svc.cluster.local:10000 false"
	for _, n := range nodes {
		eventually(t, 10*time.Second, n.id+" lists "+instances(n)+", want "+want, func() bool { return instances(n) == want })
	}
	if _, err := c.CreatePod(ctx, ns, "mg-2", labels, "127.0.0.4", true); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		eventually(t, 10*time.Second, n.id+" does not list mg-2", func() bool {
			return strings.Contains(instances(n), "mg-2 127.0.0.4:7687")
		})
	}

	// A graceful stop of the leader releases the Lease; the other takes
	// over at once and keeps the route (the annotation survives).
	other := nodes[0]
	if other == leader {
		other = nodes[1]
	}
	begin := time.Now()
	leader.p.signal(t, syscall.SIGTERM)
	if code := leader.p.exit(t, 15*time.Second); code != 0 {
		t.Errorf("leader exit %d", code)
	}
	eventually(t, testLease+5*time.Second, other.id+" never took over", func() bool {
		st, err := other.status()
		return err == nil && st.Election != nil && st.Election.IsLeader
	})
	t.Logf("takeover after SIGTERM: %v", time.Since(begin))
	if r, _, err := reader.Load(ctx); err != nil || r.Epoch != 1 || r.Main.Name != "mg-0" {
		t.Errorf("after the takeover the Lease holds %+v (%v)", r, err)
	}
	if err := hello(other.bolt, 5*time.Second); err != nil {
		t.Error(err)
	}
}
