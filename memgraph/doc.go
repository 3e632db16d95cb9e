// Package memgraph is the controller's admin client for Memgraph
// replication over Bolt: one Client per instance, built on
// neo4j-go-driver v5, answering "what role are you, whom do you replicate
// to and how far behind are they" and carrying out role changes and
// registrations. The queries and their answers follow
// /work/shared/reference/memgraph.md section 1; tests run against the
// emulator in test/mgsim with the real driver.
//
//	c, err := memgraph.New(memgraph.Config{Name: "mg-1", Addr: "mg-1.mg:7687"})
//	defer c.Close()
//	role, err := c.Role(ctx)                      // RoleMain or RoleReplica
//	err = c.Demote(ctx, 10000)                    // on the old MAIN; idempotent
//	err = c.Promote(ctx)                          // on the chosen replica; idempotent
//	res, err := c.EnsureReplica(ctx, "mg_2", memgraph.ModeSync, "mg-2.mg:10000")
//	rows, err := c.Replicas(ctx)                  // status, behind, ts, zombie
//	has, err := c.HasData(ctx)                    // any vertex or edge? (3.0 to 3.12)
//	if errors.Is(err, memgraph.ErrDiverged) { ... } // report, never re-register silently
//	if memgraph.IsRetryable(err) { ... }          // contention or unreachable: try again
//
// # Invariants
//
//   - Auto-commit only. Every query is a session.Run of its own: Memgraph
//     refuses replication queries inside explicit transactions, which
//     ExecuteRead, ExecuteWrite and ExecuteQuery open.
//   - Every call is bounded: by Config.Timeout for reads (1 s, a probe),
//     Config.AdminTimeout for state changes (15 s: REGISTER waits for
//     Memgraph to reach the replica), or a per-call value set with
//     WithCallTimeout, and always by the context's own deadline. An
//     instance that accepts TCP and never answers costs one timeout.
//   - Every error is an *Error with a Kind among the Err* sentinels, the raw
//     Bolt code and message, and for REGISTER the number of "Error: n".
//     Memgraph's texts are classified in one place (classify.go) for the
//     3.0 to 3.12 wordings. The two ambiguous ones, "Couldn't set
//     replication role to main!" and "Couldn't set role to replica!" (the
//     role is already the wanted one, or the replication lock is held by a
//     commit), are settled by reading the role. IsRetryable is true for
//     lock contention (ErrContention) and unreachable instances
//     (ErrUnavailable).
//   - Answers are read from Bolt values by column name, never from text;
//     SHOW STORAGE INFO is a key/value map with no assumed keys or order.
//     HasData finds vertex_count and edge_count in plain SHOW STORAGE INFO
//     (up to 3.10) or SHOW STORAGE INFO ON CURRENT DATABASE (3.11+, where
//     the plain form lost them), remembering which form answered.
//   - Reads that fail to connect are tried once more within their deadline
//     (a pooled connection may predate a restart of the instance); a
//     state-changing query is never repeated by this package, since its
//     outcome is unknown when the instance stopped answering.
//   - An optional Config.Guard is asked before every state-changing query,
//     so a deposed leader's writes are refused (ErrFenced).
//
// # What it does not do
//
// It makes no decisions. Which instance is MAIN, which replica to promote,
// when a replica is too far behind, whether a diverged instance may be
// wiped: all of that is the controller's. The idempotent helpers (Promote,
// Demote, DropIfPresent, EnsureReplica) only converge one instance's state
// to what the controller asked, and report Memgraph's refusals instead of
// working around them: EnsureReplica cleans the zombie a failed REGISTER
// leaves but returns ErrDiverged or ErrReplicaUnreachable. It does not
// retry (the controller's loop does), does not fence a stale MAIN by itself,
// speaks to one instance per Client and never routes (bolt:// only).
//
// # Memgraph facts it relies on
//
//   - SET REPLICATION ROLE TO REPLICA on a REPLICA fails even with another
//     port, and a REPLICA's port cannot be read: Demote succeeds on any
//     REPLICA. A bind failure of the replication port reads like contention
//     or "already replica"; a REGISTER of it then fails with Error 5.
//   - Demoting a MAIN drops its registrations; a promoted MAIN has none.
//   - A failed REGISTER (Error 3, 5; released versions up to 3.12) leaves
//     its entry with data_info {} (ReplicaInfo.Zombie) until DROP.
//   - Behind in SHOW REPLICAS is replica minus MAIN: negative means lag.
//   - While a commit replicates it holds the replication lock; REGISTER,
//     DROP and SET ROLE only try it, so under write load they fail with
//     ErrContention and must be retried.
package memgraph
