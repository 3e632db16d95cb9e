// Package cluster runs a whole memgraph-gateway deployment as real
// processes on one machine, for the chaos tests (test/chaos) and the
// failover benchmark (bench/failover): emulated Memgraph instances
// (cmd/mgsim), an embedded etcd (state/etcdtest), gateway processes
// (cmd/memgraph-gateway serve --election etcd --manage-replication
// --discovery static, with Options.Gossip an encrypted gossip ring for
// route leases) that elect a leader and bootstrap replication themselves,
// and, optionally, HAProxy in front of the gateways. With Options.Kube the
// gateways run --election kubernetes instead, against a real
// kube-apiserver (test/kube) in a namespace of their own, as a
// ServiceAccount bound to deploy/rbac/role.yaml only; the cluster then
// reads their Lease and Events (kube.go).
//
// On top of the processes it offers what a fault-injection test needs:
// kill -9, SIGSTOP, SIGCONT and restart of any instance or gateway (same
// data directory, same flags), an instance's data directory started alone
// on an address no gateway knows (to make an old MAIN take writes the new
// one lacks), the leader and the route every gateway serves (GET /status),
// every gateway log line parsed (the gateways log JSON) with waits that
// wake on the line itself, a continuous writer that records each write's
// start, end and outcome, and direct queries to an instance (stamps, SHOW
// REPLICAS, SHOW REPLICATION ROLE) that do not go through the product's
// own memgraph package, so that they can serve as an oracle.
//
// Invariants:
//
//   - Each cluster lives on its own random 127.a.b.0/24 (instance i on
//     .(10+i), gateway j on .(20+j) with gossip on port 7946, HAProxy on
//     .1, spares from .90), probed free first, so clusters of tests in
//     parallel packages never share an address. Instances need distinct hosts: the controller makes every
//     REPLICA listen on port 10000.
//   - Binaries are built once per process (Binaries), outside any cluster;
//     RemoveBinaries deletes them (TestMain).
//   - Every process a cluster started is killed by Close (SIGKILL, paused
//     ones too) before etcd stops; New registers Close with t.Cleanup. On
//     Linux the children also get SIGKILL when the process that started
//     them dies (Pdeathsig), so a test binary killed by its timeout leaves
//     nothing running.
//   - Every wait is bounded and its error says what it waited for and what
//     it saw last; a failed test gets the gateways' control-plane log lines
//     and each instance's last lines.
//   - Stdout and stderr of each process are appended to <workdir>/<name>.log
//     across restarts; Options.Keep keeps the directory.
package cluster
