package routelease

import (
	"fmt"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// EventType is the kind of an Event.
type EventType uint8

const (
	eventNone EventType = iota
	// EventRoute (gateway): a route of a higher epoch was adopted. Cut
	// every connection of an older epoch now; relay to Route.Main only
	// once EventLeaseGranted says so, and hold new connections until
	// then (phase failover: hold until a serving route is leased).
	EventRoute
	// EventLeaseGranted (gateway): the lease on Route (serving) is held:
	// relay new connections to Route.Main, report ready.
	EventLeaseGranted
	// EventLeaseExpired (gateway): the lease ran out without renewal. Cut
	// every connection, stop relaying, fail readiness.
	EventLeaseExpired
	// EventFailsafeStarted (leader): the store is unreachable and the
	// leader now confirms the route by failsafe rounds.
	EventFailsafeStarted
	// EventFailsafeEnded (leader): a member refused a failsafe round
	// (Refusal says why) or normal rules resumed; no more failsafe grants.
	EventFailsafeEnded
)

func (t EventType) String() string {
	switch t {
	case EventRoute:
		return "Route"
	case EventLeaseGranted:
		return "LeaseGranted"
	case EventLeaseExpired:
		return "LeaseExpired"
	case EventFailsafeStarted:
		return "FailsafeStarted"
	case EventFailsafeEnded:
		return "FailsafeEnded"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event tells the owner of a state machine what to do locally.
type Event struct {
	Type EventType
	// Route is the gateway's route (EventRoute, EventLeaseGranted).
	Route state.Route
	// Epoch: the epoch the event is about.
	Epoch uint64
	// PrevEpoch (EventRoute): the epoch held before.
	PrevEpoch uint64
	// Expiry (EventLeaseGranted): when the lease ends by the gateway's
	// clock, at the earliest (it is renewed before).
	Expiry time.Time
	// Refusal (EventFailsafeEnded): why it ended; RefuseNone when the
	// store came back.
	Refusal Refusal
	// Peer (EventFailsafeEnded): the member that refused.
	Peer string
}

// Output is what one input produced: messages to send (in order; each to
// its To, or broadcast when To is "") and events to act on.
type Output struct {
	Messages []Message
	Events   []Event
}

func (o *Output) send(m Message) { o.Messages = append(o.Messages, m) }
func (o *Output) emit(e Event)   { o.Events = append(o.Events, e) }
func (o *Output) merge(p Output) {
	o.Messages = append(o.Messages, p.Messages...)
	o.Events = append(o.Events, p.Events...)
}
func (o Output) empty() bool { return len(o.Messages) == 0 && len(o.Events) == 0 }
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
