// Package chaos is memgraph-gateway's fault-injection suite (DESIGN.md,
// "Proof"): real gateway processes (etcd election, or the Kubernetes Lease
// on a real kube-apiserver; --manage-replication, gossip) behind HAProxy
// when it is installed, emulated Memgraph instances
// (cmd/mgsim), a continuous write workload through the gateways, and
// faults injected with signals: kill -9 of the MAIN, of the sync replica
// and of the leader gateway mid-failover; SIGSTOP/SIGCONT of the MAIN; an
// old MAIN that returns, cleanly or with writes the new MAIN lacks. The
// harness is test/cluster.
//
// What every scenario checks, whatever the fault:
//
//   - every write acknowledged through the gateways is on the MAIN the
//     gateways serve at the end (guarantee 2, "no acknowledged write is
//     lost");
//   - no two gateways ever installed different MAINs for one epoch, and no
//     gateway routes to a MAIN that was replaced (guarantee 1, from the
//     gateways' "route changed" log lines);
//   - writes through the gateways resume within a bounded time after the
//     fault, and the outage is logged (guarantee 3 is measured by
//     bench/failover, not asserted here).
//
// The scenarios (one test each):
//
//	TestKillMainUnderLoad         (a) kill -9 the MAIN under writes
//	TestSyncReplicaKilled         (b) kill -9 the STRICT_SYNC replica
//	TestOldMainReturnsAsReplica   (c) the killed MAIN restarts
//	TestDivergedOldMainNotRegistered (d) the old MAIN took writes alone
//	TestLeaderKilledMidFailover   (e) kill -9 the leader right after its claim
//	TestPausedMainDemoted         (f) SIGSTOP the MAIN, fail over, SIGCONT
//	TestPausedMainResumesMidFailover  SIGCONT right after the claim, before the promotion
//	TestGatewayKillDoesNotInterruptOthers  guarantee 4: kill -9 the leader gateway, then
//	                              a follower, under writes straight to the others: not
//	                              one of their writes fails (max latency logged)
//	TestKubernetesElection        --election kubernetes (test/kube, the ServiceAccount
//	                              of deploy/rbac/role.yaml): kill -9 the MAIN, then the
//	                              leader gateway; the failover's Events on the Lease
//
// TestKubernetesElection needs the kube-apiserver and etcd binaries of
// tools/build.sh ($MEMGRAPH_GATEWAY_TOOLS, as scripts/test.sh exports): it
// is skipped without them, and fails without them when CI=true
// (kube.Shared, as every test of test/kube).
//
// A failing assertion is a product bug or a harness bug, never noise to
// retry: waits are generous (failoverWithin) and the tests do not depend
// on how fast a failover is, only that it completes.
//
// Flags (go test ./test/chaos -args ...): -chaos.rounds N repeats the
// kill-the-MAIN scenario N times in one cluster (the killed instance
// rejoins between rounds); -chaos.gossip=false runs the gateways without
// gossip (the route store and the route-ttl wait only; on by default, as
// deployed and as the sandbox runs them); -chaos.version picks the
// emulated Memgraph release; -chaos.keep keeps each cluster's logs and
// data.
//
// The tests run one after another (each cluster is small, but the machines
// that run CI have two cores): about 150 s with -race on two cores (148 s
// measured, of which 42 s for TestGatewayKillDoesNotInterruptOthers and
// TestKubernetesElection, the kube-apiserver's start included), plus the
// build of the two binaries (about 10 s cold).
package chaos
