// Package discovery tells the leader where the Memgraph instances are: the
// pods of a Kubernetes namespace chosen by a label selector (Kubernetes), or
// a fixed list given in the configuration (Static).
//
// Typical use, in the leader's observer:
//
//	src, err := discovery.NewKubernetes(clientset, discovery.KubernetesConfig{
//		Namespace:       "memgraph",
//		LabelSelector:   "app.kubernetes.io/name=memgraph",
//		HeadlessService: "memgraph",
//	})
//	go src.Run(ctx)
//	if err := discovery.WaitSynced(ctx, src); err != nil {
//		return err
//	}
//	for {
//		observe(src.Snapshot()) // probe each BoltAddr, register ReplicationAddr
//		select {
//		case <-src.Changes():
//		case <-tick.C:
//		case <-ctx.Done():
//			return ctx.Err()
//		}
//	}
//
// # What an Instance is
//
// An Instance has a stable Name (the pod's name, or the configured name),
// BoltAddr, where the gateway probes and proxies (the pod's current IP and
// the Bolt port: it changes when the pod restarts), and ReplicationAddr,
// what REGISTER REPLICA is given: the pod's stable DNS name through the
// headless Service, <pod>.<service>.<namespace>.svc.<cluster domain>:<port>,
// so a restarted replica is reached again under its new IP (Memgraph issues
// #815 and #1994: replicas registered by IP are lost on restart). Ready and
// Terminating carry what Kubernetes says of the pod; a deleted pod is no
// longer listed.
//
// # Guarantees
//
//   - Snapshot is sorted by Name, names are unique, and the returned slice
//     and its Labels maps are the caller's own copy: no later change of the
//     source alters a snapshot already taken.
//   - Nothing is published before the source is synced (the first full
//     list of the pods is in): until Synced is closed, Snapshot is empty.
//     An empty snapshot after Synced means there are no instances.
//   - Changes delivers a notification after every change of the snapshot,
//     without ever blocking the source: a change made while a notification
//     is still pending is folded into it. A notification means "read
//     Snapshot again"; it carries no data, and several changes may be seen
//     as one. Events that do not change the snapshot (a resync, an edit of
//     an annotation) send nothing. Synced sends one notification as well.
//   - Kubernetes: the snapshot is rebuilt from the informer's whole cache on
//     every event, so after each event it equals the cache: there is no
//     incremental bookkeeping to drift, and tombstones of deletions missed
//     during a watch gap need no special handling. When the API server
//     cannot be reached, the snapshot keeps the last state seen (the
//     informer retries with back-off and logs); it never empties itself
//     because the API is away.
//
// # Non-guarantees
//
//   - No health probing. Ready is the Kubernetes readiness of the pod (or
//     always true for a static instance) and is information only: the
//     controller probes every BoltAddr itself and decides what is up.
//   - No ordering or history: a pod that changes IP twice between two reads
//     of Snapshot is seen with its last IP only, and a pod deleted and
//     recreated under the same name between two reads may be seen only as
//     a new UID.
//   - No DNS resolution: ReplicationAddr is formed from names, never looked
//     up. It resolves only if the pods are in the headless Service named
//     HeadlessService (a StatefulSet whose spec.serviceName is that Service
//     sets each pod's spec.hostname and spec.subdomain so); a pod whose
//     spec.subdomain says otherwise is logged.
//   - Changes has one receiver. A second receiver would steal
//     notifications from the first.
package discovery
