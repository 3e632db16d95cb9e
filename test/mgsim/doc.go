// Package mgsim emulates a Memgraph Community 3.x instance for the tests of
// memgraph-gateway: its Bolt server (package bolt), its query surface for
// replication (package cypher parses, this package executes) and its
// replication between instances, so that a test that passes against mgsim
// would pass against Memgraph. The behaviour follows
// /work/shared/reference/memgraph.md, checked against the memgraph/memgraph
// sources at the tags of every emulated release; README.md maps each item of
// the reference's checklist to the test that proves it and lists every
// deliberate deviation.
//
//	cfg := mgsim.DefaultConfig(t.TempDir())
//	cfg.BoltAddress = "127.0.0.2:7687"
//	cfg.Version = "3.6.1"
//	in, err := mgsim.Start(cfg)   // serves Bolt; Addr() is where
//	...
//	in.Kill()                     // kill -9: sockets drop, nothing more is written
//	in, err = mgsim.Start(cfg)    // same data: role, replicas and data come back
//
// # What an instance is
//
// One Instance is one memgraph process: a Bolt listener, a storage of nodes
// with MVCC transactions on one timestamp counter, a replication role
// (MAIN, or REPLICA with a replication server), and a data directory. A MAIN
// holds a client per registered replica, which pings it every
// ReplicaCheckInterval and drives the replica's status (ready, replicating,
// invalid, recovery, diverged) as Memgraph's ReplicationStorageClient does.
// Several instances run in one process on 127.0.0.x addresses: a replica's
// replication server binds the host of its BoltAddress, so every instance
// can use the same ports, as pods do.
//
// # Invariants
//
//   - A commit is written to the data directory before it is acknowledged,
//     and before any replica sees it. Kill writes nothing more.
//   - Commits are serialized (the engine lock) and hold the replication
//     lock for reading; role changes, REGISTER and DROP try that lock for
//     writing and fail, as Memgraph does, while a commit is in flight.
//   - A REPLICA applies data only from the MAIN whose UUID it holds (set by
//     SwapMainUUID at registration and persisted): a stale MAIN is refused.
//   - A replica whose epoch history branches off MAIN's is diverged, and
//     stays so (Community has no automatic resync).
//   - SYNC failures leave the transaction committed on MAIN and on the
//     replicas that confirmed; a STRICT_SYNC failure aborts it everywhere.
//   - Whoever starts a goroutine stops it: Close and Kill return once every
//     goroutine of the instance has exited.
//
// The wire protocol between instances (wire.go) is mgsim's own, length
// prefixed JSON with bounded frames; only its behaviour is Memgraph's.
package mgsim
