// Package election elects one leader among the gateway replicas and tells
// the leader's work, at once, when it is no longer leader.
//
// Two backends implement Elector:
//
//   - Kubernetes: a coordination.k8s.io/v1 Lease, through client-go's
//     tools/leaderelection (LeaseLock), defaults Lease 4 s, renew deadline
//     3 s, retry 0.5 s. The Lease is created by the first candidate, has
//     no owner reference and no Helm labels, so a chart uninstall leaves it
//     (and the route record in its annotations, see package state).
//   - Etcd: go.etcd.io/etcd/client/v3/concurrency, a session of TTL
//     LeaseDuration (default 4 s) per campaign.
//
// Typical use, with the matching store:
//
//	el, _ := election.NewKubernetes(election.Lease{Client: cs.CoordinationV1(), Namespace: ns},
//		election.Config{OnStartedLeading: controller.Lead})
//	store, _ := state.NewKubernetes(state.KubernetesOptions{Client: cs.CoordinationV1(),
//		Namespace: ns, Name: election.DefaultLeaseName, Fence: el.Fence})
//	go el.Run(ctx)
//
// # Guarantees
//
//   - The leader's work (Config.OnStartedLeading) runs under a context
//     that is cancelled the moment a loss is observed: a read showing
//     another holder, the election key deleted, the session ended, or no
//     successful renewal for RenewDeadline since it was sent (whichever
//     comes first). IsLeader turns false at the same moment.
//   - The elector campaigns again only after that work has returned, and
//     OnStoppedLeading runs after it, once per term, always.
//   - On shutdown (Run's context done) the work is stopped and waited for
//     before leadership is given up (Lease released, key resigned), so the
//     next leader never overlaps this one's work, and takes over at once
//     instead of after a lease expiry.
//   - Fence gives the store the value it checks atomically with each write
//     (holder and lease transitions; election key and create revision): a
//     deposed leader's writes are refused by the backend.
//   - LastRenewal is the send time of the last successful renewal, so
//     CertainUntil (LastRenewal + RenewDeadline) is an under-estimate of how
//     long the others wait before taking over, whatever the network delay
//     (as long as clocks run at about the same rate; RenewDeadline <
//     LeaseDuration leaves the margin). PreviousRenewalBound bounds the
//     predecessor's last renewal for a new leader's first promotion.
//
// # Non-guarantees
//
//   - client-go's leader election does not fence (its package doc says so):
//     two processes may both believe they lead for up to about
//     LeaseDuration, e.g. a leader paused past its deadline. Nothing here
//     changes that belief in a paused process; what this package and
//     package state guarantee is that the deposed one's store writes fail,
//     and that its work context is cancelled as soon as it runs again and
//     sees the loss. Effects outside the store must carry the epoch.
//   - Leader reports the holder as last observed; it may be a crashed
//     leader until its lease expires.
//   - Identities must be unique: two candidates with the same identity are
//     one holder to client-go.
//   - Kubernetes: client-go's OnNewLeader is not used; the holder is read
//     from the Lease on every campaign poll (every RetryPeriod).
//
// # What was added to client-go
//
// A tracking lock wraps client-go's LeaseLock (resourcelock.Interface): it
// records successful renewals and their send time, the fence of the write
// that won, and ends the term as soon as a read shows another holder. It
// also refuses a release (holder "") over a Lease that the latest read
// showed held by someone else: client-go's tryRelease decides "am I the
// holder" from its last observed record, not from the read it just made,
// and could otherwise clear a successor's Lease after a long outage.
package election
