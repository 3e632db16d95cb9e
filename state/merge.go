package state

// Merge is the rule every gateway applies to a route it receives (by
// gossip, from the store, from a peer's anti-entropy) while it holds held.
// It returns the route to hold and whether that is the received one.
//
// The rule:
//
//   - A received route that fails Validate is ignored.
//   - A strictly higher epoch wins: the received route replaces the held
//     one as a whole (no field-by-field merge).
//   - An equal or lower epoch is ignored, even when other fields differ.
//     Two routes of one epoch can only differ in informational fields
//     (replicas, leader, time; CheckNext refuses anything else), so
//     ignoring them never changes where writes go. A gateway that wants
//     those fields reads them from the Store, whose Version orders them.
//
// Merge is commutative in outcome for valid routes of distinct epochs and
// idempotent, so the order in which gossip and the store deliver routes
// does not matter: every gateway ends at the highest epoch it has seen.
// The zero held route (nothing yet) loses to any valid route.
func Merge(held, received Route) (Route, bool) {
	if received.Validate() != nil || received.Epoch <= held.Epoch {
		return held, false
	}
	return received, true
}
