// Package tcpreset resets a TCP connection without closing its descriptor,
// the primitive of the gateway's mass cut on a route change and of the
// benchmark's reference for it (bench/internal/resetfloor).
//
// Invariant: Fd never blocks and never releases the descriptor, so it may be
// called while other goroutines still hold the descriptor, as long as it is
// not closed (and possibly reused) meanwhile; the caller guarantees that.
package tcpreset
