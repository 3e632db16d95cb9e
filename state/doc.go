// Package state holds the route record — which Memgraph instance is MAIN
// at which epoch — its merge rule, and the durable Store the leader writes
// it to.
//
// # The record
//
// A Route has an Epoch, a Phase (serving with a Main, or failover with
// none), the replicas as last observed, the writing leader and a time.
// The epoch strictly increases with every change of Main or Phase; a
// gateway acts only on a higher epoch than the one it holds (Merge).
// Encode and Decode bound the JSON size, and every decoded route must
// pass Validate, so a corrupt or hostile record is refused cheaply.
//
// # The Store
//
// The Store is the source of truth. Gateways Load it at start-up and Watch
// it; only the leader writes, with CompareAndSwap, which succeeds only if
// the record is still at the version the leader read AND the backend
// itself confirms, in the same atomic step, that the caller still holds
// leadership. A deposed leader's write is therefore refused however late
// it arrives (a paused process, a delayed packet): fencing does not depend
// on the deposed leader noticing its loss in time. ErrNotLeader means the
// caller has lost and must stop acting as leader.
//
// Three backends:
//
//   - Memory: in-process, for tests and simulations. Fencing is emulated by
//     a leader token (Memory.SetLeader) checked under the record's lock.
//   - Etcd: the route JSON under one key; Version is its mod revision. The
//     write is one transaction comparing the key's mod revision AND the
//     leader's election key's create revision (election.Etcd.Fence). The
//     election key lives on the leader's session lease, so it is gone once
//     the leader resigned or its lease expired.
//   - Kubernetes: the route in annotations of the election Lease itself
//     (AnnotationRoute, AnnotationVersion), updated with the
//     resourceVersion of a read that showed this replica as
//     spec.holderIdentity with its term's spec.leaseTransitions
//     (election.Kubernetes.Fence). The API server refuses the update if
//     the Lease changed since, so a takeover between read and write makes
//     it fail. client-go's renewals keep the annotations: see Kubernetes.
//
// A separate ConfigMap store is deliberately not provided: the route would
// then need its own fencing equal to the Lease's, which Kubernetes cannot
// make atomic across two objects.
//
// # Guarantees
//
//   - Every accepted write was made by the holder of leadership at the
//     moment the backend applied it, and was based on the version it
//     replaced (no lost update).
//   - Every stored route passes Validate, and each write passes CheckNext
//     against the record it replaced: the epoch never decreases, and Main
//     or Phase never change without a higher epoch.
//   - Watch delivers the current record first, then every later change in
//     order.
//
// # Non-guarantees
//
//   - The store does not elect anyone: the election package does, and gives
//     the store the fence value. Leadership itself (client-go's Lease
//     election in particular) has no fencing; this package adds it for
//     route writes only. Side effects outside the store (demoting a
//     Memgraph instance) must carry the epoch themselves.
//   - Watch skips versions that the backend no longer has after a long
//     disconnection (etcd compaction, an expired Kubernetes
//     resourceVersion); it then delivers the current record.
//   - A backend error other than the sentinels leaves the write's outcome
//     unknown: Load to find out.
//   - Updated is the writer's wall clock, for display only.
//   - Deleting the Lease (or the etcd key) by hand deletes the record.
package state
