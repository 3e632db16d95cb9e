package mgsim

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// hangingReplica speaks mgsim's replication wire as a healthy replica but
// never answers PrepareCommit: a replica that stalls mid-transaction.
func hangingReplica(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-stop; c.Close() }()
				rd := bufio.NewReader(c)
				for {
					typ, _, err := readFrame(rd, 1<<20)
					if err != nil {
						return
					}
					var rt msgType
					var body any
					switch typ {
					case msgFrequentHeartbeatReq:
						rt, body = msgFrequentHeartbeatRes, frequentHeartbeatRes{}
					case msgSwapMainUUIDReq:
						rt, body = msgSwapMainUUIDRes, successRes{Success: true}
					case msgHeartbeatReq:
						rt, body = msgHeartbeatRes, heartbeatRes{Success: true, Epoch: "fake"}
					default:
						<-stop // hang
						return
					}
					frame, _ := encodeFrame(rt, body, 1<<20)
					if _, err := c.Write(frame); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// While a commit replicates, the replication lock is held for reading:
// REGISTER, DROP and SET ROLE fail at once, as Memgraph's TryLock does
// (Error 6 for REGISTER). A SYNC replica that does not answer in time gets
// the RPC timeout reason, with its long explanation.
func TestReplicationLockContentionAndTimeout(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1")
	cfg.Timeouts.PrepareCommit = 1500 * time.Millisecond
	cfg.ReplicaCheckInterval = time.Hour // no pings to interfere
	in := startTest(t, cfg)
	c := newClient(t, in.Addr())
	c.register("stuck", "SYNC", hangingReplica(t, "127.0.0.6"))
	c.waitReplica("stuck", readyCaughtUp)

	done := make(chan error, 1)
	go func() {
		_, _, err := c.run("CREATE (n:X)", nil)
		done <- err
	}()
	waitFor(t, "the commit to be replicating", func() bool {
		s, _, _, _ := c.showReplicas()["stuck"].info()
		return s == "replicating"
	})
	c.assertRegisterFails("other", "ASYNC", "127.0.0.9:1", "Couldn't register replica other. Error: 6")
	_, _, err := c.run("DROP REPLICA stuck", nil)
	wantFailure(t, err, bolt.CodeClientError, "Failed to unregister replica due to lack of unique access over the cluster state. Please try again later on.")
	_, _, err = c.run("SET REPLICATION ROLE TO REPLICA WITH PORT 10000", nil)
	wantFailure(t, err, bolt.CodeClientError, "Couldn't set role to replica!")

	select {
	case err := <-done:
		wantFailure(t, err, bolt.CodeClientError, "Replication Exception: Failed to replicate to SYNC replica 'stuck': RPC timeout while replicating."+
			" Replica will be recovered automatically. Transaction is still committed on the main instance and other alive replicas."+
			" Main reached an RPC timeout while replicating to [stuck]. One possible reason for this error is that the replica is down"+
			" and in that case make sure to recover it. If all of your replicas are up and running normally, then please try setting"+
			" a smaller parameter value for 'deltas_batch_progress_size' using 'SET COORDINATOR SETTING' query on the coordinator."+msgCheckReplicas)
	case <-time.After(testWait):
		t.Fatal("the stuck commit never returned")
	}
	if got := c.count("X"); got != 1 {
		t.Fatalf("%d nodes, want the write committed", got)
	}
	c.mustRun("DROP REPLICA stuck", nil)
}
